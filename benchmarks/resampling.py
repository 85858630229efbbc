"""The same bundles at another sampling interval: averaged over coarser buckets, or spread over finer samples.

Coarser: each series averaged over ``step``-second buckets stamped at their end (``agent.sources.resample``),
as a rate over a coarser scrape interval, or cloud monitoring keeping one point in five minutes, records it.
Finer: each sample becomes ``interval / step`` samples at ``step`` apart over the interval it stood for, each
its value plus white noise, the noise of each interval centred so its mean is the original value exactly
(a series that only grows, a counter, is interpolated instead).
The noise per fine sample is the series' own sample-to-sample noise (robust, from its first differences)
times ``sqrt(interval / step)``, how independent noise averages out over a minute. Real fine data is not
white, so this measures how an answer depends on the sampling interval alone, not how it does on a system
scraped every second.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from agent.series import Series, median_gap
from agent.sources.resample import bucket_means

MAD_TO_SD = 1.4826


def averaged(series: Series, step: float) -> Series:
    """``series`` averaged over ``step``-second buckets ``(g - step, g]`` stamped at ``g`` (NaN samples left out)."""
    return bucket_means(series, step)


def finer(series: Series, step: float, seed: int = 0) -> Series:
    """``series`` spread over samples ``step`` seconds apart whose mean over each original interval is the
    original value (see the module docstring); unchanged when it has under three samples or is not coarser."""
    interval = median_gap([series.timestamps], default=0.0)
    per_interval = int(round(interval / step))
    values = series.values
    if len(series) < 3 or per_interval < 2:
        return series
    offsets = step * (np.arange(per_interval) + 1) - per_interval * step
    stamps = (series.timestamps[:, None] + offsets[None, :]).ravel()
    diffs = np.diff(values[~np.isnan(values)])
    if diffs.size and (diffs >= 0).all():  # a counter: it only grows, so it is interpolated, not jittered
        return Series(series.metric, dict(series.labels), stamps, np.interp(stamps, series.timestamps, values))
    noise = MAD_TO_SD * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2.0) if diffs.size else 0.0
    rng = np.random.default_rng([seed, zlib.crc32(series.key().encode())])
    spread = rng.normal(0.0, noise * np.sqrt(per_interval), size=(len(series), per_interval))
    spread -= spread.mean(axis=1, keepdims=True)
    return Series(series.metric, dict(series.labels), stamps, (values[:, None] + spread).ravel())


def resampled(series: Series, step: float, seed: int = 0) -> Series:
    """``series`` at ``step`` seconds: ``finer`` when its own interval is longer, else ``averaged``."""
    if median_gap([series.timestamps], default=step) > step:
        return finer(series, step, seed)
    return averaged(series, step)


def resampled_copy(bundle: Path, root: Path, step: float, leave_out: Collection[str] = (), seed: int = 0) -> Path:
    """A copy of ``bundle`` under ``root`` whose metrics are ``resampled`` to ``step`` seconds, without the files
    named in ``leave_out``; every other file linked."""
    from common import linked_copy

    from agent.bundles.reader import load_bundle
    from agent.bundles.writer import write_metrics_csv

    series = load_bundle(bundle).series
    copy = linked_copy(bundle, root, {"metrics.csv", "metrics.csv.gz", *leave_out})
    write_metrics_csv(copy / "metrics.csv", [resampled(s, step, seed) for s in series])
    return copy
