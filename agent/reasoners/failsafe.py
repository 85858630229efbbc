"""Could not judge: the fail-safe verdict when the gathered data cannot answer the question.

No data is never "no problem": an alert then needs attention, a change is held, an inspection is
not a clean bill of health. ``judged`` is False on these verdicts, whichever reasoner answered.
A history too short to know what normal is (a ``thin_reference`` caveat), or log lines with none of the
Skill's metric series (``logs_only``), can show a fault but not clear one: a verdict that would clear the
alert or the system becomes the fail-safe verdict too.
"""

from __future__ import annotations

from agent.events import Pattern
from agent.evidence import EvidencePack
from agent.findings import (
    ABSENT_SERVICE_LABEL,
    THIN_REFERENCE_DETECTOR,
    UNKNOWN_CHANGE,
    UNMATCHED_METRICS,
    Finding,
    cannot_clear,
    could_not_judge,
)
from agent.phrases import CATALOG, VALIDATE_AGAINST_BUNDLE
from agent.timeparse import to_rfc3339
from agent.verdict import SERIOUS, Verdict

CHECK_SOURCES = "check that a metric source is configured (BIANQUE_PROMETHEUS_URL) and holds the Skill's metrics"
CHECK_METRICS = (f"check the Skill's metric names and labels against what the metric source holds ({CATALOG} lists it; "
                 f"{VALIDATE_AGAINST_BUNDLE} names the signals that match nothing)")
CHECK_SERVICE_LABEL = ("set BIANQUE_SERVICE_LABEL to the label that names a series' service on the metric server "
                       "(the missing data lists the labels its series carry)")
CHECK_SELECTORS = "check the change's canary and baseline selectors against the labels its service's metrics carry"
CHECK_CHANGE = ("name the change's service in the event (change.service), or log the change with its id where the "
                "gate reads changes (the bundle's changes.jsonl, the change store)")
WAIT_FOR_HISTORY = "judge again once the data reaches further back before the incident (5 samples or more)"


def fail_safe_verdict(pack: EvidencePack, gap: Finding) -> Verdict:
    """The could-not-judge verdict for ``pack``'s pattern, citing the coverage Finding ``gap``."""
    pattern = pack.event.pattern
    short_history = gap.detector == THIN_REFERENCE_DETECTOR or "reference_samples" in gap.numbers
    sources = CHECK_METRICS if gap.numbers.get(UNMATCHED_METRICS) else _check_source(gap)  # answered empty: names
    if gap.numbers.get(ABSENT_SERVICE_LABEL):
        sources = CHECK_SERVICE_LABEL
    check = WAIT_FOR_HISTORY if short_history else sources
    if pattern == Pattern.RCA:
        what = "the alert" if pack.event.alert is not None else "it"  # a question (the chat, POST /ask) has no alert
        reason = f"could not judge: {gap.summary}; treat {what} as needing attention"
        return Verdict(
            pattern="rca", summary=f"Could not judge: {gap.summary}. Treat {what} as needing attention.",
            needs_attention=True, attention_reason=reason, evidence=[gap.id], judged=False, confidence=0.0,
            actions=[f"look at {what} by hand: the data could neither confirm nor clear it", check],
        )
    if pattern == Pattern.RELEASE_INTERCEPTION:
        ready = gap.numbers.get("ready_at")
        wait = _judge_again(gap) if ready is not None else sources
        if gap.numbers.get("unmatched_selectors"):
            wait = CHECK_SELECTORS
        if gap.numbers.get(UNKNOWN_CHANGE):
            wait = CHECK_CHANGE
        judge = "could not judge yet" if ready is not None else "could not judge"
        return Verdict(
            pattern="release_interception", summary=f"Hold: {judge}: {gap.summary}.", decision="hold",
            evidence=[gap.id], judged=False, confidence=0.0,
            actions=["keep the change at its current stage (no wider rollout)", wait],
        )
    return Verdict(
        pattern="inspection", summary=f"Could not judge: {gap.summary}. This is not a clean bill of health.",
        evidence=[gap.id], judged=False, confidence=0.0, actions=[check],
    )


def _check_source(gap: Finding) -> str:
    """What to check when the metric source brought nothing (or failed): the one the data came from (the
    coverage Finding's ``source``: the bundle's metrics.csv, the server of the settings), else configuring one."""
    if not gap.source:
        return CHECK_SOURCES
    return f"check that {gap.source} holds the Skill's metrics in the judged window ({CATALOG} lists it)"


def _judge_again(gap: Finding) -> str:
    """When to judge a change held for too little data again: at ``ready_at``, or, when that time has passed by the
    judgement (the data has a gap: the samples that should have come did not), once the missing samples have come."""
    ready = gap.numbers["ready_at"]
    missing = gap.numbers.get("missing_samples")
    if ready > gap.window_end or missing is None:
        return f"judge again after {to_rfc3339(ready)}"
    return f"judge again when {int(missing)} more sample(s) have come"


def enforce_fail_safe(verdict: Verdict, pack: EvidencePack) -> Verdict:
    """``verdict`` as it is, unless ``pack`` says the data could not answer, or a caveat (``cannot_clear``: too short a
    history, logs without metrics) says it cannot give the all-clear ``verdict`` gives: then the fail-safe verdict."""
    gap = could_not_judge(pack.findings)
    if gap is None and clears(verdict):
        gap = cannot_clear(pack.findings)
    if gap is None:
        return verdict
    return fail_safe_verdict(pack, gap).model_copy(update={"reasoner": verdict.reasoner})


def fail_safe_over(reasoner: str) -> str:
    """What decided a verdict the fail-safe rule gave in place of ``reasoner``'s own answer (a model's: its verdict is
    kept apart, in its run's ``verdict``)."""
    return f"fail-safe over {reasoner}"


def clears(verdict: Verdict) -> bool:
    """The verdict gives an all-clear: an alert needing no attention, an inspection with nothing at warning
    or worse (a release's decision is judged on the change's own data, see ``coverage``)."""
    if verdict.pattern == "rca":
        return not verdict.needs_attention
    if verdict.pattern == "inspection":
        return verdict.inspection_level() not in SERIOUS
    return False
