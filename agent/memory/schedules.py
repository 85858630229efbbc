"""Schedules: which inspection Skill runs on which cron, over which services, and how it last went.

The scheduler keeps its own APScheduler job store; these rows are the user-facing definitions, how each
schedule last ran, and its run history (``schedule_runs``, the newest ``MAX_RUNS_KEPT`` runs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from agent.memory.errors import (
    InvalidInputError,
    ScheduleBusyError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    check_length,
    cut_text,
    storable_text,
)
from agent.memory.models import RUN_TRIGGERS, ScheduleRow, ScheduleRunRow, now
from agent.memory.records import RUNNING, RunTrigger, ScheduleRecord, ScheduleRunRecord
from agent.memory.store import Store, get_row
from agent.names import name_problem

MAX_REASON_CHARS: int = ScheduleRow.__table__.c.last_reason.type.length
MAX_RUNS_KEPT = 200
"""Runs kept in each schedule's history: recording one more removes its oldest, in the same transaction."""
NEWEST_RUN_FIRST = (func.coalesce(ScheduleRunRow.started_at, ScheduleRunRow.finished_at).desc(),
                    ScheduleRunRow.id.desc())


def run_reason(text: str | None) -> str | None:
    """Why a run failed or was skipped, as stored: untrusted text (an exception's message may quote a log line or a
    file) kept as data on one line, control characters and runs of white space made one space, a lone surrogate
    ``?`` (PostgreSQL stores neither a NUL nor one), at most ``MAX_REASON_CHARS`` characters; None when empty."""
    if text is None:
        return None
    return cut_text(" ".join(storable_text(text).split()), MAX_REASON_CHARS) or None


def _record(row: ScheduleRow) -> ScheduleRecord:
    return ScheduleRecord.model_validate(row, from_attributes=True)


def _check_trigger(trigger: str) -> None:
    if trigger not in RUN_TRIGGERS:
        raise InvalidInputError(f"trigger: must be one of {', '.join(RUN_TRIGGERS)}, got {trigger!r}")


def interrupted(run: ScheduleRunRecord, at: float) -> ScheduleRunRecord:
    """``run``, left ``running`` by a process that is gone, as :meth:`ScheduleStore.end_interrupted_runs` records it
    (failed at ``at``, saying it was interrupted) and as the readers show it before that (:func:`settled`)."""
    reason = run_reason(f"interrupted: the process that ran it ({run.holder}) is no longer running; the run was lost")
    return run.model_copy(update={"status": "failed", "finished_at": at, "reason": reason})


def settled(schedule: ScheduleRecord, lost: Sequence[ScheduleRunRecord], dead: Callable[[str], bool]) -> ScheduleRecord:
    """``schedule`` as it reads once :meth:`ScheduleStore.end_interrupted_runs` has recorded ``lost`` (runs
    :func:`interrupted` made, newest first; those of other schedules ignored): a claim held by a process that is
    gone (``dead(holder)``) released, its last run the newest of them when none came after it. Computed: nothing is
    written."""
    fields: dict[str, object] = {}
    if schedule.running_by is not None and dead(schedule.running_by):
        fields.update(running_by=None, running_since=None, running_until=None)
    run = next((r for r in lost if r.job_id == schedule.job_id), None)
    if run is not None and _supersedes(run, schedule.last_run):
        fields.update(last_run=run.finished_at, last_status=run.status, last_case_id=None, last_reason=run.reason)
    return schedule.model_copy(update=fields)


def _supersedes(run: ScheduleRunRecord, last_run: float | None) -> bool:
    """Whether ``run`` is a schedule's last run rather than the one it records (none came after it started)."""
    return last_run is None or last_run <= (run.started_at or 0)


class ScheduleStore(Store):
    """Scheduled inspections (create/read/update/delete, and run bookkeeping)."""

    def save_schedule(
        self,
        job_id: str,
        skill: str,
        cron: str,
        services: Sequence[str] = (),
        enabled: bool | None = True,
        create_only: bool = False,
        enabled_if_new: bool = True,
    ) -> ScheduleRecord:
        """Create the schedule ``job_id``, or replace its definition (run history is kept); ``enabled`` None keeps the
        stored flag (a new schedule gets ``enabled_if_new``). ``create_only``: refuse a job id in use with
        ScheduleExistsError (naming that schedule) instead, decided in the same transaction as the insert.

        Two processes creating one schedule at once (replicas mirroring a new Skill's schedule at the same re-sync,
        two users adding one job id) both find no row; on PostgreSQL the second insert then hits the primary key.
        That one starts again and finds the row there, which it updates as any existing schedule, or refuses with
        ``create_only`` (SQLite serialises writers, BEGIN IMMEDIATE).
        """
        if not job_id or not job_id.strip():
            raise InvalidInputError("job_id: empty")
        if not skill:
            raise InvalidInputError("skill: empty")
        for field, value in (("job_id", job_id), ("skill", skill), ("cron", cron)):
            check_length(field, value, ScheduleRow.__table__.c[field].type.length)
        if len(cron.split()) != 5:  # what cron.cron_trigger reads: a 6th field would be stored with no job
            raise InvalidInputError(f"cron: expected 5 fields (minute hour day month weekday), got {cron!r}")
        if isinstance(services, str):
            raise InvalidInputError("services: must be a list of service names, not one string")
        for field, value in (("job_id", job_id), *((f"services[{i}]", v) for i, v in enumerate(services))):
            if not str(value).strip():  # a blank service scoped the inspection to nothing
                raise InvalidInputError(f"{field}: empty")
            if (problem := name_problem(str(value))) is not None:  # a newline made a phantom row, ESC hit terminals
                raise InvalidInputError(f"{field}: {problem}")
        stamp = now()

        def work(session: Session) -> ScheduleRecord:
            row = session.get(ScheduleRow, job_id, with_for_update=True)
            if row is None:
                row = ScheduleRow(job_id=job_id, created_at=stamp, enabled=enabled_if_new)
                session.add(row)
            elif create_only:
                raise ScheduleExistsError(_record(row))
            row.skill = skill
            row.cron = cron
            row.services = list(services)
            if enabled is not None:
                row.enabled = enabled
            row.updated_at = stamp
            session.flush()
            return _record(row)

        return self._write_retrying(work)

    def get_schedule(self, job_id: str) -> ScheduleRecord:
        """One schedule, or ScheduleNotFoundError."""
        with self._read() as session:
            row = get_row(session, ScheduleRow, job_id, ScheduleNotFoundError(job_id))
            return _record(row)

    def find_schedule(self, job_id: str) -> ScheduleRecord | None:
        """One schedule, or None when there is none of that job id."""
        with self._read() as session:
            row = session.get(ScheduleRow, job_id)
            return _record(row) if row is not None else None

    def list_schedules(self, skill: str | None = None, enabled_only: bool = False) -> list[ScheduleRecord]:
        """Schedules by job id, optionally one Skill's or only the enabled ones."""
        query = select(ScheduleRow).order_by(ScheduleRow.job_id)
        if skill is not None:
            query = query.where(ScheduleRow.skill == skill)
        if enabled_only:
            query = query.where(ScheduleRow.enabled)
        with self._read() as session:
            return [_record(row) for row in session.scalars(query)]

    def set_schedule_enabled(self, job_id: str, enabled: bool) -> ScheduleRecord:
        """Pause or resume a schedule."""
        with self._write() as session:
            row = self._existing(session, job_id)
            row.enabled = enabled
            row.updated_at = now()
            session.flush()
            return _record(row)

    def start_schedule_run(
        self, job_id: str, holder: str, *, started: float | None = None, trigger: RunTrigger = "manual"
    ) -> int:
        """Record a run of ``job_id`` as it starts (status ``running``, held by the run claim ``holder``) in the
        schedule's history, so a run whose process dies leaves a trace (:meth:`end_interrupted_runs`); its id, for
        :meth:`record_schedule_run` to finish it. Runs beyond the newest ``MAX_RUNS_KEPT`` go in the same
        transaction."""
        _check_trigger(trigger)
        check_length("holder", holder, ScheduleRunRow.__table__.c.holder.type.length)
        begun = now() if started is None else started
        with self._write() as session:
            self._existing(session, job_id)
            run = ScheduleRunRow(job_id=job_id, started_at=begun, finished_at=begun, status=RUNNING, trigger=trigger,
                                 holder=holder)
            session.add(run)
            session.flush()
            self._prune_runs(session, job_id)
            return run.id

    def record_schedule_run(
        self,
        job_id: str,
        status: str,
        ts: float | None = None,
        case_id: str | None = None,
        reason: str | None = None,
        *,
        started: float | None = None,
        trigger: RunTrigger = "manual",
        run_id: int | None = None,
    ) -> ScheduleRecord:
        """Note that a schedule ran, finishing at ``ts`` (default now): status e.g. done / failed / skipped, which case
        it opened and why it failed, was skipped or could not judge (made one bounded line by :func:`run_reason`; a
        run without one clears it). The run is added to the schedule's history too (``started``: when it started,
        default ``ts``; ``trigger``: ``scheduled`` or ``manual``), whose runs beyond the newest ``MAX_RUNS_KEPT`` go in
        the same transaction; ``run_id``: the run :meth:`start_schedule_run` recorded, finished instead (added anew
        when it is gone)."""
        _check_trigger(trigger)
        check_length("status", status, ScheduleRunRow.__table__.c.status.type.length)
        finished = now() if ts is None else ts
        why = run_reason(reason)
        with self._write() as session:
            row = self._existing(session, job_id)
            row.last_run = finished
            row.last_status = status
            row.last_case_id = case_id
            row.last_reason = why
            run = session.get(ScheduleRunRow, run_id) if run_id is not None else None
            if run is None or run.job_id != job_id:
                run = ScheduleRunRow(job_id=job_id, started_at=finished if started is None else started,
                                     trigger=trigger)
                session.add(run)
            run.finished_at, run.status, run.reason, run.case_id = finished, status, why, case_id
            session.flush()
            self._prune_runs(session, job_id)
            return _record(row)

    def left_running(self, dead: Callable[[str], bool], job_id: str | None = None) -> list[ScheduleRunRecord]:
        """Runs left ``running`` by a process that is gone (``dead(holder)``: the caller decides, e.g. a process of
        this host that no longer exists), of ``job_id`` or of every schedule, newest first (by start); reads only."""
        runs = select(ScheduleRunRow).where(ScheduleRunRow.status == RUNNING, ScheduleRunRow.holder.is_not(None))
        if job_id is not None:
            runs = runs.where(ScheduleRunRow.job_id == job_id)
        with self._read() as session:
            return [ScheduleRunRecord.model_validate(r, from_attributes=True)
                    for r in session.scalars(runs.order_by(*NEWEST_RUN_FIRST)) if dead(r.holder)]

    def end_interrupted_runs(
        self, dead: Callable[[str], bool], job_id: str | None = None, ts: float | None = None
    ) -> list[ScheduleRunRecord]:
        """Record :meth:`left_running`'s runs ``failed`` at ``ts`` (default now) as :func:`interrupted` words it, the
        schedule's last run too when none came after it, and release a run claim on a schedule held by such a
        process (the next run need not wait for its lease): what :func:`settled` shows before it is written.
        Returns the runs so ended; reads only, when there are none."""
        lost = self.left_running(dead, job_id)
        claims = select(ScheduleRow.job_id, ScheduleRow.running_by).where(ScheduleRow.running_by.is_not(None))
        if job_id is not None:
            claims = claims.where(ScheduleRow.job_id == job_id)
        with self._read() as session:
            stale_claims = [(j, holder) for j, holder in session.execute(claims) if dead(holder)]
        if not lost and not stale_claims:
            return []
        finished = now() if ts is None else ts
        ended: list[ScheduleRunRecord] = []
        with self._write() as session:
            for held_by, holder in stale_claims:  # only if still held by that process
                session.execute(update(ScheduleRow).where(ScheduleRow.job_id == held_by,
                                                          ScheduleRow.running_by == holder)
                                .values(running_by=None, running_since=None, running_until=None)
                                .execution_options(synchronize_session=False))
            for left in lost:  # newest first: the newest is the last run of its schedule when none came after it
                run = session.get(ScheduleRunRow, left.id, with_for_update=True)
                if run is None or run.status != RUNNING:  # finished or removed meanwhile
                    continue
                done = interrupted(left, finished)
                run.status, run.finished_at, run.reason = done.status, done.finished_at, done.reason
                schedule = session.get(ScheduleRow, run.job_id)
                if schedule is not None and _supersedes(done, schedule.last_run):
                    schedule.last_run, schedule.last_status = done.finished_at, done.status
                    schedule.last_case_id, schedule.last_reason = None, done.reason
                session.flush()
                ended.append(done)
        return ended

    def schedule_runs(self, job_id: str, limit: int = 50) -> list[ScheduleRunRecord]:
        """The runs of ``job_id`` in its history, newest first (by start), at most ``limit``; ScheduleNotFoundError
        for an unknown schedule."""
        if limit < 1:
            raise InvalidInputError(f"limit: must be at least 1, got {limit}")
        with self._read() as session:
            get_row(session, ScheduleRow, job_id, ScheduleNotFoundError(job_id))
            rows = session.scalars(select(ScheduleRunRow).where(ScheduleRunRow.job_id == job_id)
                                   .order_by(*NEWEST_RUN_FIRST).limit(limit))
            return [ScheduleRunRecord.model_validate(r, from_attributes=True) for r in rows]

    def claim_schedule_tick(self, job_id: str, tick: float, claimant: str) -> bool:
        """Claim the run of ``job_id`` scheduled for ``tick``: True for the first process to ask, False
        for every other (replicas sharing the database run each tick once). A conditional UPDATE, so the
        row lock decides on PostgreSQL and the write lock on SQLite."""
        with self._write() as session:
            claimed = session.execute(
                update(ScheduleRow)
                .where(
                    ScheduleRow.job_id == job_id,
                    or_(ScheduleRow.claimed_tick.is_(None), ScheduleRow.claimed_tick < tick),
                )
                .values(claimed_tick=tick, claimed_by=claimant)
            )
            if claimed.rowcount:
                return True
            self._existing(session, job_id)  # ScheduleNotFoundError for an unknown schedule
            return False

    def claim_schedule_run(
        self, job_id: str, claimant: str, lease_s: float, now: float | None = None
    ) -> ScheduleRecord:
        """Hold ``job_id`` for the run ``claimant`` (unique per run) until ``now + lease_s`` (renew it with
        :meth:`renew_schedule_run`, end it with :meth:`release_schedule_run`): two runs of one schedule never
        overlap, in any number of processes sharing the database. One conditional UPDATE in one transaction (the
        row lock decides on PostgreSQL, the write lock on SQLite). A claim whose lease ran out (its process stopped
        or crashed) is taken over; a live one raises ScheduleBusyError naming it; an unknown schedule
        ScheduleNotFoundError."""
        if lease_s <= 0:
            raise InvalidInputError(f"lease_s: must be > 0, got {lease_s}")
        ts = time.time() if now is None else now
        with self._write() as session:
            claimed = session.execute(
                update(ScheduleRow)
                .where(ScheduleRow.job_id == job_id,
                       or_(ScheduleRow.running_by.is_(None), ScheduleRow.running_until < ts))
                .values(running_by=claimant, running_since=ts, running_until=ts + lease_s)
                .execution_options(synchronize_session=False)
            ).rowcount
            row = self._existing(session, job_id)
            if not claimed:
                raise ScheduleBusyError(job_id, row.running_by, row.running_since, row.running_until)
            return _record(row)

    def renew_schedule_run(self, job_id: str, claimant: str, lease_s: float, now: float | None = None) -> bool:
        """Extend the run claim of ``claimant`` to ``now + lease_s``; False when it no longer holds it (taken over)."""
        ts = time.time() if now is None else now
        return self._update_claim(job_id, claimant, running_until=ts + lease_s)

    def release_schedule_run(self, job_id: str, claimant: str) -> bool:
        """End the run claim of ``claimant``; False when it no longer held it (taken over, or the schedule gone)."""
        return self._update_claim(job_id, claimant, running_by=None, running_since=None, running_until=None)

    def _update_claim(self, job_id: str, claimant: str, **values: object) -> bool:
        with self._write() as session:
            return bool(session.execute(
                update(ScheduleRow)
                .where(ScheduleRow.job_id == job_id, ScheduleRow.running_by == claimant)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount)

    def delete_schedule(self, job_id: str) -> bool:
        """Remove a schedule and its run history (the foreign key cascades); False when there was none."""
        with self._write() as session:
            row = session.get(ScheduleRow, job_id, with_for_update=True)
            if row is None:
                return False
            session.delete(row)
            return True

    @staticmethod
    def _prune_runs(session: Session, job_id: str) -> None:
        """Remove the runs of ``job_id`` beyond its newest ``MAX_RUNS_KEPT``."""
        runs = ScheduleRunRow.job_id == job_id
        kept = select(ScheduleRunRow.id).where(runs).order_by(*NEWEST_RUN_FIRST).limit(MAX_RUNS_KEPT)
        session.execute(delete(ScheduleRunRow).where(runs, ScheduleRunRow.id.not_in(kept))
                        .execution_options(synchronize_session=False))

    @staticmethod
    def _existing(session: Session, job_id: str) -> ScheduleRow:
        return get_row(session, ScheduleRow, job_id, ScheduleNotFoundError(job_id), lock=True)
