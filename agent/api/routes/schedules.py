"""``/schedules``: scheduled inspections as ``bianque schedule list`` and ``history`` show them, and running one now
as ``bianque schedule run NAME`` does (a job id or a Skill's name)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import computed_field

from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.memory import ScheduleBusyError, ScheduleNotFoundError, ScheduleRunRecord
from agent.memory.schedules import MAX_RUNS_KEPT
from agent.scheduler.jobs import (
    InspectionRun,
    NoMatchingServiceError,
    SkillUnavailableError,
    run_inspection,
    run_target,
    schedule_history,
)
from agent.scheduler.overview import ScheduleState, schedule_states

router = APIRouter(prefix="/schedules", tags=["schedules"],
                   dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]
RUNS_SHOWN = 20  # runs answered without ?limit= (as `bianque schedule history`)


class ScheduleRun(ScheduleRunRecord):
    """One run of a schedule's history."""

    @computed_field(description="How long the run took, in seconds; null when its start is unknown.")
    @property
    def took(self) -> float | None:
        return super().took


def _unknown(job_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no schedule with job id {job_id!r} (see GET /schedules)")


@router.get("", response_model=list[ScheduleState])
def list_schedules(state: State) -> list[ScheduleState]:
    """Every schedule by job id: Skill, cron, services, enabled; its job's ``next_run`` (``overdue`` when it has
    passed: no scheduler runs it) or why it has none (``job``, ``problem``); the last run's status, reason and case;
    whether a run holds it now (``running``). A run left running by a process of this host that is gone is shown
    failed (``interrupted: …``) and its claim released, as `bianque schedule list` shows it; nothing is written (a
    scheduler's start or the schedule's next run records it)."""
    return schedule_states(state.settings, state.memory)


@router.get("/{job_id:path}/runs", response_model=list[ScheduleRun])
def list_runs(
    job_id: str,
    state: State,
    limit: Annotated[int, Query(ge=1, le=MAX_RUNS_KEPT, description="How many runs, newest first.")] = RUNS_SHOWN,
) -> list[ScheduleRun]:
    """A schedule's runs, newest first: started, finished, status, reason, case and trigger (404 unknown job id); a
    run left running by a process of this host that is gone is shown failed, as in `bianque schedule history`;
    nothing is written."""
    try:
        runs = schedule_history(state.memory, job_id, limit)
    except ScheduleNotFoundError:
        raise _unknown(job_id) from None
    return [ScheduleRun.model_validate(run.model_dump()) for run in runs]


@router.post("/{job_id:path}/run", response_model=InspectionRun)
def run_now(job_id: str, state: State) -> InspectionRun:
    """Run now what ``bianque schedule run NAME`` runs for the same name (:func:`run_target`): an inspection Skill by
    name (recorded on its own schedule when it has one), else the schedule of that job id, its Skill over its
    services (none: the Skill's scope). Investigated by this service, in its memory; the run recorded (``manual``)
    and its case stored; a verdict that could not judge is answered as it is (``result.verdict.judged`` false).
    404 for a name that is neither; 409 while another run holds the schedule (nothing run or recorded), or when its
    Skill cannot run (not loading, no inspection) or its service globs match no service with data (recorded as a
    failed run)."""
    target = run_target(state.settings, state.memory, job_id)
    if target is None:
        raise HTTPException(status_code=404, detail=f"no schedule with job id {job_id!r} and no Skill of that name "
                                                    "(see GET /schedules, GET /skills)")
    try:
        return run_inspection(target.skill, target.services, job_id=target.job_id, settings=state.settings,
                              investigator=state.investigator, memory=state.memory)
    except (ScheduleBusyError, SkillUnavailableError, NoMatchingServiceError) as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ScheduleNotFoundError:  # removed since it was read above
        raise _unknown(job_id) from None
