"""Fine samples averaged to the step a query asks for, as ``avg_over_time(x[step])`` would answer it.

A Skill reads its window at ``window.step`` (default one minute). Prometheus answers ``query_range`` at that
step whatever the scrape interval (a plain selector: the latest sample at each step); a bundle holds raw
samples, which may come every second. Detectors count samples (persistence, reference length) and judge
each against the spread of its reference, so 1-s samples (√60 times noisier than their minute means, 60 to
a minute) would make the same incident look different. Averaging into step-long buckets gives them what a
one-minute series of the same system would show. A cumulative counter keeps each bucket's latest sample
instead (what a one-minute scrape would have read); its rate is taken later (``agent.detectors.counters``).
"""

from __future__ import annotations

import numpy as np

from agent.detectors.counters import counter_name
from agent.series import Series, median_gap

FINER = 0.5  # a series is averaged when its median sampling interval is at most this share of the query step


def _buckets(series: Series, step: float, anchor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stamps, values, counts) of the non-NaN samples in buckets ``[anchor + k*step, anchor + (k+1)*step)``,
    each stamped at its latest sample; empty buckets left out. The value is the bucket's mean, or for a
    cumulative counter (``counters.counter_name``) its latest sample: a mean of a counter lags its stamp and,
    across a restart, mixes the old count with the new one into a false increase."""
    keep = ~np.isnan(series.values)
    times, values = series.timestamps[keep], series.values[keep]
    _, bucket = np.unique(np.floor((times - anchor) / step), return_inverse=True)
    counts = np.bincount(bucket)
    if counter_name(series.metric):
        last = np.flatnonzero(np.r_[bucket[1:] != bucket[:-1], True])  # samples are in time order
        return times[last], values[last], counts
    stamps = np.full(counts.size, -np.inf)
    np.maximum.at(stamps, bucket, times)
    return stamps, np.bincount(bucket, weights=values) / counts, counts  # every bucket holds a sample


def bucket_means(series: Series, step: float, anchor: float = 0.0) -> Series:
    """``series`` averaged over ``step``-second buckets on the grid through ``anchor`` (a counter: its latest
    sample in each), each stamped at its latest sample (the value as of then); NaN samples are left out and empty
    buckets dropped."""
    stamps, means, _ = _buckets(series, step, anchor)
    return Series(series.metric, dict(series.labels), stamps, means)


def to_step(series: Series, step: float, anchor: float, interval: float | None = None) -> Series:
    """``series`` at the query ``step``: unchanged when its sampling ``interval`` (default: its median gap) is
    over ``FINER`` × ``step``; else its bucket means on the grid through ``anchor`` (a bundle's first sample: all
    its series share the grid, so their onsets stay comparable), without a first or last bucket holding under
    half the samples a full one holds (a window cut through it)."""
    if step <= 0 or len(series) < 2:
        return series
    interval = interval if interval is not None else median_gap([series.timestamps], default=step)
    if interval > FINER * step:
        return series
    stamps, means, counts = _buckets(series, step, anchor)
    keep = np.ones(counts.size, dtype=bool)
    if counts.size:
        partial = counts < step / interval / 2
        keep[[0, -1]] = ~partial[[0, -1]]
    return Series(series.metric, dict(series.labels), stamps[keep], means[keep])
