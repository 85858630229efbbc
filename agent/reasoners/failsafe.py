"""Could not judge: the fail-safe verdict when the gathered data cannot answer the question.

No data is never "no problem": an alert then needs attention, a change is held, an inspection is
not a clean bill of health. ``judged`` is False on these verdicts, whichever reasoner answered.
"""

from __future__ import annotations

from agent.events import Pattern
from agent.evidence import EvidencePack
from agent.findings import Finding, could_not_judge
from agent.timeparse import to_rfc3339
from agent.verdict import Verdict

CHECK_SOURCES = "check that a metric source is configured (BIANQUE_PROMETHEUS_URL) and holds the Skill's metrics"


def fail_safe_verdict(pack: EvidencePack, gap: Finding) -> Verdict:
    """The could-not-judge verdict for ``pack``'s pattern, citing the coverage Finding ``gap``."""
    pattern = pack.event.pattern
    if pattern == Pattern.RCA:
        reason = f"could not judge: {gap.summary}; treat the alert as needing attention"
        return Verdict(
            pattern="rca", summary=f"Could not judge: {gap.summary}. Treat the alert as needing attention.",
            needs_attention=True, attention_reason=reason, evidence=[gap.id], judged=False, confidence=0.0,
            actions=["look at the alert by hand: the data could neither confirm nor clear it", CHECK_SOURCES],
        )
    if pattern == Pattern.RELEASE_INTERCEPTION:
        ready = gap.numbers.get("ready_at")
        wait = f"judge again after {to_rfc3339(ready)}" if ready is not None else CHECK_SOURCES
        judge = "could not judge yet" if ready is not None else "could not judge"
        return Verdict(
            pattern="release_interception", summary=f"Hold: {judge}: {gap.summary}.", decision="hold",
            evidence=[gap.id], judged=False, confidence=0.0,
            actions=["keep the change at its current stage (no wider rollout)", wait],
        )
    return Verdict(
        pattern="inspection", summary=f"Could not judge: {gap.summary}. This is not a clean bill of health.",
        evidence=[gap.id], judged=False, confidence=0.0, actions=[CHECK_SOURCES],
    )


def enforce_fail_safe(verdict: Verdict, pack: EvidencePack) -> Verdict:
    """``verdict`` as it is, unless ``pack`` says the data could not answer: then the fail-safe verdict."""
    gap = could_not_judge(pack.findings)
    if gap is None:
        return verdict
    return fail_safe_verdict(pack, gap).model_copy(update={"reasoner": verdict.reasoner})
