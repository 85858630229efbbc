"""Accuracy by sampling interval: the same fresh simulated scenarios sampled every 5 s to every 5 minutes.

Cloud monitoring often keeps one point in five minutes, a Prometheus scrape one in 15 s or less; the
simulator writes one a minute. Each scenario (``--count`` per pattern, seeds from ``--seed-start``, >= 1000)
is thinned to every ``--steps`` seconds when coarser (``agent.sim.scenario.thin_scenario``), spread over finer
samples with white noise when finer (``resampling.finer``), and investigated offline exactly as ``bianque
eval`` does. Prints per step: RCA top-1 / top-3, actionable alerts judged as needing no attention, noise
silenced; bad releases intercepted and good ones blocked; inspection recall and false alarms.

Usage::

    .venv/bin/python benchmarks/sampling_interval.py [--count 20] [--seed-start 1000] [--steps 5,60,120,300] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    evaluated_measures,
    measures_table,
    seed_start_argument,
)
from resampling import resampled_copy

from agent.sim.batch import combinations
from agent.sim.scenario import build_scenario, thin_scenario, write_scenario

PATTERNS = ("rca", "release_interception", "inspection")
SIMULATOR_STEP_S = 60.0  # the simulator writes one sample a minute


def sampled_set(root: Path, step: float, count: int, seed_start: int) -> list[Path]:
    """``count`` scenarios of every pattern sampled every ``step`` seconds, written under ``root``: thinned when
    coarser than the simulator's minute, spread with noise when finer (``resampling.finer``)."""
    out = []
    for pattern in PATTERNS:
        pairs = combinations(pattern)
        for seed in range(seed_start, seed_start + count):
            kind, fault = pairs[seed % len(pairs)]
            scenario = build_scenario(kind, fault, seed)
            name = f"{pattern}-{seed}"
            if step < SIMULATOR_STEP_S:
                out.append(resampled_copy(write_scenario(scenario, root / "minute" / name), root, step, seed=seed))
            else:
                out.append(write_scenario(thin_scenario(scenario, step), root / name))
    return out


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="scenarios per pattern (default 20)")
    seed_start_argument(parser)
    parser.add_argument("--steps", default="5,60,120,300", help="sampling intervals in seconds (default 5,60,120,300)")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    steps = [float(s) for s in args.steps.split(",") if s.strip()]
    rows: dict[str, dict[str, str]] = {}
    if not steps or any(step <= 0 or (step < SIMULATOR_STEP_S and SIMULATOR_STEP_S % step) for step in steps):
        parser.error(f"--steps: positive seconds, those under {SIMULATOR_STEP_S:g} dividing it; not {args.steps!r}")
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-sampling-") as scratch:
        for step in steps:
            bundles = sampled_set(Path(scratch) / f"{step:g}", step, args.count, args.seed_start)
            rows[f"{step:g} s"] = evaluated_measures(f"{step:g} s a sample", bundles, settings)
    title = f"Fresh simulated scenarios by sampling interval ({args.count} per pattern, strict)"
    table = measures_table(title, {f"one sample / {step}": cells for step, cells in rows.items()})
    return BenchResult(tables={"sampling": table}, data={"count": args.count, "steps": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
