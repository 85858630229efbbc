"""The durable investigation queue: what the webhook promised to investigate, until a case answers it.

An item is recorded in the same transaction as the incident it investigates (one item per incident).
Workers in any number of processes take items with :meth:`QueueStore.claim_queued`: ``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, the write lock taken at ``BEGIN IMMEDIATE`` on SQLite, so one item goes
to one worker. A worker holds an item under a lease it renews; an item whose lease ran out was left
by a crash or a stop and is taken again. Failures wait (backoff) and are retried until the attempts
run out, then the item is ``failed`` (shown by ``GET /queue`` and ``bianque cases queue``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from agent.events import Event
from agent.memory.alerts import DEFAULT_STALE_AFTER_S, check_observation, observe
from agent.memory.db import database_wide
from agent.memory.errors import (
    CaseNotFoundError,
    InvalidInputError,
    QueueItemNotFoundError,
    QueueStateError,
    storable_text,
)
from agent.memory.models import CaseRow, IncidentRow, QueueRow, new_id
from agent.memory.records import AlertKind, AlertNotice, AlertObservation, QueueItemRecord, QueueStats
from agent.memory.store import Store, dump, get_row, load

ACTIVE = ("pending", "running")
MAX_ERROR_CHARS = 4000


def _record(row: QueueRow) -> QueueItemRecord:
    return QueueItemRecord(
        id=row.id,
        incident_id=row.incident_id,
        event=load(Event, row.event, f"queue item {row.id} event"),
        source=row.source,
        skill=row.skill,
        thread_id=row.thread_id,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        not_before=row.not_before,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        lease_until=row.lease_until,
        case_id=row.case_id,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


def _new_row(event: Event, source: str, skill: str | None, incident_id: str | None, ts: float) -> QueueRow:
    queue_id = new_id()
    return QueueRow(
        id=queue_id,
        incident_id=incident_id,
        event=dump(event),
        source=source,
        skill=skill,
        thread_id=f"queue-{queue_id}-{uuid.uuid4().hex[:8]}",
        status="pending",
        attempts=0,
        not_before=ts,
        created_at=ts,
        updated_at=ts,
    )


def _requeue(row: QueueRow, ts: float) -> None:
    """A failed item back to pending with fresh attempts (its checkpoint thread is kept)."""
    row.status = "pending"
    row.attempts = 0
    row.not_before = ts
    row.claimed_by = row.claimed_at = row.lease_until = None
    row.finished_at = None
    row.updated_at = ts


def _ensure_queued(session: Session, incident_id: str, event: Event, source: str, ts: float) -> tuple[QueueRow, bool]:
    """The incident's queue item; created when there is none, queued again when it failed.

    Returns the row and whether this call (re)queued it. An incident that already has its case needs nothing.
    """
    row = session.scalars(select(QueueRow).where(QueueRow.incident_id == incident_id).with_for_update()).first()
    if row is None:
        row = _new_row(event, source, None, incident_id, ts)
        session.add(row)
        return row, True
    if row.status == "failed":
        _requeue(row, ts)
        return row, True
    return row, False


def _observe_queued(session: Session, notice: AlertNotice, stale_after: float) -> AlertObservation:
    """``observe`` one notification and queue its incident's investigation when it calls for one
    (see ``QueueStore.observe_alert_queued``), inside the caller's write transaction."""
    seen = observe(session, notice.fingerprint, notice.alertname, notice.service, notice.status, notice.ts,
                   stale_after, notice.starts_at)
    if seen.kind in (AlertKind.RESOLVED, AlertKind.STALE) or seen.incident_id is None:
        return seen
    if seen.case_id is not None:  # investigated: only say by which item
        row = session.scalars(select(QueueRow).where(QueueRow.incident_id == seen.incident_id)).first()
        queued = False
    else:
        row, queued = _ensure_queued(session, seen.incident_id, notice.event, notice.source, time.time())
        session.flush()
    if row is None:
        return seen
    return seen.model_copy(update={"queue_id": row.id, "queue_status": row.status, "queued": queued})


def _trim(error: str) -> str:
    return storable_text(error, MAX_ERROR_CHARS)


def _owned(session: Session, queue_id: str, worker: str) -> QueueRow | None:
    """The item if ``worker`` still holds it (running, claimed by it), else None: its lease was lost."""
    row = get_row(session, QueueRow, queue_id, QueueItemNotFoundError(queue_id), lock=True)
    return row if row.status == "running" and row.claimed_by == worker else None


class QueueStore(Store):
    """The investigation queue (see the module docstring)."""

    def observe_alert_queued(
        self, notice: AlertNotice, *, stale_after: float = DEFAULT_STALE_AFTER_S
    ) -> AlertObservation:
        """Observe an alert (see ``observe_alert``) and, in the same transaction, queue its incident's
        investigation: for a new incident, and for a firing alert of an open incident that has no case
        and no live queue item (its investigation failed, or it predates the queue). A resolution or a
        stale copy of a resolved episode queues nothing."""
        check_observation(notice.fingerprint, notice.status, stale_after)
        return self._write_retrying(lambda session: _observe_queued(session, notice, stale_after))

    def would_queue(self, notices: Sequence[AlertNotice], *, stale_after: float = DEFAULT_STALE_AFTER_S) -> bool:
        """Whether observing ``notices`` in this order (``observe_alert_queued`` each) would queue an
        investigation: rehearsed in one transaction that is rolled back, so nothing is written. A notice
        that cannot be stored queues nothing (the intake rejects it), and so does not count."""
        with self._rehearsal() as session:
            for notice in notices:
                try:
                    check_observation(notice.fingerprint, notice.status, stale_after)
                    with session.begin_nested():  # one notice's failure undoes only its own writes
                        if _observe_queued(session, notice, stale_after).queued:
                            return True
                except Exception as exc:
                    if database_wide(exc):  # the database is gone, or its schema not current: so is the answer
                        raise
                    continue  # stored for real, it would be rejected alone
        return False

    def enqueue(
        self, event: Event, *, source: str = "api", skill: str | None = None, incident_id: str | None = None
    ) -> QueueItemRecord:
        """Queue the investigation of one event (optionally for an incident, at most one item each)."""
        with self._write() as session:
            if incident_id is not None:
                row, _ = _ensure_queued(session, incident_id, event, source, time.time())
            else:
                row = _new_row(event, source, skill, None, time.time())
                session.add(row)
            session.flush()
            return _record(row)

    def claim_queued(
        self, worker: str, *, lease_s: float, max_attempts: int, now: float | None = None
    ) -> QueueItemRecord | None:
        """Take the oldest due item for ``worker`` under a lease of ``lease_s`` seconds; None when none is due.

        Due: pending past its ``not_before``, or running with its lease run out (its worker crashed or
        stopped); such an abandoned item that already used ``max_attempts`` becomes failed instead.
        """
        if lease_s <= 0 or max_attempts < 1:
            raise InvalidInputError(f"lease_s must be > 0 and max_attempts >= 1, got {lease_s}, {max_attempts}")

        def work(session: Session) -> QueueItemRecord | None:
            ts = time.time() if now is None else now
            due = or_(
                and_(QueueRow.status == "pending", QueueRow.not_before <= ts),
                and_(QueueRow.status == "running", QueueRow.lease_until < ts),
            )
            query = select(QueueRow).where(due).order_by(QueueRow.created_at, QueueRow.id).limit(1)
            while (row := session.scalars(query.with_for_update(skip_locked=True)).first()) is not None:
                if row.status == "running" and row.attempts >= max_attempts:
                    row.status = "failed"
                    row.last_error = _trim(
                        f"abandoned {row.attempts} time(s): worker {row.claimed_by} stopped or crashed while "
                        f"investigating (last error: {row.last_error or 'none'})"
                    )
                    row.finished_at = row.updated_at = ts
                    session.flush()
                    continue
                row.status = "running"
                row.attempts += 1
                row.claimed_by = worker
                row.claimed_at = ts
                row.lease_until = ts + lease_s
                row.updated_at = ts
                session.flush()
                return _record(row)
            return None

        return self._write_retrying(work)

    def renew_leases(self, worker: str, queue_ids: Sequence[str], lease_s: float) -> list[str]:
        """Extend ``worker``'s leases on these items; returns the ids it no longer holds."""
        if not queue_ids:
            return []
        with self._write() as session:
            ts = time.time()
            held = set(
                session.scalars(
                    update(QueueRow)
                    .where(QueueRow.id.in_(list(queue_ids)), QueueRow.claimed_by == worker)
                    .where(QueueRow.status == "running")
                    .values(lease_until=ts + lease_s, updated_at=ts)
                    .returning(QueueRow.id)
                )
            )
        return [queue_id for queue_id in queue_ids if queue_id not in held]

    def finish_queued(self, queue_id: str, worker: str, case_id: str) -> QueueItemRecord | None:
        """Mark ``worker``'s item done with its case and link the case to the incident, in one transaction.

        None when the worker no longer holds the item (its lease ran out and another took it).
        """
        with self._write() as session:
            row = _owned(session, queue_id, worker)
            if row is None:
                return None
            get_row(session, CaseRow, case_id, CaseNotFoundError(case_id))
            ts = time.time()
            row.status = "done"
            row.case_id = case_id
            row.last_error = None
            row.claimed_by = row.lease_until = None
            row.finished_at = row.updated_at = ts
            if row.incident_id is not None:
                incident = session.get(IncidentRow, row.incident_id, with_for_update=True)
                if incident is not None:
                    incident.case_id = case_id
            session.flush()
            return _record(row)

    def fail_queued(
        self, queue_id: str, worker: str, error: str, *, retry_in: float | None
    ) -> QueueItemRecord | None:
        """Record a failed attempt: pending again after ``retry_in`` seconds, or failed when None.

        None when the worker no longer holds the item.
        """
        with self._write() as session:
            row = _owned(session, queue_id, worker)
            if row is None:
                return None
            ts = time.time()
            row.last_error = _trim(error)
            row.claimed_by = row.lease_until = None
            row.updated_at = ts
            if retry_in is None:
                row.status = "failed"
                row.finished_at = ts
            else:
                row.status = "pending"
                row.not_before = ts + max(0.0, retry_in)
            session.flush()
            return _record(row)

    def release_claims(self, claimants: Sequence[str]) -> int:
        """Put running items of these (dead) workers back to pending at once; how many there were."""
        if not claimants:
            return 0
        with self._write() as session:
            ts = time.time()
            result = session.execute(
                update(QueueRow)
                .where(QueueRow.claimed_by.in_(list(claimants)), QueueRow.status == "running")
                .values(status="pending", claimed_by=None, lease_until=None, not_before=ts, updated_at=ts)
            )
            return int(result.rowcount or 0)

    def queue_claimants(self) -> list[str]:
        """The workers holding running items."""
        with self._read() as session:
            query = select(QueueRow.claimed_by).where(QueueRow.status == "running").distinct()
            return sorted(c for c in session.scalars(query) if c)

    def retry_queued(self, queue_id: str) -> QueueItemRecord:
        """Queue a failed item again with fresh attempts (QueueStateError for any other state)."""
        with self._write() as session:
            row = get_row(session, QueueRow, queue_id, QueueItemNotFoundError(queue_id), lock=True)
            if row.status != "failed":
                raise QueueStateError(f"queue item {queue_id!r} is {row.status}; only a failed one can be retried")
            _requeue(row, time.time())
            session.flush()
            return _record(row)

    def get_queued(self, queue_id: str) -> QueueItemRecord:
        """One queue item, or QueueItemNotFoundError."""
        with self._read() as session:
            row = get_row(session, QueueRow, queue_id, QueueItemNotFoundError(queue_id))
            return _record(row)

    def list_queued(self, status: str | None = None, limit: int = 50) -> list[QueueItemRecord]:
        """Queue items, newest first, optionally of one status."""
        if not 1 <= limit <= 10_000:
            raise InvalidInputError(f"limit: must be between 1 and 10000, got {limit}")
        query = select(QueueRow)
        if status is not None:
            query = query.where(QueueRow.status == status)
        with self._read() as session:
            rows = session.scalars(query.order_by(QueueRow.created_at.desc(), QueueRow.id.desc()).limit(limit))
            return [_record(row) for row in rows]

    def queue_stats(self) -> QueueStats:
        """Items per status, and when the oldest pending one was queued."""
        with self._read() as session:
            counts = dict(session.execute(select(QueueRow.status, func.count()).group_by(QueueRow.status)).all())
            oldest = session.scalar(select(func.min(QueueRow.created_at)).where(QueueRow.status == "pending"))
        return QueueStats(**{status: int(counts.get(status, 0)) for status in (*ACTIVE, "done", "failed")},
                          oldest_pending_at=oldest)

    def queue_outstanding(self) -> int:
        """Items pending or running: what the webhook's bound counts."""
        with self._read() as session:
            return int(session.scalar(select(func.count()).where(QueueRow.status.in_(ACTIVE))) or 0)
