"""``/cases``: stored investigations, and engineers' corrections of them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from agent.api.corrections import apply_correction
from agent.api.schemas import CaseSummary, CorrectionRequest, CorrectionResponse
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.events import Pattern
from agent.memory import CaseRecord

router = APIRouter(prefix="/cases", tags=["cases"], dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


@router.get("", response_model=list[CaseSummary])
def list_cases(
    state: State,
    skill: Annotated[str | None, Query(max_length=64, description="Only this Skill's cases.")] = None,
    pattern: Annotated[Pattern | None, Query(description="Only this pattern's cases.")] = None,
    status: Annotated[Literal["running", "done", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[CaseSummary]:
    """Stored cases, newest first."""
    cases = state.memory.list_cases(skill=skill, pattern=pattern.value if pattern else None, status=status, limit=limit)
    return [CaseSummary.of(case) for case in cases]


@router.get("/{case_id}", response_model=CaseRecord)
def get_case(case_id: str, state: State) -> CaseRecord:
    """One case: event, Skill, findings, verdict, report and corrections (404 if unknown)."""
    return state.memory.get_case(case_id)


@router.post("/{case_id}/corrections", response_model=CorrectionResponse, status_code=201)
def correct(case_id: str, body: CorrectionRequest, state: State, response: Response) -> CorrectionResponse:
    """Record whether the case's answer was right and, if not, the truth (200 and ``repeated`` when the case's latest
    correction already says exactly this, as a re-sent request does: nothing new is stored)."""
    answer = apply_correction(state.memory, case_id, body, state.knowledge)
    if answer.repeated:
        response.status_code = 200
    return answer
