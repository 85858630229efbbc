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
judged on its values.
"""

from __future__ import annotations

import numpy as np

from agent.series import Series

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")  # OpenMetrics counter and histogram parts
MIN_SAMPLES = 3  # two increases at least
MAX_RESET_SHARE = 0.1  # more falls than this: the series goes up and down, so it is not a counter
MIN_UNNAMED = 10  # samples that never fell before a series no name calls a counter is read as one


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


def counts_by_shape(series: Series) -> bool:
    """A series of any name that never fell over ``MIN_UNNAMED`` finite samples or more, never negative, and grew:
    a noisy gauge falls somewhere in that many samples, a cumulative count never does."""
    finite = series.values[np.isfinite(series.values)]
    if finite.size < MIN_UNNAMED or np.any(finite < 0):
        return False
    steps = np.diff(finite)
    return bool(np.all(steps >= 0) and np.any(steps > 0))


def as_rate(series: Series) -> Series:
    """Per-second increase between consecutive samples, stamped at the later one; a fall counts as a reset."""
    keep = np.isfinite(series.values)
    ts, values = series.timestamps[keep], series.values[keep]
    dt = np.diff(ts)
    increase = np.diff(values)
    reset = increase < 0
    increase[reset] = values[1:][reset]
    valid = dt > 0
    return Series(series.metric, series.labels, ts[1:][valid], increase[valid] / dt[valid])


def rated(series: Series) -> Series:
    """``series`` as a per-second rate when it is a cumulative counter, else unchanged."""
    return as_rate(series) if looks_cumulative(series) else series


def rated_by_shape(series: Series) -> Series:
    """``series`` as a per-second rate when it grows as a count does whatever its name (``counts_by_shape``)."""
    return as_rate(series) if counts_by_shape(series) else series
