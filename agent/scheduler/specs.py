"""Which schedules should exist: every inspection Skill's ``schedule`` plus schedules stored in memory.

A Skill's schedule is mirrored into memory as job ``skill:<name>`` (so runs are recorded and it can
be paused with ``enabled``); other stored schedules are the user's own (any Skill, any services).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.cron import cron_trigger
from agent.events import Pattern
from agent.memory import Memory, ScheduleRecord
from agent.skills.library import BUILT_IN_SKILLS, SkillLibrary
from agent.skills.loader import LoadedSkill

SKILL_JOB_PREFIX = "skill:"
SERVICE_CHECK_TIMEOUT_S = 2.0  # how long a side check of the services (`schedule add`, a new built-in mirror) waits
UnknownServices = Callable[[Sequence[str]], tuple[list[str], list[str]]]
"""Which of some services (or globs) the live sources do not know, and each source that did not answer (why)."""


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
    """The enabled, runnable schedules (by job id), why others cannot run, and the built-in Skills' schedules this
    sync stored disabled (why, and how to enable each)."""

    schedules: dict[str, ScheduleRecord] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


def built_in(loaded: LoadedSkill) -> bool:
    """Whether ``loaded`` is one of the built-in Skills (read from the project's ``skills/``, not overridden)."""
    return loaded.path is not None and Path(loaded.path).resolve().is_relative_to(BUILT_IN_SKILLS.resolve())


def unknown_scope(services: Sequence[str], unknown: UnknownServices | None) -> tuple[list[str], list[str]] | None:
    """Which of a built-in Skill's ``services`` the live sources do not know and each source that did not answer
    (``unknown``), or None when they know every one (globs: each matches one) and its new mirror is stored enabled:
    the built-in Skills' schedules name the simulator's demo services, so each runs by itself only on a system
    that has them. Without ``unknown`` or services: None."""
    if unknown is None or not services:
        return None
    missing, unanswered = unknown(services)
    return (missing, unanswered) if missing else None


def disabled_mirrors_note(job_ids: Sequence[str], missing: Sequence[str], unanswered: Sequence[str]) -> str:
    """What a sync says of the built-in Skills' schedules it stored disabled: why, and how to enable one."""
    told = ", ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
    why = f"; {'; '.join(unanswered)}" if unanswered else ""
    which = f"schedule {job_ids[0]}" if len(job_ids) == 1 else f"schedules {', '.join(job_ids)}"
    return (f"{which} of the built-in Skills stored disabled: they inspect the demo system's services, and "
            f"no configured source (topology file, metric server, log and change store) knows {told}{why}; "
            "`bianque schedule enable JOB_ID` runs one")


def mirror_skill_schedules(memory: Memory, library: SkillLibrary, unknown: UnknownServices | None = None) -> list[str]:
    """Store each scheduled inspection Skill's cron and scope; drop mirrors of Skills that lost theirs.

    A Skill whose file did not load (a typo while editing it) keeps its mirror, with its run history and
    whether it was enabled, whatever the file is called (``SkillLibrary.not_loaded`` knows a broken file by its name
    or by the ``name:`` line it declares): :func:`desired_schedules` then reports it, and the next good load takes
    it up. A mirror saved again (its Skill's cron or scope changed) keeps the stored enabled flag, read in the
    transaction that saves it: a `schedule disable` landing meanwhile is never undone.

    A new mirror is stored enabled, but a built-in Skill's (:func:`built_in`) only when ``unknown`` (the live sources'
    services) knows every service it names, else disabled (:func:`unknown_scope`; without ``unknown``, enabled).
    Returns what to say of the new mirrors stored disabled (:func:`disabled_mirrors_note`; none: nothing).
    """
    disabled: list[str] = []
    missing: list[str] = []
    unanswered: list[str] = []
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
        why = unknown_scope(services, unknown) if before is None and built_in(loaded) else None
        # enabled=None: the stored flag is kept in the saving transaction, so a `schedule disable` since
        # `stored` was read is never undone (a new mirror is enabled unless `why` says otherwise)
        saved = memory.save_schedule(job_id, skill.name, skill.schedule or "", services, enabled=None,
                                     enabled_if_new=why is None)
        if why is not None and not saved.enabled:  # not when another replica stored it a moment before
            disabled.append(job_id)
            missing.extend(name for name in why[0] if name not in missing)
            unanswered.extend(text for text in why[1] if text not in unanswered)
    for job_id, schedule in stored.items():
        if job_id.startswith(SKILL_JOB_PREFIX) and job_id not in wanted and not library.not_loaded(schedule.skill):
            memory.delete_schedule(job_id)
    return [disabled_mirrors_note(disabled, missing, unanswered)] if disabled else []


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


def desired_schedules(memory: Memory, library: SkillLibrary, unknown: UnknownServices | None = None) -> Desired:
    """Mirror the Skills' schedules (``unknown``: see :func:`mirror_skill_schedules`), then select the enabled
    schedules whose Skill and cron are usable."""
    desired = Desired(disabled=mirror_skill_schedules(memory, library, unknown))
    for schedule in memory.list_schedules(enabled_only=True):
        if (problem := schedule_problem(schedule.skill, schedule.cron, library)) is not None:
            desired.problems.append(f"schedule {schedule.job_id}: {problem}")
            continue
        desired.schedules[schedule.job_id] = schedule
    return desired
