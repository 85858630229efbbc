"""Propose a patch to the Skill that answered a corrected case.

Offline, the proposal is derived by rules from the case's own data (its bundle's data catalog and
topology, its Findings) and the truth of the correction:

- the true fault kind has no metric of its family in the Skill: add one, named from the catalog
  (memory -> memory_leak, disk -> disk_full, cache hit -> cache_failure, request rate -> traffic_spike,
  latency -> slow_dependency, errors -> bad_release/bad_config), with a decision rule that lets it count;
- the true root-cause service is outside the Skill's dependency reach: widen ``data.dependencies``;
- a change-driven fault without the change type in ``data.changes``: add it; a log-driven fault
  without a matching log query: add one;
- the decision was too lenient or too strict: move the ``min_score`` of the rule that should (not) have
  matched just across the score of the Findings it saw;
- the fault kind as a knowledge tag, so the handbook and experience about it are retrieved.

With an LLM client the model proposes the whole patched Skill instead (see :mod:`agent.evolve.generate`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.patch import Edit, PatchedSkill, patch_skill
from agent.evolve.replay import BundleCache, replay_bundle
from agent.findings import Finding
from agent.memory.records import CaseRecord
from agent.memory.truth import Truth, truth_for_case
from agent.reasoners.faults import METRIC_FAMILIES, metric_family
from agent.skills.decide import apply_rules, counted, matching_findings
from agent.skills.loader import LoadedSkill
from agent.skills.schema import Skill

# The metric family that reveals each fault kind (families from agent.reasoners.faults).
FAULT_FAMILY = {
    "memory_leak": "memory_leak", "disk_full": "disk_full", "cache_failure": "cache_failure",
    "traffic_spike": "traffic_spike", "cpu_saturation": "cpu_saturation", "slow_dependency": "slow_dependency",
    "bad_release": "error_fault", "bad_config": "error_fault", "error_fault": "error_fault",
}
SIGNAL_IDS = {
    "memory_leak": "memory", "disk_full": "disk", "cache_failure": "cache_hit", "traffic_spike": "requests",
    "cpu_saturation": "cpu", "slow_dependency": "latency", "error_fault": "errors",
}
TREND_FAMILIES = ("memory_leak", "disk_full")
CHANGE_TYPES = {"bad_release": ["deploy", "canary"], "bad_config": ["config", "flag"]}
LOG_PATTERNS = {
    "memory_leak": ["OOM", "OutOfMemory", "GC", "heap"],
    "disk_full": ["no space left", "disk full", "ENOSPC"],
    "bad_config": ["config"],
    "slow_dependency": ["timeout", "timed out", "deadline exceeded"],
}
RANK = {"pass": 0, "hold": 1, "block": 2}
MAX_LOWERING = 0.5  # a rule's min_score is never lowered below this share of its value
OUTCOME_FOR_ATTENTION = {"rca": "attention", "inspection": "warning"}


class NoProposal(ValueError):
    """No patch could be derived: says why and what to try instead."""


class NoRuleFix(NoProposal):
    """No rule applies to a corrected case: the Skill already reads its data (the parameter search may help)."""


@dataclass
class CaseContext:
    """What a proposal may use of a case: the truth, targets, and its bundle's catalog and topology."""

    case: CaseRecord
    truth: Truth
    targets: list[str]
    catalog: Any = None
    topology: Any = None


@dataclass
class Proposal:
    """A validated patch of one Skill, why it was proposed, and which correction asked for it."""

    skill: str
    source: str
    summary: str
    patched: PatchedSkill
    reasons: list[str] = field(default_factory=list)
    case_id: str | None = None
    correction_id: int | None = None

    @property
    def diff(self) -> str:
        return self.patched.diff


def case_context(case: CaseRecord, truth: Truth | None = None, bundles: BundleCache | None = None) -> CaseContext:
    """The context of a corrected case; catalog and topology come from its bundle when it can still be replayed (it
    exists, and the bundle loader does not refuse it now: ``replay.replay_bundle``), taken from ``bundles`` when
    given (the replayer's: the bundle is read once for the proposal and its replays)."""
    truth = truth or truth_for_case(case)
    if truth is None:
        raise NoProposal(f"case {case.id} has no correction and no label: nothing says what was right")
    targets = list(case.evidence.target_services) if case.evidence else []
    targets = targets or case.event.services
    catalog = topology = None
    bundle = bundles.get(case) if bundles is not None else replay_bundle(case)[0]
    if bundle is not None:
        from agent.sources.catalog import catalog_from_bundle

        catalog, topology = catalog_from_bundle(bundle), bundle.topology
    return CaseContext(case, truth, targets, catalog, topology)


# --- what the Skill covers -------------------------------------------------------------------


def _signal_families(skill: Skill, catalog: Any) -> dict[str, set[str]]:
    """Metric signal id -> fault families of the metrics it selects (via the catalog when known)."""
    out: dict[str, set[str]] = {}
    for signal in skill.data.metrics:
        names = [m.name for m in catalog.find_metrics(signal.name)] if catalog is not None else []
        families = {metric_family(n) for n in names or [signal.name]}
        out[signal.id] = {f for f in families if f}
    return out


def _family_metric(family: str, service: str | None, catalog: Any) -> str:
    """The metric to add for a family: a catalog metric of the service if there is one (one the family's globs
    match first, else any the family claims: a request counter is traffic by its words), else the glob."""
    globs = next(g for f, g, _ in METRIC_FAMILIES if f == family)
    if catalog is not None:
        for glob in (*globs, "*"):
            found = [m for m in catalog.find_metrics(glob) if metric_family(m.name) == family]
            mine = [m for m in found if service in m.services] or found
            if mine:
                return sorted(mine, key=lambda m: m.name)[0].name
    return globs[0]


def _hops(topology: Any, targets: Sequence[str], service: str) -> tuple[int, str] | None:
    """Fewest hops from a target to ``service`` and the direction needed, if reachable within 5."""
    if topology is None:
        return None
    for depth in range(1, 6):
        for direction in ("downstream", "upstream", "both"):
            if any(service in topology.neighbours(t, depth=depth, direction=direction) for t in targets):
                return depth, direction
    return None


def _unique_id(skill: Skill, wanted: str) -> str:
    taken = {m.id for m in skill.data.metrics} | {q.id for q in skill.data.logs}
    candidate, n = wanted, 2
    while candidate in taken:
        candidate, n = f"{wanted}_{n}", n + 1
    return candidate


# --- the rules -------------------------------------------------------------------------------


def _reach_edits(skill: Skill, ctx: CaseContext, service: str) -> tuple[list[Edit], bool]:
    """Edits widening the dependency reach to ``service``; bool: it is a dependency (not a target)."""
    if service in ctx.targets:
        return [], False
    deps = skill.data.dependencies
    hops = _hops(ctx.topology, ctx.targets, service)
    if hops is None:
        return [], True
    depth, direction = hops
    reached = deps.depth >= depth and (deps.direction == direction or deps.direction == "both")
    if reached:
        return [], True
    new_direction = direction if deps.depth == 0 or deps.direction == direction else "both"
    why = f"{service} is {depth} hop(s) {direction} of {', '.join(ctx.targets)}: look that far"
    return [
        Edit("set", ("data", "dependencies", "depth"), max(depth, deps.depth), why),
        Edit("set", ("data", "dependencies", "direction"), new_direction, why),
    ], True


def _family_edits(skill: Skill, ctx: CaseContext, family: str, service: str, is_dep: bool) -> list[Edit]:
    """Add (or extend to dependencies) a metric signal of ``family`` and a rule letting it count."""
    families = _signal_families(skill, ctx.catalog)
    edits: list[Edit] = []
    covering = [i for i, fams in families.items() if family in fams]
    fault = ctx.truth.fault or family
    if covering:
        for i, signal in enumerate(skill.data.metrics):
            if signal.id in covering and is_dep and not signal.dependencies:
                why = f"{signal.id} must be read on {service}, a dependency, to see {fault}"
                edits.append(Edit("set", ("data", "metrics", i, "dependencies"), True, why))
        return edits
    metric = _family_metric(family, service, ctx.catalog)
    signal_id = _unique_id(skill, SIGNAL_IDS[family])
    direction = next(d for f, _, d in METRIC_FAMILIES if f == family)
    trend = family in TREND_FAMILIES
    signal: dict[str, Any] = {
        "id": signal_id, "name": metric, "labels": {"service": "{service}"},
        "compare": "trend" if trend else "baseline", "direction": direction,
        "min_effect": 0.2 if trend else 0.3,
    }
    if is_dep:
        signal["dependencies"] = True
    signal["description"] = f"Added after a missed {fault} on {service}."
    edits.append(Edit("append", ("data", "metrics"), signal,
                      f"no metric of the {family} family: add {metric} to see {fault}"))
    outcome = OUTCOME_FOR_ATTENTION.get(skill.pattern.value)
    if outcome:
        rule = {"if": {"signals": [signal_id], "subject": "dependency" if is_dep else "target", "min_score": 0.5},
                "then": outcome, "reason": f"{metric} deviates ({fault})"}
        edits.append(Edit("insert", ("decision", "rules"), rule, f"let {signal_id} Findings count", index=0))
    return edits


def _context_edits(skill: Skill, ctx: CaseContext, fault: str, is_dep: bool) -> list[Edit]:
    """Changes and logs a fault kind is revealed by, and the fault as a knowledge tag."""
    edits: list[Edit] = []
    types = CHANGE_TYPES.get(fault)
    if types:
        changes = skill.data.changes
        if changes is None:
            value = {"services": ["{service}"], "types": types, "window": "2h", "dependencies": is_dep}
            edits.append(Edit("set", ("data", "changes"), value, f"{fault} shows as a change: read changes"))
        else:
            missing = [t for t in types if t not in changes.types]
            if missing:
                edits.append(Edit("set", ("data", "changes", "types"), [*changes.types, *missing],
                                  f"{fault} shows as a {'/'.join(missing)} change"))
            if is_dep and not changes.dependencies:
                edits.append(Edit("set", ("data", "changes", "dependencies"), True,
                                  "the change was made to a dependency"))
    patterns = LOG_PATTERNS.get(fault)
    logs_known = ctx.catalog is None or bool(ctx.catalog.log_services)
    if patterns and logs_known and fault == "bad_config" and not skill.data.logs:
        query = {"id": _unique_id(skill, f"{fault}_logs"), "services": ["{service}"],
                 "levels": ["WARN", "ERROR", "FATAL"], "patterns": patterns, "limit": 1000, "dependencies": is_dep}
        edits.append(Edit("append", ("data", "logs"), query, f"{fault} is visible in the logs"))
    if fault not in skill.knowledge.tags:
        edits.append(Edit("append", ("knowledge", "tags"), fault, f"retrieve handbook and experience on {fault}"))
    return edits


def _rule_min_scores(skill: Skill, findings: list[Finding], targets: list[str]) -> list[tuple[int, float]]:
    """(rule index, best score among the Findings its condition matches apart from min_score)."""
    out = []
    for i, rule in enumerate(skill.decision.rules):
        matched = matching_findings(rule.when.model_copy(update={"min_score": 0.0}), findings, targets)
        if counted(rule.when, matched) >= max(1, rule.when.min_count):
            out.append((i, max(f.score for f in matched)))
    return out


def _lower_rule(skill: Skill, ctx: CaseContext, outcome: str, why: str) -> list[Edit]:
    """Lower the min_score of the rule for ``outcome`` that comes closest to matching."""
    findings = ctx.case.findings
    rules = skill.decision.rules
    candidates = [  # a rule is lowered at most to half its min_score: a patch stays a nudge, not a rewrite
        (i, best) for i, best in _rule_min_scores(skill, findings, ctx.targets)
        if rules[i].then == outcome and rules[i].when.min_score * MAX_LOWERING <= best < rules[i].when.min_score
    ]
    if not candidates:
        return []
    index, best = max(candidates, key=lambda c: c[1] - skill.decision.rules[c[0]].when.min_score)
    new = max(0.05, math.floor(best * 0.95 * 100) / 100)
    old = skill.decision.rules[index].when.min_score
    return [Edit("set", ("decision", "rules", index, "if", "min_score"), new,
                 f"{why}: rule {index + 1} ({outcome}) needs min_score {new} (was {old}) to match")]


def _raise_rule(skill: Skill, ctx: CaseContext, why: str) -> list[Edit]:
    """Raise the min_score of the rule that decided, just above the Findings it matched."""
    outcome = apply_rules(skill.decision, ctx.case.findings, ctx.targets)
    if outcome.rule is None or not outcome.findings:
        return []
    index = skill.decision.rules.index(outcome.rule)
    new = math.ceil(max(f.score for f in outcome.findings) * 100 + 5) / 100
    if new > 1.0:
        return []
    old = outcome.rule.when.min_score
    return [Edit("set", ("decision", "rules", index, "if", "min_score"), new,
                 f"{why}: rule {index + 1} ({outcome.outcome}) fired; min_score {old} -> {new}")]


def rule_edits(skill: Skill, ctx: CaseContext) -> list[Edit]:
    """The edits the rules derive from a corrected case (empty when none applies)."""
    truth, verdict = ctx.truth, ctx.case.verdict
    if truth.pattern == "release_interception":
        said = (verdict.decision if verdict else None) or "pass"
        if RANK[said] < RANK[truth.decision or "pass"]:
            return _lower_rule(skill, ctx, truth.decision or "pass", f"{said} was too lenient")
        if RANK[said] > RANK[truth.decision or "pass"]:
            return _raise_rule(skill, ctx, f"{said} was too strict")
        return []
    if truth.needs_attention is False:
        return _raise_rule(skill, ctx, "a noisy alert was flagged as needing attention")
    service = truth.service or (truth.findings[0]["service"] if truth.findings else None)
    fault = truth.fault or (truth.findings[0].get("kind") if truth.findings else None)
    if not service:
        return _lower_rule(skill, ctx, "attention", "an actionable alert was missed")
    reach, is_dep = _reach_edits(skill, ctx, service)
    family = FAULT_FAMILY.get(fault or "")
    edits = [*reach, *(_family_edits(skill, ctx, family, service, is_dep) if family else [])]
    if fault:
        edits += _context_edits(skill, ctx, fault, is_dep)
    if verdict is not None and not verdict.needs_attention and not any(e.path[0] == "decision" for e in edits):
        edits += _lower_rule(skill, ctx, OUTCOME_FOR_ATTENTION.get(truth.pattern, "attention"),
                             "an actionable alert was missed")
    return edits


def propose_by_rules(loaded: LoadedSkill, text: str, ctx: CaseContext, *, version: int | None = None) -> Proposal:
    """The rule-based patch for a corrected case, at ``version`` (NoProposal when no rule applies)."""
    edits = rule_edits(loaded.skill, ctx)
    if all(e.path[0] == "knowledge" for e in edits):  # a tag alone changes what is read, not what is decided
        raise NoRuleFix(
            f"no rule-based fix for case {ctx.case.id} ({ctx.truth.describe()}): the Skill already reads that "
            "data, so the fix is in how it is weighed (the offline parameter search of `bianque skills refine "
            "--from-case`), or try `bianque skills refine NAME --instruction ...` or configure an LLM endpoint"
        )
    patched = patch_skill(text, edits, version=version, file=f"<{loaded.name} patch>")
    reasons = list(dict.fromkeys(e.why for e in edits))
    correction = ctx.case.latest_correction
    return Proposal(
        skill=loaded.name, source="rules", summary=f"make it find the truth ({ctx.truth.describe()})",
        patched=patched, reasons=reasons, case_id=ctx.case.id,
        correction_id=correction.id if correction else None,
    )
