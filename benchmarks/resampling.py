"""The same bundles at another sampling interval: averaged over coarser buckets, or spread over finer samples.

Coarser: each series averaged over ``step``-second buckets ``[k*step, (k+1)*step)``, each stamped at its
latest sample (``agent.sources.resample.bucket_means``), as a rate over a coarser scrape interval, or cloud
monitoring keeping one point in five minutes, records it. Finer: each sample becomes ``interval / step``
samples ``step`` apart over the interval it stood for (where ``step`` divides the interval; a series it does
not divide is kept as recorded), each its value
plus white noise, the noise of each interval centred so its mean is the original value exactly (a series
that only grows, a counter, is interpolated instead). The noise per fine sample is the series' own
sample-to-sample noise (``robust.diff_noise``) times ``sqrt(interval / step)``, how independent noise
averages out over the interval. Real fine data is not white, so this measures how an answer depends on the
sampling interval alone, not how it does on a system scraped every second.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np

from agent.detectors.robust import diff_noise
from agent.series import Series, median_gap
from agent.sources.resample import bucket_means


def divides(series: Series, step: float) -> bool:
    """Whether ``series``' own interval is a whole number (two or more) of ``step`` seconds, give or take the
    recorded jitter."""
    interval = median_gap([series.timestamps], default=0.0)
    per_interval = int(round(interval / step))
    return per_interval >= 2 and abs(per_interval * step - interval) <= 0.05 * interval


def finer(series: Series, step: float, seed: int = 0) -> Series:
    """``series`` spread over samples ``step`` seconds apart whose mean over each original interval is the
    original value (see the module docstring); unchanged when it has under three samples or is not coarser.
    ValueError when ``step`` does not divide its interval."""
    interval = median_gap([series.timestamps], default=0.0)
    if len(series) < 3 or interval <= step:
        return series
    per_interval = int(round(interval / step))
    if not divides(series, step):
        raise ValueError(f"{series.key()}: a step of {step:g} s does not divide its {interval:g}-s interval")
    offsets = step * (np.arange(per_interval) + 1) - per_interval * step
    stamps = (series.timestamps[:, None] + offsets[None, :]).ravel()
    values = series.values
    recorded = values[~np.isnan(values)]
    if recorded.size >= 2 and (np.diff(recorded) >= 0).all():  # a counter: it only grows, so interpolated
        return Series(series.metric, dict(series.labels), stamps, np.interp(stamps, series.timestamps, values))
    rng = np.random.default_rng([seed, zlib.crc32(series.key().encode())])
    spread = rng.normal(0.0, diff_noise(recorded) * np.sqrt(per_interval), size=(len(series), per_interval))
    spread -= spread.mean(axis=1, keepdims=True)
    return Series(series.metric, dict(series.labels), stamps, (values[:, None] + spread).ravel())


def resampled(series: Series, step: float, seed: int = 0) -> Series:
    """``series`` at ``step`` seconds: ``finer`` when its own interval is a whole number of steps, bucket means when
    it is no longer than the step; a longer interval the step does not divide (a 300-s series at 120 s) is kept as
    recorded: it is coarser than the step either way, as a series scraped less often than the rest is."""
    if median_gap([series.timestamps], default=step) <= step:
        return bucket_means(series, step)
    return finer(series, step, seed) if divides(series, step) else series


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
