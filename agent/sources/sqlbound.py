"""A SQL store's statements ended when the investigation stops waiting for them (:func:`agent.sources.base.answer_by`).

PostgreSQL gives each statement ``statement_timeout`` of what is left, local to the query's transaction
(``set_config(…, true)``: ``SET LOCAL``); SQLite runs a progress handler that interrupts the statement running once
nothing is left. So a query given up on ends about when the investigation stopped waiting, instead of running to its
end in a thread no one watches. Without a bound (no investigation asked: the CLI, an ingest), nothing changes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from agent.sources.base import late_reason, time_left

SQLITE_CHECK_EVERY = 10_000  # SQLite virtual machine instructions between two looks at the clock (a fraction of a ms)


class Bound:
    """The moment (``time.monotonic()``) statements of one connection must end by."""

    def __init__(self, ends: float) -> None:
        self.ends = ends

    def left_ms(self) -> int:
        """Milliseconds left, rounded up so that a statement ended by its timeout ends at or after ``ends`` (at least
        1: PostgreSQL reads 0 as no timeout)."""
        return max(1, math.ceil((self.ends - time.monotonic()) * 1000))

    def over(self) -> bool:
        """Whether ``ends`` has passed: a statement failing now was ended by the bound."""
        return time.monotonic() >= self.ends


def given_up(where: str) -> str:
    """What a query of the store at ``where`` ended (or not started) by the bound says: what the investigation says
    of a call it stopped waiting for."""
    return f"observability store {where}: {late_reason() or 'not answered in the time the investigation had left'}"


def no_time_left() -> bool:
    """Whether this thread's source calls are no longer waited for (a query is then not started)."""
    left = time_left()
    return left is not None and left <= 0


@contextmanager
def bounded(conn: Connection) -> Iterator[Bound | None]:
    """Statements run on ``conn`` in the block end by the time this thread's source calls are no longer waited for
    (:func:`agent.sources.base.time_left`); yields the :class:`Bound` (None without one). A statement so ended raises
    the driver's error (``interrupted``, ``canceling statement due to statement timeout``), and the bound is then
    :meth:`Bound.over`."""
    left = time_left()
    if left is None or conn.dialect.name not in ("postgresql", "sqlite"):
        yield None
        return
    bound = Bound(time.monotonic() + left)
    if conn.dialect.name == "postgresql":
        def timeout(_conn: Any, cursor: Any, *_args: Any) -> None:  # before each statement: what is left now
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", (f"{bound.left_ms()}ms",))

        event.listen(conn, "before_cursor_execute", timeout)
        try:
            yield bound
        finally:
            event.remove(conn, "before_cursor_execute", timeout)
        return
    raw = conn.connection.driver_connection
    raw.set_progress_handler(bound.over, SQLITE_CHECK_EVERY)  # a true answer interrupts the statement
    try:
        yield bound
    finally:
        raw.set_progress_handler(None, SQLITE_CHECK_EVERY)
