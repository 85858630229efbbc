"""Root-cause ranking methods side by side on every real RCA set and fresh simulated incidents.

Every method ranks the same Findings (same Skills, same detectors, same attention decision); only
the ranking differs, and scoring is strict. Methods:

- ``rules``: the evidence rules of docs/reasoners.md (the default),
- ``walk``: a personalised random walk on the call graph (``agent/reasoners/random_walk.py``,
  MicroRCA / CloudRanger style),
- ``strength``: the strongest calibrated Finding per service, no topology at all.

Usage::

    .venv/bin/python benchmarks/ranking_methods.py [--data DIR] [--sets a,b] [--count 20] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from common import (
    BenchResult,
    bench_settings,
    emit,
    fresh_scenarios,
    open_knowledge_if,
    pct,
    rca_set_bundles,
    rca_sets_parser,
    strict_rca_top,
)
from rich.table import Table

from agent.reasoners import offline, ranking
from agent.reasoners.service_evidence import collect


def by_strength(findings, changes, topology, targets=()):  # noqa: ANN001 - the rank_services signature
    """Services by their strongest calibrated Finding alone."""
    evidence = collect(findings, changes, None)
    for ev in evidence.values():
        ev.score = ev.strength
    return sorted(evidence.values(), key=lambda e: (-e.score, e.service))


METHODS: dict[str, Callable] = {
    "rules": lambda findings, changes, topology, targets=(): ranking.rank_by_rules(findings, changes, topology),
    "walk": lambda findings, changes, topology, targets=(): ranking.rank_by_walk(findings, changes, topology),
    "strength": by_strength,
}


@contextmanager
def ranked_by(method: str):
    """The offline reasoner ranks with ``method`` inside the block."""
    with mock.patch.object(offline, "rank_services", METHODS[method]):
        yield


def top_k(bundles: list[Path], settings, knowledge, method: str) -> tuple[int, int, int]:
    """(top-1 hits, top-3 hits, actionable cases), strictly scored, ranked by ``method``."""
    with ranked_by(method):
        return strict_rca_top(bundles, f"{method}: {len(bundles)} cases", settings, knowledge)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return rca_sets_parser(__doc__.split("\n")[0]).parse_args(argv)


def main(argv: list[str] | None = None) -> BenchResult:
    """Rank every set with every method and print top-1 / top-3 per method and set."""
    args = parse_args(argv)
    groups = rca_set_bundles(args)
    table = Table(title="Root-cause ranking methods, strict top-1 / top-3 (same Findings, same decisions)")
    table.add_column("method")
    data: dict[str, dict[str, list[int]]] = {m: {} for m in METHODS}
    with tempfile.TemporaryDirectory(prefix="bianque-ranking-") as tmp, bench_settings(args.home) as settings:
        if args.count:
            groups["simulator"] = fresh_scenarios(Path(tmp), ["rca"], args.count, 1000)["rca"]
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        for name in groups:
            table.add_column(name, justify="right")
        for method in METHODS:
            cells = []
            for name, bundles in groups.items():
                one, three, n = top_k(bundles, settings, knowledge, method)
                data[method][name] = [one, three, n]
                cells.append(f"{pct(one / n if n else None)} / {pct(three / n if n else None)} (n={n})")
            table.add_row(method, *cells)
    result = BenchResult(tables={"methods": table}, data={"methods": data})
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
