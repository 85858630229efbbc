"""What the right answer to a stored case is, and whether a verdict gives it.

The truth of a case is its engineer's latest correction when it has one, else the ``label.yaml`` of
the bundle it was run on. Self-evolution judges a little more strictly than ``bianque eval``: when the
truth names a fault kind, the top root cause must name it too (a correction saying "right service,
wrong fault" must be fixable and checkable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bundles.label import GroundTruth, load_label
from agent.memory.records import CaseRecord, CorrectionRecord
from agent.scoring import score_inspection
from agent.verdict import Verdict


@dataclass(frozen=True)
class Truth:
    """The right answer to one case: what the pattern's verdict should have said."""

    pattern: str
    source: str
    service: str | None = None
    fault: str | None = None
    needs_attention: bool | None = None
    decision: str | None = None
    findings: list[dict[str, str]] = field(default_factory=list)
    note: str = ""

    def describe(self) -> str:
        """The truth in a few words."""
        if self.pattern == "release_interception":
            return f"decision {self.decision}"
        if self.pattern == "inspection":
            if not self.findings:
                return "nothing worth reporting"
            return ", ".join(f"{f['service']}/{f['kind']}" for f in self.findings)
        if self.needs_attention is False:
            return "no attention needed (noise)"
        cause = "/".join(p for p in (self.service, self.fault) if p)
        return f"root cause {cause}" if cause else "needs attention"


@dataclass(frozen=True)
class Judgement:
    """Whether a verdict gives the truth, and why (or why not)."""

    passed: bool
    detail: str


def _from_verdict(pattern: str, verdict: Verdict | None) -> dict[str, Any]:
    """What the verdict itself said, in truth fields (a correction marking it right endorses it)."""
    if verdict is None:
        return {}
    top = verdict.root_causes[0] if verdict.root_causes else None
    values: dict[str, Any] = {"needs_attention": verdict.needs_attention, "decision": verdict.decision}
    if top is not None:
        values.update(service=top.service, fault=top.fault)
    if pattern == "inspection":
        severe = [i for i in verdict.items if i.severity in ("critical", "warning")]
        values["findings"] = [{"service": i.service, "kind": i.kind} for i in severe]
    return values


def case_skill(case: CaseRecord) -> str | None:
    """The Skill that answered a case: the case's record, else its evidence pack's."""
    return case.skill or (case.evidence.skill if case.evidence is not None else None)


def truth_from_correction(case: CaseRecord, correction: CorrectionRecord) -> Truth:
    """The truth a correction states; a correction marking the verdict right endorses the verdict."""
    return corrected_truth(case.pattern, case.verdict, correction)


def corrected_truth(pattern: str, verdict: Verdict | None, correction: CorrectionRecord) -> Truth:
    """The truth ``correction`` states of a case of ``pattern`` its verdict answered (:func:`truth_from_correction`)."""
    given = {
        "service": correction.root_cause_service,
        "fault": correction.root_cause_fault,
        "needs_attention": correction.needs_attention,
        "decision": correction.decision,
    }
    values = _from_verdict(pattern, verdict) if correction.correct else {}
    values.update({k: v for k, v in given.items() if v is not None})
    if pattern == "rca" and values.get("needs_attention") is None and values.get("service"):
        values["needs_attention"] = True  # naming a root cause says the alert was actionable
    # an inspection's findings are the verdict's only when it is endorsed as it is: a service given, a
    # wrong answer, or "nothing needed attention" (even with --right) states them
    stated = given["service"] or not correction.correct or given["needs_attention"] is False
    if pattern == "inspection" and stated:
        values["findings"] = (
            [{"service": given["service"], "kind": given["fault"] or ""}] if given["service"] else []
        )
    if pattern == "release_interception" and values.get("decision") is None:
        values["decision"] = "pass"
    return Truth(
        pattern=pattern,
        source=f"correction {correction.id}",
        service=values.get("service"),
        fault=values.get("fault"),
        needs_attention=values.get("needs_attention"),
        decision=values.get("decision"),
        findings=list(values.get("findings") or []),
        note=correction.note,
    )


def truth_from_label(pattern: str, label: GroundTruth, source: str = "label.yaml") -> Truth:
    """The truth of a bundle's label."""
    primary = label.primary
    return Truth(
        pattern=pattern,
        source=source,
        service=primary.service if primary and not label.noise else None,
        fault=primary.fault if primary and not label.noise else None,
        needs_attention=(not label.noise) if pattern == "rca" else None,
        decision=(label.decision or "pass") if pattern == "release_interception" else None,
        findings=[{"service": f.service, "kind": f.kind} for f in label.findings],
    )


def truth_for_case(case: CaseRecord) -> Truth | None:
    """The case's truth: its latest correction, else its bundle's label; None when it has neither.

    A missing or unreadable bundle (moved, deleted, invalid label.yaml) simply has no label truth.
    """
    correction = case.latest_correction
    if correction is not None:
        return truth_from_correction(case, correction)
    if not case.bundle_path or not Path(case.bundle_path).is_dir():
        return None
    try:
        label = load_label(case.bundle_path)
    except ValueError:
        return None
    return truth_from_label(case.pattern, label) if label is not None else None


FaultMatch = Callable[[str | None, str | None], bool]


def _equal(said: str | None, truth: str | None) -> bool:
    return said == truth


def _judge_rca(verdict: Verdict, truth: Truth, same_fault: FaultMatch = _equal) -> Judgement:
    attention = bool(verdict.needs_attention)
    if truth.needs_attention is False:
        return Judgement(not attention, "noise silenced" if not attention else "noise flagged as needing attention")
    if not attention:
        return Judgement(False, "MISSED: judged as needing no attention")
    top = verdict.root_causes[0] if verdict.root_causes else None
    said = f"{top.service}/{top.fault}" if top else "no root cause"
    if truth.service and (top is None or top.service != truth.service):
        return Judgement(False, f"top cause {said}, truth {truth.describe()}")
    if truth.fault and (top is None or not same_fault(top.fault, truth.fault)):
        return Judgement(False, f"top cause {said}, truth {truth.describe()}")
    if top is not None and truth.fault and top.fault != truth.fault:  # matched through the team's vocabulary
        return Judgement(True, f"top cause {said}, counted as {truth.fault}: the fault kinds corrections taught "
                               "(`bianque knowledge kinds`)")
    return Judgement(True, f"top cause {said}")


def judge(verdict: Verdict | None, truth: Truth, same_fault: FaultMatch | None = None) -> Judgement:
    """Does ``verdict`` give ``truth``? RCA: attention and, when named, top service and fault kind;
    release: the decision; inspection: every expected finding at warning or above, no false alarm.

    ``same_fault`` compares fault kinds (default: equal names; replay passes the learned vocabulary's
    :meth:`agent.reasoners.lessons.Vocabulary.same`)."""
    if verdict is None:
        return Judgement(False, "no verdict (the case failed)")
    if truth.pattern == "release_interception":
        decision = verdict.decision or "pass"
        return Judgement(decision == truth.decision, f"{decision} (truth {truth.decision})")
    if truth.pattern == "inspection":
        score = score_inspection("", "", verdict, truth.findings)
        return Judgement(score.passed, score.detail)
    return _judge_rca(verdict, truth, same_fault or _equal)
