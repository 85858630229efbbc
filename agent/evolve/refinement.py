"""Refine a Skill from a corrected case: the flow ``bianque skills refine --from-case``, the HTTP API and
the UI share.

:func:`refine_from_case` replays the rule-based patch (the model's, with an LLM endpoint) first; when no
rule applies, or that patch does not pass the replay gate, the offline parameter search (optional) tries
small parameter changes. Nothing is written: the :class:`Refinement` holds everything tried, the kept
proposal and its replay, and whether it was accepted and why. :func:`apply_refinement` then saves an
accepted proposal, and refuses one made against a Skill version that is no longer the current one (another
refinement or a rollback was saved in between, even one that restored the same text) or that was already saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.proposals import NoProposal, NoRuleFix, Proposal
from agent.evolve.replay import ReplayReport, replay_cases, replay_role
from agent.evolve.search import SearchResult, candidate_edits
from agent.evolve.versions import Accepted, current_version, skill_text
from agent.memory.skill_versions import text_sha256
from agent.memory.truth import Judgement, truth_for_case


class RefinementNotAccepted(NoProposal):
    """The refinement kept no proposal that passed the replay gate: there is nothing to save."""


class StaleRefinement(RuntimeError):
    """The Skill changed after the proposal was made (or the proposal was saved already)."""


@dataclass(frozen=True)
class Step:
    """Where a refinement is: ``stage`` (propose, replay, search), a message, and for the search
    ``done`` of ``total`` candidate changes replayed."""

    stage: str
    message: str
    done: int = 0
    total: int = 0


Progress = Callable[[Step], None]


@dataclass
class Refinement:
    """Everything one refinement tried, and the proposal it keeps (None when there was none to replay)."""

    skill: str
    case_id: str
    base_sha256: str  # the Skill text every proposal patches
    base_version: int  # the Skill's current version then (see versions.current_version)
    notes: list[str] = field(default_factory=list)
    first: Proposal | None = None  # the rule-based (or the model's) proposal
    first_report: ReplayReport | None = None
    search: SearchResult | None = None
    applied: Accepted | None = None

    @property
    def proposal(self) -> Proposal | None:
        """The search's kept change when it found one, else the rule-based (or model's) proposal."""
        if self.search is not None and self.search.best is not None:
            return self.search.best.proposal
        return self.first

    @property
    def report(self) -> ReplayReport | None:
        if self.search is not None and self.search.best is not None:
            return self.search.best.report
        return self.first_report

    @property
    def accepted(self) -> bool:
        return self.report is not None and self.report.accepted

    @property
    def reason(self) -> str:
        """Why it was accepted or rejected, in one sentence."""
        if self.accepted or (self.search is None and self.report is not None):
            return self.report.reason if self.report is not None else ""
        if self.search is not None:
            return f"rejected: {self.search.shortfall()}"
        return self.notes[-1] if self.notes else "rejected: no proposal"


def refine_from_case(
    bench: Any, case_id: str, *, skill: str | None = None, search: bool = True, progress: Progress = lambda _s: None
) -> Refinement:
    """Propose, replay and (``search``) search a fix of the Skill that answered corrected case ``case_id``.

    Raises CaseNotFoundError (unknown case), NoProposal (not corrected, marked right, no Skill recorded, a Skill
    of another pattern named) and UnknownSkillError before any replay; the model's errors when an LLM endpoint is
    configured. The notes say first when the case cannot be replayed or already gives its truth.
    """
    case, name = bench.corrected_case(case_id, skill)
    result = Refinement(name, case_id, *_base(bench, name))
    if (why := bench.replayer.unreplayable(case)) is not None:
        where = f" ({case.bundle_path})" if case.bundle_path else " (investigated on live sources)"
        result.notes.append(f"case {case_id} cannot be replayed: {why}{where}; the replay gate cannot check that a "
                            "patch fixes it, only the Skill's other corrected cases")
    progress(Step("propose", f"proposing a patch of {name} for case {case_id}"))
    try:
        proposal = bench.propose_for_case(case_id, skill=name)
    except NoRuleFix as exc:
        result.notes.append(str(exc))
        if not search:
            progress(Step("replay", f"replaying case {case_id} with the current {name}"))
            _note_passing_target(result, bench.replay_target(case, name))
            return result
    else:
        progress(Step("replay", f"replaying {name} v{proposal.patched.new_version} against its cases"))
        result.first, result.first_report = proposal, bench.replay(proposal)
        _note_passing_target(result, _target_before(result.first_report, case_id))
        if result.first_report.accepted or not search:
            return result
        result.notes.append(f"the {proposal.source} patch does not pass the replay gate: "
                            "searching the Skill's parameters")
    if not _any_replayable_correction(bench, name, case_id):
        result.notes.append(f"no corrected case of {name} can be replayed: no parameter change could be shown to fix "
                            "one, so none is searched; a case replays from its bundle (docs/evolution.md, \"Limits\")")
        return result
    planned = len(candidate_edits(bench.skill(name).skill))
    done = 0
    progress(Step("search", f"parameter search: replaying {planned} candidate change(s) of {name}", 0, planned))

    def step(message: str) -> None:
        nonlocal done
        done += 1
        progress(Step("search", message, done, max(planned, done)))

    result.search = bench.search_for_case(case_id, skill=name, progress=step)
    if result.first_report is None:
        tried = result.search.tried
        _note_passing_target(result, next((j for t in tried if (j := _target_before(t.report, case_id))), None))
    return result


def _any_replayable_correction(bench: Any, name: str, case_id: str) -> bool:
    """Whether any corrected case of Skill ``name`` (``case_id`` among them) can be replayed: else every candidate
    of the parameter search would be "rejected: fixes none" without one replay telling it anything."""
    return any(replay_role(c) == "corrected" and truth_for_case(c) is not None
               and bench.replayer.unreplayable(c) is None for c in replay_cases(bench.memory, name, case_id))


def _target_before(report: ReplayReport | None, case_id: str) -> Judgement | None:
    """How the current Skill answered case ``case_id`` in a replay (None: not replayed there)."""
    row = next((c for c in report.cases if c.case_id == case_id), None) if report is not None else None
    return row.before if row is not None else None


def _note_passing_target(result: Refinement, before: Judgement | None) -> None:
    """Say first when the corrected case gives its truth with the current Skill: no patch can fix it (it was
    answered by an older text, or with experience, or its kind was learned since)."""
    if before is not None and before.passed:
        result.notes.insert(0, f"replayed with the current {result.skill}, case {result.case_id} already gives its "
                               f"truth ({before.detail}): a patch can fix only the Skill's other corrected cases")


def _base(bench: Any, name: str) -> tuple[str, int]:
    """The hash of Skill ``name``'s current text and its current version number."""
    loaded = bench.skill(name)
    return text_sha256(skill_text(loaded)), current_version(bench.memory, loaded)


def apply_refinement(bench: Any, refinement: Refinement, *, author: str | None = None) -> Accepted:
    """Save the accepted proposal as the Skill's next version (written to the user's Skill directory).

    ``bench``'s library must be the current one. RefinementNotAccepted when the replay gate rejected it;
    StaleRefinement when it was saved already, or the Skill's text or version number is no longer the one it
    patches (a rollback to the text it patches is a new version: the proposal's number may be taken since).
    """
    proposal = refinement.proposal
    if proposal is None or not refinement.accepted:
        raise RefinementNotAccepted(f"the refinement of {refinement.skill} for case {refinement.case_id} was "
                                    f"not accepted, there is nothing to save ({refinement.reason})")
    if refinement.applied is not None:
        raise StaleRefinement(f"this refinement was saved already as {refinement.skill} "
                              f"v{refinement.applied.record.version}")
    if _base(bench, refinement.skill) != (refinement.base_sha256, refinement.base_version):
        raise StaleRefinement(f"{refinement.skill} changed after this refinement was proposed (another version "
                              f"or a rollback was saved since): propose again for case {refinement.case_id}")
    refinement.applied = bench.accept(proposal, author=author)
    return refinement.applied
