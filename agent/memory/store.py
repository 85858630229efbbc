"""Session handling shared by the memory stores: one engine, read and write transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import ColumnElement, Engine, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from agent.config import get_settings
from agent.memory.db import init_db, writer
from agent.memory.errors import InvalidInputError, MemoryStoreError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
R = TypeVar("R")


class Store:
    """Owns the engine; every public call runs in its own transaction (all or nothing)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open (and migrate) the database at ``url``; default ``settings.resolved_database_url``."""
        self.engine = engine if engine is not None else init_db(url or get_settings().resolved_database_url)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(writer(self.engine), expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def _rehearsal(self) -> Iterator[Session]:
        """A write transaction that is always rolled back: what writes would do, with nothing written."""
        with self._write_sessions() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()

    def _write_retrying(self, work: Callable[[Session], T], attempts: int = 3) -> T:
        """Run ``work`` in a write transaction, again from scratch if a concurrent writer won a race
        on a unique key (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE)."""
        for attempt in range(1, attempts + 1):
            try:
                with self._write() as session:
                    return work(session)
            except IntegrityError:
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _claim_or_create(self, row_type: type[Any], key: Any, claimable: ColumnElement[bool],
                         claimed: dict[str, Any], created: dict[str, Any]) -> bool:
        """Claim the row of ``row_type`` with primary key ``key``: set ``claimed`` on it where ``claimable`` (which
        names the key) holds (True); leave it when it exists and does not (False); insert ``created`` when there is
        none (True). A conditional UPDATE, else an INSERT, in one transaction, so of processes claiming at once one
        is told True (the row lock decides on PostgreSQL, where a losing insert meets the primary key and is tried
        again; the write lock on SQLite)."""
        def work(session: Session) -> bool:
            if session.execute(update(row_type).where(claimable).values(**claimed)
                               .execution_options(synchronize_session=False)).rowcount:
                return True
            if session.get(row_type, key) is not None:
                return False
            session.execute(insert(row_type).values(**created))
            return True

        return self._write_retrying(work)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def get_row(session: Session, row_type: type[R], key: Any, missing: Exception, *, lock: bool = False) -> R:
    """The row of ``row_type`` with primary key ``key`` (locked for update with ``lock``), else raise ``missing``."""
    row = session.get(row_type, key, with_for_update=lock)
    if row is None:
        raise missing
    return row


def dump(model: BaseModel | None) -> dict[str, Any] | None:
    """A pydantic model as JSON-ready data for a JSON column."""
    return None if model is None else model.model_dump(mode="json")


def load(model: type[M], data: Any, where: str) -> M:
    """Stored JSON back into a model; a clear error names the row and field if it no longer fits."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MemoryStoreError(f"stored {where} does not match {model.__name__}: {exc}") from exc


def ensure(value: Any, model: type[M], field: str) -> M:
    """Accept a model instance or its dict form for an argument; name the argument if neither."""
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise InvalidInputError(f"{field}: not a valid {model.__name__}: {exc}") from exc
