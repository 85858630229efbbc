"""Weak deviation: how far each series strays from its baseline, for ranking when nothing is clear-cut.

The onset detector reports only persistent, clear anomalies. When a fault barely shows in metrics
(a few points, a noisy signal) the services still differ in how far they stray from normal; this
detector keeps that information as Findings scored by the calibrated excess of the most extreme
point (see ``calibration``), capped at ``max_score``: by default low (``WEAK_SCORE``), so rankings
have something to order by without any of them passing a decision rule meant for clear evidence.
An inspection, which asks whether anything is off at all, lifts the cap: a point far beyond
anything the reference ever did is worth reporting even when it does not last, provided the reference is
long enough for that to mean something (``LONE_PEAK_CHANCE``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agent.detectors.calibration import calibrate, reference_missed
from agent.detectors.emit import make_finding
from agent.detectors.robust import relative_change
from agent.detectors.scoring import saturate
from agent.detectors.wording import fmt_of, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series, sample_step

WEAK_SCORE = 0.3
MIN_EXCESS = 1.0  # at least as far out as the reference itself goes (3 sigmas on a quiet series)
# Were nothing different now, the most extreme of all reference and window points would lie in the window with
# chance window / (reference + window), however far out it is: a lone peak beyond a reference not at least
# three times the window's length is no rarer than that, and keeps the weak cap.
LONE_PEAK_CHANCE = 0.25


def detect_deviation(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    max_score: float = WEAK_SCORE, min_effect: float = 0.0, set_aside_episodes: bool = False,
    signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per series whose most extreme point after the baseline is unusual for it and
    differs from the baseline by at least ``min_effect`` (relative), as an onset must."""
    findings = []
    for s in series:
        base, now = s.between(start, baseline_end), s.between(baseline_end, end)
        if len(now) == 0:
            continue
        calibration = calibrate(base.values, now.values, direction, set_aside_episodes=set_aside_episodes,
                                missed=reference_missed(base, now, sample_step([s])))
        if calibration is None:
            continue
        excess = calibration.excess(now.values)
        peak = int(np.argmax(excess))
        value, center = float(now.values[peak]), calibration.center
        if excess[peak] < MIN_EXCESS or abs(relative_change(value, center)) < min_effect:
            continue
        chance = len(now) / (len(now) + len(base))
        cap = max_score if chance <= LONE_PEAK_CHANCE else min(max_score, WEAK_SCORE)
        score = round(min(cap, saturate(float(excess[peak]))), 4)
        z = float(excess[peak]) * calibration.excursion
        short = (f"; a reference of {len(base)} points beside {len(now)} is too short to call one point rare"
                 if cap < max_score else "")
        findings.append(make_finding(
            FindingKind.ANOMALY, detector="deviation", subject=subject_of(s), service=s.service,
            window=(baseline_end, end), score=score, metric=s.metric, signal=signal,
            direction="up" if value >= center else "down", onset=float(now.timestamps[peak]), source=source,
            summary=(f"{subject_of(s)} {s.metric} peaked at {fmt_of(s, value)} vs "
                     f"{fmt_of(s, center)} baseline ({z:.1f} robust sigmas, "
                     f"{float(excess[peak]):.1f}x its usual excursion, not persistent){short}"),
            numbers={"baseline_median": center, "baseline_scale": calibration.scale, "peak": value,
                     "robust_z": z, "excess": float(excess[peak]), "excursion": calibration.excursion,
                     "tail": calibration.tail(), "peak_chance": round(chance, 4)},
        ))
    return findings


def among_many(finding: Finding, series_judged: int) -> Finding:
    """A ``deviation`` Finding re-scored as one of ``series_judged`` series an inspection judged together.

    Each series' peak beyond its reference's 99th percentile is a 1 % event per series: among 50 series one
    is expected by chance. The bar is raised to where the tail (``Calibration.tail``, an exponential tail)
    puts a 1 % chance for the family: ``excursion + tail x ln(series_judged)`` robust sigmas, so 0.5 (a
    warning in an inspection) keeps meaning "beyond what normal noise reaches". One series: unchanged.
    """
    numbers = finding.numbers
    if finding.detector != "deviation" or series_judged <= 1 or "tail" not in numbers:
        return finding
    bar = numbers["excursion"] + numbers["tail"] * math.log(series_judged)
    excess = numbers["robust_z"] / bar
    score = round(min(finding.score, saturate(excess)), 4)
    return finding.model_copy(update={
        "score": score,
        "numbers": {**numbers, "family_excess": round(excess, 4), "series_judged": float(series_judged)},
        "summary": f"{finding.summary}; {excess:.1f}x what the most extreme of {series_judged} normal series "
                   f"would reach",
    })
