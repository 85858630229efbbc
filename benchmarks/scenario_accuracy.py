"""Accuracy on freshly generated labelled scenarios, per pattern and per Skill, beside the project's targets.

Generates ``--count`` scenarios of each pattern (seeds from ``--seed-start``, >= 1000: never used in
development) into a temporary directory, investigates every one offline (offline reasoner, the handbook
in the knowledge store unless ``--no-knowledge``) exactly as ``bianque eval`` does, and prints:
per pattern the pass rate, RCA top-1/top-3, fault-kind accuracy (over the cases whose label names a
fault), noise silenced, actionable alerts judged as needing no attention, bad releases intercepted
(labelled hold or block, decided hold or block), block precision/recall, good releases blocked or held,
inspection recall and false alarms; per scenario kind and per Skill the pass rate; the targets with met / not met.

Usage::

    .venv/bin/python benchmarks/scenario_accuracy.py [--count 20] [--seed-start 1000] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    fraction,
    fresh_scenarios,
    met,
    open_knowledge_if,
    pct,
    progress_bar,
    ratio,
)
from rich.table import Table

from agent.bundles.label import GroundTruth, load_label
from agent.eval.runner import EvalReport, Summary, bundle_keys, evaluate
from agent.scoring import CaseScore
from agent.sim.scenario import PATTERNS

STOPPED = ("hold", "block")  # a release decision that intercepts the change
Cell = Callable[[Summary, "Releases"], str]
# per pattern: its table's title and (column, cell) pairs; every table starts with cases and pass
PATTERN_COLUMNS: dict[str, tuple[str, list[tuple[str, Cell]]]] = {
    "rca": ("Alert root-cause analysis", [
        ("RCA top-1", lambda s, _r: fraction(s.top1, s.rca_cases)),
        ("RCA top-3", lambda s, _r: fraction(s.top3, s.rca_cases)),
        ("fault kind", lambda s, _r: fraction(s.fault_correct, s.fault_labelled)),  # over labels naming one
        ("noise silenced", lambda s, _r: fraction(s.noise_silenced, s.noise_cases)),
        ("missed actionable (judged no attention)", lambda s, _r: fraction(s.missed_actionable, s.rca_cases)),
    ]),
    "release_interception": ("Release interception", [
        ("bad intercepted (hold/block)", lambda _s, r: fraction(r.intercepted, r.bad)),
        ("block precision", lambda s, _r: fraction(s.blocks_correct, s.blocks_predicted)),
        ("block recall", lambda s, _r: fraction(s.blocks_correct, s.blocks_true)),
        ("good blocked", lambda s, _r: fraction(s.good_blocked, s.good_releases)),
        ("good held", lambda _s, r: fraction(r.good_held, r.good)),
    ]),
    "inspection": ("Proactive inspection", [
        ("recall", lambda s, _r: fraction(s.found_items, s.expected_items)),
        ("false alarms", lambda s, _r: str(s.false_alarms)),
    ]),
}


@dataclass
class Releases:
    """Interception counts: a bad release is labelled hold or block; intercepting it means hold or block."""

    bad: int = 0
    intercepted: int = 0
    good: int = 0
    good_held: int = 0

    @classmethod
    def of(cls, scores: Iterable[CaseScore]) -> Releases:
        out = cls()
        for s in scores:
            if s.pattern != "release_interception":
                continue
            if s.decision_label in STOPPED:
                out.bad += 1
                out.intercepted += s.decision in STOPPED
            else:
                out.good += 1
                out.good_held += s.decision == "hold"
        return out


def _summary_rate(pattern: str, key: str) -> Callable[[EvalReport], float | None]:
    def get(report: EvalReport) -> float | None:
        summary = report.by_pattern.get(pattern)
        return summary.rates()[key] if summary is not None else None

    return get


def _interception(report: EvalReport) -> float | None:
    releases = Releases.of(report.scores)
    return ratio(releases.intercepted, releases.bad)


# (what it is, target, at most?, how to measure it) -- from issue 4, "Numbers to reach and to publish"
TARGETS: list[tuple[str, float, bool, Callable[[EvalReport], float | None]]] = [
    ("RCA top-1", 0.70, False, _summary_rate("rca", "rca_top1")),
    ("RCA top-3", 0.90, False, _summary_rate("rca", "rca_top3")),
    ("bad releases intercepted (hold or block)", 0.95, False, _interception),
    ("good releases blocked", 0.05, True, _summary_rate("release_interception", "good_blocked")),
    ("inspection recall", 0.90, False, _summary_rate("inspection", "inspection_recall")),
]


def scenario_kind(label: GroundTruth | None) -> str:
    """The simulated fault (and release variant) a label records, e.g. ``bad_config/hold``."""
    sim = (label.model_extra or {}).get("sim", {}) if label is not None else {}
    kind = sim.get("fault") or (label.primary.fault if label is not None and label.primary else "unknown")
    return f"{kind}/{sim['variant']}" if sim.get("variant") else kind


def pattern_table(report: EvalReport, pattern: str) -> Table:
    """One pattern's cases, pass rate and its own measures, counts beside every rate."""
    title, columns = PATTERN_COLUMNS[pattern]
    summary = report.by_pattern[pattern]
    releases = Releases.of(report.scores)
    table = Table(title=f"{title} (fresh simulated scenarios)")
    for header in ("cases", "pass", *(name for name, _ in columns)):
        table.add_column(header, justify="right")
    table.add_row(str(summary.cases), fraction(summary.passed, summary.cases),
                  *(cell(summary, releases) for _, cell in columns))
    return table


def overall_table(report: EvalReport) -> Table:
    table = Table(title="Pass rate per pattern")
    for header in ("pattern", "cases", "pass"):
        table.add_column(header, justify="left" if header == "pattern" else "right", no_wrap=True)
    for pattern in [p for p in PATTERNS if p in report.by_pattern]:
        summary = report.by_pattern[pattern]
        table.add_row(pattern, str(summary.cases), fraction(summary.passed, summary.cases))
    table.add_row("all", str(report.overall.cases), fraction(report.overall.passed, report.overall.cases),
                  style="bold")
    return table


def grouped_table(title: str, first: str, groups: dict[str, tuple[int, int]]) -> Table:
    """Cases and pass rate per group (a scenario kind or a Skill)."""
    table = Table(title=title)
    table.add_column(first, no_wrap=True)
    table.add_column("cases", justify="right")
    table.add_column("pass", justify="right")
    for name, (passed, cases) in sorted(groups.items()):
        table.add_row(name, str(cases), fraction(passed, cases))
    return table


def targets_table(report: EvalReport) -> tuple[Table, list[dict]]:
    table = Table(title="Targets (issue 4) beside the measured values")
    table.add_column("measure", no_wrap=True)
    table.add_column("target", justify="right")
    table.add_column("measured", justify="right")
    table.add_column("status")
    rows = []
    for name, target, at_most, measure in TARGETS:
        value = measure(report)
        verdict = met(value, target, at_most)
        table.add_row(name, f"{'≤' if at_most else '≥'} {pct(target)}", pct(value, 1), verdict)
        rows.append({"measure": name, "target": target, "at_most": at_most, "measured": value,
                     "met": verdict == "met"})
    return table, rows


def by_kind(report: EvalReport, kinds: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Cases passed and evaluated by pattern and scenario kind (``kinds``: by the report's case names)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for score in report.scores:
        entry = out[f"{score.pattern} {kinds.get(score.case, 'unknown')}"]
        entry[0] += score.passed
        entry[1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="scenarios per pattern (default: %(default)s)")
    parser.add_argument("--seed-start", type=int, default=1000, help="first seed, >= 1000 (default: %(default)s)")
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="comma-separated patterns (default: all)")
    add_common_arguments(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> BenchResult:
    """Generate, evaluate, print; returns the tables and the JSON data."""
    args = parse_args(argv)
    patterns = [p for p in args.patterns.split(",") if p]
    unknown = [p for p in patterns if p not in PATTERNS]
    if unknown:
        raise SystemExit(f"unknown pattern(s) {unknown}; choose from {', '.join(PATTERNS)}")
    with tempfile.TemporaryDirectory(prefix="bianque-scenarios-") as tmp, bench_settings(args.home) as settings:
        generated = fresh_scenarios(Path(tmp), patterns, args.count, args.seed_start)
        bundles = [path for pattern in patterns for path in generated[pattern]]
        keys = bundle_keys(bundles)  # how the report names each case: <pattern>/<bundle>
        kinds = {keys[path]: scenario_kind(load_label(path)) for path in bundles}
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        with progress_bar(f"investigating {len(bundles)} scenarios", len(bundles)) as advance:
            report = evaluate(bundles, settings, knowledge=knowledge, on_case=lambda _p, _s: advance())
    if report.errors:
        print(f"{len(report.errors)} scenario(s) failed: {report.errors}", file=sys.stderr)
    skills: dict[str, tuple[int, int]] = {k: (v.passed, v.cases) for k, v in report.by_skill.items()}
    target_table, target_rows = targets_table(report)
    result = BenchResult(
        tables={
            "patterns": overall_table(report),
            **{p: pattern_table(report, p) for p in PATTERNS if p in report.by_pattern},
            "kinds": grouped_table("Pass rate per scenario kind", "pattern and kind", by_kind(report, kinds)),
            "skills": grouped_table("Pass rate per Skill", "Skill", skills),
            "targets": target_table,
        },
        data={
            "count_per_pattern": args.count, "seed_start": args.seed_start, "knowledge": not args.no_knowledge,
            "targets": target_rows, **report.to_dict(),
            "kinds": kinds,  # by <pattern>/<bundle>, as the report names each case
            "misses": [{**asdict(s), "kind": kinds.get(s.case)} for s in report.scores if not s.passed],
        },
    )
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
