"""A Prometheus histogram's buckets read as the latency quantiles they imply, as PromQL's ``histogram_quantile``.

Services instrumented with a Prometheus client export latency as a histogram: cumulative counters
``…_bucket{le="0.1"}`` (requests that took at most 0.1 s, per bucket bound), ``…_count`` and ``…_sum``. No
series is a quantile, and each bucket alone is an amount of requests: read one by one, a latency rise shows
only as requests moving between buckets, and more traffic as every bucket "rising". Before any detector runs
(``graph.gathered``), the buckets of one histogram of waits (one name and the same labels but ``le``) become
p50 and p99 series (``QUANTILES``; ``http_request_duration_p99_seconds``) whose names say what they are (a
wait, bad when it rises). A wait's ``_sum`` (the time requests took, which adds up with traffic: read alone, the
daily ramp "grows") beside its ``_count`` becomes their ratio, the mean wait (``…_mean_seconds``), as for a
summary; ``_count`` (the request rate) stays, and so do the buckets of a histogram of anything else (sizes).

Per sample the buckets' per-second rates (``counters.as_rate``, all of them, when the widest bucket is a
cumulative counter; as they are when a query already rated them) give the quantile by linear interpolation
within the bucket it falls in, from 0 below the lowest bound; one that falls in the ``+Inf`` bucket is the
highest finite bound; no requests in a sample, no value (Prometheus's rules).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Container, Sequence

import numpy as np

from agent.detectors.counters import as_rate, looks_cumulative
from agent.detectors.direction import says_wait
from agent.series import Series

BUCKET_SUFFIX, SUM_SUFFIX, COUNT_SUFFIX = "_bucket", "_sum", "_count"
BOUND_LABEL = "le"
QUANTILES = {"p50": 0.5, "p99": 0.99}
UNITS = ("seconds", "milliseconds")  # a unit a histogram's name ends in stays at the end


def is_wait_bucket(metric: str, labels: Container[str]) -> bool:
    """A bucket (named ``…_bucket``, with an ``le`` bound among ``labels``: a mapping or the label names) of a
    histogram whose name says it measures a wait (``direction.says_wait``: a duration, latency, time unit); a
    histogram of sizes keeps its buckets as they are, as its quantiles would read as waits."""
    return metric.endswith(BUCKET_SUFFIX) and BOUND_LABEL in labels and says_wait(metric[: -len(BUCKET_SUFFIX)])


def read_as(metric: str, label_names: Sequence[str]) -> str | None:
    """What the detectors read a metric as when it is part of a histogram or summary of waits (for ``bianque
    catalog``, which knows label names but not values); None for any other metric."""
    if is_wait_bucket(metric, label_names):
        stem = metric[: -len(BUCKET_SUFFIX)]
        return f"read as {quantile_name(stem, 'p50')} and {quantile_name(stem, 'p99')}, bad when they rise"
    if is_wait_sum(metric):
        return f"read over its _count as {quantile_name(metric[: -len(SUM_SUFFIX)], 'mean')}, bad when it rises"
    return None


def is_wait_sum(metric: str) -> bool:
    """The ``_sum`` of a histogram or summary of waits: the time requests took, adding up with traffic."""
    return metric.endswith(SUM_SUFFIX) and says_wait(metric[: -len(SUM_SUFFIX)])


def mean_waits(sums: Sequence[Series], counts: Sequence[Series]) -> list[tuple[Series, Series]]:
    """(mean, its sum) for each wait ``_sum`` (a per-second rate) that has a ``_count`` of the same name and labels
    among ``counts``: the mean wait (``…_mean_seconds``), bad when it rises, where the sum alone grows with
    traffic."""
    by_key = {(c.metric[: -len(COUNT_SUFFIX)], tuple(sorted(c.labels.items()))): c for c in counts
              if c.metric.endswith(COUNT_SUFFIX)}
    pairs = []
    for total in sums:
        name = total.metric[: -len(SUM_SUFFIX)]
        count = by_key.get((name, tuple(sorted(total.labels.items()))))
        if count is None:
            continue
        stamps, (spent, served) = _on_common_times([total, count])
        keep = served > 0
        pairs.append((Series(quantile_name(name, "mean"), total.labels, stamps[keep], spent[keep] / served[keep]),
                      total))
    return pairs


def histogram_quantiles(buckets: Sequence[Series]) -> list[Series]:
    """The ``QUANTILES`` series of every histogram among ``buckets`` (grouped by name and labels but ``le``);
    buckets whose bound is no number are left out."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, Series]]] = defaultdict(list)
    for series in buckets:
        bound = _bound(series.labels.get(BOUND_LABEL, ""))
        if bound is not None:
            rest = tuple(sorted((k, v) for k, v in series.labels.items() if k != BOUND_LABEL))
            groups[(series.metric[: -len(BUCKET_SUFFIX)], rest)].append((bound, series))
    return [quantile for (name, labels), bounded in groups.items()
            for quantile in _quantiles(name, dict(labels), sorted(bounded, key=lambda b: b[0]))]


def quantile_name(histogram: str, quantile: str) -> str:
    """The name of a histogram's quantile series, the quantile before a unit the name ends in:
    ``http_request_duration_seconds`` -> ``http_request_duration_p99_seconds``."""
    stem, unit = histogram.rsplit("_", 1) if "_" in histogram else (histogram, "")
    if unit in UNITS:
        return f"{stem}_{quantile}_{unit}"
    return f"{histogram}_{quantile}"


def _bound(text: str) -> float | None:
    try:
        bound = float(text)
    except ValueError:
        return None
    return None if math.isnan(bound) else bound


def _quantiles(name: str, labels: dict[str, str], bounded: list[tuple[float, Series]]) -> list[Series]:
    widest = bounded[-1][1]
    cumulative = looks_cumulative(widest)
    rated = [(bound, as_rate(s) if cumulative else s) for bound, s in bounded]
    stamps, values = _on_common_times([series for _, series in rated])
    if stamps.size == 0:
        return []
    bounds = np.array([bound for bound, _ in rated])
    counts = np.maximum.accumulate(np.nan_to_num(np.vstack(values), nan=0.0), axis=0)  # wider buckets hold as many
    out = []
    for suffix, q in QUANTILES.items():
        quantiles = np.array([_quantile(q, bounds, counts[:, i]) for i in range(stamps.size)])
        keep = np.isfinite(quantiles)
        if keep.any():
            out.append(Series(quantile_name(name, suffix), labels, stamps[keep], quantiles[keep]))
    return out


def _on_common_times(series: Sequence[Series]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The timestamps every one of ``series`` has (a histogram's parts are scraped together), and each one's values
    there."""
    stamps = series[0].timestamps
    for other in series[1:]:
        stamps = np.intersect1d(stamps, other.timestamps)
    return stamps, [s.values[np.searchsorted(s.timestamps, stamps)] for s in series]


def _quantile(q: float, bounds: np.ndarray, counts: np.ndarray) -> float:
    """``histogram_quantile`` of one sample: ``counts[i]`` requests took at most ``bounds[i]``."""
    total = counts[-1]
    if not total > 0:
        return math.nan
    rank = q * total
    i = int(np.searchsorted(counts, rank, side="left"))
    if i >= bounds.size or math.isinf(bounds[i]):
        finite = bounds[np.isfinite(bounds)]
        return float(finite[-1]) if finite.size else math.nan
    lower = bounds[i - 1] if i > 0 else 0.0
    below = counts[i - 1] if i > 0 else 0.0
    inside = counts[i] - below
    if inside <= 0:
        return float(bounds[i])
    return float(lower + (bounds[i] - lower) * (rank - below) / inside)
