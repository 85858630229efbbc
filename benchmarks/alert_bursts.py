"""Alerts in a burst: the same fresh simulated incidents with an earlier, recovered one just before each.

An alert's look-back often holds the tail of the incident before it: nezha-ob's incidents came 8-9 minutes
apart, and its answers leaned on that (README, "The previous incident in the look-back"). There the earlier
incident was mostly on the same service, so it could not be told whether the agent blames the right fault or the
last thing that broke. Here the truth is known: each fresh RCA scenario (``--count``, seeds from
``--seed-start``, >= 1000) is built as simulated and again with an earlier incident written in
(``agent.sim.bursts``: another service, neither the cause nor the alerted one, gets slow 4-10 minutes before the
cause begins and recovers within 3-6 minutes, before the cause's onset). Everything else about the case is the same.

Prints strict top-1 / top-3 of the labelled cause (actionable alerts) both ways, and how often the earlier
incident's service was ranked first or in the first three instead (scored as if it were the cause).

Usage::

    .venv/bin/python benchmarks/alert_bursts.py [--count 40] [--seed-start 1000] [--json]
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
    fraction,
    linked_copy,
    seed_start_argument,
    strict_rca_top,
)
from rich.table import Table
from ruamel.yaml import YAML

from agent.sim.batch import case_name, combinations
from agent.sim.scenario import build_scenario, write_scenario


def scenario_pairs(root: Path, count: int, seed_start: int) -> tuple[list[Path], list[Path]]:
    """``count`` fresh RCA scenarios written as simulated (``root/as-simulated``) and with an earlier incident
    (``root/burst``); only those the earlier incident could be written into (actionable alerts) are kept."""
    plain, burst = [], []
    pairs = combinations("rca")
    for seed in range(seed_start, seed_start + count):
        kind, fault = pairs[seed % len(pairs)]
        with_earlier = build_scenario(kind, fault, seed, earlier_incident=True)
        if "earlier_incident" not in with_earlier.label["sim"]:
            continue
        plain.append(write_scenario(build_scenario(kind, fault, seed), root / "as-simulated" / case_name(seed)))
        burst.append(write_scenario(with_earlier, root / "burst" / case_name(seed)))
    return plain, burst


def blaming_the_earlier(bundle: Path, root: Path) -> Path:
    """A copy of a burst bundle whose label names the earlier incident's service as the cause: its top-k hits
    count the answers that blamed the earlier incident."""
    yaml = YAML()
    label = yaml.load((bundle / "label.yaml").read_text(encoding="utf-8"))
    earlier = label["sim"]["earlier_incident"]
    label["root_cause"] = [{"service": earlier["service"], "fault": earlier["fault"]}]
    copy = linked_copy(bundle, root, leave_out={"label.yaml"})
    with (copy / "label.yaml").open("w", encoding="utf-8") as handle:
        yaml.dump(label, handle)
    return copy


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="fresh RCA scenarios (default 40)")
    seed_start_argument(parser)
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-bursts-") as scratch:
        plain, burst = scenario_pairs(Path(scratch), args.count, args.seed_start)
        blamed = [blaming_the_earlier(b, Path(scratch) / "earlier-as-cause") for b in burst]
        rows = {
            "as simulated: the cause": strict_rca_top(plain, "as simulated", settings, None),
            "with an earlier incident: the cause": strict_rca_top(burst, "with an earlier incident", settings, None),
            "with an earlier incident: its service instead": strict_rca_top(blamed, "blaming the earlier", settings,
                                                                             None),
        }
    table = Table(title=f"RCA in a burst: {len(plain)} fresh actionable alerts, strict top-1 / top-3")
    table.add_column("case, ranked")
    table.add_column("top-1", justify="right")
    table.add_column("top-3", justify="right")
    for name, (top1, top3, cases) in rows.items():
        table.add_row(name, fraction(top1, cases), fraction(top3, cases))
    data = {name: {"top1": top1, "top3": top3, "cases": cases} for name, (top1, top3, cases) in rows.items()}
    return BenchResult(tables={"bursts": table}, data=data)


if __name__ == "__main__":
    outcome = main(sys.argv[1:])
    emit(outcome, "--json" in sys.argv)
