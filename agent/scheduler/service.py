"""The scheduler: APScheduler 3 with its jobs in the database (they survive restarts), kept in sync.

One cron job per enabled schedule (see :mod:`agent.scheduler.specs`), ids equal to the schedule's
job id, all calling :func:`agent.scheduler.jobs.scheduled_inspection`. Missed runs are coalesced
into one, run if at most ``MISFIRE_GRACE_S`` late, and a schedule never overlaps itself: not in this process
(``max_instances``; the run not started is recorded ``skipped``), nor across processes (the run claim of
:func:`agent.scheduler.jobs.exclusive_run`).
Several processes may run the scheduler on one database (replicas of ``bianque serve``): each fires
the job, and :func:`agent.scheduler.jobs.scheduled_inspection` claims the tick in the schedule's row,
so only the first runs the inspection. A started scheduler syncs again every ``RESYNC_S`` seconds (a job of
its own, in memory: not one of the stored jobs), so Skill files edited, added, broken or removed while it
runs are taken up without a restart.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, column, inspect, select, table
from sqlalchemy.exc import OperationalError

from agent.bundles.case_data import PRUNE_EVERY_S
from agent.config import Settings
from agent.cron import cron_trigger
from agent.memory import Memory
from agent.memory.db import make_engine, unavailable, writer
from agent.notify.digest import digest_trigger
from agent.scheduler.digest import DIGEST_JOB, scheduled_digest
from agent.scheduler.housekeeping import PRUNE_JOB, scheduled_prune
from agent.scheduler.jobs import end_interrupted_runs, failure_reason, scheduled_inspection, skipped_in_process
from agent.scheduler.specs import UnknownServices, desired_schedules

if TYPE_CHECKING:
    from agent.runtime import ListedServices

log = logging.getLogger(__name__)
JOBSTORE_TABLE = "apscheduler_jobs"
JOBSTORE = "default"  # the inspection jobs, in the database
LOCAL = "local"  # this process's own housekeeping (the re-sync): a job store in memory and a thread of its own
RESYNC_JOB = "resync"
RESYNC_S = 300.0
MISFIRE_GRACE_S = 1800
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S}


@dataclass
class SyncReport:
    """What :func:`sync_schedules` changed in the job store, and schedules it could not use."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    """The built-in Skills' schedules this sync stored disabled: why, and how to enable each."""


class InspectionScheduler(BackgroundScheduler):
    """A background scheduler that never fires jobs once shut down.

    APScheduler 3's loop runs ``_process_jobs`` once more after ``shutdown()`` wakes it; a job due at
    that moment would be taken from the store (its run lost) and then fail on the stopped executor.
    ``sync_report`` is what the last sync (:func:`start_scheduler`'s, then :meth:`resync`'s) did, for the caller to
    show its problems.
    """

    sync_report: SyncReport | None = None

    def __init__(self, settings: Settings, **options: object) -> None:
        super().__init__(**options)
        self.settings = settings

    def start(self, paused: bool = False) -> None:
        """Start (``paused``: keep the jobs, run none); a job store database that does not answer is a
        ``DatabaseUnavailableError`` naming it and why."""
        try:
            super().start(paused=paused)
        except OperationalError as exc:
            raise unavailable(exc, self.settings.resolved_database_url) from exc

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()

    def inspection_jobs(self) -> list[Job]:
        """The scheduled inspections' jobs (the stored ones), not this process's housekeeping."""
        return self.get_jobs(jobstore=JOBSTORE)

    def resync(self) -> SyncReport | None:
        """Record the runs a process of this host left ``running`` when it died (:func:`record_interrupted`) and sync
        the jobs again (see :func:`sync_schedules`): log what changed and each problem the last sync did not
        report (a Skill file broken since says why once, not every time); a failure is one log line, never raised."""
        try:
            record_interrupted(self.settings)
            report = sync_schedules(self.settings, self)
        except Exception as exc:  # the database away for a moment: the next re-sync tries again
            log.warning("could not re-sync the schedules: %s", failure_reason(exc))
            return None
        for label, ids in (("added", report.added), ("updated", report.updated), ("removed", report.removed)):
            if ids:
                log.info("schedule re-sync %s: %s", label, ", ".join(ids))
        known = set(self.sync_report.problems) if self.sync_report else set()
        for problem in report.problems:
            if problem not in known:
                log.warning("skipped %s", problem)
        for note in report.disabled:  # a built-in Skill added while it runs
            log.warning("%s", note)
        self.sync_report = report
        return report


def record_interrupted(settings: Settings) -> None:
    """Record failed the runs a process of this host killed in them left ``running`` (a scheduler's start and each
    re-sync: :func:`agent.scheduler.jobs.end_interrupted_runs`), so the database says what the faces show."""
    with Memory(settings.resolved_database_url) as memory:
        end_interrupted_runs(memory)


def build_scheduler(settings: Settings, *, workers: int = 2) -> InspectionScheduler:
    """A (not started) background scheduler whose job store is the configured database, in UTC."""
    # every job-store transaction takes SQLite's write lock at BEGIN: a deferred one that read (the table's check at
    # start, a due job's lookup) and then wrote while a queue worker had written meanwhile failed at once with
    # "database is locked", whatever the busy timeout (PostgreSQL ignores the option)
    engine = writer(make_engine(settings.resolved_database_url))
    return InspectionScheduler(
        settings,
        jobstores={JOBSTORE: SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE), LOCAL: MemoryJobStore()},
        executors={JOBSTORE: ThreadPoolExecutor(workers), LOCAL: ThreadPoolExecutor(1)},
        job_defaults=dict(JOB_DEFAULTS),
        timezone=UTC,
    )


def start_scheduler(settings: Settings, *, paused: bool = False, resync_s: float = RESYNC_S) -> InspectionScheduler:
    """Build, start and sync a scheduler (``paused``: jobs are kept but nothing runs) that syncs again every
    ``resync_s`` seconds; its ``sync_report`` says which schedules got no job and why. Runs left ``running`` by a
    process of this host that died are recorded failed first (:func:`agent.scheduler.jobs.end_interrupted_runs`).
    With ``BIANQUE_NOTIFY_DIGEST`` (and a notification URL) it posts the digest of alerts judged not needing attention
    too (:func:`agent.scheduler.digest.scheduled_digest`); with ``BIANQUE_CASE_DATA_DAYS`` it prunes the old
    uncorrected cases' kept data at its start and every hour (:func:`agent.scheduler.housekeeping.scheduled_prune`);
    a crontab it cannot read is a DigestSettingError (a
    ValueError) naming the variable, before anything starts."""
    digest = digest_trigger(settings)
    scheduler = build_scheduler(settings)
    scheduler.start(paused=paused)
    try:
        record_interrupted(settings)
        scheduler.sync_report = sync_schedules(settings, scheduler)
    except Exception:
        scheduler.shutdown(wait=False)
        raise
    scheduler.add_job(scheduler.resync, IntervalTrigger(seconds=resync_s, timezone=UTC), id=RESYNC_JOB,
                      name="re-sync the schedules", jobstore=LOCAL, executor=LOCAL)
    if settings.case_data is not None:
        scheduler.add_job(scheduled_prune, IntervalTrigger(seconds=PRUNE_EVERY_S, timezone=UTC), id=PRUNE_JOB,
                          name="prune old uncorrected cases' kept data", next_run_time=datetime.now(UTC),
                          jobstore=LOCAL, executor=LOCAL)
    if digest is not None:  # each replica fires it; the tick's claim in the database decides which one posts
        scheduler.add_job(scheduled_digest, digest, id=DIGEST_JOB, name="digest of alerts judged not needing "
                          "attention", jobstore=LOCAL, executor=LOCAL)
    scheduler.add_listener(_record_overlap, EVENT_JOB_MAX_INSTANCES)
    return scheduler


def _record_overlap(event: JobSubmissionEvent) -> None:
    """A run APScheduler did not start because the previous one still runs in this process: record it skipped."""
    if event.jobstore == JOBSTORE:
        skipped_in_process(event.job_id)


@contextmanager
def paused_scheduler(settings: Settings) -> Iterator[InspectionScheduler]:
    """A started but paused scheduler, to read or change the job store without running anything."""
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)


def stored_next_runs(engine: Engine) -> dict[str, float | None]:
    """The stored inspection jobs' next runs by job id (epoch seconds; None for a paused job), read from the job
    store's table in ``engine``'s database as APScheduler keeps them, without starting a scheduler: nothing runs and
    nothing is written (no table yet, as on a database no scheduler or sync has used: no job)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(JOBSTORE_TABLE):
            return {}
        jobs = table(JOBSTORE_TABLE, column("id"), column("next_run_time"))
        return {job_id: None if next_run is None else float(next_run)
                for job_id, next_run in connection.execute(select(jobs.c.id, jobs.c.next_run_time))}


def services_listing(settings: Settings) -> Callable[[], ListedServices]:
    """The services the configured live sources know (:func:`agent.runtime.listed_services`, each server given
    ``SERVICE_CHECK_TIMEOUT_S``), listed once, when first asked, and kept (one ``KeptListings`` that keeps even a
    listing a source did not answer): the sync and the warning of one ``schedule add`` share it, so a server that
    does not answer is waited for once. Sources that cannot be listed at all (a bad topology file, read before any
    server is asked) know no service and say why."""
    from agent.runtime import KeptListings, ListedServices
    from agent.scheduler.specs import SERVICE_CHECK_TIMEOUT_S

    kept = KeptListings(math.inf, unanswered_kept_s=math.inf)

    def listing() -> ListedServices:
        try:
            return kept.listing(settings, SERVICE_CHECK_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a bad topology file: no service is known
            return ListedServices([], [f"the services could not be listed ({failure_reason(exc)})"])

    return listing


def live_services_check(settings: Settings, listing: Callable[[], ListedServices] | None = None) -> UnknownServices:
    """Which of some services (or globs) the configured live sources do not know, and each source that did not
    answer, from ``listing`` (default :func:`services_listing`'s): asked once, when first needed (a sync that stores
    no new built-in mirror asks nothing)."""
    from agent.scheduler.jobs import unknown_services

    listed = listing or services_listing(settings)

    def unknown(services: Sequence[str]) -> tuple[list[str], list[str]]:
        found = listed()
        return unknown_services(services, found.known), found.unanswered

    return unknown


def sync_schedules(settings: Settings, scheduler: BackgroundScheduler | None = None,
                   listing: Callable[[], ListedServices] | None = None) -> SyncReport:
    """Make the job store hold exactly one cron job per enabled, usable schedule.

    Skills' schedules are mirrored into memory first (a new mirror's services checked against ``listing``, default
    :func:`services_listing`'s). Jobs whose cron did not change keep their
    next run time (a restart does not skip or repeat a run). Without ``scheduler`` a paused one is used.
    Another process syncing the same job store at the same moment (a replica, a CLI command) is no error.
    """
    if scheduler is None:
        with paused_scheduler(settings) as paused:
            return sync_schedules(settings, paused, listing)
    from agent.runtime import load_skills

    with Memory(settings.resolved_database_url) as memory:
        desired = desired_schedules(memory, load_skills(settings), live_services_check(settings, listing))
    report = SyncReport(problems=desired.problems, disabled=desired.disabled)
    existing = {job.id: job for job in scheduler.get_jobs(jobstore=JOBSTORE)}
    for job_id in sorted(set(existing) - set(desired.schedules)):
        try:
            scheduler.remove_job(job_id, jobstore=JOBSTORE)
        except JobLookupError:  # another process removed it a moment ago
            pass
        report.removed.append(job_id)
    for job_id, schedule in sorted(desired.schedules.items()):
        trigger = cron_trigger(schedule.cron)
        job = existing.get(job_id)
        if job is None:
            try:
                scheduler.add_job(
                    scheduled_inspection, trigger, args=[job_id], id=job_id, name=f"inspection {schedule.skill}",
                    jobstore=JOBSTORE,
                )
            except ConflictingIdError:  # another replica added it a moment ago
                report.unchanged.append(job_id)
                continue
            report.added.append(job_id)
        elif str(job.trigger) != str(trigger) or tuple(job.args) != (job_id,):
            try:
                scheduler.modify_job(job_id, JOBSTORE, args=[job_id], name=f"inspection {schedule.skill}")
                scheduler.reschedule_job(job_id, JOBSTORE, trigger=trigger)
            except JobLookupError:  # another process removed it a moment ago: the next sync adds it again
                continue
            report.updated.append(job_id)
        else:
            report.unchanged.append(job_id)
    return report
