"""Change correlation: deploys, config pushes, flag flips and canaries shortly before an anomaly onset."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from agent.detectors.emit import make_finding
from agent.detectors.wording import fmt_duration, fmt_time, untrusted
from agent.findings import Finding, FindingKind
from agent.series import ChangeRecord

DETECTOR = "changes"
TYPE_WEIGHT = {"deploy": 1.0, "config": 1.0, "flag": 1.0, "canary": 1.0, "rollback": 0.5}


def earliest_onsets(findings: Sequence[Finding], min_score: float = 0.35) -> dict[str, float]:
    """The earliest onset per service among Findings scoring at least ``min_score`` (change Findings excluded)."""
    onsets: dict[str, float] = {}
    for f in findings:
        if f.service and f.onset is not None and f.score >= min_score and f.kind != FindingKind.CHANGE_NEAR_ONSET:
            onsets[f.service] = min(f.onset, onsets.get(f.service, math.inf))
    return onsets


def detect_change_proximity(
    changes: Sequence[ChangeRecord],
    onsets: Mapping[str, float],
    *,
    max_gap: float = 1800.0,
    lead: float = 60.0,
    dependencies: Mapping[str, Sequence[str]] | None = None,
    dependency_weight: float = 0.6,
    source: str = "",
) -> list[Finding]:
    """One ``change_near_onset`` Finding per change that landed shortly before an anomaly it may explain.

    ``onsets`` maps a service to its anomaly onset (see ``earliest_onsets``). A change on service C
    relates to the onset of C itself and of every service that depends on C (``dependencies``:
    service -> the services it calls). The gap ``onset - change`` must lie in ``[-lead, max_gap]``
    (``lead`` absorbs sampling jitter). Score: ``exp(-gap / (max_gap / 3))`` x (1 for C itself,
    ``dependency_weight`` for a caller) x type weight (rollback 0.5); the best related onset is kept. A caller's
    onset that a change of its own explains at least as well (as scored here) is not related to a dependency's
    change: the simpler explanation stands. The Finding is about the changed service: the root-cause candidate.
    """
    if max_gap <= 0:
        raise ValueError(f"max_gap must be positive, got {max_gap!r}")
    callers: dict[str, list[str]] = {}
    for service, deps in (dependencies or {}).items():
        for dep in deps:
            callers.setdefault(dep, []).append(service)
    tau = max_gap / 3.0

    def relation(change: ChangeRecord, affected: str) -> float | None:
        onset = onsets.get(affected)
        if onset is None or not -lead <= onset - change.ts <= max_gap:
            return None
        weight = 1.0 if affected == change.service else dependency_weight
        return math.exp(-max(0.0, onset - change.ts) / tau) * weight * TYPE_WEIGHT.get(change.type, 1.0)

    own: dict[str, float] = {}  # how well each service's own changes explain its own onset
    for change in changes:
        if (score := relation(change, change.service)) is not None:
            own[change.service] = max(score, own.get(change.service, 0.0))
    findings: list[Finding] = []
    for change in sorted(changes, key=lambda c: (c.ts, c.id)):
        best: tuple[float, str, float] | None = None
        for affected in [change.service, *callers.get(change.service, [])]:
            score = relation(change, affected)
            if score is None or (affected != change.service and own.get(affected, 0.0) >= score):
                continue  # a caller whose own change explains its onset at least as well
            if best is None or score > best[0]:
                best = (score, affected, onsets[affected])
        if best is not None:
            findings.append(_finding(change, *best, source=source))
    return findings


def _finding(change: ChangeRecord, score: float, affected: str, onset: float, *, source: str) -> Finding:
    gap = onset - change.ts
    when = f"{fmt_duration(gap)} before" if gap >= 0 else f"{fmt_duration(-gap)} after"
    what = f"{change.type} {change.id}" + (f" ({change.version})" if change.version else "")
    where = "" if affected == change.service else f" of its caller {affected}"
    summary = f"{what} on {change.service} {when} the anomaly onset{where} at {fmt_time(onset)}"
    if change.description:
        summary += f": {untrusted(change.description, 80)}"
    return make_finding(
        FindingKind.CHANGE_NEAR_ONSET, detector=DETECTOR, subject=change.service, service=change.service,
        window=(min(change.ts, onset), max(change.ts, onset)), score=round(min(1.0, score), 4), summary=summary,
        numbers={
            "gap_s": gap, "change_ts": change.ts, "anomaly_onset": onset,
            "same_service": float(affected == change.service),
        },
        source=source,
    )
