"""Skill refinement over HTTP: the shared flow (:mod:`agent.evolve.refinement`) as a background job, and its
outcome in the API's words (the patch as a diff, the replay table, accepted or rejected and why)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictBool

from agent.api.jobs import BackgroundJobs, Job, JobNotFoundError, JobStateError, JobStatus
from agent.api.schemas import StrictBody
from agent.evolve.proposals import Proposal
from agent.evolve.refinement import Refinement, Step, apply_refinement, refine_from_case
from agent.evolve.regression import Confinement
from agent.evolve.replay import ReplayReport
from agent.evolve.versions import Accepted
from agent.evolve.workbench import Workbench
from agent.memory import Memory

KIND = "refinement"


class RefineRequest(StrictBody):
    """Which Skill to refine (default: the one that answered the case) and whether to search its parameters."""

    skill: str | None = Field(default=None, max_length=64, description="Refine this Skill instead of the case's.")
    search: StrictBool = Field(default=True, description="When no rule-based (or LLM) patch passes the replay "
                                                         "gate, search the Skill's parameters offline.")


class AuthorRequest(StrictBody):
    author: str | None = Field(default=None, max_length=200, description="Who saves it (kept in the history).")


class RollbackRequest(AuthorRequest):
    version: int = Field(ge=1, description="The stored version to restore (GET /skills/{name}/versions).")


class ProposalView(BaseModel):
    """A proposed patch: where it came from, why, and the unified diff of the Skill's YAML."""

    source: str = Field(description="rules, search, or llm:<model>.")
    summary: str
    reasons: list[str]
    version: int = Field(description="The version it would be saved as.")
    diff: str

    @classmethod
    def of(cls, proposal: Proposal) -> ProposalView:
        return cls(source=proposal.source, summary=proposal.summary, reasons=proposal.reasons,
                   version=proposal.patched.new_version, diff=proposal.diff)


class ReplayRow(BaseModel):
    case: str
    truth: str
    before: str
    after: str
    result: str = Field(description="fixed, regressed, pass, fail or skipped.")


class ReplayView(BaseModel):
    """The replay gate: the corrected cases (a fix is wanted), the regression set (must not break), the decision."""

    accepted: bool
    reason: str
    corrected: list[ReplayRow]
    regression: list[ReplayRow]
    notes: list[str] = Field(default_factory=list, description="What was left out of the regression set, and why.")

    @classmethod
    def of(cls, report: ReplayReport) -> ReplayView:
        rows = report.rows()
        return cls(accepted=report.accepted, reason=report.reason,
                   corrected=[ReplayRow(**r) for r in rows["corrected"]],
                   regression=[ReplayRow(**r) for r in rows["regression"]], notes=report.notes)


class SearchRow(BaseModel):
    change: str
    fixed: int = Field(description="Corrected cases fixed.")
    broken: int = Field(description="Cases that passed before and fail after.")
    gate: str
    kept: bool


class AppliedView(BaseModel):
    """A Skill version saved (an applied refinement or a rollback) and the file it was written to."""

    skill: str
    version: int
    reason: str
    author: str | None = None
    path: str
    written: bool = Field(default=True, description="False: a rollback to the text already active; nothing was "
                          "written or stored, the version shown is the active one.")
    set_aside: str | None = Field(default=None, description="Where the file the write replaced was copied, when no "
                                  "stored version holds it (it did not load): ``.replaced/`` in the Skill directory.")

    @classmethod
    def of(cls, done: Accepted) -> AppliedView:
        record = done.record
        return cls(skill=record.name, version=record.version, reason=record.reason, author=record.author,
                   path=str(done.path), written=done.written,
                   set_aside=str(done.set_aside) if done.set_aside else None)


class RefinementView(BaseModel):
    """What a refinement proposes: the kept patch and its replay, what else it tried, accepted or not and why."""

    skill: str
    case_id: str
    accepted: bool
    reason: str
    notes: list[str]
    proposal: ProposalView | None = Field(description="The kept patch (the rejected one when none passed).")
    replay: ReplayView | None
    first: ProposalView | None = Field(
        default=None, description="The rule-based (or model's) patch, when the parameter search ran after it.")
    first_reason: str | None = None
    search: list[SearchRow] | None = Field(default=None, description="Every change the parameter search replayed.")
    applied: AppliedView | None = None

    @classmethod
    def of(cls, done: Refinement) -> RefinementView:
        searched = done.search
        earlier = done.first if searched is not None else None
        return cls(
            skill=done.skill, case_id=done.case_id, accepted=done.accepted, reason=done.reason, notes=done.notes,
            proposal=ProposalView.of(done.proposal) if done.proposal else None,
            replay=ReplayView.of(done.report) if done.report else None,
            first=ProposalView.of(earlier) if earlier else None,
            first_reason=done.first_report.reason if earlier and done.first_report else None,
            search=None if searched is None else [
                SearchRow(change=t.describe, fixed=t.fixed, broken=t.broken, gate=t.gate, kept=t is searched.best)
                for t in searched.tried],
            applied=AppliedView.of(done.applied) if done.applied else None,
        )


class StepView(BaseModel):
    stage: str = Field(description="propose, replay or search.")
    message: str
    done: int = Field(description="Search: candidate changes replayed so far.")
    total: int = Field(description="Search: candidate changes to replay (0 in the other stages).")


class RefineJob(BaseModel):
    """A refinement job: poll ``GET /refinements/{id}`` until ``status`` is done (``result``) or failed (``error``)."""

    id: str
    status: JobStatus
    case_id: str
    skill: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    progress: StepView | None = None
    result: RefinementView | None = None
    error: str | None = None

    @classmethod
    def of(cls, job: Job) -> RefineJob:
        step: Step | None = job.progress
        return cls(id=job.id, status=job.status, case_id=job.subject["case_id"], skill=job.subject["skill"],
                   created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
                   progress=StepView(**vars(step)) if step else None,
                   result=RefinementView.of(job.result) if job.status == "done" else None, error=job.error)


def start_refinement(jobs: BackgroundJobs, settings: Any, memory: Memory, case_id: str,
                     body: RefineRequest, confine: Confinement | None = None) -> Job:
    """Check the case and Skill now (CaseNotFoundError, NoProposal, UnknownSkillError), then queue the work; its
    replays search the registered regression directories within ``confine``."""
    bench = Workbench.from_settings(settings, memory, confine=confine)
    _case, name = bench.corrected_case(case_id, body.skill)
    return jobs.submit(KIND, {"case_id": case_id, "skill": name},
                       lambda progress: refine_from_case(bench, case_id, skill=name, search=body.search,
                                                         progress=progress))


def refinement_job(jobs: BackgroundJobs, job_id: str) -> Job:
    """The refinement job ``job_id`` (JobNotFoundError for an unknown one or another kind of job)."""
    job = jobs.get(job_id)
    if job.kind != KIND:
        raise JobNotFoundError(job_id)
    return job


def apply_job(job: Job, settings: Any, memory: Memory, author: str | None) -> Accepted:
    """Save a finished job's accepted proposal against the current Skill library (once; the caller holds the
    service's Skill write lock)."""
    if job.status != "done":
        why = f"it failed: {job.error}" if job.status == "failed" else f"it is still {job.status}"
        raise JobStateError(f"refinement {job.id} cannot be applied: {why}")
    return apply_refinement(Workbench.from_settings(settings, memory), job.result, author=author)
