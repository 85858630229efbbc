"""Which schedules should exist: every inspection Skill's ``schedule`` plus schedules stored in memory.

A Skill's schedule is mirrored into memory as job ``skill:<name>`` (so runs are recorded and it can
be paused with ``enabled``); other stored schedules are the user's own (any Skill, any services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agent.cron import cron_trigger
from agent.events import Pattern
from agent.memory import Memory, ScheduleRecord
from agent.skills.library import SkillLibrary

SKILL_JOB_PREFIX = "skill:"


def skill_job_id(skill_name: str) -> str:
    """The job id of a Skill's own schedule."""
    return f"{SKILL_JOB_PREFIX}{skill_name}"


def last_tick(cron: str, now: float, lookback: float) -> float | None:
    """The newest time ``cron`` fires at or before ``now`` (at most ``lookback`` s earlier), or None.

    A scheduled run knows which tick it is for by this, so replicas can agree to run each tick once.
    """
    trigger = cron_trigger(cron)
    moment = datetime.fromtimestamp(now - lookback, UTC)
    found: float | None = None
    while (fire := trigger.get_next_fire_time(None, moment)) is not None and fire.timestamp() <= now:
        found = fire.timestamp()
        moment = fire + timedelta(seconds=1)
    return found


@dataclass
class Desired:
    """The enabled, runnable schedules (by job id) and why others cannot run."""

    schedules: dict[str, ScheduleRecord] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def mirror_skill_schedules(memory: Memory, library: SkillLibrary) -> None:
    """Store each scheduled inspection Skill's cron and scope; drop mirrors of Skills that lost theirs.

    A Skill whose file did not load (a typo while editing it) keeps its mirror, with its run history and
    whether it was enabled, whatever the file is called (``SkillLibrary.not_loaded`` knows a broken file by its name
    or by the ``name:`` line it declares): :func:`desired_schedules` then reports it, and the next good load takes
    it up. A mirror saved again (its Skill's cron or scope changed) keeps the stored enabled flag, read in the
    transaction that saves it: a `schedule disable` landing meanwhile is never undone.
    """
    wanted = {
        skill_job_id(name): loaded
        for name, loaded in library.skills.items()
        if loaded.skill.pattern == Pattern.INSPECTION and loaded.skill.schedule
    }
    stored = {s.job_id: s for s in memory.list_schedules()}
    for job_id, loaded in wanted.items():
        skill = loaded.skill
        before = stored.get(job_id)
        services = list(skill.scope.services)
        if before and (before.skill, before.cron, before.services) == (skill.name, skill.schedule, services):
            continue
        # enabled=None: the stored flag is kept in the saving transaction, so a `schedule disable` since
        # `stored` was read is never undone (a new mirror is enabled)
        memory.save_schedule(job_id, skill.name, skill.schedule or "", services, enabled=None)
    for job_id, schedule in stored.items():
        if job_id.startswith(SKILL_JOB_PREFIX) and job_id not in wanted and not library.not_loaded(schedule.skill):
            memory.delete_schedule(job_id)


def job_id_problem(job_id: str, library: SkillLibrary) -> str | None:
    """Why ``job_id`` cannot name a schedule of the user's own, or None: it starts with ``skill:`` (the job ids of the
    Skills' own schedules), or it is a Skill's name, which ``schedule run NAME`` and ``POST /schedules/NAME/run`` take
    before a job id (:func:`agent.scheduler.jobs.run_target`): a loaded Skill's, or one declared by a file that does
    not load now (taken after job ids until it loads again)."""
    if job_id.startswith(SKILL_JOB_PREFIX):
        return (f"job id {job_id!r} starts with {SKILL_JOB_PREFIX!r}, which belongs to Skills' own schedules "
                f"({skill_job_id('NAME')}); choose another job id")
    if library.get(job_id) is not None or library.not_loaded(job_id):
        return (f"job id {job_id!r} is the name of a Skill: `schedule run {job_id}` and POST /schedules/{job_id}/run "
                "would run that Skill, never this schedule; choose another job id")
    return None


def schedule_problem(skill_name: str, cron: str, library: SkillLibrary) -> str | None:
    """Why a schedule of ``skill_name`` at ``cron`` cannot run (no such Skill, not an inspection Skill, a bad cron),
    or None when it can."""
    loaded = library.get(skill_name)
    if loaded is None:
        inspections = sorted(s.name for s in library.skills.values() if s.skill.pattern == Pattern.INSPECTION)
        known = ", ".join(inspections) or "none"
        return f"no Skill named {skill_name!r}{library.not_loaded(skill_name)} (inspection Skills: {known})"
    if loaded.skill.pattern != Pattern.INSPECTION:
        return f"Skill {skill_name!r} is {loaded.skill.pattern.value}, only inspection Skills can be scheduled"
    try:
        cron_trigger(cron)
    except ValueError as exc:
        return f"cron {cron!r}: {exc}"
    return None


def desired_schedules(memory: Memory, library: SkillLibrary) -> Desired:
    """Mirror the Skills' schedules, then select the enabled schedules whose Skill and cron are usable."""
    mirror_skill_schedules(memory, library)
    desired = Desired()
    for schedule in memory.list_schedules(enabled_only=True):
        if (problem := schedule_problem(schedule.skill, schedule.cron, library)) is not None:
            desired.problems.append(f"schedule {schedule.job_id}: {problem}")
            continue
        desired.schedules[schedule.job_id] = schedule
    return desired
