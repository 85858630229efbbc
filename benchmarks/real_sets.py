"""Every real development set in ``../shared/data`` side by side with its baseline, scored strictly.

One configuration for all sets (the default Skill library, the offline reasoner). Strict: an RCA
case counts as a top-k hit only when the verdict says the alert needs attention and the labelled
service is among the first k; an inspection finds a labelled service only at warning or above, and
any warning on an unlabelled window is a false alarm. Baselines: the per-service z-score ranking
(``zscore_baseline.py``) for RCA sets, the 5-MAD rule (``mad_baseline.py``) for inspection sets.

Usage::

    .venv/bin/python benchmarks/real_sets.py [--data DIR] [--sets nezha-ob,nab-dev] [--limit N]
        [--without-topology [--call-labels]] [--sample-every SECONDS] [--json]

``--without-topology``: the same bundles with their ``topology.yaml`` left out (many exports have no call
graph), to measure how the agent does when nobody told it who calls whom; with ``--call-labels``, its calls
written instead as the Istio labels of a flat per-call counter in metrics.csv (``call_label_bundles.py``), as a
service mesh exports them. ``--sample-every 300``: the
same bundles with every metric series averaged over 5-minute buckets, as a rate over a coarser scrape
interval (or cloud monitoring keeping one point in five minutes) records it; ``--sample-every 5``: spread over
5-s samples with white noise whose mean over each original sample is that sample (``resampling.py``). The
z-score baseline sees the same data.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from call_label_bundles import labelled_copy
from common import (
    BenchResult,
    all_sets_parser,
    bench_settings,
    chosen_sets,
    emit,
    fraction,
    linked_copy,
    met,
    open_knowledge_if,
    pct,
)
from common import progress_bar as progress
from mad_baseline import mad_alarms
from real_incidents import TOPS, Outcome, fault_table, outcome, within
from resampling import resampled_copy
from rich.table import Table

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.eval.runner import bundle_keys, evaluate, find_bundles
from agent.scoring import CaseScore

# Issue 10's goals per development set (benchmarks may name data sets; the agent never does).
GOALS: dict[str, dict[str, tuple[float, bool]]] = {
    "nezha-ob": {"top-1": (0.70, False), "top-3": (0.90, False)},
    "nezha-tt-dev": {"top-1": (0.50, False), "top-3": (0.80, False)},
    "nab-dev": {"recall": (0.90, False), "false alarms": (0.05, True)},
}


@dataclass
class Inspected:
    """One inspection window: labelled or not, what the agent and the MAD rule flagged."""

    case: str
    positive: bool
    agent_found: bool
    agent_false_alarm: bool
    baseline_found: bool
    baseline_false_alarm: bool


def inspected(path: Path, score: CaseScore | None) -> Inspected:
    label = load_label(path)
    expected = {f.service for f in (label.findings if label is not None else [])}
    flagged = mad_alarms(load_bundle(path))
    found = score is not None and score.expected_items > 0 and score.found_items >= score.expected_items
    return Inspected(path.name, bool(expected), found, score is not None and score.false_alarms > 0,
                     bool(expected) and expected <= flagged, bool(flagged - expected))


def rca_row(name: str, outcomes: list[Outcome]) -> list[str]:
    n = len(outcomes)
    agent = " / ".join(pct(within(outcomes, t, "agent_rank") / n if n else None) for t in TOPS)
    zscore = " / ".join(pct(within(outcomes, t, "zscore_rank") / n if n else None) for t in TOPS)
    missed = sum(1 for o in outcomes if not o.needs_attention)
    return [name, "rca", str(n), f"top-1/3/5 {agent}", f"{zscore}", f"{missed} judged no attention"]


def inspection_row(name: str, cases: list[Inspected]) -> list[str]:
    pos = [c for c in cases if c.positive]
    neg = [c for c in cases if not c.positive]
    agent = f"recall {fraction(sum(c.agent_found for c in pos), len(pos))}, false alarms " \
            f"{fraction(sum(c.agent_false_alarm for c in neg), len(neg))}"
    base = f"recall {fraction(sum(c.baseline_found for c in pos), len(pos))}, false alarms " \
           f"{fraction(sum(c.baseline_false_alarm for c in neg), len(neg))}"
    return [name, "inspection", str(len(cases)), agent, base, ""]


def measured(name: str, outcomes: list[Outcome], cases: list[Inspected]) -> dict[str, float | None]:
    """The numbers the goals name, for one set."""
    n = len(outcomes)
    pos = [c for c in cases if c.positive]
    neg = [c for c in cases if not c.positive]
    return {
        "top-1": within(outcomes, 1, "agent_rank") / n if n else None,
        "top-3": within(outcomes, 3, "agent_rank") / n if n else None,
        "recall": sum(c.agent_found for c in pos) / len(pos) if pos else None,
        "false alarms": sum(c.agent_false_alarm for c in neg) / len(neg) if neg else None,
    }


def goals_table(values: dict[str, dict[str, float | None]]) -> Table:
    table = Table(title="Goals (issue 10) beside the measured values")
    for header in ("set", "measure", "goal", "measured", "status"):
        table.add_column(header)
    for name, goals in GOALS.items():
        for measure, (goal, at_most) in goals.items():
            value = values.get(name, {}).get(measure)
            bound = f"{'≤' if at_most else '≥'} {pct(goal)}"
            table.add_row(name, measure, bound, pct(value, 1), met(value, goal, at_most))
    return table


def run_set(path: Path, limit: int | None, settings, knowledge, scratch: Path, *,
            without_topology: bool = False, sample_every: float | None = None, call_labels: bool = False,
            ) -> tuple[list[Outcome], list[Inspected]]:
    """Investigate one set's bundles; RCA outcomes and inspection results with their baselines.
    Without ``topology.yaml`` (``without_topology``) or with metrics resampled to one sample every
    ``sample_every`` seconds, or with the calls in a per-call metric's labels (``call_labels``), copies made under
    ``scratch`` are investigated instead."""
    bundles = find_bundles(path)[:limit]
    if call_labels:
        bundles = [labelled_copy(b, scratch / path.name) for b in bundles]
    leave_out = {"topology.yaml"} if without_topology else set()
    if sample_every:
        try:
            bundles = [resampled_copy(b, scratch / path.name, sample_every, leave_out) for b in bundles]
        except ValueError as exc:  # a bundle that does not load (a step that does not divide is kept as recorded)
            raise SystemExit(f"{path.name}: {exc}") from None
    elif leave_out and not call_labels:
        bundles = [linked_copy(b, scratch / path.name, leave_out) for b in bundles]
    with progress(f"{path.name}: {len(bundles)} cases", len(bundles)) as advance:
        report = evaluate(bundles, settings, knowledge=knowledge, on_case=lambda _p, _s: advance())
    scores = {s.case: s for s in report.scores}  # by bundle_keys, as its errors
    if report.errors:
        print(f"{path.name}: {len(report.errors)} case(s) failed: {sorted(report.errors.items())[:3]}",
              file=sys.stderr)
    outcomes, cases = [], []
    keys = bundle_keys(bundles)
    for bundle in bundles:
        score = scores.get(keys[bundle])
        if load_bundle(bundle).event.pattern.value == "inspection":
            cases.append(inspected(bundle, score))
        else:
            outcomes.append(outcome(bundle, score, report.errors.get(keys[bundle])))
    return outcomes, cases


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = all_sets_parser(__doc__.split("\n")[0])
    parser.add_argument("--without-topology", action="store_true",
                        help="investigate the bundles with their topology.yaml left out")
    parser.add_argument("--sample-every", type=float, default=None, metavar="SECONDS",
                        help="resample every metric series to this interval first: averaged when coarser than "
                             "the data, spread with noise when finer (a series the step does not divide is kept "
                             "as recorded)")
    parser.add_argument("--call-labels", action="store_true",
                        help="with --without-topology: the calls written as Istio labels of a per-call metric")
    args = parser.parse_args(argv)
    if args.call_labels and (not args.without_topology or args.sample_every):
        parser.error("--call-labels goes with --without-topology, without --sample-every")
    return args


def main(argv: list[str] | None = None) -> BenchResult:
    """Investigate every case of every set, print the side-by-side table, the per-kind tables and the goals."""
    args = parse_args(argv)
    sets = chosen_sets(args)
    summary = Table(title="Real sets, strict scoring: Bian Que beside its baseline (one configuration)"
                    + (", without topology.yaml" if args.without_topology else "")
                    + (", its calls in a per-call metric's labels" if args.call_labels else "")
                    + (f", metrics resampled to one sample every {args.sample_every:g} s" if args.sample_every else ""))
    for header in ("set", "pattern", "cases", "Bian Que", "baseline (z-score top-1/3/5 | 5-MAD rule)", "note"):
        summary.add_column(header)
    tables: dict[str, Table] = {"summary": summary}
    data: dict[str, dict] = {}
    values: dict[str, dict[str, float | None]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-sets-") as temp:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        for path in sets:
            outcomes, cases = run_set(path, args.limit, settings, knowledge, Path(temp),
                                      without_topology=args.without_topology, sample_every=args.sample_every,
                                      call_labels=args.call_labels)
            if outcomes:
                summary.add_row(*rca_row(path.name, outcomes))
                kinds = fault_table(outcomes)
                kinds.title = f"{path.name}: per fault kind"
                tables[f"{path.name}-kinds"] = kinds
            if cases:
                summary.add_row(*inspection_row(path.name, cases))
            values[path.name] = measured(path.name, outcomes, cases)
            data[path.name] = {"rca": [asdict(o) for o in outcomes], "inspection": [asdict(c) for c in cases],
                               "measured": values[path.name]}
    tables["goals"] = goals_table(values)
    result = BenchResult(tables=tables, data={"data": str(args.data), "without_topology": args.without_topology,
                                              "call_labels": args.call_labels,
                                              "sets": data})
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
