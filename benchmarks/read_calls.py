"""The calls read off logs for data without a call graph: how many are calls, and what they do to the answers.

For every RCA bundle with logs and a ``topology.yaml`` — ``nezha-tt-dev`` and ``nezha-ob`` (``../shared/data``),
fresh simulated bundles (``--count``, seeds from ``--seed-start``), and the same simulated bundles with their
services renamed by everyday words (``COMMON_WORDS``: ``api``, ``search``, ``user``, ...; in every file, log lines
too) — the calls read off all its log lines (``agent.topology_inference``: the order of lines in traces, and the
services lines name) are compared with its ``topology.yaml``: pairs that are calls of it and pairs that are not, all
of them and those the lines name alone ("named").
Then each set is answered offline without ``topology.yaml`` (strict top-1 / top-3 over its actionable cases, as
``real_sets.py --without-topology``).

Usage::

    .venv/bin/python benchmarks/read_calls.py [--count 50] [--seed-start 1000] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import (
    SHARED_DATA,
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    fraction,
    fresh_scenarios,
    linked_copy,
    open_knowledge_if,
    progress_bar,
    seed_start_argument,
    strict_rca_top,
)
from foreign_names import bundle_names, renamed_copy
from rich.table import Table

from agent.bundles.reader import load_bundle
from agent.eval.runner import find_bundles
from agent.topology_inference import calls_from_traces, calls_named

REAL_SETS = ("nezha-tt-dev", "nezha-ob")
COMMON_WORDS = ("api", "query", "search", "rank", "recommend", "ads", "user", "feature", "store", "order", "cart",
                "auth")


def read_pairs(bundle: Path) -> tuple[int, int, int, int] | None:
    """(calls of the given graph, pairs that are not) among those read off the bundle's logs, then the same for
    those its lines name alone; None without logs or a call graph."""
    loaded = load_bundle(bundle)
    if loaded.topology is None or not loaded.logs:
        return None
    records = loaded.logs
    services = {s.service for s in loaded.series if s.service} | {r.service for r in records if r.service}
    named = _pairs(calls_named(records, services).depends_on)
    read = _pairs(calls_from_traces(records).depends_on) | named
    given = {(s, d) for s in loaded.topology.services() for d in loaded.topology.dependencies(s, depth=1)}
    return len(read & given), len(read - given), len(named & given), len(named - given)


def _pairs(depends_on: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(caller, callee) for caller, callees in depends_on.items() for callee in callees}


def common_word_names(bundles: list[Path]) -> dict[str, str]:
    """Every service of the bundles, in name order, renamed by the next of ``COMMON_WORDS``."""
    services = sorted({s for b in bundles for s in bundle_names(b)[0]})
    if len(services) > len(COMMON_WORDS):
        raise SystemExit(f"{len(services)} services, only {len(COMMON_WORDS)} common words to name them")
    return dict(zip(services, COMMON_WORDS, strict=False))


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--count", type=int, default=50, help="fresh simulated RCA bundles (default 50)")
    seed_start_argument(parser)
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles of each real set")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, object]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-calls-") as scratch:
        root = Path(scratch)
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        sets = {name: find_bundles(args.data / name)[: args.limit] for name in REAL_SETS if (args.data / name).is_dir()}
        simulated = fresh_scenarios(root / "sim", ("rca",), args.count, args.seed_start)["rca"]
        words = common_word_names(simulated)
        sets["simulator"] = simulated
        sets["simulator, services named by common words"] = [
            renamed_copy(b, root / "words" / b.name, metrics_too=False, businesses={}, service_names=words)
            for b in simulated]
        for n, (label, bundles) in enumerate(sets.items()):
            pairs = []
            with progress_bar(f"{label}: reading calls", len(bundles)) as advance:
                for bundle in bundles:
                    if (found := read_pairs(bundle)) is not None:
                        pairs.append(found)
                    advance()
            right, wrong, named_right, named_wrong = (sum(p[i] for p in pairs) for i in range(4))
            copies = [linked_copy(b, root / "bare" / str(n), leave_out={"topology.yaml"}) for b in bundles]
            top1, top3, cases = strict_rca_top(copies, label, settings, knowledge)
            rows[label] = {"bundles with logs": len(pairs), "pairs read": right + wrong, "calls": right,
                           "not calls": wrong, "named: calls": named_right, "named: not calls": named_wrong,
                           "top-1": fraction(top1, cases), "top-3": fraction(top3, cases)}
    table = Table(title="Calls read off logs against the given call graphs, and answers without them (strict)")
    columns = ("bundles with logs", "pairs read", "calls", "not calls", "named: calls", "named: not calls", "top-1",
               "top-3")
    table.add_column("set")
    for column in columns:
        table.add_column(column, justify="right")
    for label, row in rows.items():
        table.add_row(label, *(str(row[c]) for c in columns))
    return BenchResult(tables={"calls": table}, data={"count": args.count, "sets": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
