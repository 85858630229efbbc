"""Busy systems: a real set's logs made K times busier, and a metrics file of per-second samples.

1. **Logs.** Every bundle of a log-bearing RCA set (default ``nezha-tt-dev``) with each log line written
   ``--times`` times (each copy 13 ms after the last, each copy of a trace its own trace id: a system with K times
   the traffic), answered offline and scored strictly, as given and K times busier, with the log limits in force
   (answers over a request's limit are thinned, ``agent/sources/sampling.py``) and with no limit at all (the
   bundle source's thinning turned off). The two busier rows differ only by the thinning; the rows as given and
   busier differ by how the log detectors weigh volume (counts, not shares).
2. **Metrics.** A synthetic system of ``--services`` services (40), 25 metrics and 2 instances each, at one sample a
   second for 40 minutes (4.8 million rows, gzip), the last service's latency stepping up 2 minutes before the
   alert at the first service (which calls every other): seconds and peak memory to read the file (memory from
   ``tracemalloc``, in a second read), seconds to investigate the loaded bundle (reading excluded), and the
   first-ranked service.

Usage::

    .venv/bin/python benchmarks/busy_systems.py [--data DIR] [--set nezha-tt-dev] [--times 10] [--limit N]
        [--services 40] [--skip-metrics] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import yaml
from common import (
    SHARED_DATA,
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    linked_copy,
    open_knowledge_if,
    strict_rca_top,
)
from rich.table import Table

from agent.bundles.data_files import locate
from agent.bundles.jsonl_files import read_logs
from agent.detectors.trace_ids import trace_of
from agent.eval.runner import find_bundles
from agent.series import LogRecord

COPY_GAP_S = 0.013  # each copy of a line this much after the previous copy
METRICS, INSTANCES, SECONDS = 25, 2, 2400
STEP_AT, ALERT_AT = 1800, 1920


def busier_copy(bundle: Path, root: Path, times: int) -> Path:
    """``bundle`` under ``root`` with its log lines written ``times`` times, each copy of a trace its own id."""
    copy = linked_copy(bundle, root, leave_out={"logs.jsonl", "logs.jsonl.gz"})
    path, _ = locate(bundle, "logs.jsonl")
    lines, errors = read_logs(path, bundle.name) if path is not None else ([], [])
    if errors:
        raise SystemExit(f"{bundle}: {errors[0]}")
    copies = sorted((_copy(line, k) for k in range(times) for line in lines), key=lambda line: line.ts)
    with gzip.open(copy / "logs.jsonl.gz", "wt", encoding="utf-8", compresslevel=1) as out:
        for line in copies:
            fields = {"ts": line.ts, "service": line.service, "level": line.level, "message": line.message,
                      "instance": line.instance, "trace_id": line.trace_id, **line.extra}
            out.write(json.dumps({k: v for k, v in fields.items() if v is not None}) + "\n")
    return copy


def _copy(line: LogRecord, k: int) -> LogRecord:
    if k == 0:
        return line
    trace = trace_of(line)
    if trace is None:
        return replace(line, ts=line.ts + k * COPY_GAP_S)
    own = f"{trace}{k:02d}"  # still hexadecimal, so an id written in the text is still read as one
    return replace(line, ts=line.ts + k * COPY_GAP_S, message=line.message.replace(trace, own),
                   trace_id=own if line.trace_id else None)


@contextmanager
def no_log_limit() -> Iterator[None]:
    """The bundle log source answering every matching line, whatever the request's limit."""
    def everything(items, _limit, *_args):  # noqa: ANN001, ANN202 - stands in for the sampling functions
        return list(items), False

    with mock.patch("agent.sources.bundle.stratified", everything), \
            mock.patch("agent.sources.bundle.whole_traces", everything):
        yield


def logs_table(args: argparse.Namespace, settings, knowledge, scratch: Path) -> tuple[Table, dict]:  # noqa: ANN001
    bundles = find_bundles(args.data / args.set)[: args.limit]
    busier = [busier_copy(b, scratch / f"x{args.times}" / args.set, args.times) for b in bundles]
    data: dict[str, dict] = {}

    def run(label: str, cases: list[Path], progress: str) -> None:
        ranks: dict[str, int | None] = {}
        top1, top3, count = strict_rca_top(cases, progress, settings, knowledge, ranks)
        data[label] = {"top1": top1, "top3": top3, "cases": count, "ranks": ranks}

    run("as given", bundles, "as given")
    run(f"{args.times}x busier, log limits in force", busier, "busier")
    with no_log_limit():
        run(f"{args.times}x busier, no log limit", busier, "busier, no limit")
    lines = [sum(1 for _ in gzip.open(b / "logs.jsonl.gz", "rt")) for b in busier]
    table = Table(title=f"{args.set} with its logs {args.times} times busier ({min(lines):,}-{max(lines):,} lines "
                        "a case): strict top-1 / top-3")
    for header in ("run", "top-1", "top-3"):
        table.add_column(header, justify="left" if header == "run" else "right")
    for label, row in data.items():
        table.add_row(label, f"{row['top1']}/{row['cases']}", f"{row['top3']}/{row['cases']}")
    return table, {"lines_per_case": [min(lines), max(lines)], "runs": data}


def write_metrics_bundle(root: Path, count: int) -> Path:
    """The synthetic per-second system of ``count`` services (see the module docstring) as a bundle under
    ``root``."""
    rng = np.random.default_rng(1)
    services = [f"svc-{i:02d}" for i in range(count)]
    metrics = [f"m_{j}" for j in range(METRICS - 3)] + ["latency_seconds", "cpu_usage", "errors_total"]
    t0 = 1_700_000_000
    stamps = [str(t0 + i) for i in range(SECONDS)]
    bundle = root / "per-second"
    bundle.mkdir(parents=True)
    with gzip.open(bundle / "metrics.csv.gz", "wt", compresslevel=1) as out:
        out.write("timestamp,metric,service,value,instance\n")
        for service in services:
            for metric in metrics:
                for instance in range(INSTANCES):
                    values = 10 + rng.normal(0, 1, SECONDS)
                    if service == services[-1] and metric == "latency_seconds":
                        values[STEP_AT:] += 8
                    tail = f",{metric},{service},"
                    out.writelines(f"{ts}{tail}{v:.4f},{service}-{instance}\n" for ts, v in zip(stamps, values,
                                                                                           strict=True))
    (bundle / "event.yaml").write_text(yaml.safe_dump({"pattern": "rca", "time": t0 + ALERT_AT,
                                                       "service": services[0]}), encoding="utf-8")
    (bundle / "topology.yaml").write_text(yaml.safe_dump({"services": {services[0]: {"depends_on": services[1:]}}}),
                                          encoding="utf-8")
    return bundle


def metrics_table(settings, scratch: Path, count: int) -> tuple[Table, dict]:  # noqa: ANN001
    from agent.bundles.metrics_file import read_metrics
    from agent.bundles.reader import load_bundle
    from agent.investigate import investigate
    from agent.runtime import bundle_toolkit

    bundle = write_metrics_bundle(scratch, count)
    started = time.perf_counter()
    series, errors = read_metrics(bundle / "metrics.csv.gz", "per-second")
    read_s = time.perf_counter() - started
    if errors:
        raise SystemExit(f"the synthetic bundle was refused: {errors[0]}")
    del series
    tracemalloc.start()
    read_metrics(bundle / "metrics.csv.gz", "per-second")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    loaded = load_bundle(bundle)  # read once more, outside the timing: the investigation alone is timed
    toolkit = bundle_toolkit(loaded, settings)
    started = time.perf_counter()
    result = investigate(loaded.event, toolkit)
    investigate_s = time.perf_counter() - started
    first = result.verdict.root_causes[0].service if result.verdict.root_causes else None
    culprit = f"svc-{count - 1:02d}"
    rows = count * METRICS * INSTANCES * SECONDS
    data = {"rows": rows, "gzip_bytes": (bundle / "metrics.csv.gz").stat().st_size, "read_s": read_s,
            "read_peak_bytes": peak, "investigate_s": investigate_s, "first": first, "culprit": culprit}
    table = Table(title=f"A metrics file of per-second samples: {count} services x {METRICS} metrics x "
                        f"{INSTANCES} instances x {SECONDS // 60} minutes")
    for header in ("rows", "gzip", "read", "peak memory of the read", "investigation", "first cause"):
        table.add_column(header, justify="right")
    table.add_row(f"{rows:,}", f"{data['gzip_bytes'] / 1e6:.0f} MB", f"{read_s:.1f} s", f"{peak / 1e6:.0f} MB",
                  f"{investigate_s:.1f} s", f"{first} ({'right' if first == culprit else 'wrong'})")
    return table, data


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--set", default="nezha-tt-dev", help="an RCA set with logs (default: %(default)s)")
    parser.add_argument("--times", type=int, default=10, help="how many times busier (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles of the set")
    parser.add_argument("--services", type=int, default=40, help="services of the per-second metrics file "
                        "(default: %(default)s; at least 2)")
    parser.add_argument("--skip-metrics", action="store_true", help="leave out the per-second metrics file")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if not (args.data / args.set).is_dir():
        raise SystemExit(f"{args.data / args.set}: no such set")
    if args.times < 1 or args.services < 2:
        raise SystemExit("--times must be at least 1 and --services at least 2")
    tables: dict[str, Table] = {}
    data: dict[str, dict] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-busy-") as scratch:
        if not args.skip_metrics:
            tables["metrics"], data["metrics"] = metrics_table(settings, Path(scratch), args.services)
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        tables["logs"], data["logs"] = logs_table(args, settings, knowledge, Path(scratch))
    return BenchResult(tables=tables, data=data)


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv[1:])
