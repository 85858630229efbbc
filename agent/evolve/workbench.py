"""The refinement flow the CLI, the API and the benchmark share: propose, replay, accept.

A :class:`Workbench` holds memory, the Skill library, the replayer and (optionally) an LLM client.
``propose_for_case`` and ``propose_from_instruction`` return a validated :class:`Proposal`;
``replay`` checks it against the Skill's stored cases; ``accept`` stores it as a new version and
writes it to the user's Skill directory, after which the workbench's library uses it.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.events import Event, Pattern
from agent.evolve.authoring import NewSkill, from_llm, from_template
from agent.evolve.generate import generate_skill
from agent.evolve.instructions import instruction_edits
from agent.evolve.patch import patch_skill
from agent.evolve.proposals import NoProposal, Proposal, case_context, propose_by_rules
from agent.evolve.record import HandEdit, decide_edit
from agent.evolve.regression import Confinement, RegressionSet, regression_cases
from agent.evolve.replay import (
    BundleCache,
    Replayer,
    ReplayReport,
    investigate_runner,
    replace_skill,
    replay_cases,
)
from agent.evolve.search import SearchResult, search_parameters
from agent.evolve.versions import Accepted, accept, next_version, skill_text
from agent.memory.records import CaseRecord
from agent.memory.skill_versions import text_sha256
from agent.memory.truth import Judgement, case_skill, truth_for_case
from agent.reasoners.lessons import memory_vocabulary
from agent.skills.library import SkillLibrary
from agent.skills.loader import LoadedSkill
from agent.skills.selector import select_skill


class UnknownSkillError(LookupError):
    """No Skill of that name in the library."""


@dataclass
class Workbench:
    """Everything a refinement needs; build one with :meth:`from_settings`."""

    memory: Any
    library: SkillLibrary
    user_dir: Path
    replayer: Replayer
    client: Any = None
    catalog: Any = None
    log: list[str] = field(default_factory=list)
    home: Path | None = None  # where the regression registry lives (None: the curated scenarios only)
    confine: Confinement | None = None  # a remote caller's bounds on the registered directories (API, UI)

    @classmethod
    def from_settings(
        cls, settings: Any, memory: Any, *, library: SkillLibrary | None = None, use_llm_replay: bool = False,
        catalog: Any = None, confine: Confinement | None = None,
    ) -> Workbench:
        """A workbench over the configured Skills, with the LLM client when an endpoint is configured; ``confine``:
        the bounds a remote caller's replays search the registered regression directories in."""
        from agent.runtime import load_skills

        client = None
        bundles = BundleCache()  # read once for the check, every replay and a proposal's context
        if settings.llm_enabled:
            from agent.llm.client import LLMClient

            client = LLMClient(settings)
        return cls(
            memory=memory,
            library=library if library is not None else load_skills(settings),
            user_dir=settings.resolved_user_skills_dir,
            replayer=Replayer(investigate_runner(settings, use_llm=use_llm_replay, bundles=bundles), bundles=bundles),
            client=client,
            catalog=catalog,
            home=settings.home,
            confine=confine,
        )

    # -- lookups ---------------------------------------------------------------------------------

    def skill(self, name: str) -> LoadedSkill:
        """The current Skill ``name`` (UnknownSkillError, with close names, when absent)."""
        loaded = self.library.get(name)
        if loaded is None:
            close = difflib.get_close_matches(name, list(self.library.skills), n=3)
            hint = self.library.not_loaded(name) or (f"; did you mean {', '.join(close)}?" if close else "")
            raise UnknownSkillError(f"no Skill named {name!r}{hint} (see `bianque skills list`)")
        return loaded

    def _version(self, loaded: LoadedSkill) -> int:
        return next_version(self.memory, loaded.name, loaded.skill.version)

    # -- proposals -------------------------------------------------------------------------------

    def corrected_case(self, case_id: str, skill: str | None = None) -> tuple[CaseRecord, str]:
        """A case corrected as wrong and the Skill to refine for it (NoProposal saying why not)."""
        case = self.memory.get_case(case_id)
        correction = case.latest_correction
        if correction is None:
            raise NoProposal(f"case {case_id} has no correction; correct it first (`bianque correct {case_id} ...`)")
        if correction.correct:
            raise NoProposal(f"case {case_id} was marked right: there is nothing to fix")
        if case.reasoner == "dry-run" and not skill:
            raise NoProposal(f"case {case_id} was answered by `bianque serve --dry-run`, which runs no Skill and reads "
                             "no data: there is nothing to refine from it")
        name = skill or case_skill(case)
        if not name:
            raise NoProposal(f"case {case_id} records no Skill; name the Skill to refine")
        pattern = self.skill(name).skill.pattern.value
        if pattern != case.pattern:  # replayed with a Skill of another pattern, the case could never be fixed
            raise NoProposal(f"case {case_id} is {Pattern(case.pattern).with_article} case and {name} "
                             f"{Pattern(pattern).with_article} Skill: name a Skill of the case's pattern")
        return case, name

    def propose_for_case(self, case_id: str, *, skill: str | None = None) -> Proposal:
        """A patch for the Skill that answered a corrected case (rules offline, the LLM when configured)."""
        case, name = self.corrected_case(case_id, skill)
        correction = case.latest_correction
        loaded = self.skill(name)
        text = skill_text(loaded)
        ctx = case_context(case, bundles=self.replayer.bundles)
        version = self._version(loaded)
        if self.client is None:
            return propose_by_rules(loaded, text, ctx, version=version)
        from agent.evolve.casebase import case_text

        generated = generate_skill(
            self.client, "propose_patch",
            {"skill_name": name, "skill_yaml": text, "case_text": case_text(case, ctx.truth),
             "truth": ctx.truth.describe(), "note": correction.note},
            old_text=text, version=version, name=name, pattern=loaded.skill.pattern.value,
            catalog=ctx.catalog or self.catalog, purpose="Skill patch",
        )
        return Proposal(name, f"llm:{self.client.model}", generated.summary, generated.patched,
                        [f"the model answered in {generated.tries} tr{'y' if generated.tries == 1 else 'ies'}"],
                        case.id, correction.id)

    def replay_target(self, case: CaseRecord, name: str) -> Judgement | None:
        """How the current Skill ``name`` answers corrected case ``case`` when replayed (as the replay gate judges
        it, the result kept for the gate); None when it cannot be replayed (no truth, its bundle gone)."""
        truth = truth_for_case(case)
        if truth is None or self.replayer.unreplayable(case) is not None:
            return None
        self.replayer.same_fault_for = memory_vocabulary(self.memory).same_for
        key = text_sha256(skill_text(self.skill(name)))
        return self.replayer.judge_case(case, truth, self.library, name, key)

    def search_for_case(
        self, case_id: str, *, skill: str | None = None, progress: Callable[[str], None] = lambda _m: None
    ) -> SearchResult:
        """The offline parameter search (:mod:`agent.evolve.search`) for the Skill of a corrected case."""
        case, name = self.corrected_case(case_id, skill)
        return search_parameters(self, name, case=case, progress=progress)

    def propose_from_instruction(self, name: str, instruction: str) -> Proposal:
        """A patch following an engineer's instruction (the LLM, or simple forms offline)."""
        loaded = self.skill(name)
        text = skill_text(loaded)
        version = self._version(loaded)
        if self.client is None:
            edits = instruction_edits(loaded.skill, instruction)
            patched = patch_skill(text, edits, version=version, file=f"<{name} refined>")
            return Proposal(name, "instruction", instruction.strip(), patched, [e.why for e in edits])
        generated = generate_skill(
            self.client, "refine", {"skill_name": name, "skill_yaml": text, "instruction": instruction},
            old_text=text, version=version, name=name, pattern=loaded.skill.pattern.value,
            catalog=self.catalog, purpose="refined Skill",
        )
        return Proposal(name, f"llm:{self.client.model}", generated.summary, generated.patched,
                        [f"instruction: {instruction.strip()}"])

    def new_skill(
        self, description: str, *, pattern: str | None = None, module: str | None = None, name: str | None = None
    ) -> NewSkill:
        """A new validated Skill (not saved): the LLM when configured, else from the closest template."""
        if self.client is None:
            return from_template(self.library, description, pattern=pattern, module=module, name=name,
                                 catalog=self.catalog)
        return from_llm(self.client, self.library, description, pattern=pattern, module=module, catalog=self.catalog)

    # -- replay and acceptance -------------------------------------------------------------------

    def regression_set(self, name: str, patched: LoadedSkill | None = None) -> RegressionSet:
        """The labelled bundles every patch of Skill ``name`` is replayed against (its pattern's only): the registered
        ones, else the curated scenarios that select it (:func:`agent.skills.selector.select_skill`, as the replay's
        offline investigation selects) with the current library or with ``patched`` in it: a Skill scoped to
        another system never answers them, and a patch that makes it answer one is checked there."""
        pattern = self.skill(name).skill.pattern.value
        home = self.home if self.home is not None else Path("/nonexistent")
        libraries = [self.library, *([replace_skill(self.library, patched)] if patched is not None else [])]
        pools = [[loaded.skill for loaded in library.skills.values()] for library in libraries]

        def answers(event: Event) -> bool:
            for skills in pools:
                try:
                    if select_skill(skills, event).skill.name == name:
                        return True
                except LookupError:  # no Skill fits and no generic one: not this Skill either
                    continue
            return False

        return regression_cases(home, pattern, answers, skill=name, confine=self.confine)

    def replay(self, proposal: Proposal, *, quick: bool = False) -> ReplayReport:
        """Replay the proposal against the Skill's corrected cases and its regression set.

        ``quick``: skip the regression set when no corrected case is fixed (the patch is rejected anyway).
        """
        loaded = self.skill(proposal.skill)
        cases = replay_cases(self.memory, proposal.skill, proposal.case_id)
        self.replayer.same_fault_for = memory_vocabulary(self.memory).same_for
        regression = self.regression_set(proposal.skill, proposal.patched.loaded)
        report = self.replayer.replay(
            cases, self.library, proposal.patched.loaded, current_text=skill_text(loaded),
            patched_text=proposal.patched.text, target_case=proposal.case_id,
            bundles=regression.cases, quick=quick,
        )
        report.notes.extend([regression.note] if regression.note else [])
        return report

    def replay_hand_edit(self, edit: HandEdit) -> ReplayReport:
        """Replay a Skill file edited by hand (:mod:`agent.evolve.record`) against the Skill's stored cases and its
        regression set, the text it replaces ("before") against the file ("after"); refused only when a case that
        passed before fails after (:func:`~agent.evolve.record.decide_edit`). A Skill new to Bian Que has no text
        before it: nothing is replayed."""
        base = edit.base
        if base is None:
            report = ReplayReport(skill=edit.name, target_case=None)
            report.accepted, report.reason = True, ("accepted: no earlier text of this Skill is known (no stored "
                                                    "version, no file it overrides), nothing to replay against: it is "
                                                    "recorded as its first version")
            return report
        before = replace_skill(self.library, base)
        bench = dataclasses.replace(self, library=before)  # the regression set as the text it replaces selects
        regression = bench.regression_set(edit.name, edit.loaded)
        self.replayer.same_fault_for = memory_vocabulary(self.memory).same_for
        report = self.replayer.replay(replay_cases(self.memory, edit.name), before, edit.loaded,
                                      current_text=edit.base_text or "", patched_text=edit.text,
                                      bundles=regression.cases)
        report.accepted, report.reason = decide_edit(report)
        report.notes.extend([regression.note] if regression.note else [])
        return report

    def accept(self, proposal: Proposal, *, author: str | None = None) -> Accepted:
        """Store the proposal as the Skill's next version, write it to the user dir, use it from now on."""
        base = self.skill(proposal.skill)
        reason = proposal.summary
        if proposal.correction_id is not None:
            reason = f"from correction {proposal.correction_id} of case {proposal.case_id}: {proposal.summary}"
        done = accept(self.memory, self.user_dir, proposal.skill, proposal.patched.text,
                      reason=f"{proposal.source}: {reason}", author=author, base=base)
        self._use(proposal.patched.loaded, done.path)
        return done

    def save_new(self, new: NewSkill, *, author: str | None = None) -> Accepted:
        """Store and write a new Skill (version 1)."""
        done = accept(self.memory, self.user_dir, new.name, new.patched.text,
                      reason=f"created ({new.source}{', from ' + new.template if new.template else ''})",
                      author=author)
        self._use(new.patched.loaded, done.path)
        return done

    def _use(self, loaded: LoadedSkill, path: Path) -> None:
        self.library = replace_skill(self.library, loaded, path)

