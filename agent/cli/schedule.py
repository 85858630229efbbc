"""``bianque schedule``: list, sync, add, remove, enable, disable and run scheduled inspections, show a schedule's run
history; run the scheduler."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agent.cli.common import (
    JsonOption,
    console,
    err_console,
    exit_if_not_judged,
    fail,
    knowledge_errors,
    print_json,
    print_markdown,
    print_table,
    user_errors,
    warn,
)
from agent.config import Settings, get_settings
from agent.memory import (
    DatabaseUnavailableError,
    DatabaseURLError,
    Memory,
    MemoryStoreError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    ScheduleRecord,
    ScheduleRunRecord,
)
from agent.timeparse import to_rfc3339, to_short_utc

if TYPE_CHECKING:
    from agent.runtime import ListedServices
    from agent.scheduler.overview import ScheduleState
    from agent.scheduler.service import InspectionScheduler

schedule_app = typer.Typer(help="Scheduled inspections (cron in UTC, jobs kept in the database).", no_args_is_help=True)
ServiceOption = Annotated[
    list[str] | None, typer.Option("--service", help="Service to inspect (repeatable; default the Skill's scope).")
]
JobIdArgument = Annotated[str, typer.Argument(help="The schedule's job id (see `bianque schedule list`).")]
KNOWN_SHOWN = 20  # services named by the warning of `schedule add` about one no source knows
HISTORY_SHOWN = 20  # runs `schedule history` shows without --limit
MARK = "*"  # after a cell of `schedule list` whose reason is printed below its table
ERRORS = (MemoryStoreError, DatabaseURLError, DatabaseUnavailableError, LookupError, ValueError)


def register(app: typer.Typer) -> None:
    """Add the ``schedule`` sub-app to the root CLI."""
    app.add_typer(schedule_app, name="schedule")


def _next_runs(scheduler: InspectionScheduler) -> dict[str, str]:
    from agent.scheduler.overview import next_run_times

    return {job_id: to_rfc3339(ts) if ts is not None else "paused" for job_id, ts in next_run_times(scheduler).items()}


def _when(ts: float | None, when: Callable[[float], str] = to_rfc3339) -> str:
    return when(ts) if ts is not None else "-"


@schedule_app.command("list")
def list_schedules(
    wide: Annotated[bool, typer.Option("--wide", help="Add each schedule's skill, cron, services and enabled flag and "
                                       "write times in full (RFC 3339), for a wide terminal.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Schedules, one line each: next run (after `bianque schedule sync`), last run and its status (--wide: their
    Skill, cron, services and enabled flag too); below the table, why a last run failed or was skipped and why an
    enabled schedule has no job (its Skill gone or not loading, its cron bad), each marked * in the table. --json:
    the fields of the API's GET /schedules (job, overdue, running, …), next_run as RFC 3339 text or "paused"."""
    from agent.scheduler.overview import schedule_states

    settings = get_settings()
    with user_errors(*ERRORS), Memory(settings.resolved_database_url) as memory:
        schedules = schedule_states(settings, memory)  # a run whose process died is shown failed, not running
    if as_json:
        # the fields of GET /schedules (one model, agent.scheduler.overview.ScheduleState), next_run as text
        print_json([{**s.model_dump(mode="json"), "next_run": _next_run_json(s)} for s in schedules])
        return
    if not schedules:
        console.print("no schedules: run `bianque schedule sync` to load the Skills' schedules")
        return
    print_table(_schedule_table(schedules, wide), unfolded=wide)
    if any(s.overdue for s in schedules):
        console.print("overdue: no scheduler has run them; `bianque schedule start` or `bianque serve "
                      "--with-scheduler` runs one (a run more than 30 minutes late is skipped, the next is on time)")
    for s in schedules:
        if s.last_reason:  # untrusted text (an exception's message): printed as it is, never read as markup
            console.print(f"{MARK} last run of {escape(s.job_id)} {escape(s.last_status or '')}: "
                          f"{escape(s.last_reason)}")
    for s in schedules:
        if s.problem:
            err_console.print(f"{MARK} [yellow]no job[/] for schedule {escape(s.job_id)}: {escape(s.problem)}")
    _print_disabled_note([s.job_id for s in schedules if not s.enabled])


def _print_disabled_note(job_ids: list[str]) -> None:
    """Which schedules are disabled and how to enable one (nothing when none is)."""
    from agent.scheduler.overview import disabled_note

    if note := disabled_note(job_ids):
        console.print(note, markup=False, highlight=False)


def _schedule_table(schedules: list[ScheduleState], wide: bool) -> Table:
    """The table of `schedule list`: how each schedule stands, one line each in 80 columns (in a terminal, a job id
    longer than about 35 characters is folded): its next run and last run as ``12-14 02:00`` (a next run passed:
    ``overdue``) and the last run's status (``running`` while a run holds it). ``wide`` adds what each schedule is
    (skill, cron, services, enabled) and writes times in full (``running since …``)."""
    from agent.scheduler.overview import next_run_label, services_label, status_label

    when = to_rfc3339 if wide else to_short_utc
    table = Table(title="Schedules (UTC)", box=None, pad_edge=False, header_style="bold")
    table.add_column("job id", overflow="fold")  # the one column folded, only when the line cannot hold it whole
    definition = ("skill", "cron", "services", "enabled") if wide else ()
    for column in (*definition, "next run", "last run", "status"):
        table.add_column(column, no_wrap=True)
    for s in schedules:
        cells = {"skill": Text(s.skill), "cron": Text(s.cron), "services": Text(services_label(s.services)),
                 "enabled": "yes" if s.enabled else "no"}
        next_run = "overdue" if s.overdue and not wide else next_run_label(s, when) + (MARK if s.problem else "")
        status = "running" if s.running and not wide else status_label(s, when)
        # the reason printed below marks the status it explains, or the last run's time while another run goes on
        reason = MARK if s.last_reason else ""
        table.add_row(Text(s.job_id), *(cells[column] for column in definition), next_run,
                      _when(s.last_run, when) + (reason if s.running else ""), status + ("" if s.running else reason))
    return table


def _next_run_json(schedule: ScheduleState) -> str | None:
    """``next_run`` of --json: the time, ``paused``, or None without a job."""
    if schedule.next_run is not None:
        return to_rfc3339(schedule.next_run)
    return "paused" if schedule.job == "paused" else None


@schedule_app.command("sync")
def sync() -> None:
    """Create, update and remove jobs so they match the Skills' and the stored schedules."""
    from agent.scheduler import sync_schedules

    with user_errors(*ERRORS):
        report = sync_schedules(get_settings())
    for label, ids in (
        ("added", report.added),
        ("updated", report.updated),
        ("removed", report.removed),
        ("unchanged", report.unchanged),
    ):
        if ids:
            console.print(f"{label}: {escape(', '.join(ids))}")
    _print_problems(report.problems, report.disabled)


def _print_problems(problems: list[str], disabled: list[str] | None = None) -> None:
    """The schedules a sync gave no job, and why; the built-in Skills' schedules it stored ``disabled``, why and how
    to enable each."""
    for problem in problems:
        err_console.print(f"[yellow]skipped[/] {escape(problem)}")
    for note in disabled or []:
        err_console.print(f"[yellow]note:[/] {escape(note)}")


@schedule_app.command("add")
def add(
    job_id: Annotated[str, typer.Argument(help="A name for the schedule.")],
    skill: Annotated[str, typer.Option(help="The inspection Skill to run.")],
    cron: Annotated[str, typer.Option(help="5-field cron in UTC, e.g. '*/30 * * * *'.")],
    service: ServiceOption = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the schedule of this job id if there is one "
                                          "(its run history and enabled flag are kept).")] = False,
) -> None:
    """Store a schedule of your own, then sync the jobs (refused, nothing stored, when the Skill is no inspection
    Skill, the cron is malformed, the job id is a Skill's name or starts with skill:, or it is taken and --replace is
    not given: two users adding one new job id at once, the second is refused). A --service no configured
    source knows is a warning naming the ones they do ("could not check" when a server does not answer within
    2 s)."""
    from agent.runtime import load_skills
    from agent.scheduler import sync_schedules
    from agent.scheduler.service import services_listing
    from agent.scheduler.specs import job_id_problem, schedule_problem

    settings = get_settings()
    library = load_skills(settings)
    if (problem := job_id_problem(job_id, library) or schedule_problem(skill, cron, library)) is not None:
        fail(f"{problem}; schedule {job_id} not saved")
    with user_errors(*ERRORS):
        with Memory(settings.resolved_database_url) as memory:
            try:  # the check and the insert in one transaction: enabled=None keeps a replaced schedule's flag
                memory.save_schedule(job_id, skill, cron, service or [], enabled=None, create_only=not replace)
            except ScheduleExistsError as exc:
                raise ValueError(f"schedule {job_id} already exists ({_describe(exc.existing)}); --replace replaces "
                                 f"it, `bianque schedule remove {job_id}` deletes it; not saved") from None
        listing = services_listing(settings)  # asked once for both: a server that does not answer is waited for once
        report = sync_schedules(settings, listing=listing)
    _print_problems(report.problems, report.disabled)
    _warn_unknown_services(service or [], listing)
    console.print(f"schedule {escape(job_id)} saved")


def _warn_unknown_services(services: list[str], listed: Callable[[], ListedServices]) -> None:
    """Warn about each service (or glob) the configured sources do not know (``listed``:
    :func:`agent.scheduler.service.services_listing`'s), naming the ones they do; not an error: a service may have
    no data yet. Nothing is said when the sources list no service at all. A server is given
    ``SERVICE_CHECK_TIMEOUT_S`` to list them, not the full source timeout: one that does not answer by then (or
    sources that cannot be listed) makes a name the others do not know "could not check"."""
    from agent.scheduler.jobs import unknown_services

    if not services:
        return
    listing = listed()
    known = listing.known
    if not (unknown := unknown_services(services, known)):
        return
    which = ", ".join(repr(name) for name in unknown)
    if listing.unanswered:
        warn(f"could not check the service {which} (saved anyway): {'; '.join(listing.unanswered)}")
        return
    if not known:
        return
    more = len(known) - KNOWN_SHOWN
    names = ", ".join(known[:KNOWN_SHOWN]) + (f" (+{more} more)" if more > 0 else "")
    warn(f"no configured source knows the service {which} (saved anyway: a service may have no data yet); the "
         f"configured sources know: {names}")


def _describe(schedule: ScheduleRecord) -> str:
    """``disk-inspection at '0 2 * * *' over cache``: a schedule's Skill, cron and services in a message."""
    from agent.scheduler.overview import services_label

    return f"{schedule.skill} at {schedule.cron!r} over {services_label(schedule.services)}"


def _unknown(job_id: str) -> LookupError:
    return LookupError(f"no schedule with job id {job_id!r} (see `bianque schedule list`)")


@schedule_app.command("remove")
def remove(job_id: JobIdArgument) -> None:
    """Delete a schedule of your own, its run history and its job (a Skill's schedule goes when its `schedule` is
    removed)."""
    from agent.scheduler import sync_schedules
    from agent.scheduler.specs import SKILL_JOB_PREFIX

    if job_id.startswith(SKILL_JOB_PREFIX):  # the next sync would store it again, enabled, its history gone
        skill = job_id.removeprefix(SKILL_JOB_PREFIX)
        fail(f"schedule {job_id} is the Skill {skill}'s own `schedule`, stored again by every sync; remove that "
             f"field from the Skill (or override the Skill in the user Skill directory without it); not removed")
    settings = get_settings()
    with user_errors(*ERRORS):
        with Memory(settings.resolved_database_url) as memory:
            if not memory.delete_schedule(job_id):
                raise _unknown(job_id)
        sync_schedules(settings)
    console.print(f"schedule {escape(job_id)} removed")


@schedule_app.command("history")
def history(
    job_id: JobIdArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs to show, newest first (the newest 200 "
                                       "of each schedule are kept).")] = HISTORY_SHOWN,
    as_json: JsonOption = False,
) -> None:
    """A schedule's runs, newest first: when each started, how long it took, its status, the case it opened and why
    it failed or was skipped, cut to fit the line (--json: every field, the whole reason and what started the run,
    scheduled or manual). An unknown job id is an error (exit 2)."""
    from agent.scheduler.jobs import schedule_history

    with user_errors(*ERRORS), Memory(get_settings().resolved_database_url) as memory:
        try:
            runs = schedule_history(memory, job_id, limit)  # a run whose process died is shown failed, not running
        except ScheduleNotFoundError:
            raise _unknown(job_id) from None
    if as_json:
        print_json([{**run.model_dump(mode="json"), "took": run.took} for run in runs])
        return
    if not runs:
        console.print(f"schedule {escape(job_id)} has no recorded runs yet")
        return
    table = Table(title=Text(f"Runs of {job_id} (UTC, newest first)"), box=None, pad_edge=False,
                  header_style="bold")
    for column in ("started", "took", "status", "case"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason")  # the one column cut (its cells never wrap) when a terminal's line is too short
    for run in runs:
        table.add_row(*_history_row(run))
    print_table(table)


def _history_row(run: ScheduleRunRecord) -> tuple[str | Text, ...]:
    """A run as the cells of `schedule history`; stored text (the reason: untrusted) as plain text, never markup."""
    from agent.detectors.wording import fmt_duration

    took = "-" if run.took is None else fmt_duration(run.took)
    reason = Text(run.reason or "", no_wrap=True, overflow="ellipsis")
    return _when(run.started_at), took, Text(run.status), run.case_id or "-", reason


@schedule_app.command("disable")
def disable(job_id: JobIdArgument) -> None:
    """Pause a schedule (a Skill's own too): its job goes; its definition and run history are kept, and a sync
    keeps it paused until `bianque schedule enable`."""
    _set_enabled(job_id, False)


@schedule_app.command("enable")
def enable(job_id: JobIdArgument) -> None:
    """Resume a paused schedule: it gets its job again (unless its Skill or cron cannot run, said as by `sync`)."""
    _set_enabled(job_id, True)


def _set_enabled(job_id: str, enabled: bool) -> None:
    """Store the schedule's enabled flag, then sync the jobs; an unknown job id changes nothing (exit 2)."""
    from agent.scheduler import sync_schedules

    state = "enabled" if enabled else "disabled"
    settings = get_settings()
    with user_errors(*ERRORS):
        with Memory(settings.resolved_database_url) as memory:
            try:
                memory.set_schedule_enabled(job_id, enabled)
            except ScheduleNotFoundError:
                raise _unknown(job_id) from None
        report = sync_schedules(settings)
    _print_problems(report.problems, report.disabled)
    console.print(f"schedule {escape(job_id)} {state}")


@schedule_app.command("run")
def run(
    skill: Annotated[str, typer.Argument(help="The inspection Skill to run now, or the job id of a stored schedule.")],
    service: ServiceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an inspection Skill now over live sources (recorded on its schedule if it has one).

    A schedule's job id (`bianque schedule list`) runs its Skill over its services, recorded on it. Refused
    (exit 2) while another run of that schedule is going, here or in a scheduler: runs of one schedule never overlap.
    Exit code 3 when it could not judge (no metric data and no log lines; the verdict's "judged" is
    false), as for `bianque inspect`; the run is then recorded as "could not judge".
    """
    from agent.scheduler.jobs import RunTarget, run_inspection, run_target

    settings = get_settings()
    with user_errors(*ERRORS, *knowledge_errors()), Memory(settings.resolved_database_url) as memory:
        target = run_target(settings, memory, skill, service)
        if target is None and not service:  # as the API says it (POST /schedules/{name}/run)
            fail(f"no schedule with job id {skill!r} and no Skill of that name (see `bianque schedule list`, "
                 "`bianque skills list`)")
        # with --service the name must be a Skill's: run_inspection names the unknown Skill
        target = target or RunTarget(skill, service or None, None)
        result = run_inspection(target.skill, target.services, job_id=target.job_id, memory=memory).result
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        print_markdown(result.report)
        if result.case_id:
            console.print(f"case {result.case_id}")
    exit_if_not_judged(result.verdict)


@schedule_app.command("start")
def start() -> None:
    """Run the scheduler in the foreground until Ctrl-C (replicas sharing the database run each run once)."""
    from agent.cli.notify import notification_line
    from agent.scheduler import start_scheduler
    from agent.scheduler.service import RESYNC_S

    settings = get_settings()
    with user_errors(*ERRORS):
        scheduler = start_scheduler(settings)
    print_finished_runs(scheduler, settings)
    signal.signal(signal.SIGTERM, _interrupt)  # how systemd and Kubernetes stop it: as Ctrl-C does
    try:
        report = scheduler.sync_report
        _print_problems(report.problems if report else [], report.disabled if report else [])
        next_runs = _next_runs(scheduler)
        with Memory(settings.resolved_database_url) as memory:
            disabled = [s.job_id for s in memory.list_schedules() if not s.enabled]
        if not next_runs:
            console.print("no scheduled inspections (no Skill has a `schedule`, and none was added)" if not disabled
                          else "no scheduled inspections: every schedule is disabled")
        for job_id, when in sorted(next_runs.items(), key=lambda item: item[1]):
            console.print(f"{escape(job_id)}: next run {when}")
        _print_disabled_note(disabled)
        console.print(escape(notification_line(settings)))
        console.print(f"scheduler running (Skills' schedules re-synced every {RESYNC_S / 60:g} minutes); "
                      "Ctrl-C stops it")
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print(_stopping())
    finally:
        _shut_down(scheduler)


def _stopping() -> str:
    """What `schedule start` says as it stops: that it waits for the runs in progress and the notifications not yet
    posted, only when there are some."""
    from agent.notify.delivery import STOP_GRACE_S, unsent_now
    from agent.scheduler.jobs import runs_in_progress

    running = runs_in_progress()
    unsent, longest = unsent_now()
    waits = []
    if running:
        waits.append(f"{'an inspection' if running == 1 else f'{running} inspections'} in progress finished and "
                     "recorded")
    if unsent:  # a receiver slow or not answering: posted by their own thread, waited for up to STOP_GRACE_S
        waits.append(f"{unsent} notification(s) not yet posted given up to {min(longest, STOP_GRACE_S):g} s")
    if not waits:
        return "stopping: no inspection in progress"
    return f"stopping: {' and '.join(waits)} first (Ctrl-C again stops at once)"


def print_finished_runs(scheduler: InspectionScheduler, settings: Settings) -> None:
    """Print one line for each run of a schedule this scheduler finishes (done, could not judge, failed: when it
    started, its job id, status, case and reason); a skipped run says so in its own warning line."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent

    from agent.scheduler.service import JOBSTORE

    def finished(event: JobExecutionEvent) -> None:
        if event.jobstore != JOBSTORE:  # the re-sync, not a run
            return
        try:
            line = _finished_run_line(settings, event.job_id, event.scheduled_run_time.timestamp())
        except Exception as exc:  # noqa: BLE001 - a line not printed must not stop the scheduler
            line = f"{event.job_id}: could not read its run: {exc}"
        if line:
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    scheduler.add_listener(finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)


def _finished_run_line(settings: Settings, job_id: str, due: float) -> str | None:
    """``2026-12-07T02:00:03Z nightly: done, case 1a2b3c4d5e6f``: the run of ``job_id`` due at ``due`` that this
    process recorded, or None when it ran none (another replica took the tick, the schedule is gone)."""
    from agent.memory.records import RUNNING
    from agent.scheduler.jobs import CLAIMANT

    with Memory(settings.resolved_database_url) as memory:
        try:
            runs = memory.schedule_runs(job_id, 5)
        except ScheduleNotFoundError:
            return None
    for run in runs:
        ours = (run.holder or "").startswith(f"{CLAIMANT}:") and run.status != RUNNING
        if ours and run.started_at is not None and run.started_at >= due:
            case = f", case {run.case_id}" if run.case_id else ""
            reason = f": {run.reason}" if run.reason else ""
            return f"{to_rfc3339(run.started_at)} {job_id}: {run.status}{case}{reason}"
    return None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _shut_down(scheduler: Any) -> None:
    """Stop the scheduler, waiting for the runs in progress; a second Ctrl-C (or SIGTERM) stops the process at once,
    leaving such a run ``running`` until its lease runs out, as a crash would (it had been a traceback, and the run
    recorded as failed by the executor it could no longer use)."""
    from agent.notify.delivery import STOP_GRACE_S, flush_all

    try:
        scheduler.shutdown(wait=True)
        flush_all(STOP_GRACE_S)  # the notifications its last runs queued, to a receiver that may be slow
    except KeyboardInterrupt:
        err_console.print("stopped without waiting: a run in progress stays 'running' until its lease runs out",
                          markup=False, highlight=False)
        sys.stdout.flush()
        os._exit(130)
