"""The scheduled work itself: run one inspection Skill over its services and record the run.

APScheduler stores jobs by reference, so the job function is module-level and takes only a job id;
the process hosting the scheduler calls :func:`configure` to choose settings and investigator.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel

from agent.config import Settings, get_settings
from agent.events import Event, InspectionScope, Pattern
from agent.graph.owner import owner_gone, process_owner
from agent.investigate import InvestigationResult
from agent.memory import Memory, ScheduleBusyError, ScheduleNotFoundError
from agent.memory.records import RUNNING, RunTrigger, ScheduleRecord, ScheduleRunRecord
from agent.memory.schedules import interrupted, settled
from agent.notify import notifier_for
from agent.scheduler.specs import last_tick, skill_job_id
from agent.sources.promql import is_glob
from agent.timeparse import to_rfc3339

if TYPE_CHECKING:
    from agent.investigator import Investigator

log = logging.getLogger(__name__)
TICK_LOOKBACK_S = 1800.0  # as late as the scheduler still runs a missed job (service.MISFIRE_GRACE_S)
NOT_JUDGED = "could not judge"  # a run's status when the data could not answer (the verdict's judged is false)
CLAIMANT = process_owner()  # host:pid, as checkpoints and queue claims name a process
RUN_LEASE_S = 300.0  # a run's claim on its schedule, renewed every third of it while it runs
SKIPPED = "skipped"  # a run's status when another run of its schedule still held it
_lock = threading.Lock()
_configured: tuple[Settings, Investigator] | None = None
_held: set[str] = set()  # the run claims this process holds now (exclusive_run)


class SkillUnavailableError(LookupError, ValueError):
    """The Skill a run names is not loaded (gone, or its file does not load) or is no inspection Skill.

    A LookupError and a ValueError, as these two cases were before: callers catching either still do.
    """


class NoMatchingServiceError(LookupError):
    """A run's services are globs that match no service the live sources know: nothing is inspected (it had been
    every service)."""


class InspectionRun(BaseModel):
    """One run of an inspection: what was asked and what came back."""

    skill: str
    job_id: str | None = None
    event: Event
    result: InvestigationResult


def configure(settings: Settings | None, investigator: Investigator | None) -> None:
    """Make scheduled jobs in this process use these settings and this investigator.

    ``configure(None, None)`` goes back to the default: the process settings and live sources.
    """
    global _configured
    if (settings is None) != (investigator is None):
        raise ValueError("give both settings and investigator, or neither")
    with _lock:
        _configured = None if settings is None or investigator is None else (settings, investigator)


def configured_settings() -> Settings:
    """The settings scheduled jobs in this process use: those :func:`configure` chose, else the process settings."""
    with _lock:
        return _configured[0] if _configured is not None else get_settings()


def _runtime(settings: Settings | None, investigator: Investigator | None) -> tuple[Settings, Investigator]:
    global _configured
    if settings is not None and investigator is not None:
        return settings, investigator
    with _lock:
        if _configured is None:
            from agent.investigator import LiveInvestigator

            default = get_settings()
            _configured = (default, LiveInvestigator(default))
        configured = _configured
    return settings or configured[0], investigator or configured[1]


def expand_services(patterns: Sequence[str], known: Sequence[str]) -> list[str]:
    """Concrete names as given, globs (``*``, ``search-*``) matched against the known services.

    A known service is taken as itself even when its name holds glob characters (``svc[1]``).
    """
    found: list[str] = []
    for pattern in patterns:
        names = fnmatch.filter(known, pattern) if _is_glob(pattern, known) else [pattern]
        found.extend(n for n in names if n not in found)
    return found


def unknown_services(patterns: Sequence[str], known: Sequence[str]) -> list[str]:
    """The names of ``patterns`` not among the known services and the globs matching none, as
    :func:`expand_services` reads them."""
    return [p for p in patterns if not (fnmatch.filter(known, p) if _is_glob(p, known) else p in known)]


def _is_glob(pattern: str, known: Sequence[str]) -> bool:
    """Whether ``pattern`` is read as a glob: it has glob characters and is no known service's own name."""
    return is_glob(pattern) and pattern not in known


def run_services(patterns: Sequence[str], settings: Settings) -> list[str]:
    """The services a run inspects: names as given, globs matched against the services the live sources know (the
    topology file's, the metric server's, the log store's: :func:`agent.runtime.listed_services`, what `schedule add`
    checks a service against). No pattern: none (the graph inspects what it knows). Raises
    :class:`NoMatchingServiceError` when globs are given and no service matches them."""
    if not any(map(is_glob, patterns)):
        return list(patterns)
    from agent.runtime import listed_services

    listing = listed_services(settings)
    found = expand_services(patterns, listing.known)
    if not found:
        unanswered = f" ({'; '.join(listing.unanswered)})" if listing.unanswered else ""
        raise NoMatchingServiceError(f"no service with data matches {', '.join(map(repr, patterns))}{unanswered}; "
                                     "nothing inspected")
    return found


def inspection_event(
    skill_name: str, services: Sequence[str], window: float, now: float, business: str | None = None
) -> Event:
    """An inspection event over ``services`` (none: the graph inspects the topology)."""
    scope = InspectionScope(services=list(services), window=window)
    return Event(
        pattern=Pattern.INSPECTION,
        time=now,
        scope=scope,
        business=business,
        question=f"scheduled inspection {skill_name}",
    )


class RunTarget(NamedTuple):
    """What a run of a name means: the Skill, its services (None: the Skill's scope) and the schedule to record on."""

    skill: str
    services: list[str] | None
    job_id: str | None


def run_target(
    settings: Settings, memory: Memory, name: str, services: Sequence[str] | None = None
) -> RunTarget | None:
    """What ``bianque schedule run NAME`` and ``POST /schedules/NAME/run`` run: a loaded Skill by name (recorded on
    its own schedule by :func:`run_inspection` when it has one), else the stored schedule of job id ``name`` (its
    Skill over ``services``, default its own services), else a Skill whose file does not load (``run_inspection``
    says which file and why, recorded on its own schedule as a failed run); None when ``name`` is none of these."""
    from agent.runtime import load_skills

    given = list(services) if services else None
    library = load_skills(settings)
    if library.get(name) is not None:
        return RunTarget(name, given, None)
    schedule = memory.find_schedule(name)
    if schedule is not None:
        return RunTarget(schedule.skill, given or schedule.services or None, schedule.job_id)
    return RunTarget(name, given, None) if library.not_loaded(name) else None


def run_inspection(
    skill_name: str,
    services: Sequence[str] | None = None,
    *,
    job_id: str | None = None,
    settings: Settings | None = None,
    investigator: Investigator | None = None,
    memory: Memory | None = None,
    now: float | None = None,
    trigger: RunTrigger = "manual",
) -> InspectionRun:
    """Inspect with ``skill_name`` now (default services: its scope) and record the run on ``job_id``.

    Without ``job_id`` the run is recorded on the Skill's own schedule when it has one: status ``done``,
    ``could not judge`` (no data answered; the verdict's ``judged`` is false) or ``failed`` (with the exception's
    class and message as its reason), with when it started and finished and its ``trigger`` (``scheduled`` from the
    scheduler's job, else ``manual``) in the schedule's history. A run on a schedule holds it while it runs
    (:func:`exclusive_run`): when another run holds it, ScheduleBusyError is raised and nothing is run or recorded.
    Raises :class:`SkillUnavailableError` (a LookupError and a ValueError) for a Skill that is not loaded or not an
    inspection, recorded as a failed run too. ``memory``: the database of the schedules, used and left open (default:
    the settings' database, opened for the run).
    """
    settings, investigator = _runtime(settings, investigator)
    with nullcontext(memory) if memory is not None else Memory(settings.resolved_database_url) as memory:
        job_id = job_id or _skill_schedule(memory, skill_name)
        with exclusive_run(memory, job_id) if job_id else nullcontext() as token:
            started = time.time()
            run = _Run(memory, job_id, started, trigger, token) if job_id and token else None
            try:
                event, result = _inspect(skill_name, services, settings, investigator, now)
            except Exception as exc:
                if run:
                    run.record("failed", reason=failure_reason(exc))
                raise
            if run:
                judged = result.verdict.judged
                run.record("done" if judged else NOT_JUDGED, case_id=result.case_id,
                           reason=None if judged else not_judged_reason(result))
    return InspectionRun(skill=skill_name, job_id=job_id, event=event, result=result)


class _Run:
    """A run of a schedule recorded as it starts (status ``running``, held by its claim ``holder``), so a process
    that dies in it leaves a trace (:func:`end_interrupted_runs`); :meth:`record` finishes it."""

    def __init__(self, memory: Memory, job_id: str, started: float, trigger: RunTrigger, holder: str) -> None:
        self.memory, self.job_id, self.started, self.trigger = memory, job_id, started, trigger
        self.run_id = memory.start_schedule_run(job_id, holder, started=started, trigger=trigger)

    def record(self, status: str, *, case_id: str | None = None, reason: str | None = None) -> None:
        """Record the run finished now. A schedule deleted while it ran (`schedule remove` meanwhile) is one log
        line: the run happened (its case stands), nothing is left to record it on, and its own outcome is what
        matters."""
        try:
            self.memory.record_schedule_run(self.job_id, status, case_id=case_id, reason=reason, started=self.started,
                                            trigger=self.trigger, run_id=self.run_id)
        except ScheduleNotFoundError:
            log.warning("schedule %s was deleted while it ran; its run (%s) is not recorded", self.job_id, status)


def not_judged_reason(result: InvestigationResult) -> str:
    """Why a run could not judge: the verdict's summary, with why data was missing (``connection refused``) when
    the summary does not say it already."""
    said = result.verdict.summary
    missing: list[str] = []
    for gap in result.missing_data:
        if gap.reason and gap.reason not in said and gap.reason not in missing:
            missing.append(gap.reason)
    return f"{said} (missing data: {'; '.join(missing)})" if missing else said


def _inspect(
    skill_name: str, services: Sequence[str] | None, settings: Settings, investigator: Investigator, now: float | None
) -> tuple[Event, InvestigationResult]:
    """The inspection event of :func:`run_inspection` and its investigation."""
    from agent.runtime import load_skills

    library = load_skills(settings)
    loaded = library.get(skill_name)
    if loaded is None:
        raise SkillUnavailableError(f"no Skill named {skill_name!r}{library.not_loaded(skill_name)} "
                                    "(see `bianque skills list`)")
    skill = loaded.skill
    if skill.pattern != Pattern.INSPECTION:
        raise SkillUnavailableError(f"Skill {skill_name!r} is {skill.pattern.value}, not an inspection")
    targets = run_services(services or skill.scope.services, settings)
    event = inspection_event(
        skill_name, targets, skill.window.lookback, time.time() if now is None else now, skill.scope.business
    )
    return event, investigator(event, skill=skill_name, source="schedule")


@contextmanager
def exclusive_run(memory: Memory, job_id: str) -> Iterator[str]:
    """Hold the schedule ``job_id`` for one run while the block runs (yielding the run's claim token): claimed in
    the schedule's row (ScheduleBusyError when another run, in any process, holds it), its lease renewed by a
    thread every third of ``RUN_LEASE_S``, released at the end. A process that dies holding it leaves a claim
    whose lease runs out, which the next run takes over; one left by a process of this host that is no longer
    running is taken over at once, saying so (:func:`end_interrupted_runs`)."""
    token = f"{CLAIMANT}:{uuid.uuid4().hex[:8]}"
    with _lock:
        _held.add(token)
    try:
        end_interrupted_runs(memory, job_id)
        memory.claim_schedule_run(job_id, token, RUN_LEASE_S)
        with _renewed(memory, job_id, token):
            yield token
    finally:
        with _lock:
            _held.discard(token)


@contextmanager
def _renewed(memory: Memory, job_id: str, token: str) -> Iterator[None]:
    """Renew the run claim ``token`` by a thread while the block runs; release it at the end."""
    done = threading.Event()
    renewer = threading.Thread(target=_renew, args=(memory, job_id, token, done), name=f"bianque-run-{job_id}",
                               daemon=True)
    try:
        renewer.start()  # inside: a thread that cannot start fails the run, and the claim is released
        yield
    finally:
        done.set()
        if renewer.ident is not None:  # started
            renewer.join()
        try:
            memory.release_schedule_run(job_id, token)
        except Exception as exc:  # noqa: BLE001 - the run's own outcome matters more; the lease runs out
            log.warning("schedule %s: could not release this run's claim (it lapses in %g s): %s", job_id,
                        RUN_LEASE_S, failure_reason(exc))


def holder_gone(holder: str) -> bool:
    """Whether the run claim ``holder`` (``host:pid:token``) was left by a process that is no longer running: another
    process of this host that does not exist, or this process's id with a claim this process does not hold (a
    previous process given the same id, as in a container). Another host's is never judged gone: its lease
    decides."""
    owner = holder.rpartition(":")[0]
    if owner == CLAIMANT:
        with _lock:
            return holder not in _held
    return owner_gone(owner)


def runs_in_progress() -> int:
    """How many runs of schedules this process holds now."""
    with _lock:
        return len(_held)


def end_interrupted_runs(memory: Memory, job_id: str | None = None) -> list[ScheduleRunRecord]:
    """Record as failed the runs (of ``job_id``, default every schedule) left ``running`` by a process of this host
    that is gone (``kill -9``, a crash), releasing the claims such processes held; each one a warning line."""
    ended = memory.end_interrupted_runs(holder_gone, job_id)
    for run in ended:
        started = to_rfc3339(run.started_at) if run.started_at is not None else "at an unknown time"
        log.warning("schedule %s: its run started %s by %s was interrupted (that process is no longer running): "
                    "recorded failed, its claim taken over", run.job_id, started, run.holder)
    return ended


def schedule_history(memory: Memory, job_id: str, limit: int) -> list[ScheduleRunRecord]:
    """The runs of ``job_id``, newest first, as `schedule history`, ``GET /schedules/{job_id}/runs`` and the UI show
    them: a run left ``running`` by a process of this host that is gone shown failed, as the next run of the schedule
    or the next start of a scheduler records it (:func:`end_interrupted_runs`); nothing is written.
    ScheduleNotFoundError for an unknown job id."""
    at = time.time()
    return [interrupted(run, at) if run.status == RUNNING and run.holder is not None and holder_gone(run.holder)
            else run for run in memory.schedule_runs(job_id, limit)]


def schedules_shown(memory: Memory) -> list[ScheduleRecord]:
    """Every stored schedule (by job id) as `schedule list`, ``GET /schedules`` and the UI show it: as it reads once
    the runs left ``running`` by processes of this host that are gone are recorded (:func:`end_interrupted_runs`),
    computed (:func:`agent.memory.schedules.settled`), nothing written."""
    at = time.time()
    lost = [interrupted(run, at) for run in memory.left_running(holder_gone)]
    return [settled(schedule, lost, holder_gone) for schedule in memory.list_schedules()]


def _renew(memory: Memory, job_id: str, token: str, done: threading.Event) -> None:
    """Renew the run claim ``token`` on ``job_id`` until ``done`` (or until it is found taken over)."""
    while not done.wait(RUN_LEASE_S / 3):
        try:
            if not memory.renew_schedule_run(job_id, token, RUN_LEASE_S):
                log.warning("schedule %s: this run's claim was taken over or removed; it runs on unguarded", job_id)
                return
        except Exception as exc:  # noqa: BLE001 - the database away for a moment: try again at the next beat
            log.warning("schedule %s: could not renew this run's claim: %s", job_id, failure_reason(exc))


def failure_reason(exc: BaseException) -> str:
    """What a failed run records: the exception's class and message (``RuntimeError: sources down``)."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _skill_schedule(memory: Memory, skill_name: str) -> str | None:
    job_id = skill_job_id(skill_name)
    return job_id if memory.find_schedule(job_id) is not None else None


def scheduled_inspection(job_id: str) -> None:
    """The APScheduler job: run the stored schedule ``job_id`` (its Skill over its services).

    A Skill deleted, broken or no longer an inspection since the last sync makes a failed run whose reason says
    why, and one warning in the log (no traceback: nothing crashed); the scheduler's next re-sync takes the job
    away. A run of the schedule still going (``schedule run``, or a slow run in another replica) makes this one
    ``skipped``, saying which. A schedule deleted since (before this job read it, or as it starts) is one log
    line.
    """
    settings, _ = _runtime(None, None)
    with Memory(settings.resolved_database_url) as memory:
        try:
            schedule = memory.get_schedule(job_id)
        except ScheduleNotFoundError:
            _log_gone(job_id)
            return
        if not schedule.enabled:
            log.info("schedule %s is disabled; skipped", job_id)
            return
        tick = last_tick(schedule.cron, time.time(), lookback=TICK_LOOKBACK_S)
        if tick is not None and not memory.claim_schedule_tick(job_id, tick, CLAIMANT):
            log.info("schedule %s: the run due at %s was taken by another replica", job_id, tick)
            return
    notifier = notifier_for(settings)
    origin = f"scheduled inspection {schedule.skill} (schedule {job_id})"
    try:
        run = run_inspection(schedule.skill, schedule.services, job_id=job_id, trigger="scheduled")
    except (SkillUnavailableError, NoMatchingServiceError) as exc:  # recorded as failed, with this reason
        log.warning("schedule %s not run: %s", job_id, exc)
        notifier.failure(origin, str(exc))
        return
    except ScheduleBusyError as exc:
        record_skipped(job_id, str(exc))
        return
    except ScheduleNotFoundError:  # deleted since it was read above (`schedule remove` meanwhile)
        _log_gone(job_id)
        return
    except Exception as exc:  # recorded as failed; APScheduler logs it
        notifier.failure(origin, failure_reason(exc))
        raise
    log.info("schedule %s ran %s: case %s", job_id, schedule.skill, run.result.case_id)
    notifier.result(run.result, run.event, origin)


def _log_gone(job_id: str) -> None:
    log.warning("schedule %s no longer exists; not run (the next sync removes its job)", job_id)


def record_skipped(job_id: str, reason: str) -> None:
    """Record a scheduled run of ``job_id`` that did not start because another still runs, and say so in one log
    line."""
    log.warning("schedule %s skipped: %s", job_id, reason)
    settings, _ = _runtime(None, None)
    try:
        with Memory(settings.resolved_database_url) as memory:
            memory.record_schedule_run(job_id, SKIPPED, reason=reason, trigger="scheduled")
    except Exception as exc:  # noqa: BLE001 - the schedule deleted meanwhile, or the database away: said, not raised
        log.warning("schedule %s: could not record the skipped run: %s", job_id, failure_reason(exc))


def skipped_in_process(job_id: str) -> None:
    """APScheduler did not start ``job_id`` because this process still runs its previous run (``max_instances``):
    recorded as skipped, the reason naming that run."""
    settings, _ = _runtime(None, None)
    try:
        with Memory(settings.resolved_database_url) as memory:
            schedule = memory.get_schedule(job_id)
        reason = str(ScheduleBusyError(job_id, schedule.running_by or CLAIMANT, schedule.running_since,
                                       schedule.running_until))
    except Exception:  # noqa: BLE001 - record_skipped says what went wrong with the database
        reason = f"the previous run of schedule {job_id!r} in this process ({CLAIMANT}) is still running"
    record_skipped(job_id, reason)
