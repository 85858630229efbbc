"""Run the agent over a directory of labelled bundles and summarise per pattern and per Skill."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.bundles.validate import bundles_under
from agent.config import Settings, get_settings
from agent.eval.cases import CaseContext, CaseOutcome, score_bundles
from agent.graph.nodes.select_skill import known_skill
from agent.runtime import load_skills
from agent.scoring import CaseScore


def find_bundles(root: Path) -> list[Path]:
    """The bundles at or under ``root``, sorted; none if it is no directory (``validate.bundles_under``)."""
    return bundles_under(root)


@dataclass
class Summary:
    """Aggregates for one group of cases (a pattern, a Skill, or everything)."""

    cases: int = 0
    passed: int = 0
    rca_cases: int = 0
    top1: int = 0
    top3: int = 0
    top5: int = 0
    fault_correct: int = 0
    fault_labelled: int = 0  # actionable RCA cases whose label names the fault kind: fault accuracy's denominator
    missed_actionable: int = 0
    noise_cases: int = 0
    noise_silenced: int = 0
    blocks_true: int = 0
    blocks_predicted: int = 0
    blocks_correct: int = 0
    good_releases: int = 0
    good_blocked: int = 0
    expected_items: int = 0
    found_items: int = 0
    false_alarms: int = 0

    def add(self, s: CaseScore) -> None:
        self.cases += 1
        self.passed += s.passed
        if s.pattern == "rca":
            if s.noise_label:
                self.noise_cases += 1
                self.noise_silenced += not s.needs_attention
            else:
                self.rca_cases += 1
                self.top1 += s.rank == 1
                self.top3 += s.rank is not None and s.rank <= 3
                self.top5 += s.rank is not None and s.rank <= 5
                self.fault_correct += bool(s.fault_correct)
                self.fault_labelled += s.fault_labelled
                self.missed_actionable += not s.needs_attention
        elif s.pattern == "release_interception":
            self.blocks_true += s.decision_label == "block"
            self.blocks_predicted += s.decision == "block"
            self.blocks_correct += s.decision == "block" and s.decision_label == "block"
            if s.decision_label == "pass":
                self.good_releases += 1
                self.good_blocked += s.decision == "block"
        else:
            self.expected_items += s.expected_items
            self.found_items += s.found_items
            self.false_alarms += s.false_alarms

    def rates(self) -> dict[str, float | None]:
        def ratio(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "pass_rate": ratio(self.passed, self.cases),
            "rca_top1": ratio(self.top1, self.rca_cases),
            "rca_top3": ratio(self.top3, self.rca_cases),
            "rca_top5": ratio(self.top5, self.rca_cases),
            # a label without ``fault`` scores the service alone (BUNDLE.md): neither right nor wrong here
            "rca_fault_accuracy": ratio(self.fault_correct, self.fault_labelled),
            "noise_silenced": ratio(self.noise_silenced, self.noise_cases),
            "block_precision": ratio(self.blocks_correct, self.blocks_predicted),
            "block_recall": ratio(self.blocks_correct, self.blocks_true),
            "good_blocked": ratio(self.good_blocked, self.good_releases),
            "inspection_recall": ratio(self.found_items, self.expected_items),
        }


@dataclass
class EvalReport:
    scores: list[CaseScore] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # bundle (:func:`bundle_keys`) -> why it was skipped
    warnings: dict[str, list[str]] = field(default_factory=dict)  # bundle (:func:`bundle_keys`) -> what its readers
    # ignored
    overall: Summary = field(default_factory=Summary)
    by_pattern: dict[str, Summary] = field(default_factory=lambda: defaultdict(Summary))
    by_skill: dict[str, Summary] = field(default_factory=lambda: defaultdict(Summary))
    memory: dict[str, Any] | None = None  # with stored corrections: lessons, corrected cases, in-sample bundles

    def add(self, score: CaseScore) -> None:
        self.scores.append(score)
        self.overall.add(score)
        self.by_pattern[score.pattern].add(score)
        self.by_skill[score.skill].add(score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": {**asdict(self.overall), **self.overall.rates()},
            "by_pattern": {k: {**asdict(v), **v.rates()} for k, v in self.by_pattern.items()},
            "by_skill": {k: {**asdict(v), **v.rates()} for k, v in self.by_skill.items()},
            "cases": [asdict(s) for s in self.scores],
            "errors": self.errors,
            "warnings": self.warnings,
            "memory": self.memory,
        }


def evaluate(
    bundles: Iterable[Path],
    settings: Settings | None = None,
    *,
    knowledge: Any = None,
    on_case: Callable[[Path, CaseScore | None], None] | None = None,
    memory: Any = None,
    jobs: int = 1,
    skill: str | None = None,
) -> EvalReport:
    """Investigate every labelled bundle offline (no memory writes) and score it.

    ``memory``: weigh the rankings with the lessons of its corrected cases, as live investigations do
    (nothing is written to it); the report's ``memory`` says how many and which evaluated bundles are
    corrected cases themselves (scored in-sample). ``knowledge``: an open knowledge store, or True for the
    configured one. ``jobs``: worker processes (1: all in this process; ``cases.auto_jobs`` picks a number;
    more than 1 needs ``knowledge`` True or None); the report is the same either way, in bundle order. ``skill``:
    answer every case of its pattern with that Skill instead of the selected one (the others are skipped, saying
    why; LookupError for an unknown Skill).
    """
    settings = settings or get_settings()
    report = EvalReport()
    bundles = list(bundles)
    experience = None
    if memory is not None:
        experience, report.memory = memory_experience(memory, bundles)
    library = load_skills(settings)
    if skill is not None:
        known_skill(skill, library)
    context = CaseContext(settings, library, knowledge, experience, skill)  # workers inherit it
    keys = bundle_keys(bundles)

    def finished(outcome: CaseOutcome) -> None:
        if outcome.score is not None:  # a case is named as its errors and warnings are: two folders' "rca-x" differ
            outcome.score.case = keys.get(outcome.path, str(outcome.path))
        if on_case:
            on_case(outcome.path, outcome.score)

    for outcome in score_bundles(bundles, context, jobs, on_case=finished):
        key = keys.get(outcome.path, str(outcome.path))
        if outcome.score is not None:
            report.add(outcome.score)
        else:
            report.errors[key] = outcome.error or "no score"
        if outcome.warnings:
            report.warnings[key] = outcome.warnings
    return report


def bundle_keys(bundles: Sequence[Path]) -> dict[Path, str]:
    """How the report names each bundle (a case's ``case``, and in ``errors`` and ``warnings``): its path relative
    to the directory holding them all (``rca-x`` for the bundles of one folder, ``day1/rca-x`` and ``day2/rca-x`` for
    two folders' bundles of one name: a name alone made one overwrite the other), else the path as given (bundles
    under an absolute and a relative path)."""
    paths = [Path(b) for b in bundles]
    try:
        root = Path(os.path.commonpath([p.parent for p in paths])) if paths else Path()
    except ValueError:  # absolute and relative paths mixed
        return {p: str(p) for p in paths}
    return {p: p.relative_to(root).as_posix() for p in paths}


def memory_experience(memory: Any, bundles: Sequence[Path]) -> tuple[list, dict[str, Any]]:
    """The lessons of memory's corrected cases, and what they are: counts and the in-sample bundles."""
    from agent.reasoners.lessons import cached_memory_lessons

    corrected = memory.experience_cases()  # the ones the lessons come from
    lessons = cached_memory_lessons(memory)
    keys = bundle_keys(bundles)
    evaluated = {Path(b).resolve(): keys[Path(b)] for b in bundles}
    in_sample = sorted({evaluated[Path(c.bundle_path).resolve()] for c in corrected
                        if c.bundle_path and Path(c.bundle_path).resolve() in evaluated})
    return lessons, {"corrected_cases": len(corrected), "lessons": len(lessons), "in_sample": in_sample}
