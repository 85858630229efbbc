"""Weak deviation: how far each series strays from its baseline, for ranking when nothing is clear-cut.

The onset detector reports only persistent, clear anomalies. When a fault barely shows in metrics
(a few points, a noisy signal) the services still differ in how far they stray from normal; this
detector keeps that information as low-scored Findings (never above ``MAX_SCORE``), so rankings
have something to order by without any of them passing a decision rule meant for clear evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.detectors.emit import make_finding
from agent.detectors.robust import robust_center_scale
from agent.detectors.scoring import saturate
from agent.detectors.wording import fmt_value, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

MAX_SCORE = 0.3
MIN_Z = 3.0
MIN_BASELINE = 3


def detect_deviation(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One weak ``anomaly`` Finding per series whose largest post-baseline robust z is at least ``MIN_Z``."""
    findings = []
    for s in series:
        base = s.between(start, baseline_end).values
        now = s.between(baseline_end, end)
        if base.size < MIN_BASELINE or len(now) == 0:
            continue
        center, scale = robust_center_scale(base)
        z = (now.values - center) / scale
        bad = z if direction == "up" else -z if direction == "down" else np.abs(z)
        peak = int(np.argmax(bad))
        if bad[peak] < MIN_Z:
            continue
        score = round(MAX_SCORE * saturate(float(bad[peak]) / (2 * MIN_Z)), 4)
        value = float(now.values[peak])
        findings.append(make_finding(
            FindingKind.ANOMALY, detector="deviation", subject=subject_of(s), service=s.service,
            window=(baseline_end, end), score=score, metric=s.metric, signal=signal,
            direction="up" if value >= center else "down", onset=float(now.timestamps[peak]), source=source,
            summary=(f"{subject_of(s)} {s.metric} peaked at {fmt_value(s.metric, value)} vs "
                     f"{fmt_value(s.metric, center)} baseline ({float(bad[peak]):.1f} robust sigmas, not persistent)"),
            numbers={"baseline_median": center, "baseline_scale": scale, "peak": value, "robust_z": float(bad[peak])},
        ))
    return findings
