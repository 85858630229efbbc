"""Steady growth towards a limit (memory leaks, filling disks): robust slope, fit quality, time to limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import theilslopes

from agent.detectors.direction import bad_signs
from agent.detectors.emit import make_finding
from agent.detectors.scoring import combine, saturate
from agent.detectors.wording import fmt_duration, fmt_of, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series, sample_step

DETECTOR = "trend"
MIN_POINTS = 10
SEASONAL_PERIOD_S = 86400.0  # a trend the same hours a day earlier showed too is the daily cycle
SEASONAL_MIN_SHARE = 0.25  # of the fitted span, held a day earlier, to compare the same hours with


@dataclass(frozen=True)
class Fit:
    """A Theil-Sen line through a window (slope per second) and how well it explains the points."""

    slope: float
    level_end: float  # the line's value at the window's last timestamp
    r2: float
    t_end: float


def robust_fit(ts: np.ndarray, values: np.ndarray) -> Fit:
    """Theil-Sen slope and intercept, and R^2 of that line (1 - SS_res / SS_tot, 0 for a flat series)."""
    t = ts - ts[0]
    slope, intercept, _, _ = theilslopes(values, t)
    residual = values - (intercept + slope * t)
    total = float(np.sum((values - values.mean()) ** 2))
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0
    return Fit(float(slope), float(intercept + slope * t[-1]), r2, float(ts[-1]))


def detect_trend(
    series: Sequence[Series],
    *,
    start: float,
    end: float,
    direction: str = "up",
    limit: float | None = None,
    horizon: float = 86400.0,
    min_growth: float = 0.5,
    min_r2: float = 0.7,
    seasonal_offsets: Sequence[float] = (SEASONAL_PERIOD_S,),
    beyond_before: float | None = None,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``trend`` Finding per series growing steadily (``up``; ``down`` for e.g. free space) in ``[start, end)``.

    The Theil-Sen line must explain the points (``R^2 >= min_r2``). With a ``limit`` (1.0 for a
    usage ratio, a memory limit in bytes), it fires when the line reaches the limit within
    ``horizon``; severity ``1 / (1 + time_to_limit / (horizon / 4))``. Without one, it fires when
    the line grows by ``min_growth`` of its current level within ``horizon``; severity
    ``saturate(growth / min_growth)``. A trend also present in the same window ``seasonal_offsets``
    earlier (when the series holds that data, or at least a quarter of it: ``_seasonal``) is a daily cycle and does not
    fire. With ``beyond_before``, a
    trend fires only when the line's level already lies beyond every value the series had before that time
    (for a metric whose meaning is unknown: a daily ramp climbs to levels its reference days knew, a leak
    does not). Confidence rises from 0.5 at ``min_r2`` to 1 at a perfect fit.
    """
    findings: list[Finding] = []
    for s in series:
        best = _recent_fit(s, start, end)
        if best is None:
            continue
        now, fit = best
        sign = 1 if fit.slope > 0 else -1
        if fit.slope == 0 or sign not in bad_signs(direction) or fit.r2 < min_r2:
            continue
        if _seasonal(s, now, fit, seasonal_offsets, min_r2) or not _beyond(s, fit, sign, beyond_before):
            continue
        judged = _severity(fit, limit, horizon, min_growth)
        if judged is None:
            continue
        severity, numbers, text = judged
        confidence = 0.5 + 0.5 * (fit.r2 - min_r2) / max(1e-9, 1.0 - min_r2)
        who = subject_of(s)
        per_hour = fit.slope * 3600
        summary = (
            f"{who} {s.metric} at {fmt_of(s, fit.level_end)} growing "
            f"{'+' if per_hour >= 0 else '-'}{fmt_of(s, abs(per_hour))}/h (R² {fit.r2:.2f}), {text}"
        )
        findings.append(make_finding(
            FindingKind.TREND, detector=DETECTOR, subject=who, service=s.service, window=(start, end),
            score=combine(severity, confidence), summary=summary,
            numbers={"slope_per_hour": per_hour, "r2": fit.r2, "level": fit.level_end, **numbers},
            metric=s.metric, signal=signal, direction="up" if sign > 0 else "down", source=source,
        ))
    return findings


RECENT_SPANS = (1.0, 0.5, 1.0 / 3.0)  # a leak or fill may have started part-way through the window


def _recent_fit(s: Series, start: float, end: float) -> tuple[Series, Fit] | None:
    """The best-fitting line over the whole window or its most recent half or third (growth that began
    part-way through fits a line only from where it began). A half or third too short for ``MIN_POINTS`` samples
    at the series' sampling interval (coarse data) is fitted over the window's last ``MIN_POINTS`` samples; one
    short of samples because the series stopped reporting is left out, as before."""
    best: tuple[Series, Fit] | None = None
    window = s.between(start, end)
    step = sample_step([s])
    for share in RECENT_SPANS:
        span = share * (end - start)
        now = s.between(end - span, end)
        if len(now) < MIN_POINTS <= len(window) and span < MIN_POINTS * step:
            now = window.last(MIN_POINTS)
        if len(now) < MIN_POINTS:
            continue
        fit = robust_fit(now.timestamps, now.values)
        if best is None or fit.r2 > best[1].r2:
            best = (now, fit)
    return best


def _severity(
    fit: Fit, limit: float | None, horizon: float, min_growth: float
) -> tuple[float, dict[str, float], str] | None:
    """(severity, numbers, summary tail) when the trend matters within the horizon, else None."""
    if limit is not None:
        seconds = (limit - fit.level_end) / fit.slope
        if seconds <= 0:  # already beyond the limit and still moving away from it
            return 1.0, {"limit": limit, "time_to_limit_h": 0.0}, f"already past the limit {limit:g}"
        if seconds > horizon:
            return None
        severity = 1.0 / (1.0 + seconds / (horizon / 4.0))
        return severity, {"limit": limit, "time_to_limit_h": seconds / 3600}, (
            f"reaches {limit:g} in {fmt_duration(seconds)} (at {fmt_time(fit.t_end + seconds)})"
        )
    growth = abs(fit.slope) * horizon / max(abs(fit.level_end), 1e-12)
    if growth < min_growth:
        return None
    return saturate(growth / min_growth), {"growth_over_horizon": growth}, (
        f"{growth * 100:.0f}% more within {fmt_duration(horizon)}"
    )


def _beyond(s: Series, fit: Fit, sign: int, before: float | None) -> bool:
    """True without ``before``, or when the line's end level lies beyond every value before ``before`` (the
    trend's way); a series with nothing before it cannot show a daily cycle's range: its trend stands."""
    if before is None:
        return True
    past = s.values[(s.timestamps < before) & ~np.isnan(s.values)]
    return past.size == 0 or sign * fit.level_end > float(np.max(sign * past))


def _seasonal(s: Series, now: Series, fit: Fit, offsets: Sequence[float], min_r2: float) -> bool:
    """True when the same hours ``offset`` earlier had a similar steady trend (a daily cycle).

    The series may hold only part of those hours (a source keeping 26 h for a 6 h look-back holds the last 2 h of
    the window a day earlier): that part is compared with the same hours of the fitted span when it spans at least
    ``SEASONAL_MIN_SHARE`` of it and ``MIN_POINTS`` samples; less says nothing of the day before. The earlier line
    must rise (fall) as the trend does, by at least half of what the same hours rise (fall) now, and fit its points
    half as well as a trend must."""
    first, last = float(now.timestamps[0]), float(now.timestamps[-1])
    for offset in offsets:
        past = s.between(first - offset, last - offset + 1e-6)
        if len(past) < MIN_POINTS or past.timestamps[-1] - past.timestamps[0] < SEASONAL_MIN_SHARE * (last - first):
            continue
        same = now.between(float(past.timestamps[0]) + offset, float(past.timestamps[-1]) + offset + 1e-6)
        today = robust_fit(same.timestamps, same.values) if len(same) >= MIN_POINTS else fit
        earlier = robust_fit(past.timestamps, past.values)
        if (earlier.slope * fit.slope > 0 and abs(earlier.slope) >= 0.5 * abs(today.slope)
                and earlier.r2 >= min_r2 / 2):
            return True
    return False
