"""How often each evidence rule of the ranking fires on the labelled cause, and on a wrong first answer.

A rule that fires on the cause far more often than on wrong leaders earns its weight; one that fires
on wrong leaders about as often as on causes is noise (docs/reasoners.md lists the rules). For every
labelled RCA case of the sets (and fresh simulated incidents), the default ranking is recorded; each
note on a ranked service counts, by rule (lists of services and numbers left out of the note), as:

- ``cause``: on the labelled cause, wherever it ranked;
- ``wrong leader``: on the first-ranked service when that is not the cause;
- ``cause not first``: on the labelled cause when something else ranked first;
- ``elsewhere``: on any other service (where a rule that marks victims should fire).

Usage::

    .venv/bin/python benchmarks/ranking_rules.py [--data DIR] [--sets a,b] [--count 20] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from common import (
    BenchResult,
    bench_settings,
    emit,
    fresh_scenarios,
    open_knowledge_if,
    rca_set_bundles,
    rca_sets_parser,
)
from common import progress_bar as progress
from rich.table import Table

from agent.bundles.label import load_label
from agent.eval.runner import evaluate
from agent.reasoners import offline
from agent.reasoners.service_evidence import ServiceEvidence

COUNTS = ("cause", "wrong leader", "cause not first", "elsewhere")


def rule_of(note: str) -> str:
    """A note without its particulars: "explains anomalies in callers ['a', 'b']" -> "explains anomalies in
    callers"; "its cpu_usage_ratio reached 92% of capacity ..." -> "its … reached … of capacity ...";
    "experience +0.45: ..." -> "experience"."""
    note = note.split(":")[0] if note.startswith("experience") else note
    note = re.sub(r"\[[^\]]*\]|\([^)]*\)", "", note)
    note = re.sub(r"^its \S+ reached [\d.]+%", "its … reached …", note)
    return re.sub(r"\s+", " ", note).strip()


def tally(rankings: Sequence[tuple[str, list[ServiceEvidence]]]) -> dict[str, Counter]:
    """Per rule, how often it fired on the cause, on a wrong leader, on a cause ranked below it, elsewhere.

    ``rankings``: (labelled cause, the ranked services) per case."""
    out: dict[str, Counter] = {}
    for cause, ranked in rankings:
        if not ranked:
            continue
        leader = ranked[0]
        for ev in ranked:
            for rule in {rule_of(n) for n in ev.notes}:
                counts = out.setdefault(rule, Counter())
                if ev.service == cause:
                    counts["cause"] += 1
                    counts["cause not first"] += leader.service != cause
                elif ev is leader:
                    counts["wrong leader"] += 1
                else:
                    counts["elsewhere"] += 1
    return out


def record(bundles: list[Path], settings: Any, knowledge: Any, label: str) -> list[tuple[str, list[Any]]]:
    """Investigate ``bundles`` with the default ranking, keeping each case's ranked services and its cause."""
    ranked_now: list[list[Any]] = []
    rank_services: Callable = offline.rank_services

    def keep(*args: Any, **kwargs: Any) -> list[Any]:
        ranked = rank_services(*args, **kwargs)
        ranked_now.append(ranked)
        return ranked

    out: list[tuple[str, list[Any]]] = []

    def on_case(path: Path, _score: Any) -> None:
        truth = load_label(path)
        cause = truth.primary.service if truth is not None and truth.primary is not None else None
        if cause and ranked_now:
            out.append((cause, ranked_now[-1]))
        ranked_now.clear()
        advance()

    with mock.patch.object(offline, "rank_services", keep), progress(f"{label}: {len(bundles)} cases",
                                                                      len(bundles)) as advance:
        evaluate(bundles, settings, knowledge=knowledge, on_case=on_case)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return rca_sets_parser(__doc__.split("\n")[0]).parse_args(argv)


def main(argv: list[str] | None = None) -> BenchResult:
    """Tally every ranking rule on every set and print cause / wrong-leader counts side by side."""
    args = parse_args(argv)
    groups = rca_set_bundles(args)
    tallies: dict[str, dict[str, Counter]] = {}
    with tempfile.TemporaryDirectory(prefix="bianque-rules-") as tmp, bench_settings(args.home) as settings:
        if args.count:
            groups["simulator"] = fresh_scenarios(Path(tmp), ["rca"], args.count, 1000)["rca"]
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        for name, bundles in groups.items():
            tallies[name] = tally(record(bundles, settings, knowledge, name))
    rules = sorted({r for t in tallies.values() for r in t},
                   key=lambda r: -sum(t.get(r, Counter())["cause"] for t in tallies.values()))
    table = Table(title="Ranking rules, times fired: on the labelled cause / on a wrong first answer / on the cause "
                        "when not first / elsewhere")
    table.add_column("rule")
    for name in tallies:
        table.add_column(name, justify="right")
    for rule in rules:
        cells = [" / ".join(str(tallies[name].get(rule, Counter())[c]) for c in COUNTS) for name in tallies]
        table.add_row(rule, *cells)
    data = {name: {rule: dict(counts) for rule, counts in t.items()} for name, t in tallies.items()}
    result = BenchResult(tables={"rules": table}, data={"rules": data})
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
