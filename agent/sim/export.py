"""Turn a simulated world into bundle series: per instance for a few services, per service otherwise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from agent.series import Series
from agent.sim.system import SERVICES
from agent.sim.world import CURRENT, World

# Metrics kept for the 1-day and 7-day history windows (the seasonal ones, compared against the
# same time yesterday / last week), one series per service; the rest only for the current window.
# This keeps a bundle well under 1 MB.
HISTORY_METRICS = (
    "requests_per_second",
    "request_latency_p99_seconds",
    "request_error_ratio",
    "cache_hit_ratio",
    "click_through_ratio",
)
SIGNIFICANT = {  # significant digits written per metric (default 3): precision beyond noise costs bytes
    "requests_per_second": 4,
    "memory_usage_bytes": 4,
    "disk_usage_ratio": 4,
    "cache_hit_ratio": 4,
}


def round_values(metric: str, values: np.ndarray) -> np.ndarray:
    """Round to a few significant digits (memory to whole bytes)."""
    digits = SIGNIFICANT.get(metric, 3)
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mags = np.where(values != 0, np.floor(np.log10(np.abs(values))), 0)
    factor = 10.0 ** (digits - 1 - mags)
    rounded = np.round(values * factor) / factor
    if metric == "memory_usage_bytes":
        rounded = np.round(rounded)
    return rounded


def export_series(world: World, services: Sequence[str]) -> list[Series]:
    """Every series of ``services``: the current window with all metrics, per instance for
    ``world.detailed`` services; the history windows per service with :data:`HISTORY_METRICS`."""
    out: list[Series] = []
    for service in services:
        for metric in SERVICES[service].metrics:
            for window in world.windows:
                if window != CURRENT and metric not in HISTORY_METRICS:
                    continue
                out.extend(_series_of(world, service, metric, window))
    return out


def _series_of(world: World, service: str, metric: str, window: str) -> Iterable[Series]:
    ts = world.windows[window].ts
    if service not in world.detailed or window != CURRENT:
        values = world.aggregate(service, metric, window)
        yield Series(metric, {"service": service}, ts.copy(), round_values(metric, values))
        return
    rows = world.sig(service, metric, window)
    split = world.split if world.split is not None and world.split.service == service else None
    for row, pod in enumerate(world.instances[service]):
        values = round_values(metric, rows[row])
        labels = {"service": service, "instance": pod}
        if split is None:
            yield Series(metric, labels, ts.copy(), values)
            continue
        switch = split.switches.get(row, np.inf)
        old = ts < switch
        if old.any():
            yield Series(metric, {**labels, "version": split.old}, ts[old], values[old])
        if (~old).any():
            yield Series(metric, {**labels, "version": split.new}, ts[~old], values[~old])
