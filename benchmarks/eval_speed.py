"""Wall time of ``bianque eval --json`` on every real development set and the curated scenarios.

Each run is the real command in its own process, as a user or a CI job runs it (interpreter start,
imports and Skills included), on one ``BIANQUE_HOME`` whose handbook was embedded by an untimed
first run. Every set is run in one process (``--jobs 1``) and with the default number of worker
processes; the median of ``--repeat`` runs is reported, with the peak memory of the largest process
(``ru_maxrss`` of the children: the parent or one worker, not their sum).

Usage::

    .venv/bin/python benchmarks/eval_speed.py [--repeat 3] [--data ../shared/data] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

from common import SHARED_DATA, BenchResult, add_common_arguments, bench_settings, emit, progress_bar
from rich.table import Table

from agent.config import PROJECT_ROOT
from agent.eval.cases import auto_jobs
from agent.eval.runner import find_bundles

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"


def run_eval(cases: Path, jobs: int | None, home: Path) -> tuple[float, float, dict]:
    """Seconds, peak MB of the largest child process so far, and the JSON report of one ``bianque eval``."""
    command = [sys.executable, "-m", "agent.cli", "eval", "--cases", str(cases), "--json"]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "BIANQUE_HOME": str(home)},
                          cwd=PROJECT_ROOT, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bianque eval --cases {cases} failed ({done.returncode}): {done.stderr[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb, json.loads(done.stdout)


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per set and mode (median reported)")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    sets = [SCENARIOS, *sorted(p for p in args.data.iterdir() if p.is_dir())] if args.data.is_dir() else [SCENARIOS]
    rows = []
    with bench_settings(args.home) as settings:
        run_eval(SCENARIOS, 1, settings.home)  # embeds the handbook once, untimed
        with progress_bar("timing bianque eval", len(sets) * 2 * args.repeat) as advance:
            for cases in sets:
                bundles = find_bundles(cases)
                for jobs in (1, None):
                    times = []
                    for _ in range(args.repeat):
                        seconds, peak_mb, report = run_eval(cases, jobs, settings.home)
                        times.append(seconds)
                        advance()
                    rows.append({"set": cases.name, "bundles": len(bundles), "jobs": jobs or auto_jobs(bundles),
                                 "seconds": round(median(times), 2), "runs": [round(t, 2) for t in times],
                                 "peak_mb_so_far": round(peak_mb), "errors": len(report["errors"])})
    table = Table(title=f"bianque eval --json, wall time (median of {args.repeat}), {os.cpu_count()} cores")
    for header in ("set", "bundles", "processes", "seconds", "runs", "errors"):
        table.add_column(header, justify="left" if header == "set" else "right")
    for row in rows:
        table.add_row(row["set"], str(row["bundles"]), str(row["jobs"]), f"{row['seconds']:.1f}",
                      " ".join(f"{t:.1f}" for t in row["runs"]), str(row["errors"]))
    peak = max((row["peak_mb_so_far"] for row in rows), default=0)
    table.caption = f"largest single process over all runs: {peak} MB"
    return BenchResult(tables={"eval_speed": table}, data={"runs": rows, "peak_mb": peak})


if __name__ == "__main__":
    arguments = sys.argv[1:]
    emit(main(arguments), "--json" in arguments)
