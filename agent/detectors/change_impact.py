"""Before vs after a change on the same series: did the service get worse when the change landed?"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from agent.detectors.changepoint import locate_onset, persistence_points
from agent.detectors.comparison import MIN_SAMPLES, compare_samples
from agent.detectors.emit import make_finding
from agent.detectors.grouping import pool_by_metric_service
from agent.detectors.robust import relative_change
from agent.detectors.wording import fmt_change, fmt_time, fmt_value
from agent.findings import Finding, FindingKind
from agent.series import Series, sample_step

DETECTOR = "change_impact"


def detect_change_impact(
    series: Sequence[Series],
    *,
    change_ts: float,
    before: float = 1800.0,
    after: float = 1800.0,
    direction: str = "up",
    min_effect: float = 0.2,
    min_abs_effect: float = 0.0,
    alpha: float = 0.01,
    change_id: str | None = None,
    signal: str | None = None,
    source: str = "",
    earlier: Sequence[Series] = (),
    period: float = 86400.0,
) -> list[Finding]:
    """One ``change_regression`` Finding per (metric, service) that got worse after ``change_ts``.

    Samples in ``[change_ts - before, change_ts)`` are compared with those in
    ``[change_ts, change_ts + after)`` (instances pooled) exactly as the canary detector does
    (Mann-Whitney U + relative change of medians, ``alpha``, ``min_effect``). The onset is the
    earliest per-series onset after the change (``changepoint.locate_onset``), if one is found.

    ``earlier``: the same series ``period`` before (the same hours a day earlier). When they moved the same
    way between the same two windows, the change is judged by how much more it moved than they did (its
    relative change minus theirs must still reach ``min_effect``): traffic rising into the morning, or
    falling at night, is the daily cycle, not the release.
    """
    window = (change_ts - before, change_ts + after)
    before_pools = pool_by_metric_service(series, window[0], change_ts)
    after_pools = pool_by_metric_service(series, change_ts, window[1])
    then = change_ts - period  # the change's moment one period earlier
    past_before = pool_by_metric_service(earlier, then - before, then)
    past_after = pool_by_metric_service(earlier, then, then + after)
    by_group: dict[tuple[str, str | None], list[Series]] = defaultdict(list)
    for s in series:
        by_group[(s.metric, s.service)].append(s)
    findings: list[Finding] = []
    for key in sorted(after_pools, key=lambda k: (k[0], k[1] or "")):
        metric, service = key
        result = compare_samples(
            after_pools[key], before_pools[key],
            direction=direction, min_effect=min_effect, min_abs_effect=min_abs_effect, alpha=alpha,
        )
        if result is None or result.classification == "pass":
            continue
        cycle = _cycle_change(past_before.get(key), past_after.get(key), result.direction)
        if cycle is not None and abs(result.rel_change - cycle) < min_effect:
            continue
        onset = _earliest_onset(by_group[key], change_ts, window, result.direction)
        who = service or metric
        what = f"after {change_id}" if change_id else f"after the change at {fmt_time(change_ts)}"
        summary = (
            f"{who} {metric} {fmt_value(metric, result.experiment_median)} {what} vs "
            f"{fmt_value(metric, result.control_median)} before ({fmt_change(result.rel_change)}), "
            f"p={result.p_value:.1g}" + (f", onset {fmt_time(onset)}" if onset is not None else "")
        )
        numbers = {**result.numbers("after", "before"), "change_ts": change_ts}
        if cycle is not None:
            numbers["earlier_rel_change"] = cycle
        if onset is not None:
            numbers["onset_delay_s"] = onset - change_ts
        findings.append(make_finding(
            FindingKind.CHANGE_REGRESSION, detector=DETECTOR, subject=who, service=service,
            window=window, score=result.score, summary=summary, numbers=numbers, metric=metric,
            signal=signal, direction=result.direction, onset=onset, source=source,
        ))
    return findings


def _cycle_change(past_before: np.ndarray | None, past_after: np.ndarray | None, direction: str) -> float | None:
    """How much the series moved between the same windows one period earlier (relative change of medians), when it
    moved the bad way (``direction``) then too; None without such data or when it did not."""
    if past_before is None or past_after is None or past_before.size < MIN_SAMPLES or past_after.size < MIN_SAMPLES:
        return None
    rel = relative_change(float(np.median(past_after)), float(np.median(past_before)))
    return rel if rel * (1.0 if direction == "up" else -1.0) > 0 else None


def _earliest_onset(
    group: Sequence[Series], change_ts: float, window: tuple[float, float], direction: str
) -> float | None:
    """The earliest onset after the change among the group's series, in the observed direction."""
    onsets: list[float] = []
    for s in group:
        base, now = s.between(window[0], change_ts), s.between(change_ts, window[1])
        k, m = persistence_points(sample_step([s]))
        found = locate_onset(now.values, base.values, direction=direction, k=k, m=m)
        if found is not None:
            onsets.append(float(now.timestamps[found.index]))
    return min(onsets) if onsets else None
