"""How each schedule stands now: its job's next run (overdue when no scheduler ran it), or why it has no job; its
last run; whether a run holds it. One reading, and its words, shared by ``bianque schedule list``, ``GET /schedules``
and the UI's Schedules page, so the three say the same."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field

from agent.config import Settings
from agent.memory import Memory, ScheduleRecord
from agent.scheduler.service import InspectionScheduler, stored_next_runs
from agent.scheduler.specs import schedule_problem
from agent.timeparse import to_rfc3339

JobState = Literal["scheduled", "paused", "disabled", "cannot run", "not synced"]
"""A schedule's job: ``scheduled`` (it has one, with a next run), ``paused`` (it has one that does not run: paused
in APScheduler), ``disabled`` (no job: the schedule is disabled), ``cannot run`` (no job: its Skill is gone, does
not load or is no inspection, or its cron is bad; ``problem`` says which), ``not synced`` (no job yet: no sync or
scheduler has run since it was stored)."""


class ScheduleState(ScheduleRecord):
    """A stored schedule with how it stands now."""

    next_run: float | None = Field(default=None, description="When its job runs next (epoch seconds, UTC); None "
                                                             "when it has no job or its job is paused.")
    overdue: bool = Field(default=False, description="Its next run has passed: no scheduler is running it.")
    job: JobState = "not synced"
    problem: str | None = Field(default=None, description="Why an enabled schedule cannot have a job.")
    running: bool = Field(default=False, description="A run holds the schedule now (its claim's lease is live).")


def run_in_progress(schedule: ScheduleRecord, now: float) -> bool:
    """Whether a run holds ``schedule`` at ``now``: a claim whose lease has not run out (a lapsed one was left by a
    process that died, and the next run takes it over)."""
    return bool(schedule.running_by) and schedule.running_until is not None and schedule.running_until >= now


def next_run_times(scheduler: InspectionScheduler) -> dict[str, float | None]:
    """The stored jobs' next runs by job id (epoch seconds; None for a paused job)."""
    return {job.id: job.next_run_time.timestamp() if job.next_run_time else None
            for job in scheduler.inspection_jobs()}


def schedule_states(settings: Settings, memory: Memory, now: float | None = None) -> list[ScheduleState]:
    """Every stored schedule (by job id) with its job's next run read from the job store in ``memory``'s database
    (:func:`stored_next_runs`: no scheduler is started, nothing is written there), whether that has passed, why an
    enabled schedule without a job cannot have one (the Skill library is loaded only then) and whether a run holds it.
    A run left ``running`` by a process of this host that is gone is shown failed, its claim released, as the process
    that next runs the schedule or starts a scheduler records it (:func:`agent.scheduler.jobs.schedules_shown`): a
    reading, written nowhere, that `schedule list`, the API and the UI show alike."""
    from agent.runtime import load_skills
    from agent.scheduler.jobs import schedules_shown

    ts = time.time() if now is None else now
    schedules = schedules_shown(memory)
    if not schedules:
        return []
    jobs = stored_next_runs(memory.engine)
    library = load_skills(settings) if any(s.enabled and s.job_id not in jobs for s in schedules) else None
    states = []
    for schedule in schedules:
        fields: dict[str, object] = {"running": run_in_progress(schedule, ts)}
        if schedule.job_id in jobs:
            next_run = jobs[schedule.job_id]
            fields.update(next_run=next_run, overdue=next_run is not None and next_run < ts,
                          job="scheduled" if next_run is not None else "paused")
        elif not schedule.enabled:
            fields["job"] = "disabled"
        elif library is not None and (problem := schedule_problem(schedule.skill, schedule.cron, library)):
            fields.update(job="cannot run", problem=problem)
        states.append(ScheduleState(**schedule.model_dump(), **fields))
    return states


NO_JOB: dict[JobState, str] = {"paused": "paused", "disabled": "disabled", "cannot run": "none",
                               "not synced": "not synced"}


def next_run_label(state: ScheduleState, when: Callable[[float], str] = to_rfc3339) -> str:
    """When its job runs next, UTC, written by ``when`` (``(overdue)`` when that has passed), else what it is without
    one (``disabled``, ``none`` when it cannot run, ``not synced``, ``paused``)."""
    if state.next_run is not None:
        return when(state.next_run) + (" (overdue)" if state.overdue else "")
    return NO_JOB[state.job]


def status_label(state: ScheduleState, when: Callable[[float], str] = to_rfc3339) -> str:
    """``running since …`` (the time written by ``when``) while a run holds the schedule, else how its last run went
    (``-`` before any)."""
    if state.running:
        return f"running since {when(state.running_since) if state.running_since is not None else '-'}"
    return state.last_status or "-"


def disabled_note(job_ids: Sequence[str]) -> str | None:
    """What `schedule list`, `schedule start` and `serve --with-scheduler` say of the disabled schedules ``job_ids``
    (None when there are none): that they are not run, and how to enable one."""
    if not job_ids:
        return None
    return (f"disabled (not run): {', '.join(job_ids)}; `bianque schedule enable JOB_ID` gives one its job (a "
            "built-in Skill's schedule is stored disabled where the live sources do not know every service it names)")


def services_label(names: Sequence[str]) -> str:
    """A schedule's services in a few words: ``(Skill's scope)`` when it names none, the first two and a count
    beyond three."""
    if not names:  # a schedule added without --service runs over its Skill's scope
        return "(Skill's scope)"
    return ", ".join(names) if len(names) <= 3 else f"{', '.join(names[:2])} +{len(names) - 2}"
