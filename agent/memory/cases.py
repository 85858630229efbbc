"""Events and cases: what Bian Que was asked, and each investigation's answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from agent.events import Event
from agent.evidence import EvidencePack
from agent.findings import Finding
from agent.memory.errors import (
    CaseNotFoundError,
    CaseStateError,
    EventNotFoundError,
    InvalidInputError,
    storable_text,
)
from agent.memory.models import CaseRow, EventRow, new_id, now
from agent.memory.records import CaseRecord, CorrectionRecord, EventRecord
from agent.memory.store import Store, dump, ensure, get_row, load
from agent.verdict import Verdict

EVENT_SOURCES = ("webhook", "cli", "schedule", "bundle", "api", "ui", "replay")
"""The usual values of ``source``; any short lowercase name is accepted."""
SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_\-]{0,31}$")
MAX_LIST_LIMIT = 10_000


def event_record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        event=load(Event, row.payload, f"event {row.id}"),
        source=row.source,
        received_at=row.received_at,
    )


def correction_record(row: Any) -> CorrectionRecord:
    return CorrectionRecord.model_validate(row, from_attributes=True)


def case_record(row: CaseRow) -> CaseRecord:
    """The ORM row as a detached record (the row's event and corrections must be loaded)."""
    where = f"case {row.id}"
    return CaseRecord(
        id=row.id,
        event_id=row.event_id,
        event=load(Event, row.event.payload, f"{where} event"),
        skill=row.skill,
        skill_version=row.skill_version,
        selection_reason=row.selection_reason,
        status=row.status,  # type: ignore[arg-type]
        findings=[load(Finding, f, f"{where} findings") for f in row.findings or []],
        evidence=load(EvidencePack, row.evidence, f"{where} evidence") if row.evidence else None,
        verdict=load(Verdict, row.verdict, f"{where} verdict") if row.verdict else None,
        report=row.report,
        reasoner=row.reasoner,
        prompt_tokens=row.prompt_tokens,
        duration_ms=row.duration_ms,
        error=row.error,
        bundle_path=row.bundle_path,
        gathered=row.gathered,
        thread_id=row.thread_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
        corrections=[correction_record(c) for c in row.corrections],
    )


def _case_query() -> Select[tuple[CaseRow]]:
    return select(CaseRow)  # the event is joined and the corrections select-in loaded by the mapping


def load_case_row(session: Session, case_id: str, *, for_update: bool = False) -> CaseRow:
    """The case row, or a CaseNotFoundError naming the id."""
    query = _case_query().where(CaseRow.id == case_id)
    if for_update:
        query = query.with_for_update(of=CaseRow)
    row = session.scalars(query).first()
    if row is None:
        raise CaseNotFoundError(case_id)
    return row


def _set_skill(row: CaseRow, skill: str | None, version: int | None, reason: str | None) -> None:
    if skill is not None:
        row.skill = skill
    if version is not None:
        row.skill_version = version
    if reason is not None:
        row.selection_reason = reason


def _resolve_event(row: EventRow, event: Event | None) -> None:
    """Store ``event`` as the resolved form of the event in ``row`` (InvalidInputError if it is another event); None:
    the event stays as received."""
    if event is None:
        return
    if event.pattern.value != row.pattern or event.time != row.time:
        raise InvalidInputError(
            f"event: a {event.pattern.value} event at {event.time} is not the stored event {row.id} "
            f"({row.pattern} at {row.time})"
        )
    row.payload = dump(event)
    row.service = event.primary_service


def _check_source(source: str) -> str:
    if not isinstance(source, str) or not SOURCE_PATTERN.fullmatch(source):
        raise InvalidInputError(
            f"source: {source!r} is not a source name (lowercase word such as {', '.join(EVENT_SOURCES)})"
        )
    return source


def _check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError(f"limit: must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    return limit


class CaseStore(Store):
    """Events and cases."""

    def record_event(
        self, event: Event | dict[str, Any], source: str = "cli", received_at: float | None = None
    ) -> EventRecord:
        """Store an event as received; ``source`` is where it came from (webhook, cli, schedule, bundle…)."""
        event = ensure(event, Event, "event")
        _check_source(source)
        row = EventRow(
            id=new_id(),
            pattern=event.pattern.value,
            time=event.time,
            service=event.primary_service,
            payload=dump(event),
            source=source,
            received_at=now() if received_at is None else received_at,
        )
        with self._write() as session:
            session.add(row)
            session.flush()
            return event_record(row)

    def get_event(self, event_id: str) -> EventRecord:
        """A stored event, or EventNotFoundError."""
        with self._read() as session:
            row = get_row(session, EventRow, event_id, EventNotFoundError(event_id))
            return event_record(row)

    def start_case(
        self,
        event_id: str,
        skill: str | None,
        skill_version: int | None = None,
        selection_reason: str = "",
        *,
        thread_id: str | None = None,
        bundle_path: str | None = None,
        gathered: dict[str, Any] | None = None,
        case_id: str | None = None,
    ) -> CaseRecord:
        """Open a running case for a stored event.

        ``bundle_path`` references an immutable bundle to replay from; otherwise ``gathered`` may hold
        the gathered data as JSON. ``thread_id`` is the LangGraph checkpoint thread (default: the case id).
        """
        with self._write() as session:
            get_row(session, EventRow, event_id, EventNotFoundError(event_id))
            new_case = case_id or new_id()
            row = CaseRow(
                id=new_case,
                event_id=event_id,
                skill=skill,
                skill_version=skill_version,
                selection_reason=selection_reason,
                status="running",
                findings=[],
                prompt_tokens=0,
                bundle_path=bundle_path,
                gathered=gathered,
                thread_id=thread_id or new_case,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            session.refresh(row)
            return case_record(row)

    def finish_case(
        self,
        case_id: str,
        findings: Sequence[Finding | dict[str, Any]],
        verdict: Verdict | dict[str, Any],
        report: str,
        reasoner: str,
        prompt_tokens: int = 0,
        duration_ms: int | None = None,
        evidence: EvidencePack | dict[str, Any] | None = None,
        *,
        skill: str | None = None,
        skill_version: int | None = None,
        selection_reason: str | None = None,
        event: Event | dict[str, Any] | None = None,
        bundle_path: str | None = None,
    ) -> CaseRecord:
        """Store a running case's answer and mark it done (CaseStateError if it is not running).

        ``skill``/``skill_version``/``selection_reason``, when given, record the Skill chosen during the
        run (a case may be opened before a Skill is selected). An empty ``evidence`` means none. ``event``, when
        given, is the case's event as the investigation resolved it (a release's change named by id alone, with
        the type, service and start of its changes line) and replaces the stored one; it must be the same event
        (pattern and time), else InvalidInputError. ``bundle_path``, when given, is a bundle of what a live run read
        (``agent.bundles.captured``): the case is replayed from it.
        """
        checked_findings = [ensure(f, Finding, f"findings[{i}]") for i, f in enumerate(findings)]
        checked_verdict = ensure(verdict, Verdict, "verdict")
        checked_evidence = ensure(evidence, EvidencePack, "evidence") if evidence else None
        resolved = ensure(event, Event, "event") if event is not None else None
        if prompt_tokens < 0:
            raise InvalidInputError(f"prompt_tokens: must be >= 0, got {prompt_tokens}")
        with self._write() as session:
            row = load_case_row(session, case_id, for_update=True)
            if row.status != "running":
                raise CaseStateError(f"case {case_id!r} is {row.status}, only a running case can be finished")
            _resolve_event(row.event, resolved)
            _set_skill(row, skill, skill_version, selection_reason)
            row.findings = [dump(f) for f in checked_findings]
            row.verdict = dump(checked_verdict)
            row.evidence = dump(checked_evidence)
            row.report = report
            row.reasoner = reasoner
            row.prompt_tokens = prompt_tokens
            row.duration_ms = duration_ms
            row.bundle_path = bundle_path or row.bundle_path
            row.status = "done"
            row.finished_at = now()
            session.flush()
            return case_record(row)

    def set_case_skill(
        self, case_id: str, skill: str, skill_version: int | None = None, selection_reason: str | None = None
    ) -> CaseRecord:
        """Record which Skill a running case uses, as soon as it is selected."""
        with self._write() as session:
            row = load_case_row(session, case_id, for_update=True)
            if row.status != "running":
                raise CaseStateError(f"case {case_id!r} is {row.status}, its Skill can no longer change")
            _set_skill(row, skill, skill_version, selection_reason)
            session.flush()
            return case_record(row)

    def fail_case(
        self, case_id: str, error: str, duration_ms: int | None = None, *, event: Event | dict[str, Any] | None = None
    ) -> CaseRecord:
        """Mark a running case failed with the error that stopped it (untrusted text, an exception's message
        quoting a log line or a file: stored as ``storable_text`` makes it, so that the case is failed, not left
        running by a write the database refuses). ``event``, when given, is the event as the investigation resolved
        it before it failed, stored as ``finish_case`` stores it."""
        resolved = ensure(event, Event, "event") if event is not None else None
        with self._write() as session:
            row = load_case_row(session, case_id, for_update=True)
            if row.status != "running":
                raise CaseStateError(f"case {case_id!r} is {row.status}, only a running case can fail")
            _resolve_event(row.event, resolved)
            row.status = "failed"
            row.error = storable_text(error)
            row.duration_ms = duration_ms
            row.finished_at = now()
            session.flush()
            return case_record(row)

    def get_case(self, case_id: str) -> CaseRecord:
        """A stored case with its corrections, or CaseNotFoundError."""
        with self._read() as session:
            return case_record(load_case_row(session, case_id))

    def case_of_thread(self, thread_id: str) -> CaseRecord | None:
        """The newest case investigated on a checkpoint thread (a resumed run's, after the one it finished), or None."""
        with self._read() as session:
            row = session.scalars(_case_query().where(CaseRow.thread_id == thread_id)
                                  .order_by(CaseRow.created_at.desc()).limit(1)).first()
            return case_record(row) if row is not None else None

    def list_cases(
        self,
        skill: str | None = None,
        pattern: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[CaseRecord]:
        """The newest cases first, optionally only one Skill's, one pattern's or one status's."""
        query = _case_query().join(CaseRow.event)
        if skill is not None:
            query = query.where(CaseRow.skill == skill)
        if pattern is not None:
            query = query.where(EventRow.pattern == pattern)
        if status is not None:
            query = query.where(CaseRow.status == status)
        query = query.order_by(CaseRow.created_at.desc(), CaseRow.id.desc()).limit(_check_limit(limit))
        with self._read() as session:
            return [case_record(row) for row in session.scalars(query)]

    def case_counts(self) -> dict[tuple[str, str], int]:
        """How many cases are stored per (event pattern, case status): what ``GET /metrics`` exports."""
        query = (select(EventRow.pattern, CaseRow.status, func.count()).select_from(CaseRow).join(CaseRow.event)
                 .group_by(EventRow.pattern, CaseRow.status))
        with self._read() as session:
            return {(pattern, status): int(count) for pattern, status, count in session.execute(query)}

    def cases_for_skill(self, name: str, status: str | None = "done") -> list[CaseRecord]:
        """Every case a Skill answered (default: finished ones), oldest first — the replay set."""
        query = _case_query().where(CaseRow.skill == name)
        if status is not None:
            query = query.where(CaseRow.status == status)
        query = query.order_by(CaseRow.created_at, CaseRow.id)
        with self._read() as session:
            return [case_record(row) for row in session.scalars(query)]
