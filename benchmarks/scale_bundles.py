"""Case bundles the size of public RCA data sets, made from one simulated incident (the fault planted stays).

Public RCA sets often hold 1-second metrics for 10-60 services with 20-60 metrics each over an hour or two
(millions of ``metrics.csv`` rows) and hundreds of thousands of log lines. ``scaled_bundle`` turns a simulator
bundle into one like that:

- the last ``hours`` of every series are spread over ``step``-second samples with white noise whose mean over
  each original interval is the recorded value (``resampling.finer``); older samples (the history) stay;
- ``services`` in all: each extra service ``<base>-xN`` copies a healthy service's series, its window filled
  with that service's first quarter (before any fault) repeated, and joins the topology beside its base (the
  same callers depend on it), so the ranking has that many more candidates;
- ``metrics`` per service in all: the missing ones are ``aux_NN`` series (AR(1) noise around a level, names no
  Skill knows);
- about ``log_lines`` log lines: every line in the window (the extra services' lines copied from their base)
  repeated with its timestamp jittered by up to ``JITTER`` seconds, its numbers and trace ids redrawn, so
  templates and their rates over time stay what the simulator wrote.

The event, changes and label are the simulator's, so the answer can be checked against the planted fault.

Run as a benchmark it times ``bianque eval --jobs 1`` on each size in its own process (interpreter start and
the knowledge store included, the handbook embedded by an untimed first run) with that process's peak memory::

    .venv/bin/python benchmarks/scale_bundles.py [--sizes 10x20x1x30000,40x40x1x300000] [--json]

A size is services x metrics x hours x log lines, at one sample a second.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from common import BenchResult, bench_settings, emit
from resampling import finer
from rich.table import Table
from ruamel.yaml import YAML
from scipy.signal import lfilter

from agent.bundles.reader import CaseBundle, load_bundle
from agent.series import LogRecord, Series

JITTER = 30.0  # seconds a repeated log line may move
HEALTHY_SHARE = 0.25  # the first share of the window an extra service's series repeat
_NUMBER = re.compile(r"(?<![A-Za-z0-9])\d+(?![A-Za-z0-9])")  # a number, not a digit in an id or name


def scaled_bundle(source: Path, out: Path, *, services: int, metrics: int, hours: float, step: float = 1.0,
                  log_lines: int = 0, seed: int = 0, compress: bool = False) -> Path:
    """Write the scaled copy of the bundle ``source`` to ``out`` (replaced) and return ``out``."""
    bundle = load_bundle(source)
    rng = np.random.default_rng(seed)
    end = max(float(s.timestamps[-1]) for s in bundle.series if len(s))
    start = end - hours * 3600
    extras = _extra_services(bundle, services)
    series = _scaled_series(bundle.series, extras, start, step, seed)
    series += _aux_series(series, metrics, start, end, step, rng)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("event.yaml", "label.yaml", "changes.jsonl"):
        if (source / name).is_file():
            shutil.copy(source / name, out / name)
    _write_metrics(out / ("metrics.csv.gz" if compress else "metrics.csv"), series)
    if log_lines:
        logs = _scaled_logs(bundle.logs, extras, start, log_lines, rng)
        _write_logs(out / ("logs.jsonl.gz" if compress else "logs.jsonl"), logs)
    _write_topology(source / "topology.yaml", out / "topology.yaml", extras)
    return out


def _extra_services(bundle: CaseBundle, services: int) -> dict[str, str]:
    """Extra service name -> the healthy service it copies (neither the alerted one nor a labelled cause)."""
    from agent.bundles.label import load_label

    label = load_label(bundle.path) if bundle.path else None
    causes = {c.service for c in label.root_cause} if label is not None else set()
    present = sorted({s.service for s in bundle.series if s.service})
    bases = [s for s in present if s not in causes and s not in bundle.event.services] or present
    return {f"{bases[i % len(bases)]}-x{i // len(bases) + 1}": bases[i % len(bases)]
            for i in range(max(0, services - len(present)))}


def _scaled_series(series: list[Series], extras: dict[str, str], start: float, step: float,
                   seed: int) -> list[Series]:
    out = []
    for s in series:
        out.append(_spread(s, start, step, seed))
        for name, base in extras.items():
            if s.service == base:
                out.append(_healthy_copy(s, name, start, step, seed + len(out)))
    return out


def _spread(s: Series, start: float, step: float, seed: int) -> Series:
    """``s`` with its samples from ``start`` on spread over ``step``-second samples."""
    old = s.timestamps < start
    window = finer(Series(s.metric, s.labels, s.timestamps[~old], s.values[~old]), step, seed)
    return Series(s.metric, dict(s.labels), np.r_[s.timestamps[old], window.timestamps],
                  np.r_[s.values[old], window.values])


def _healthy_copy(s: Series, service: str, start: float, step: float, seed: int) -> Series:
    """``s`` as service ``service``, its window filled with the first ``HEALTHY_SHARE`` of it repeated."""
    spread = _spread(s, start, step, seed)
    inside = spread.timestamps >= start
    values = spread.values[inside]
    head = values[: max(1, int(values.size * HEALTHY_SHARE))]
    filled = np.resize(head, values.size)
    labels = {**s.labels, "service": service}
    if "instance" in labels:
        labels["instance"] = f"{service}-{labels['instance']}"
    return Series(s.metric, labels, spread.timestamps, np.r_[spread.values[~inside], filled])


def _aux_series(series: list[Series], metrics: int, start: float, end: float, step: float,
                rng: np.random.Generator) -> list[Series]:
    """``aux_NN`` series bringing every service to ``metrics`` metric names."""
    names: dict[str, set[str]] = {}
    for s in series:
        names.setdefault(s.service or "", set()).add(s.metric)
    stamps = np.arange(start + step, end + step / 2, step)
    out = []
    for service, have in sorted(names.items()):
        for i in range(max(0, metrics - len(have))):
            values = lfilter([1.0], [1.0, -0.8], rng.normal(0.0, 1.0, stamps.size))  # AR(1)
            level = float(rng.uniform(10, 1000))
            out.append(Series(f"aux_{i:02d}", {"service": service}, stamps, level + level * 0.02 * values))
    return out


def _write_metrics(path: Path, series: list[Series]) -> None:
    extra = sorted({k for s in series for k in s.labels if k != "service"})
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(",".join(["timestamp", "metric", "service", "value", *extra]) + "\n")
        for s in series:
            tail = ",".join([s.metric, s.labels.get("service", ""), "{}", *(s.labels.get(k, "") for k in extra)])
            stamps = np.char.mod("%.10g", s.timestamps)
            values = np.char.mod("%.6g", s.values)
            fh.write("".join(f"{t},{tail.replace('{}', v)}\n" for t, v in zip(stamps, values, strict=True)))


def _scaled_logs(logs: list[LogRecord], extras: dict[str, str], start: float, lines: int,
                 rng: np.random.Generator) -> list[dict]:
    window = [r for r in logs if r.ts >= start - JITTER]
    for name, base in extras.items():
        window += [LogRecord(r.ts, name, r.level, r.message, f"{name}-{r.instance}" if r.instance else None,
                             r.trace_id, dict(r.extra)) for r in logs if r.ts >= start and r.service == base]
    copies = max(1, round(lines / max(1, len(window))))
    out = []
    for record in window:
        jitter = rng.uniform(-JITTER, JITTER, copies)
        jitter[0] = 0.0
        for k in range(copies):
            row = {key: value for key, value in asdict(record).items() if key != "extra" and value is not None}
            row.update(record.extra)
            row["ts"] = round(record.ts + float(jitter[k]), 3)
            if k:
                row["message"] = _redrawn(record.message, record.trace_id, k, rng)
                if record.trace_id:
                    row["trace_id"] = _trace(record.trace_id, k)
            out.append(row)
    out.sort(key=lambda r: r["ts"])
    return out


def _trace(trace_id: str, k: int) -> str:
    return f"{k:04x}{trace_id[4:]}" if len(trace_id) > 4 else f"{trace_id}{k}"


def _redrawn(message: str, trace_id: str | None, k: int, rng: np.random.Generator) -> str:
    """``message`` with its trace id renamed as the copy's and every other number redrawn (same templates)."""
    if trace_id and trace_id in message:
        head, _, tail = message.partition(trace_id)
        return _redrawn(head, None, k, rng) + _trace(trace_id, k) + _redrawn(tail, None, k, rng)
    digits = rng.integers(0, 10, len(message))
    return _NUMBER.sub(lambda m: "".join(str(d) for d in digits[m.start():m.end()]), message)


def _write_logs(path: Path, logs: list[dict]) -> None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for row in logs:
            fh.write(json.dumps(row) + "\n")


def _write_topology(source: Path, path: Path, extras: dict[str, str]) -> None:
    if not source.is_file():
        return
    yaml = YAML()
    given = yaml.load(source.read_text(encoding="utf-8"))["services"]
    deps = {str(name): [str(d) for d in (spec or {}).get("depends_on") or []] for name, spec in given.items()}
    for name, base in extras.items():
        for callers in deps.values():
            if base in callers:
                callers.append(name)
        deps[name] = []
    with path.open("w", encoding="utf-8") as fh:
        yaml.dump({"services": {name: {"depends_on": d} for name, d in deps.items()}}, fh)


SIZES = "10x20x1x30000,40x40x1x300000"
SEED = 1000  # a simulated bad config on retrieval behind the gateway's latency alert


def timed_eval(cases: Path, home: Path) -> tuple[float, float, dict]:
    """Seconds, peak MB of that one process, and the JSON report of ``bianque eval --cases cases --jobs 1``."""
    command = [sys.executable, "-m", "agent.cli", "eval", "--cases", str(cases), "--jobs", "1", "--json"]
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, cwd=Path(__file__).parents[1],
                                   env={**os.environ, "BIANQUE_HOME": str(home)})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        report = json.loads(out.read() or b"{}")
    if process.returncode:
        raise SystemExit(f"bianque eval --cases {cases} failed ({process.returncode})")
    return seconds, usage.ru_maxrss / 1024, report


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help="services x metrics x hours x log lines, comma separated")
    parser.add_argument("--home", type=Path, default=None, help="BIANQUE_HOME (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    from agent.sim.batch import generate_batch

    rows = []
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-scale-") as temp:
        root = Path(temp)
        source = generate_batch(root / "sim", 1, SEED, "rca")[0]
        timed_eval(source.parent, settings.home)  # embeds the handbook, untimed
        cases = [("as simulated", source.parent)]
        for size in args.sizes.split(","):
            services, metrics, hours, lines = size.split("x")
            out = root / size / source.name
            scaled_bundle(source, out, services=int(services), metrics=int(metrics), hours=float(hours),
                          log_lines=int(lines), seed=SEED)
            cases.append((size, out.parent))
        for name, cases_dir in cases:
            bundle = next(cases_dir.iterdir())
            with (bundle / "metrics.csv").open("rb") as fh:
                samples = sum(1 for _ in fh) - 1
            logs = bundle / "logs.jsonl"
            log_lines = sum(1 for _ in logs.open("rb")) if logs.is_file() else 0
            seconds, peak_mb, report = timed_eval(cases_dir, settings.home)
            score = (report.get("cases") or [{}])[0]
            rows.append({"case": name, "metric_rows": samples, "log_lines": log_lines, "seconds": round(seconds, 1),
                         "peak_mb": round(peak_mb), "rank": score.get("rank"), "passed": score.get("passed")})
    table = Table(title=f"bianque eval --jobs 1 on one case, by size ({os.cpu_count()} cores)")
    for header in ("case", "metric rows", "log lines", "seconds", "peak MB", "planted cause rank"):
        table.add_column(header, justify="left" if header == "case" else "right")
    for row in rows:
        table.add_row(row["case"], f"{row['metric_rows']:,}", f"{row['log_lines']:,}", f"{row['seconds']:.1f}",
                      str(row["peak_mb"]), str(row["rank"]))
    return BenchResult(tables={"scale": table}, data={"runs": rows})


if __name__ == "__main__":
    arguments = sys.argv[1:]
    emit(main(arguments), "--json" in arguments)
