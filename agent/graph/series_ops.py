"""Small operations on groups of series used when preparing detector input."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from agent.series import Series


def combine(series: Sequence[Series], how: str = "mean") -> Series | None:
    """One series per service: samples at the same timestamp averaged (or summed) across instances."""
    if not series:
        return None
    if len(series) == 1:
        return series[0]
    buckets: dict[float, list[float]] = defaultdict(list)
    for s in series:
        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
            buckets[t].append(v)
    times = np.array(sorted(buckets), dtype=float)
    reduce = np.sum if how == "sum" else np.mean
    values = np.array([reduce(buckets[t]) for t in times.tolist()], dtype=float)
    labels = {k: v for k, v in series[0].labels.items() if all(s.labels.get(k) == v for s in series)}
    return Series(series[0].metric, labels, times, values)


def by_metric(series: Sequence[Series]) -> dict[str, list[Series]]:
    """Group series by metric name (a glob signal may match several metrics)."""
    grouped: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        grouped[s.metric].append(s)
    return grouped
