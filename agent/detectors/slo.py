"""SLO burn rate: how fast the error budget is being spent, over a long and a short window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from agent.detectors.emit import make_finding
from agent.detectors.persistence import trailing_run_start
from agent.detectors.scoring import combine, saturate
from agent.detectors.wording import fmt_duration, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "slo_burn"
# (long window s, short window s, burn-rate factor): the SRE workbook's page and ticket alerts.
DEFAULT_WINDOWS: tuple[tuple[float, float, float], ...] = ((3600.0, 300.0, 14.4), (21600.0, 1800.0, 6.0))
MIN_POINTS = 3


def detect_slo_burn(
    series: Sequence[Series],
    *,
    objective: float,
    start: float,
    end: float,
    measure: Literal["error", "success"] = "error",
    unit_max: float = 1.0,
    windows: Sequence[tuple[float, float, float]] = DEFAULT_WINDOWS,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``slo_burn`` Finding per series burning its error budget too fast (multi-window burn rate).

    ``objective`` is the good share (e.g. 0.999, budget 0.001). Series hold error ratios
    (``measure="error"``) or success ratios (``"success"``), in ``0..unit_max`` (100 for percent).
    For each (long, short, factor): burn rate = mean bad ratio over the window / budget; it fires
    when both windows burn at ``>= factor``. A pair whose long window is longer than the data in
    ``[start, end)`` is scaled down to fit it and its factor scaled up by the same ratio, so it still
    means "this share of the budget spent in the long window" (a short span needs a faster burn).
    Score: ``saturate(min(burn_long, burn_short) / factor)`` times a
    data-coverage confidence, best pair kept.
    """
    if not 0.0 < objective < 1.0:
        raise ValueError(f"objective must be between 0 and 1 (e.g. 0.999), got {objective!r}")
    if measure not in ("error", "success"):
        raise ValueError(f"measure must be 'error' or 'success', got {measure!r}")
    budget = 1.0 - objective
    findings: list[Finding] = []
    for s in series:
        now = s.between(start, end)
        if len(now) < MIN_POINTS:
            continue
        bad = np.clip(now.values / unit_max, 0.0, 1.0)
        bad = bad if measure == "error" else 1.0 - bad
        best = _best_burn(now.timestamps, bad / budget, windows)
        if best is None:
            continue
        score, burn_long, burn_short, long_s, short_s, factor = best
        run = trailing_run_start(bad / budget >= factor)
        onset = float(now.timestamps[run]) if run is not None else None
        who = subject_of(s)
        summary = (
            f"{who} burning its {objective:.4g} SLO budget {burn_long:.1f}x over {fmt_duration(long_s)} and "
            f"{burn_short:.1f}x over {fmt_duration(short_s)} (limit {factor:g}x), since {fmt_time(onset)}"
        )
        findings.append(make_finding(
            FindingKind.SLO_BURN, detector=DETECTOR, subject=who, service=s.service, window=(start, end),
            score=score, summary=summary,
            numbers={
                "burn_long": burn_long, "burn_short": burn_short, "factor": factor, "long_s": long_s,
                "short_s": short_s, "objective": objective, "bad_ratio_long": burn_long * budget,
            },
            metric=s.metric, signal=signal, direction="up" if measure == "error" else "down",
            onset=onset, source=source,
        ))
    return findings


def _best_burn(
    ts: np.ndarray, burn: np.ndarray, windows: Sequence[tuple[float, float, float]]
) -> tuple[float, float, float, float, float, float] | None:
    """(score, burn_long, burn_short, long_s, short_s, factor) of the strongest firing window pair."""
    span = float(ts[-1] - ts[0]) + (float(np.median(np.diff(ts))) if ts.size > 1 else 0.0)
    best = None
    for long_s, short_s, factor in windows:
        scale = min(1.0, span / long_s)
        long_w, short_w, factor = long_s * scale, short_s * scale, factor / scale
        in_long, in_short = ts > ts[-1] - long_w, ts > ts[-1] - short_w
        if in_short.sum() < 1 or in_long.sum() < MIN_POINTS:
            continue
        burn_long, burn_short = float(burn[in_long].mean()), float(burn[in_short].mean())
        if min(burn_long, burn_short) < factor:
            continue
        coverage = min(1.0, float(in_long.sum()) / 10.0)
        score = combine(saturate(min(burn_long, burn_short) / factor), 0.5 + 0.5 * coverage)
        if best is None or score > best[0]:
            best = (score, burn_long, burn_short, long_w, short_w, factor)
    return best
