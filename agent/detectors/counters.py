"""Cumulative counters read as per-second rates, as PromQL's ``rate()`` would, before any detector sees them.

A counter (``http_requests_total``, ``…_seconds_total``, a histogram's ``_count``, ``_sum`` and ``_bucket``,
OpenMetrics naming) only ever grows, so compared with its own past it always looks "up". A catch-all
signal reads every metric of a service, counters included, from a bundle or from a Prometheus server
(a plain selector returns the raw counter). What matters is how fast it grows: the increase between
two samples over the time between them. A fall is a reset (the process restarted) and, as in
Prometheus, the increase after it is the new value.

A series is converted only when its name says counter *and* its values look cumulative (never
negative, at most ``MAX_RESET_SHARE`` of the steps falling), so an already-rated series (a Skill's own
``rate(…)`` query keeps the counter's name) and a gauge that happens to end in ``_count`` stay as they are.

A count need not be named as one (``kafka_consumer_offset``, ``classes_loaded``): a series of any name that never
fell over ``MIN_UNNAMED`` samples or more (``counts_by_shape``) has a level that is always new, so an inspection
judges such a series against its reference by its rate (``rated_by_shape``); its growth towards a limit is still
judged on its values. Not every series that never fell is a count: a name that says a share or a wait
(``no_count``), a counter's name (read by it already, ``rated``) or a rate's (``…_per_second``) says otherwise, and
a gauge that stepped up once or twice (replicas 3 → 4) rose at few of its steps where a count rises at most
(``MIN_RISE_SHARE``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from agent.detectors.capacity import capacity_limit
from agent.detectors.direction import says_per_time, says_wait
from agent.series import Series

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")  # OpenMetrics counter and histogram parts
MIN_SAMPLES = 3  # two increases at least
MAX_RESET_SHARE = 0.1  # more falls than this: the series goes up and down, so it is not a counter
MIN_UNNAMED = 10  # samples that never fell before a series no name calls a counter is read as one
# a count rises at most of its steps, at a quarter of them still when scraped four times as often as it is updated;
# a gauge that stepped once or twice over ``MIN_UNNAMED`` samples or more (a replica count) does not
MIN_RISE_SHARE = 0.25


def counter_name(metric: str | None) -> bool:
    """True when the metric name follows the counter conventions (``…_total``, ``…_count``, …)."""
    return bool(metric) and metric.lower().endswith(COUNTER_SUFFIXES)


def looks_cumulative(series: Series) -> bool:
    """A counter-named series whose values never go negative and rarely fall (only at resets)."""
    values = series.values
    if not counter_name(series.metric) or values.size < MIN_SAMPLES:
        return False
    finite = values[np.isfinite(values)]
    if finite.size < MIN_SAMPLES or np.any(finite < 0):
        return False
    steps = np.diff(finite)
    if not np.any(steps > 0):
        return False  # flat: nothing counted, nothing to convert
    return int(np.count_nonzero(steps < 0)) <= MAX_RESET_SHARE * steps.size


def no_count(metric: str) -> bool:
    """The name says a share (``capacity.capacity_limit``: an error ratio of a few requests moves in steps of a
    third or a half) or a wait (``direction.says_wait``: a latency quantile read off a histogram's buckets holds a
    few levels, 0.025 s, 0.05 s, 0.1 s, whole multiples of its smallest step): whole steps, but no count of events."""
    return capacity_limit(metric, 0.0) is not None or says_wait(metric)


def counts_by_shape(series: Series) -> bool:
    """A series that never fell over ``MIN_UNNAMED`` finite samples or more, never negative, and rose at
    ``MIN_RISE_SHARE`` of its steps at least, whose name says no share or wait (``no_count``), no counter (read
    by its name, ``rated``) and no rate (``direction.says_per_time``): a noisy gauge falls somewhere in that many
    samples, a gauge stepping up once rises at few of them, a cumulative count does neither."""
    if series.per_second or counter_name(series.metric) or no_count(series.metric) or says_per_time(series.metric):
        return False
    finite = series.values[np.isfinite(series.values)]
    if finite.size < MIN_UNNAMED or np.any(finite < 0):
        return False
    steps = np.diff(finite)
    return bool(np.all(steps >= 0) and np.count_nonzero(steps > 0) >= MIN_RISE_SHARE * steps.size)


def as_rate(series: Series) -> Series:
    """Per-second increase between consecutive samples, stamped at the later one; a fall counts as a reset."""
    keep = np.isfinite(series.values)
    ts, values = series.timestamps[keep], series.values[keep]
    dt = np.diff(ts)
    increase = np.diff(values)
    reset = increase < 0
    increase[reset] = values[1:][reset]
    valid = dt > 0
    return replace(series, timestamps=ts[1:][valid], values=increase[valid] / dt[valid], per_second=True)


def rated(series: Series) -> Series:
    """``series`` as a per-second rate when it is a cumulative counter, else unchanged."""
    return as_rate(series) if looks_cumulative(series) else series


def rated_by_shape(series: Series) -> Series:
    """``series`` as a per-second rate when it grows as a count does whatever its name (``counts_by_shape``)."""
    return as_rate(series) if counts_by_shape(series) else series
