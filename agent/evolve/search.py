"""Offline parameter search: when the Skill already reads the data, change how it is weighed.

No LLM. Candidates are single, small edits of the Skill's parameters: each metric signal's minimum
effect (halved or raised by half), its direction (``both`` instead of one way), whether it is read on
the dependencies; how far and which way the dependencies are followed; which log levels are read.
Signal ``weight`` is not searched: the offline ranking does not read it, so changing it would change
no answer (a weight that counts is a ranking change, not a Skill parameter).

Every candidate is replayed through the replay gate (:meth:`agent.evolve.workbench.Workbench.replay`,
corrected cases and regression set). The kept change is the one that fixes the most corrected cases
with no regression, fewest edits first; the two best single edits are also tried together, and the
pair is kept only when it fixes more. Everything tried is reported (``SearchResult.tried``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.patch import Edit, PatchError, patch_skill
from agent.evolve.proposals import Proposal
from agent.evolve.replay import ReplayReport
from agent.evolve.versions import next_version, skill_text
from agent.memory.records import CaseRecord
from agent.series import LOG_LEVELS
from agent.skills.loader import SkillLoadError
from agent.skills.schema import Skill, unreachable_fall

MAX_CANDIDATES = 24


@dataclass
class Tried:
    """One candidate change and what its replay said."""

    edits: list[Edit]
    proposal: Proposal | None
    report: ReplayReport | None
    error: str = ""

    @property
    def fixed(self) -> int:
        return self.report.count("fixed", "corrected") if self.report else 0

    @property
    def broken(self) -> int:
        return len(self.report.regressions) if self.report else 0

    @property
    def describe(self) -> str:
        return "; ".join(e.why for e in self.edits)

    @property
    def gate(self) -> str:
        """What the replay gate said of this change, in a few words."""
        if self.error or self.report is None:
            return self.error or "not replayed"
        if self.report.accepted:
            return "accepted"
        if self.report.regressions:
            return f"rejected: breaks {len(self.report.regressions)}"
        skipped = any(c.role == "regression" and c.skipped for c in self.report.cases)
        return "rejected: fixes none" + (" (regression set not replayed)" if skipped else "")


@dataclass
class SearchResult:
    """Everything tried, and the change kept (None when none fixes a case without regression)."""

    skill: str
    tried: list[Tried] = field(default_factory=list)
    best: Tried | None = None

    def shortfall(self) -> str:
        """Why no change was kept, in words: none fixed a corrected case, or those that did broke one that passed."""
        traded = sum(1 for t in self.tried if t.fixed and t.broken)
        if not traded:
            return f"no parameter change fixes a corrected case of {self.skill} ({len(self.tried)} tried)"
        return (f"no parameter change fixes a corrected case of {self.skill} without breaking one that passed "
                f"({len(self.tried)} tried; {traded} fixed one but broke another)")


def candidate_edits(skill: Skill) -> list[Edit]:
    """Single-parameter edits of a Skill, the most local first."""
    edits: list[Edit] = []
    for i, signal in enumerate(skill.data.metrics):
        path = ("data", "metrics", i)
        for factor in (0.5, 1.5):
            value = round(max(0.01, signal.min_effect * factor), 3)
            if value != signal.min_effect and unreachable_fall(signal.compare, signal.direction, value) is None:
                edits.append(Edit("set", (*path, "min_effect"), value,
                                  f"{signal.id}: min_effect {signal.min_effect} -> {value}"))
        if signal.direction.value in ("up", "down"):
            edits.append(Edit("set", (*path, "direction"), "both", f"{signal.id}: direction {signal.direction.value} "
                                                                   "-> both"))
        if not signal.dependencies:
            edits.append(Edit("set", (*path, "dependencies"), True, f"{signal.id}: also read on the dependencies"))
    deps = skill.data.dependencies
    if deps.depth < 3:
        edits.append(Edit("set", ("data", "dependencies", "depth"), deps.depth + 1,
                          f"dependencies: depth {deps.depth} -> {deps.depth + 1}"))
    if deps.direction != "both":
        edits.append(Edit("set", ("data", "dependencies", "direction"), "both",
                          f"dependencies: direction {deps.direction} -> both"))
    for i, query in enumerate(skill.data.logs):
        lower = [lv for lv in LOG_LEVELS if lv not in query.levels and LOG_LEVELS.index(lv) >= 1]
        if lower and not query.patterns:
            level = lower[-1]
            edits.append(Edit("set", ("data", "logs", i, "levels"), [level, *query.levels],
                              f"{query.id}: also read {level} lines"))
        if len(query.levels) > 1:
            edits.append(Edit("set", ("data", "logs", i, "levels"), list(query.levels[1:]),
                              f"{query.id}: stop reading {query.levels[0]} lines"))
    return edits[:MAX_CANDIDATES]


def _try(bench: Any, name: str, text: str, version: int, edits: list[Edit], case: CaseRecord | None) -> Tried:
    try:
        patched = patch_skill(text, edits, version=version, file=f"<{name} search>")
    except (PatchError, SkillLoadError, ValueError) as exc:
        return Tried(edits, None, None, f"{type(exc).__name__}: {exc}")
    summary = "parameter search: " + "; ".join(e.why for e in edits)
    correction = case.latest_correction if case is not None else None
    proposal = Proposal(name, "search", summary, patched, [e.why for e in edits],
                        case_id=case.id if case is not None else None,
                        correction_id=correction.id if correction is not None else None)
    return Tried(edits, proposal, bench.replay(proposal, quick=True))


def _rank(t: Tried) -> tuple[int, int]:
    return (t.fixed, -len(t.edits))


def search_parameters(
    bench: Any, name: str, *, case: CaseRecord | None = None, progress: Callable[[str], None] = lambda _m: None
) -> SearchResult:
    """Try every candidate edit of Skill ``name`` through the replay gate; keep the best accepted one.

    ``case``: the corrected case that asked (replayed even when its record names no Skill, and named in
    the kept proposal). ``progress`` is told of every candidate once replayed ("search NAME: i/n: ...";
    the pair of the two best, when tried, is one more than ``n``).
    """
    loaded = bench.skill(name)
    text = skill_text(loaded)
    version = next_version(bench.memory, name, loaded.skill.version)
    result = SearchResult(name)
    edits = candidate_edits(loaded.skill)

    def attempt(chosen: list[Edit]) -> Tried:
        tried = _try(bench, name, text, version, chosen, case)
        result.tried.append(tried)
        progress(f"search {name}: {len(result.tried)}/{len(edits)}: {tried.describe}: "
                 f"{tried.fixed} fixed, {tried.broken} broken")
        return tried

    for edit in edits:
        attempt([edit])
    clean = sorted((t for t in result.tried if t.report and t.report.accepted), key=_rank, reverse=True)
    if len(clean) >= 2:
        pair = attempt([*clean[0].edits, *clean[1].edits])
        if pair.report and pair.report.accepted and pair.fixed > clean[0].fixed:
            clean.insert(0, pair)
    result.best = clean[0] if clean else None
    return result
