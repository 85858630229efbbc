"""Accuracy when services see little traffic: fresh simulated scenarios with requests counted a few at a time.

The simulator's services serve hundreds of requests a second, so their request rates and error ratios are smooth.
Many services of a real system see a few requests a minute (an admin service, a batch endpoint, a pod of a
quiet shard): their rates move in whole requests per sample and their error ratios jump between 0 and large
values. Each fresh scenario (``--count`` per pattern, seeds from ``--seed-start``, >= 1000) is answered twice,
offline as ``bianque eval`` does:

- **as simulated**;
- **sparse traffic**: every request-rate series (each instance's, and a service's own) becomes a count of
  requests per sample drawn at a low rate (``--requests`` a sample at the series' median, Poisson, following the
  simulated rate's shape), written as that count per second, and its error ratio the share of those requests that
  failed (binomial at the simulated ratio; 0 in a sample with no request). Latency, resources and logs are as
  simulated. With ``--jitter J`` each rate is as a scraper's ``rate()`` reports it: the count per second times
  1 + U(0, J), as Prometheus extrapolates an increase to its window's edges, so a level of a few requests is never
  exactly the same value twice (0.13334 and 0.13333 requests a second, as real exports hold them).

Prints per variant: RCA top-1 / top-3, actionable alerts judged as needing no attention, noise silenced; bad
releases intercepted and good ones blocked; inspection recall and false alarms.

Usage::

    .venv/bin/python benchmarks/sparse_traffic.py [--count 20] [--seed-start 1000] [--requests 3] [--jitter 0.005]
        [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    evaluated_measures,
    fresh_scenarios,
    linked_copy,
    measures_table,
    rewrite_metrics,
    seed_start_argument,
)

PATTERNS = ("rca", "release_interception", "inspection")
RATE, ERRORS = "requests_per_second", "request_error_ratio"  # the simulator's request rate and failed share
DEFAULT_REQUESTS = 3.0  # requests a sample at a series' median rate
DEFAULT_STEP_S = 60.0  # a series of one sample: its sampling interval, as the simulator samples


def _instance_key(row: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A row's series apart from its metric: every column but metric, value and timestamp."""
    return tuple((k, v) for k, v in row.items() if k not in ("metric", "value", "timestamp"))


def sparse_rows(
    rows: Iterable[dict[str, str]], requests: float, seed: int, jitter: float = 0.0
) -> Iterator[dict[str, str]]:
    """The metric rows with each request-rate series and its error ratio as counted at a low rate, rates jittered
    by up to ``jitter`` (see the module docstring); every other row as it was. Deterministic for a ``seed``."""
    kept: list[dict[str, str]] = []
    counted: dict[tuple[tuple[str, str], ...], dict[float, dict[str, dict[str, str]]]] = defaultdict(dict)
    for row in rows:
        if row["metric"] in (RATE, ERRORS):
            counted[_instance_key(row)].setdefault(float(row["timestamp"]), {})[row["metric"]] = row
        else:
            kept.append(row)
    yield from kept
    for key, by_time in sorted(counted.items()):
        series = zlib.crc32(repr(key).encode())
        rng = np.random.default_rng([seed, series])
        extrapolation = np.random.default_rng([seed, series, 1])  # its own draws: the same counts, jittered
        times = sorted(by_time)
        step = float(np.median(np.diff(times))) if len(times) > 1 else DEFAULT_STEP_S  # not a gap before history
        rates = np.array([float(by_time[t][RATE]["value"]) if RATE in by_time[t] else np.nan for t in times])
        median = float(np.nanmedian(rates)) if np.isfinite(rates).any() else 0.0
        for ts, rate in zip(times, rates, strict=True):
            sample = by_time[ts]
            expected = requests * rate / median if median > 0 and np.isfinite(rate) else 0.0
            count = int(rng.poisson(max(expected, 0.0)))
            if RATE in sample:
                factor = 1.0 + extrapolation.uniform(0.0, jitter)
                yield {**sample[RATE], "value": f"{count / step * factor:.6g}"}
            if ERRORS in sample:
                share = min(max(float(sample[ERRORS]["value"]), 0.0), 1.0)
                failed = int(rng.binomial(count, share)) if count else 0
                yield {**sample[ERRORS], "value": f"{failed / count if count else 0.0:.6g}"}


def sparse_copy(bundle: Path, out: Path, requests: float, jitter: float = 0.0) -> Path:
    """``bundle`` in ``out`` with its request rates and error ratios counted at a low rate (``sparse_rows``);
    every other file linked as it is."""
    copy = linked_copy(bundle, out, leave_out=("metrics.csv", "metrics.csv.gz"))
    seed = zlib.crc32(bundle.name.encode())
    rewrite_metrics(bundle, copy, lambda rows: sparse_rows(rows, requests, seed, jitter))
    return copy


def sparse_label(requests: float, jitter: float) -> str:
    """The sparse column's heading: the requests a sample and, when jittered, by how much (0.005 is 0.5 %)."""
    jittered = f", rates jittered by up to {jitter * 100:g} %" if jitter else ""
    return f"sparse traffic ({requests:g} requests a sample{jittered})"


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="scenarios per pattern (default 20)")
    parser.add_argument("--requests", type=float, default=DEFAULT_REQUESTS,
                        help=f"requests a sample at an instance's median rate (default {DEFAULT_REQUESTS:g})")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="rates times 1 + U(0, J), as a scraper's rate() extrapolates (default 0: exact counts)")
    seed_start_argument(parser)
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    if args.requests <= 0:
        parser.error(f"--requests must be > 0, got {args.requests}")
    if not 0.0 <= args.jitter < 1.0:
        parser.error(f"--jitter must be in [0, 1), got {args.jitter}")
    rows: dict[str, dict[str, str]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-sparse-") as scratch:
        root = Path(scratch)
        original = [p for paths in fresh_scenarios(root / "original", PATTERNS, args.count, args.seed_start).values()
                    for p in paths]
        variants = {
            "as simulated": original,
            sparse_label(args.requests, args.jitter): [
                sparse_copy(p, root / "sparse" / p.parent.name, args.requests, args.jitter) for p in original],
        }
        for label, bundles in variants.items():
            rows[label] = evaluated_measures(label, bundles, settings)
    title = f"Fresh simulated scenarios with little traffic ({args.count} per pattern, strict)"
    return BenchResult(tables={"sparse": measures_table(title, rows)},
                       data={"count": args.count, "requests": args.requests, "jitter": args.jitter,
                             "variants": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
