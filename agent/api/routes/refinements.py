"""Skill refinement from a corrected case: propose (a background job the client polls), then apply.

``POST /cases/{id}/refinements`` queues the same flow as ``bianque skills refine --from-case``;
``GET /refinements/{id}`` shows its progress, then the patch, the replay table and the decision;
``POST /refinements/{id}/apply`` saves an accepted patch as the Skill's next version.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from agent.api.refinements import (
    AppliedView,
    AuthorRequest,
    RefineJob,
    RefineRequest,
    apply_job,
    refinement_job,
    start_refinement,
)
from agent.api.routes.regression import confinement
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request

router = APIRouter(tags=["skills"], dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


@router.post("/cases/{case_id}/refinements", response_model=RefineJob, status_code=202)
def propose(case_id: str, state: State, response: Response, body: RefineRequest | None = None) -> RefineJob:
    """Queue a dry-run refinement of the Skill that answered a case corrected as wrong (nothing is saved).

    404 unknown case or Skill; 422 a case not corrected, marked right, or naming no Skill; 503 too many jobs.
    """
    job = start_refinement(state.jobs, state.settings, state.memory, case_id, body or RefineRequest(),
                           confinement(state))
    response.headers["Location"] = f"/refinements/{job.id}"
    return RefineJob.of(job)


@router.get("/refinements/{job_id}", response_model=RefineJob)
def get_refinement(job_id: str, state: State) -> RefineJob:
    """A refinement job: its progress while it runs; then the patch, the replay table, accepted or not and why."""
    return RefineJob.of(refinement_job(state.jobs, job_id))


@router.post("/refinements/{job_id}/apply", response_model=AppliedView, status_code=201)
def apply(job_id: str, state: State, body: AuthorRequest | None = None) -> AppliedView:
    """Save the accepted patch as the Skill's next version (written to the user's Skill directory).

    422 while the job runs, when it failed or its patch was rejected; 409 when it was applied already, the
    Skill changed since it was proposed, or its file cannot be written (nothing is stored then).
    """
    job = refinement_job(state.jobs, job_id)
    with state.skill_writes:
        done = apply_job(job, state.settings, state.memory, (body or AuthorRequest()).author)
    return AppliedView.of(done)
