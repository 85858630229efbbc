"""Daily level shift: the inspected window against the same hours a day earlier.

The level shift (``level``) judges the window's level against every level the reference held. A
series with a daily cycle ranges over its whole cycle every day, so a window that sits at the
wrong level *for its hour* (traffic at its night level at noon, a plateau where the day peaks) is
inside that range and passes. What is unusual there is the difference from the same hours a day
before. This detector judges that difference with the level shift's own scan statistic:

- the day-to-day difference ``d(t) = x(t) - x(t - 1 day)`` for every sample whose counterpart a day
  earlier lies within a sample of a recorded one (no difference across a gap);
- its reference is the differences over the reference window (a day of them with two days of
  history), calibrated like any series (``calibration``): how much this series normally differs from
  one day to the next, and the most extreme level such a difference held for as long as the window; the
  spread's relative floor is taken of the series' own largest |value| (a success ratio at exactly 100 % every
  day that is 99.99 % today differs by a hundredth of a percent, not by infinitely many sigmas);
- a Finding when the window's differences hold a level strictly beyond that, with the same
  two-sample test and score as ``level``, and farther from no difference at all than any difference the
  reference held as long: with two days of history the reference holds a single change of day, so days
  that differ by a level of their own (a quieter Sunday) centre the differences away from zero, and a
  window that differs from yesterday by less than yesterday did from the day before is no anomaly.

A series that changes from day to day in its own way (traffic that is lower on some days) has a
wide reference of differences and needs more; a series that repeats itself needs little.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agent.detectors.calibration import Calibration
from agent.detectors.direction import check_direction
from agent.detectors.level import ALPHA, Level, first_held, level_finding, strongest_level
from agent.detectors.wording import fmt_of, fmt_time, subject_of
from agent.findings import Finding
from agent.series import Series, sample_step

DETECTOR = "seasonal"
PERIOD_S = 86400.0  # a day: the cycle two days of reference can show twice


def day_differences(series: Series, start: float, end: float, period: float = PERIOD_S) -> Series:
    """``x(t) - x(t - period)`` for the samples in ``[start, end)`` whose time a period earlier lies within
    one sampling interval of a recorded sample (interpolated between its neighbours)."""
    ts, values = series.timestamps, series.values
    inside = (ts >= start) & (ts < end) & (ts - period >= (ts[0] if ts.size else 0.0))
    if not inside.any():
        return Series(series.metric, series.labels, ts[:0], values[:0])
    step = sample_step([series])
    back = ts[inside] - period
    after = np.clip(np.searchsorted(ts, back), 0, ts.size - 1)
    before = np.clip(after - 1, 0, ts.size - 1)
    nearest = np.minimum(np.abs(ts[after] - back), np.abs(ts[before] - back))
    recorded = nearest <= step
    earlier = np.interp(back, ts, values)
    return Series(series.metric, series.labels, ts[inside][recorded], (values[inside] - earlier)[recorded])


def detect_daily_shift(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    alpha: float = ALPHA, period: float = PERIOD_S, signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per series whose difference from the same hours ``period`` earlier, over
    ``[baseline_end, end)``, holds a level beyond every level the reference's day-to-day differences held
    over as many consecutive points."""
    direction = check_direction(direction)
    findings = []
    for s in series:
        diffs = day_differences(s, start + period, end, period)
        # window points are compared with the reference a day before them, never with the window itself
        base, now = diffs.between(start, baseline_end), diffs.between(baseline_end, min(end, baseline_end + period))
        if not len(now):
            continue
        size = float(np.max(np.abs(s.between(start, end).values)))  # the spread's floor: the series', not its diffs'
        judged = strongest_level(base.values, now.values, direction, alpha, magnitude=size)
        if judged is None or not _beyond_usual_change(base.values, now.values):
            continue
        findings.append(_finding(s, now, *judged, alpha, (baseline_end, end), period, signal, source))
    return findings


def _beyond_usual_change(reference: np.ndarray, current: np.ndarray) -> bool:
    """The window's median difference is farther from zero than the median difference of any stretch of the
    reference as long."""
    held = np.median(sliding_window_view(reference, current.size), axis=1)
    return abs(float(np.median(current))) > float(np.max(np.abs(held)))


def _finding(s: Series, diffs: Series, calibration: Calibration, found: Level, alpha: float,
             window: tuple[float, float], period: float, signal: str | None, source: str) -> Finding:
    """The Finding for one series off its daily pattern; onset is the window's first difference beyond the
    reference's level excursion (beyond its centre, if none is beyond on its own) from where it is held
    (``level.first_held``)."""
    now = s.between(*window)
    current = float(np.median(now.values)) if len(now) else float("nan")
    shift = float(np.median(diffs.values))
    z = calibration.toward("up" if found.sign > 0 else "down").z(diffs.values)
    beyond = z > found.excursion
    onset = float(diffs.timestamps[first_held(beyond if beyond.any() else z > 0)])
    way = "above" if shift >= 0 else "below"
    summary = (f"{subject_of(s)} {s.metric} held {fmt_of(s, current)} over the window, "
               f"{fmt_of(s, abs(shift))} {way} the same hours a day before: {found.excess:.1f}x "
               f"beyond any day-to-day difference the reference held as long (from {fmt_time(onset)})")
    return level_finding(s, found, alpha, window, onset, detector=DETECTOR, signal=signal, source=source,
                         summary=summary, numbers={"post_median": current, "daily_difference": shift,
                                                   "period_s": period})
