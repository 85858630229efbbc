"""Spike density: more separate spikes in the window than the reference's own rate of them explains.

The point deviation (``deviation``) asks whether one reading lies beyond anything the reference did;
a series that spikes now and then has done it all before, so spikes coming ten times as often (a
retry storm starting, a flapping backend) pass reading by reading. What is unusual is their rate:

- a spike is a reading far from its neighbours: the residual from the rolling median of
  ``LOCAL_POINTS`` readings around it (a daily cycle or a level shift moves the median with it);
- the spike level is ``MIN_EXCURSION`` robust sigmas of the reference residuals (their MAD, floored at
  ``REL_FLOOR`` of the series' largest value, as the calibration floors a flat series): how common such
  readings are is the rate test's business, so the level only separates spikes from noise (a level at the
  reference's rarest percent would sit inside its spikes when they are more than one reading in a hundred,
  and miss spikes no higher than theirs);
- spikes are counted as separate runs beyond that level (one burst of several readings is one spike,
  and a level shift is the level detector's); the reference gives their rate per reading (with half a
  spike added, so a quiet reference still expects some);
- a Finding when the window holds at least ``MIN_SPIKES`` of them and a Poisson test at the reference's
  rate gives ``p < alpha``. Severity: the count over the smallest count that test would call unusual.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import median_filter
from scipy.stats import poisson

from agent.detectors.calibration import MIN_EXCURSION, reference_spread
from agent.detectors.direction import bad_signs, check_direction
from agent.detectors.emit import make_finding
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "spikes"
LOCAL_POINTS = 5  # a reading is judged against the median of the five around it
MIN_SPIKES = 3  # separate spikes in the window, at least
MIN_REFERENCE = 100  # reference readings needed to know a rate of one in a hundred
ALPHA = 0.001


def local_residuals(values: np.ndarray) -> np.ndarray:
    """Each reading minus the median of the ``LOCAL_POINTS`` readings centred on it."""
    return values - median_filter(values, size=LOCAL_POINTS, mode="nearest")


def count_runs(beyond: np.ndarray) -> int:
    """Separate runs of True: each starts where the previous reading was not beyond."""
    if beyond.size == 0:
        return 0
    return int(beyond[0]) + int(np.count_nonzero(beyond[1:] & ~beyond[:-1]))


def detect_spike_density(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    alpha: float = ALPHA, signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per series whose window ``[baseline_end, end)`` holds more separate spikes than
    its reference ``[start, baseline_end)`` makes likely."""
    direction = check_direction(direction)
    findings = []
    for s in series:
        judged = s.between(start, end)
        in_window = judged.timestamps >= baseline_end
        n_now, n_ref = int(in_window.sum()), int((~in_window).sum())
        if n_now < LOCAL_POINTS or n_ref < max(MIN_REFERENCE, 2 * n_now):
            continue
        values = judged.values.astype(float)
        residuals = local_residuals(values)
        magnitude = float(np.max(np.abs(values)))
        judged_ways = [(sign, found) for sign in bad_signs(direction)
                       if (found := _judge(sign * residuals, in_window, alpha, magnitude)) is not None]
        best = max(judged_ways, key=lambda pair: pair[1][0], default=None)
        if best is None:
            continue
        sign, (excess, p_value, numbers, first) = best
        if p_value >= alpha:
            continue
        onset = float(judged.timestamps[in_window][first])
        findings.append(make_finding(
            FindingKind.ANOMALY, detector=DETECTOR, subject=subject_of(s), service=s.service,
            window=(baseline_end, end), score=combine(saturate(excess), p_confidence(p_value, alpha)),
            metric=s.metric, signal=signal, direction="up" if sign > 0 else "down", onset=onset, source=source,
            summary=(f"{subject_of(s)} {s.metric}: {numbers['spikes']:.0f} separate spikes "
                     f"{'up' if sign > 0 else 'down'} in the window where the reference's rate expects "
                     f"{numbers['expected']:.1f} (from {fmt_time(onset)})"),
            numbers={**numbers, "excess": excess, "p_value": p_value},
        ))
    return findings


def _judge(bad: np.ndarray, in_window: np.ndarray, alpha: float,
           magnitude: float) -> tuple[float, float, dict[str, float], int] | None:
    """(excess, p-value, numbers, index of the first spike in the window) for residuals signed the bad way, of a
    series whose largest |value| is ``magnitude`` (the floor of their spread, as ``calibration`` floors it)."""
    reference, now = bad[~in_window], bad[in_window]
    _, spread = reference_spread(reference, magnitude)
    level = MIN_EXCURSION * spread
    beyond = now > level
    spikes = count_runs(beyond)
    if spikes < MIN_SPIKES:
        return None
    rate = (count_runs(reference > level) + 0.5) / reference.size
    expected = rate * now.size
    p_value = float(poisson.sf(spikes - 1, expected))
    unusual = float(poisson.isf(alpha, expected)) + 1.0  # the least count the test calls unusual
    numbers = {"spikes": float(spikes), "expected": expected, "spike_level": level}
    return spikes / max(unusual, MIN_SPIKES), p_value, numbers, int(np.argmax(beyond))
