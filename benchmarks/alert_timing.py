"""How much the RCA answers depend on when the alert fired: the same incidents with the alert moved.

Alerts fire at different delays after a fault begins: a hard error-rate rule within the minute, an SLO
burn-rate rule with ``for: 5m`` five minutes in, and a data set converted without alerts may put the
event at the injection time itself. Both Nezha sets put their alert two minutes after the fault, and the
simulator fires it when a threshold has held a few samples, so a ranking tuned on them alone can depend
on that delay. Each RCA bundle is copied with ``event.yaml``'s ``time`` (and the alert's ``startsAt``)
moved by every ``--offsets`` minute (the data files are linked, not copied) and investigated offline
exactly as ``bianque eval`` does. Prints strict top-1 / top-3 per set and offset, and plots top-1.

Offsets are relative to each bundle's own alert: -2 on a Nezha set is an alert at the fault's first
minute; +3 is five minutes after it, where the data of those sets ends (a live alert with nothing after).

Usage::

    .venv/bin/python benchmarks/alert_timing.py [--data DIR] [--sets nezha-ob,nezha-tt-dev] [--count 20]
        [--offsets=-2,0,3] [--limit N] [--plot FILE.png] [--json]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import (
    BenchResult,
    bench_settings,
    emit,
    fraction,
    fresh_scenarios,
    linked_copy,
    open_knowledge_if,
    plot_argument,
    pyplot,
    rca_set_bundles,
    rca_sets_parser,
    save_figure,
    strict_rca_top,
)
from rich.table import Table
from ruamel.yaml import YAML

from agent.sim.batch import BENCHMARK_SEEDS
from agent.timeparse import to_epoch

DEFAULT_OFFSETS = "-2,-1,0,1,3"


def moved_bundle(bundle: Path, minutes: float, root: Path) -> Path:
    """A copy of ``bundle`` under ``root`` whose event (and alert start) is ``minutes`` later; data files linked."""
    out = linked_copy(bundle, root, {"event.yaml"})
    yaml = YAML()
    event = yaml.load((bundle / "event.yaml").read_text(encoding="utf-8"))
    event["time"] = to_epoch(event["time"]) + 60 * minutes
    alert = event.get("alert") or {}
    if alert.get("startsAt"):
        alert["startsAt"] = to_epoch(alert["startsAt"]) + 60 * minutes
    with (out / "event.yaml").open("w", encoding="utf-8") as handle:
        yaml.dump(event, handle)
    return out


def main(argv: list[str] | None = None) -> BenchResult:
    parser = rca_sets_parser(__doc__.splitlines()[0])
    parser.add_argument("--offsets", default=DEFAULT_OFFSETS,
                        help="minutes to move each alert by, comma-separated (default: %(default)s)")
    plot_argument(parser, "alert_timing.png")
    args = parser.parse_args(argv)
    offsets = [float(o) for o in args.offsets.split(",") if o.strip()]
    results: dict[str, dict[float, tuple[int, int, int]]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-timing-") as scratch:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        groups = rca_set_bundles(args)
        if args.count:
            groups["simulator"] = fresh_scenarios(Path(scratch) / "sim", ["rca"], args.count, BENCHMARK_SEEDS)["rca"]
        for name, bundles in groups.items():
            for offset in offsets:
                root = Path(scratch) / f"{name}{offset:+g}"
                moved = [moved_bundle(b, offset, root) for b in bundles]
                results.setdefault(name, {})[offset] = strict_rca_top(moved, f"{name}, alert {offset:+g} min",
                                                                       settings, knowledge)
    table = Table(title="RCA with the alert moved (strict top-1 / top-3; 0 = as the bundles have it)")
    table.add_column("set")
    for offset in offsets:
        table.add_column(f"{offset:+g} min", justify="right")
    for name, by_offset in results.items():
        table.add_row(name, *(f"{fraction(t1, n)} / {fraction(t3, n)}" for t1, t3, n in by_offset.values()))
    data = {name: {f"{o:+g}": {"top1": t1, "top3": t3, "cases": n} for o, (t1, t3, n) in by_offset.items()}
            for name, by_offset in results.items()}
    plot = _plot(results, args.plot) if args.plot else None
    return BenchResult(tables={"timing": table}, data=data, plot=plot)


def _plot(results: dict[str, dict[float, tuple[int, int, int]]], path: str) -> Path:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    for name, by_offset in results.items():
        xs = sorted(by_offset)
        axes.plot(xs, [100 * by_offset[x][0] / max(by_offset[x][2], 1) for x in xs], marker="o", label=name)
    axes.set_xlabel("alert moved by (minutes; 0 = as recorded)")
    axes.set_ylabel("strict top-1 (%)")
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    return save_figure(figure, path)


if __name__ == "__main__":
    outcome = main(sys.argv[1:])
    emit(outcome, "--json" in sys.argv)
