"""The correct-one-half, score-the-other protocol self-evolution is measured by.

A labelled set of RCA bundles is split in two (by day when the incidents span several days, else by
halves in time order). The first half is investigated into memory and every answer is judged as an SRE
team would: a miss (strict: "no attention" is never a hit, the top cause must be the labelled service)
or a right service with a kind the team names differently is corrected with the labelled service and
fault; a right answer is confirmed. Then, offline, every miss gets a rule-based Skill patch and an
offline parameter search (:mod:`agent.evolve.search`), each kept only through the replay gate. The
second half is scored strictly before (the original library, no experience) and after (the evolved
library, with the lessons of the corrected cases); the first half is scored again to count cases lost.

The LLM variant (an :class:`~agent.evolve.protocol_llm.LLMPlan`) runs the same protocol with a model
endpoint configured, routed as the project routes it: a miss's Skill patch is asked of the model instead
of the rules (bounded), the corrected groups' experience notes are written by it (counted), and with
``reason`` every investigation is answered by the LLM reasoner over the offline floor. Replay stays
offline, as ``skills refine`` replays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.evolve.corrections import CorrectionError, correct_case
from agent.evolve.proposals import NoProposal
from agent.evolve.protocol_llm import LLMPlan, LLMTally, ask_timed, llm_notes
from agent.evolve.regression import bundle_event
from agent.evolve.workbench import Workbench
from agent.investigate import investigate
from agent.memory.truth import judge, truth_from_label
from agent.reasoners.lessons import memory_lessons, memory_vocabulary
from agent.runtime import bundle_toolkit, load_skills
from agent.scoring import score_case
from agent.skills.library import SkillLibrary

Progress = Callable[[str], None]


@dataclass
class ProtocolReport:
    """Before/after on both halves and what the corrections did."""

    corrected_half: list[str]
    scored_half: list[str]
    scored_before: list[bool] = field(default_factory=list)
    scored_after: list[bool] = field(default_factory=list)
    kind_before: list[bool] = field(default_factory=list)  # scored half, the fault kind required too
    kind_after: list[bool] = field(default_factory=list)
    corrected_before: list[bool] = field(default_factory=list)
    corrected_after: list[bool] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    patches: list[str] = field(default_factory=list)
    lessons: int = 0
    team_kinds: list[str] = field(default_factory=list)
    cited: int = 0  # scored-half answers whose ranking experience moved (cited in the report)
    tried: list[tuple[str, str, int, int, bool]] = field(default_factory=list)  # search: Skill, change, fixed,
    # broken, accepted by the gate
    llm: LLMTally | None = None  # the LLM variant: what the model answered

    @property
    def lost(self) -> int:
        """Cases of the corrected half right before and wrong after."""
        return sum(1 for b, a in zip(self.corrected_before, self.corrected_after, strict=True) if b and not a)

    @property
    def scored_lost(self) -> int:
        return len(self.scored_lost_cases)

    @property
    def scored_lost_cases(self) -> list[str]:
        """Cases of the scored half right before and wrong after (what the corrections cost)."""
        return [name for name, b, a in zip(self.scored_half, self.scored_before, self.scored_after, strict=True)
                if b and not a]


def event_day(bundle: Path) -> str:
    """The UTC day of a bundle's event."""
    return datetime.fromtimestamp(bundle_event(bundle).time, UTC).date().isoformat()


def split_halves(bundles: Sequence[Path], *, by_day: bool = True, reverse: bool = False
                 ) -> tuple[list[Path], list[Path]]:
    """(corrected half, scored half).

    ``by_day`` (real incidents): the first day against the rest when they span several days, else the
    first half in time order. Otherwise (simulated batches, whose clocks mean nothing) the first half
    in the order given. ``reverse``: the same halves swapped (correct the later half, score the earlier).
    """
    first, second = _halves(bundles, by_day)
    return (second, first) if reverse else (first, second)


def _halves(bundles: Sequence[Path], by_day: bool) -> tuple[list[Path], list[Path]]:
    if not by_day:
        middle = len(bundles) // 2
        return list(bundles[:middle]), list(bundles[middle:])
    dated = sorted(((bundle_event(b).time, b) for b in bundles), key=lambda x: (x[0], str(x[1])))
    ordered = [b for _, b in dated]
    days = [event_day(b) for b in ordered]
    if len(set(days)) > 1:
        first = days[0]
        return [b for b, d in zip(ordered, days, strict=True) if d == first], \
            [b for b, d in zip(ordered, days, strict=True) if d != first]
    middle = len(ordered) // 2
    return ordered[:middle], ordered[middle:]


def strict_pass(path: Path, result: Any) -> bool:
    """Strict top-1 (``bianque eval``'s scoring): attention and the labelled service first."""
    label = load_label(path)
    return label is not None and score_case(path.name, result.skill["name"], result.verdict, label).passed


def kind_pass(path: Path, result: Any, same_fault: Any = None) -> bool:
    """Stricter: the top cause's fault kind must be the label's too (through the team vocabulary when given)."""
    label = load_label(path)
    if label is None:
        return False
    return judge(result.verdict, truth_from_label(result.verdict.pattern, label), same_fault).passed


def _run(path: Path, settings: Any, library: SkillLibrary, *, memory: Any = None, experience: list | None = None,
         tally: LLMTally | None = None):
    bundle = load_bundle(path)
    toolkit = bundle_toolkit(bundle, settings, library=library, memory=memory, experience=experience or [])
    result = investigate(bundle.event, toolkit, source="benchmark", bundle_path=str(path))
    if tally is not None:
        tally.record_verdict(result)
    return result


def _correct(memory: Any, case_id: str, path: Path, passed: bool, counts: Counter) -> bool:
    """Correct or confirm one answer as the team would; True when it was corrected as wrong."""
    label = load_label(path)
    primary = label.primary if label is not None else None
    case = memory.get_case(case_id)
    top = case.verdict.root_causes[0] if case.verdict and case.verdict.root_causes else None
    if label is None or (primary is None and not label.noise):
        return False
    if label.noise:
        fields: dict[str, Any] = {"needs_attention": False}
    else:
        fields = {"service": primary.service, "fault": primary.fault}
    kind_differs = (passed and primary is not None and primary.fault is not None and top is not None
                    and top.fault != primary.fault)
    try:
        if passed and not kind_differs:
            correct_case(memory, case_id, correct=True, note="benchmark: confirmed right")
            counts["confirmed right"] += 1
            return False
        # the label is the truth, whether or not the case mentions its service
        correct_case(memory, case_id, correct=False, note="benchmark correction", as_given=True, **fields)
    except CorrectionError:
        counts["corrections refused"] += 1
        return False
    counts["corrected: wrong kind only" if passed else "corrected: misses"] += 1
    return not passed


def _propose(bench: Workbench, case_id: str, skill: str, report: ProtocolReport, budget: int) -> Any:
    """The patch for one miss: the rules', or the model's while ``budget`` (misses it may still be asked) lasts.

    None when there is no rule-based patch, the model gave no valid one, or the budget is used up.
    """
    if report.llm is None or bench.client is None:
        try:
            return bench.propose_for_case(case_id, skill=skill)
        except NoProposal:
            report.counts["no rule-based patch"] += 1
            return None
    if budget <= 0:
        report.counts["misses not sent to the model (limit)"] += 1
        return None
    return ask_timed(report.llm, "patch", lambda: bench.propose_for_case(case_id, skill=skill))


def _evolve(bench: Workbench, missed: list[tuple[str, str]], report: ProtocolReport, search: bool,
            progress: Progress, budget: int = 0) -> None:
    """A patch for every miss (rules, or the model), then the offline parameter search; the replay gate decides."""
    from agent.evolve.search import search_parameters

    counts, patches = report.counts, report.patches
    for asked, (case_id, skill) in enumerate(missed):
        proposal = _propose(bench, case_id, skill, report, budget - asked)
        if proposal is None and report.llm is not None:
            progress(f"no patch from the model for {case_id}: {dict(report.llm.counts)}")
        if proposal is not None:
            replayed = bench.replay(proposal)
            if replayed.accepted:
                bench.accept(proposal, author="benchmark")
                counts["patches accepted"] += 1
                patches.append(f"{proposal.skill} v{proposal.patched.new_version} ({proposal.source}): "
                               f"{replayed.reason}")
            else:
                counts["patches rejected"] += 1
            progress(f"{proposal.source} patch for {case_id}: {replayed.reason}")
    if not search:
        return
    for skill in dict.fromkeys(s for _, s in missed):
        result = search_parameters(bench, skill, progress=progress)
        counts["search candidates tried"] += len(result.tried)
        report.tried += [(skill, t.describe, t.fixed, t.broken, bool(t.report and t.report.accepted))
                         for t in result.tried]
        if result.best is not None:
            bench.accept(result.best.proposal, author="benchmark")
            counts["patches accepted"] += 1
            patches.append(f"{skill} v{result.best.proposal.patched.new_version} (search): "
                           f"{result.best.proposal.summary}; {result.best.report.reason}")
        else:
            counts["searches without an acceptable change"] += 1


def run_protocol(
    bundles: Sequence[Path], settings: Any, memory: Any, *, search: bool = True, by_day: bool = True,
    progress: Progress = lambda _message: None, llm: LLMPlan | None = None, reverse: bool = False,
) -> ProtocolReport:
    """Correct one half, evolve, score the other (see the module docstring). ``memory`` should be empty.

    ``llm``: the LLM variant (patches, notes and, with ``llm.reason``, verdicts from the model). ``reverse``: correct
    the later half and score the earlier (:func:`split_halves`).
    """
    corrected_half, scored_half = split_halves(bundles, by_day=by_day, reverse=reverse)
    report = ProtocolReport([b.name for b in corrected_half], [b.name for b in scored_half])
    report.llm = LLMTally() if llm is not None else None
    reasoning = llm.settings if llm is not None and llm.reason else settings

    def run(path: Path, library: SkillLibrary, **kwargs: Any) -> Any:
        return _run(path, reasoning, library, tally=report.llm, **kwargs)

    original = load_skills(settings)
    for path in scored_half:
        result = run(path, original)
        report.scored_before.append(strict_pass(path, result))
        report.kind_before.append(kind_pass(path, result))
    progress(f"scored half before: {sum(report.scored_before)}/{len(scored_half)}")
    missed: list[tuple[str, str]] = []
    for path in corrected_half:
        result = run(path, original, memory=memory)
        passed = strict_pass(path, result)
        report.corrected_before.append(passed)
        if _correct(memory, result.case_id, path, passed, report.counts):
            missed.append((result.case_id, result.skill["name"]))
    progress(f"corrected half: {sum(report.corrected_before)}/{len(corrected_half)} right, {len(missed)} missed")
    bench = Workbench.from_settings(llm.settings if llm is not None else settings, memory, library=original)
    if llm is not None and report.llm is not None:
        llm_notes(bench.client, memory, report.llm, llm.max_notes)
        progress(f"experience notes asked of the model: {dict(report.llm.counts)}")
    _evolve(bench, missed, report, search, progress, budget=llm.max_patches if llm is not None else 0)
    lessons = memory_lessons(memory)
    report.lessons = len(lessons)
    vocabulary = memory_vocabulary(memory)
    report.team_kinds = vocabulary.kinds
    evolved = bench.library
    for path in scored_half:
        result = run(path, evolved, experience=lessons)
        report.scored_after.append(strict_pass(path, result))
        report.kind_after.append(kind_pass(path, result, vocabulary.same))
        report.cited += any("experience" in c.explanation for c in result.verdict.root_causes[:1])
    report.corrected_after = [strict_pass(p, run(p, evolved, experience=lessons)) for p in corrected_half]
    progress(f"scored half after: {sum(report.scored_after)}/{len(scored_half)}")
    return report
