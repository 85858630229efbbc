"""Score verdicts against ground truth: what "pass" means, per pattern."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.verdict import Verdict

SEVERE = ("critical", "warning")


@dataclass
class CaseScore:
    """One case's outcome against its label."""

    case: str
    pattern: str
    skill: str
    passed: bool
    detail: str
    rank: int | None = None  # rca: 1-based rank of the labelled service; None if absent or judged "no attention"
    fault_correct: bool | None = None  # rca: fault kind of the top cause equals the label's (None: label has none)
    fault_labelled: bool = False  # rca: the label names the fault kind (fault accuracy is over these cases)
    noise_label: bool | None = None
    needs_attention: bool | None = None
    decision_label: str | None = None
    decision: str | None = None
    expected_items: int = 0
    found_items: int = 0
    false_alarms: int = 0
    tags: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)  # the Skill's metric signals that brought no data, and why


def score_rca(case: str, skill: str, verdict: Verdict, root_causes: Sequence[dict], noise: bool) -> CaseScore:
    """Pass: the attention judgement is right and, when actionable, the labelled service ranks first."""
    attention = bool(verdict.needs_attention)
    services = [c.service for c in verdict.root_causes]
    rank = None
    fault_ok = None
    labelled = bool(root_causes) and root_causes[0].get("fault") is not None
    if root_causes:
        truth = root_causes[0]
        # Strict: a ranking behind a "no attention" verdict sends nobody to look, so it is never a hit.
        if attention and truth["service"] in services:
            rank = services.index(truth["service"]) + 1
        if attention and verdict.root_causes and truth.get("fault") is not None:  # no fault: the kind is unknown
            fault_ok = verdict.root_causes[0].fault == truth["fault"]
    if noise:
        passed = not attention
        detail = "noise correctly silenced" if passed else "noise flagged as needing attention"
    else:
        passed = attention and rank == 1
        if not attention:
            detail = "MISSED: actionable alert judged as needing no attention"
        else:
            detail = f"root cause ranked {rank}" if rank else "root cause not among the candidates"
    return CaseScore(case, "rca", skill, passed, detail, rank=rank, fault_correct=fault_ok, fault_labelled=labelled,
                     noise_label=noise, needs_attention=attention)


def score_release(case: str, skill: str, verdict: Verdict, decision_label: str) -> CaseScore:
    """Pass: the decision equals the label."""
    decision = verdict.decision or "pass"
    passed = decision == decision_label
    return CaseScore(case, "release_interception", skill, passed, f"{decision} (label {decision_label})",
                     decision_label=decision_label, decision=decision)


# Both log kinds say "the service's error logs changed"; which one a detector reports depends on
# whether a similar line existed in the reference window, so they are scored as one family.
KIND_FAMILIES = {"new_error_template": "error_logs", "error_burst": "error_logs"}


def same_kind(a: str | None, b: str | None) -> bool:
    return KIND_FAMILIES.get(a or "", a) == KIND_FAMILIES.get(b or "", b)


ANY_KIND = ("anomaly", None, "")  # the data set knows something was wrong on the service, not what


def _item_matches(item_service: str, item_kind: str, truth: dict) -> bool:
    if item_service != truth.get("service"):
        return False
    return truth.get("kind") in ANY_KIND or same_kind(item_kind, truth.get("kind"))


def score_inspection(case: str, skill: str, verdict: Verdict, expected: Sequence[dict]) -> CaseScore:
    """Pass: every labelled finding is reported at warning or above, and no other service is flagged."""
    severe = [i for i in verdict.items if i.severity in SEVERE]
    found = sum(1 for t in expected if any(_item_matches(i.service, i.kind, t) for i in severe))
    expected_services = {t.get("service") for t in expected}
    false_alarms = sum(1 for i in severe if i.service not in expected_services)
    passed = found == len(expected) and false_alarms == 0
    detail = f"found {found}/{len(expected)}, {false_alarms} false alarm(s)"
    return CaseScore(case, "inspection", skill, passed, detail, expected_items=len(expected),
                     found_items=found, false_alarms=false_alarms)


def score_case(name: str, skill: str, verdict: Any, label: Any) -> CaseScore:
    """Score one verdict against its bundle's label."""
    if verdict.pattern == "rca":
        causes = [c.model_dump() for c in label.root_cause]
        return score_rca(name, skill, verdict, causes, bool(label.noise))
    if verdict.pattern == "release_interception":
        return score_release(name, skill, verdict, label.decision or "pass")
    return score_inspection(name, skill, verdict, [f.model_dump() for f in label.findings])
