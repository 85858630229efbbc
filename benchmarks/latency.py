"""Latency per investigation without the LLM, on the curated scenarios and on synthetic systems of growing size.

Every investigation runs the real graph offline (offline reasoner, the knowledge store unless
``--no-knowledge``, no memory writes), after one untimed warm-up run per bundle; the wall time of
``investigate()`` (graph compile included) and each node's own time are recorded over ``--repeat`` runs.

Synthetic bundles (written with ``agent.bundles.writer.write_bundle``): ``N`` services × 6 metrics ×
``I`` instances of one-minute series over 95 minutes, a slow callee under an alerted front door, judged
with the ``generic-rca`` Skill. Two topologies: ``star`` (the front door calls every service, so the Skill's
one-hop neighbourhood is the whole system: the worst case) and ``tree`` (fan-out 4: the neighbourhood
stays the same size whatever the system's size).

Usage::

    .venv/bin/python benchmarks/latency.py [--repeat 5] [--services 10,50,200] [--instances 1,4]
        [--shapes star,tree] [--json] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    open_knowledge_if,
    percentile,
    plot_argument,
    progress_bar,
    pyplot,
    save_figure,
)
from rich.table import Table

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import PROJECT_ROOT
from agent.eval.runner import find_bundles
from agent.events import Event
from agent.graph.build import NODES
from agent.graph.plan import build_plan
from agent.investigate import investigate
from agent.runtime import bundle_toolkit, load_skills
from agent.series import LogRecord, Series

CURATED = PROJECT_ROOT / "examples" / "scenarios"
GENERIC_SKILL = "generic-rca"
NODE_NAMES = [name for name, _ in NODES]
EVENT_TIME = 1_777_000_000.0  # a fixed instant (2026-04-24): the runs are deterministic
STEP_S, BEFORE_MIN, AFTER_MIN, ONSET_MIN = 60.0, 90, 5, 10
FANOUT = 4
# metric -> (normal level, relative noise, factor on the faulty service after the onset)
METRICS: dict[str, tuple[float, float, float]] = {
    "request_latency_p99_seconds": (0.12, 0.05, 4.0),
    "request_latency_p50_seconds": (0.04, 0.05, 2.5),
    "request_error_ratio": (0.002, 0.2, 8.0),
    "requests_per_second": (300.0, 0.05, 1.0),
    "cpu_usage_ratio": (0.35, 0.05, 1.1),
    "memory_usage_bytes": (2.0e9, 0.01, 1.0),
}
FRONT_DOOR_EFFECT = {"request_latency_p99_seconds": 1.8, "request_latency_p50_seconds": 1.4}


@dataclass
class Measured:
    """Timings of one bundle over the repeats."""

    group: str
    bundle: str
    services: int
    series: int
    series_gathered: int
    load_s: float
    totals: list[float] = field(default_factory=list)
    nodes: dict[str, list[float]] = field(default_factory=dict)
    skill: str = ""
    top_cause: str | None = None


def topology(services: list[str], shape: str) -> dict[str, list[str]]:
    """``star``: the first service calls all others; ``tree``: service i calls i*F+1 .. i*F+F."""
    if shape == "star":
        return {services[0]: services[1:], **{s: [] for s in services[1:]}}
    return {s: services[i * FANOUT + 1: i * FANOUT + 1 + FANOUT] for i, s in enumerate(services)}


def synthetic_bundle(out_dir: Path, n_services: int, instances: int, shape: str, seed: int = 1000) -> Path:
    """Write one synthetic RCA bundle: the front door ``svc-000`` alerts; its callee ``svc-001`` is slow."""
    rng = np.random.default_rng([seed, n_services, instances])
    services = [f"svc-{i:03d}" for i in range(n_services)]
    times = EVENT_TIME + STEP_S * np.arange(-BEFORE_MIN, AFTER_MIN + 1)
    after = times >= EVENT_TIME - ONSET_MIN * STEP_S
    series: list[Series] = []
    for service in services:
        for metric, (level, noise, factor) in METRICS.items():
            if service == services[1]:
                effect = factor
            else:
                effect = FRONT_DOOR_EFFECT.get(metric, 1.0) if service == services[0] else 1.0
            for i in range(instances):
                values = level * (1 + noise * rng.standard_normal(times.size))
                values = np.where(after, values * effect, values)
                labels = {"service": service, "instance": f"{service}-{i}"}
                series.append(Series(metric, labels, times, np.clip(values, 0, None)))
    logs = [LogRecord(ts=float(t), service=services[1], level="ERROR", message=f"timeout after 2000 ms req={k}")
            for k, t in enumerate(times[after])]
    logs += [LogRecord(ts=float(t), service=s, level="WARN", message="slow request path=/api/v1/items")
             for s in services for t in times[::15]]
    event = Event.model_validate({
        "pattern": "rca", "time": EVENT_TIME, "service": services[0],
        "alert": {"status": "firing", "startsAt": EVENT_TIME,
                  "labels": {"alertname": "FrontDoorLatencyHigh", "service": services[0], "severity": "critical"},
                  "annotations": {"summary": f"{services[0]} p99 latency above 200ms"}},
    })
    label = {"root_cause": [{"service": services[1], "fault": "slow_dependency"}], "noise": False}
    return write_bundle(out_dir, event, series, logs=logs, topology=topology(services, shape), label=label)


def series_gathered(bundle: Any, toolkit: Any, skill: str | None) -> int:
    """How many series the plan of the Skill that answers fetches from the bundle (untimed)."""
    chosen = toolkit.library.get(skill).skill if skill else None
    if chosen is None:
        return 0
    plan = build_plan(chosen, bundle.event, bundle.event.services, toolkit.topology)
    return sum(len(toolkit.metrics.query(task.query).data) for task in plan.metric_tasks)


def measure(path: Path, group: str, settings: Any, library: Any, knowledge: Any, repeat: int,
            skill: str | None) -> Measured:
    """Load the bundle (timed once), warm up once, then time ``repeat`` investigations."""
    started = time.perf_counter()
    bundle = load_bundle(path)
    load_s = time.perf_counter() - started
    toolkit = bundle_toolkit(bundle, settings, library=library, knowledge=knowledge)
    result = investigate(bundle.event, toolkit, skill=skill, source="benchmark")  # warm-up, untimed
    used = result.skill["name"]
    out = Measured(group, path.name, len(bundle.services()), len(bundle.series),
                   series_gathered(bundle, toolkit, used), load_s, skill=used,
                   top_cause=result.verdict.root_causes[0].service if result.verdict.root_causes else None)
    for _ in range(repeat):
        started = time.perf_counter()
        result = investigate(bundle.event, toolkit, skill=skill, source="benchmark")
        out.totals.append(time.perf_counter() - started)
        for node, seconds in result.timings.items():
            out.nodes.setdefault(node, []).append(seconds)
    return out


def outside_nodes(m: Measured) -> list[float]:
    """Per run: wall time not spent inside a node (graph compile, state passing, result parsing)."""
    return [total - sum(times[i] for times in m.nodes.values()) for i, total in enumerate(m.totals)]


def _ms(values: list[float]) -> str:
    return f"{1000 * median(values):,.0f}" if values else "—"


def latency_table(title: str, rows: list[Measured], first: str) -> Table:
    table = Table(title=title)
    table.add_column(first, no_wrap=True)
    for header in ("services", "series", "series gathered", "load bundle ms", "median ms", "p95 ms",
                   *(f"{n} ms" for n in NODE_NAMES), "outside nodes ms"):
        table.add_column(header, justify="right")
    table.add_column("top cause")
    for m in rows:
        table.add_row(m.bundle if first == "bundle" else m.group, str(m.services), f"{m.series:,}",
                      f"{m.series_gathered:,}", f"{1000 * m.load_s:,.0f}", _ms(m.totals),
                      f"{1000 * percentile(m.totals, 95):,.0f}", *(_ms(m.nodes.get(n, [])) for n in NODE_NAMES),
                      _ms(outside_nodes(m)), m.top_cause or "—")
    return table


def curated_summary(rows: list[Measured]) -> Table:
    totals = [t for m in rows for t in m.totals]
    table = Table(title=f"Curated scenarios: all {len(totals)} timed investigations")
    for header in ("bundles", "investigations", "median ms", "p95 ms", "max ms"):
        table.add_column(header, justify="right")
    table.add_row(str(len(rows)), str(len(totals)), f"{1000 * median(totals):,.0f}" if totals else "—",
                  f"{1000 * percentile(totals, 95):,.0f}", f"{1000 * max(totals, default=float('nan')):,.0f}")
    return table


def plot(rows: list[Measured], path: str) -> Path:
    """Median investigation time (solid) and gather time (dotted) against the bundle's series, one colour
    per topology shape and instance count."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    groups: dict[str, list[Measured]] = {}
    for m in rows:
        shape, size = m.group.split(" ", 1)
        groups.setdefault(f"{shape}, {size.split('×')[1]} instance(s)", []).append(m)
    for (name, members), colour in zip(groups.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"],
                                       strict=False):
        members = sorted((m for m in members if m.totals), key=lambda m: m.series)
        xs = [m.series for m in members]
        ax.plot(xs, [median(m.totals) for m in members], marker="o", color=colour, label=f"{name}: total")
        ax.plot(xs, [median(m.nodes.get("gather", [0.0])) for m in members], marker=".", linestyle=":",
                color=colour, label=f"{name}: gather")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("series in the bundle (services × 6 metrics × instances)")
    ax.set_ylabel("median seconds per investigation")
    ax.set_title(f"Latency without the LLM vs system size ({GENERIC_SKILL})")
    ax.legend(fontsize="x-small")
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per bundle (default: %(default)s)")
    parser.add_argument("--curated", type=Path, default=CURATED, help="curated bundles (default: %(default)s)")
    parser.add_argument("--skip-curated", action="store_true", help="time only the synthetic bundles")
    parser.add_argument("--services", type=_ints, default=[10, 50, 200], help="synthetic system sizes")
    parser.add_argument("--instances", type=_ints, default=[1, 4], help="instances (series per metric) per service")
    parser.add_argument("--shapes", default="star,tree", help="synthetic topologies: star, tree")
    add_common_arguments(parser)
    plot_argument(parser, "latency.png")
    args = parser.parse_args(argv)
    if not args.skip_curated and not args.curated.is_dir():
        parser.error(f"--curated {args.curated}: no such directory")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if bad := [s for s in args.shapes.split(",") if s and s not in ("star", "tree")]:
        parser.error(f"unknown shape(s) {bad}; choose star, tree")
    return args


def main(argv: list[str] | None = None) -> BenchResult:
    """Time the curated and the synthetic bundles, print; returns the tables and the JSON data."""
    args = parse_args(argv)
    curated = [] if args.skip_curated else find_bundles(args.curated)
    shapes = [s for s in args.shapes.split(",") if s]
    sizes = [(shape, n, i) for shape in shapes for n in args.services for i in args.instances]
    with tempfile.TemporaryDirectory(prefix="bianque-latency-") as tmp, bench_settings(args.home) as settings:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        library = load_skills(settings)
        with progress_bar("writing synthetic bundles", len(sizes)) as advance:
            synthetic = []
            for shape, n, i in sizes:
                synthetic.append((f"{shape} {n}×{i}", synthetic_bundle(Path(tmp) / f"{shape}-{n}-{i}", n, i, shape)))
                advance()
        with progress_bar("timing investigations", len(curated) + len(synthetic)) as advance:
            curated_rows = []
            for path in curated:
                curated_rows.append(measure(path, "curated", settings, library, knowledge, args.repeat, None))
                advance()
            synthetic_rows = []
            for group, path in synthetic:
                synthetic_rows.append(measure(path, group, settings, library, knowledge, args.repeat, GENERIC_SKILL))
                advance()
    tables = {}
    if curated_rows:
        tables["curated"] = latency_table("Curated scenarios (median over the repeats)", curated_rows, "bundle")
        tables["curated_summary"] = curated_summary(curated_rows)
    if synthetic_rows:
        tables["synthetic"] = latency_table(f"Synthetic systems, {GENERIC_SKILL} (services × instances)",
                                            synthetic_rows, "system")
    result = BenchResult(tables=tables, data={
        "repeat": args.repeat, "knowledge": not args.no_knowledge,
        "curated": [asdict(m) for m in curated_rows], "synthetic": [asdict(m) for m in synthetic_rows],
    })
    if args.plot and synthetic_rows:
        result.plot = plot(synthetic_rows, args.plot)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
