"""Fixed thresholds: a sustained breach of a limit, not a spike and not a blip in the newest point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.detectors.direction import check_direction
from agent.detectors.emit import make_finding
from agent.detectors.persistence import sustained
from agent.detectors.scoring import combine, saturate
from agent.detectors.wording import fmt_of, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "threshold"
EXCESS_UNIT = 0.1  # a median excess of 10 % of the threshold is "clearly over"


def detect_threshold(
    series: Sequence[Series],
    *,
    threshold: float,
    start: float,
    end: float,
    direction: str = "up",
    last_n: int = 10,
    min_fraction: float = 0.6,
    ignore_last: int = 1,
    min_count: int = 3,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``threshold_breach`` Finding per series over (``up``) / under (``down``) ``threshold``.

    A breach must hold for ``min_fraction`` (and at least ``min_count``) of the last ``last_n``
    points of ``[start, end)``, the newest ``ignore_last`` points left out. Score: severity
    0.5 at the limit rising with the median excess (relative to the threshold, 10 % -> 0.75),
    times the breaching fraction.
    """
    sign = 1 if check_direction(direction, allow_both=False) == "up" else -1
    findings: list[Finding] = []
    for s in series:
        now = s.between(start, end)
        if not len(now):
            continue
        over = sign * (now.values - threshold) > 0
        held = sustained(over, last_n=last_n, min_fraction=min_fraction, ignore_last=ignore_last, min_count=min_count)
        if not held.held:
            continue
        recent = now.values[max(0, now.values.size - ignore_last - last_n) : now.values.size - ignore_last]
        breaching = recent[sign * (recent - threshold) > 0]
        worst = float(np.median(breaching))
        excess = abs(worst - threshold) / max(abs(threshold), 1e-12)
        severity = 0.5 + 0.5 * saturate(excess / EXCESS_UNIT)
        onset = float(now.timestamps[held.run_start]) if held.run_start is not None else None
        who = subject_of(s)
        summary = (
            f"{who} {s.metric} {fmt_of(s, worst)} {'over' if sign > 0 else 'under'} the "
            f"{fmt_of(s, threshold)} threshold in {held.count}/{held.considered} recent points, "
            f"since {fmt_time(onset)}"
        )
        findings.append(make_finding(
            FindingKind.THRESHOLD_BREACH, detector=DETECTOR, subject=who, service=s.service,
            window=(start, end), score=combine(severity, held.fraction), summary=summary,
            numbers={
                "threshold": threshold, "median_breach": worst, "excess": excess, "breach_fraction": held.fraction,
                "breach_points": float(held.count), "last_value": float(now.values[-1]),
            },
            metric=s.metric, signal=signal, direction="up" if sign > 0 else "down", onset=onset, source=source,
        ))
    return findings
