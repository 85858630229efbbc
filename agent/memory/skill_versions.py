"""Skill versions: every YAML text a Skill ever had, deduplicated by content; one active per name."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from agent.memory.errors import InvalidInputError, SkillVersionNotFoundError
from agent.memory.models import SkillVersionRow, now
from agent.memory.records import SkillVersionRecord
from agent.memory.store import Store
from agent.skills.schema import IDENT


def text_sha256(yaml_text: str) -> str:
    """The content hash versions are deduplicated by (line endings normalised)."""
    return hashlib.sha256(yaml_text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def _record(row: SkillVersionRow, created: bool = False) -> SkillVersionRecord:
    return SkillVersionRecord(
        name=row.name,
        version=row.version,
        yaml_text=row.yaml_text,
        sha256=row.sha256,
        reason=row.reason,
        author=row.author,
        active=row.active,
        created_at=row.created_at,
        created=created,
    )


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not re.fullmatch(IDENT, name):
        raise InvalidInputError(f"name: {name!r} is not a Skill name (lowercase letters, digits, '_', '-')")
    return name


def _find(session: Session, name: str, version: int) -> SkillVersionRow:
    row = session.scalars(
        select(SkillVersionRow).where(SkillVersionRow.name == name, SkillVersionRow.version == version)
    ).first()
    if row is None:
        raise SkillVersionNotFoundError(name, version)
    return row


def _activate(session: Session, row: SkillVersionRow) -> None:
    """Make ``row`` the only active version of its Skill (deactivate first: one active is enforced)."""
    session.execute(
        update(SkillVersionRow)
        .where(SkillVersionRow.name == row.name, SkillVersionRow.id != row.id, SkillVersionRow.active)
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    row.active = True
    session.flush()


class SkillVersionStore(Store):
    """Versioned Skill texts."""

    def save_skill_version(
        self,
        name: str,
        yaml_text: str,
        reason: str = "",
        author: str | None = None,
        *,
        version: int | None = None,
        activate: bool = True,
    ) -> SkillVersionRecord:
        """Store ``yaml_text`` as the next version of Skill ``name`` and return it.

        Text identical to a stored version of the same Skill creates nothing: that version is
        returned (``created=False``; activated if ``activate``). ``version`` pins the number (e.g. the
        YAML's own ``version:``); default is one more than the highest stored. ``reason`` says why:
        "initial", "refined from correction 12", "rollback to v2".
        """
        _check_name(name)
        if not isinstance(yaml_text, str) or not yaml_text.strip():
            raise InvalidInputError("yaml_text: empty Skill text")
        if version is not None and (not isinstance(version, int) or version < 1):
            raise InvalidInputError(f"version: must be a positive integer, got {version!r}")
        sha = text_sha256(yaml_text)

        def work(session: Session) -> SkillVersionRecord:
            same = session.scalars(
                select(SkillVersionRow).where(SkillVersionRow.name == name, SkillVersionRow.sha256 == sha)
            ).first()
            if same is not None:
                if activate and not same.active:
                    _activate(session, same)
                return _record(same)
            number = version
            if number is None:
                highest = session.scalar(
                    select(func.max(SkillVersionRow.version)).where(SkillVersionRow.name == name)
                )
                number = (highest or 0) + 1
            elif session.scalar(
                select(SkillVersionRow.id).where(
                    SkillVersionRow.name == name, SkillVersionRow.version == number
                )
            ):
                raise InvalidInputError(f"version: {name} v{number} is already stored with different text")
            row = SkillVersionRow(
                name=name,
                version=number,
                yaml_text=yaml_text,
                sha256=sha,
                reason=reason,
                author=author,
                active=False,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            if activate:
                _activate(session, row)
            return _record(row, created=True)

        return self._write_retrying(work)

    def restore_skill_version(self, name: str, version: int, author: str | None = None) -> SkillVersionRecord:
        """Record a rollback to ``version``: a new history entry (next number, "rollback to vN") holding
        that version's text byte for byte, made the active one. SkillVersionNotFoundError for an unknown one."""

        def work(session: Session) -> SkillVersionRecord:
            old = _find(session, name, version)
            highest = session.scalar(select(func.max(SkillVersionRow.version)).where(SkillVersionRow.name == name))
            row = SkillVersionRow(
                name=name, version=(highest or 0) + 1, yaml_text=old.yaml_text, sha256=old.sha256,
                reason=f"rollback to v{version}", author=author, active=False, created_at=now(),
            )
            session.add(row)
            session.flush()
            _activate(session, row)
            return _record(row, created=True)

        return self._write_retrying(work)

    def skill_versions(self, name: str) -> list[SkillVersionRecord]:
        """All stored versions of a Skill, oldest (lowest version) first; empty if none."""
        query = select(SkillVersionRow).where(SkillVersionRow.name == name).order_by(SkillVersionRow.version)
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]

    def get_skill_version(self, name: str, version: int | None = None) -> SkillVersionRecord:
        """One version; without ``version`` the active one (else the newest). SkillVersionNotFoundError."""
        with self._read() as session:
            if version is not None:
                return _record(_find(session, name, version))
            row = session.scalars(
                select(SkillVersionRow)
                .where(SkillVersionRow.name == name)
                .order_by(SkillVersionRow.active.desc(), SkillVersionRow.version.desc())
            ).first()
            if row is None:
                raise SkillVersionNotFoundError(name)
            return _record(row)

    def active_skill_version(self, name: str) -> SkillVersionRecord | None:
        """The active version of a Skill, or None when none is stored or active."""
        with self._read() as session:
            row = session.scalars(
                select(SkillVersionRow).where(SkillVersionRow.name == name, SkillVersionRow.active)
            ).first()
            return None if row is None else _record(row)

    def active_skill_versions(self) -> list[SkillVersionRecord]:
        """The active version of every stored Skill, by name."""
        query = select(SkillVersionRow).where(SkillVersionRow.active).order_by(SkillVersionRow.name)
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]

    def activate_skill_version(self, name: str, version: int) -> SkillVersionRecord:
        """Make one stored version the active one (a rollback or roll-forward); others deactivate."""
        with self._write() as session:
            row = _find(session, name, version)
            _activate(session, row)
            return _record(row)
