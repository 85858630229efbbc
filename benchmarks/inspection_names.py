"""Real series under the names cloud monitoring gives metrics: the inspection set answered with its series renamed.

nab-dev's series carry their own names (``speed``, ``cpc_results``, ``Twitter_volume_AAPL``), which no Skill
knows, so the generic inspection reads them through its catch-all. The same numbers under a name a Skill does
know take another path: a named signal with its own bad direction, compare mode and minimum effect. Every
inspection bundle of ``nab-dev`` is answered offline, as ``bianque eval`` does, as given and with its metric
renamed to each of ``NAMES`` (values unchanged). Names of a share (utilization, util, percent) are given only to the
series that never exceed 100, and each row is compared with the same bundles as given.

Usage::

    .venv/bin/python benchmarks/inspection_names.py [--data DIR] [--limit N] [--json]
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
    linked_copy,
    open_knowledge_if,
    pct,
)
from metric_conventions import rewritten_copy
from real_sets import measured, run_set
from rich.table import Table

from agent.bundles.reader import load_bundle
from agent.eval.runner import find_bundles

SET = "nab-dev"
NAMES = ("request_latency_seconds", "request_count", "network_in_bytes", "disk_write_bytes", "cpu_utilization",
         "memory_usage_percent", "qps", "rt_p99", "cpu_util", "mem_used")  # the last four: in-house short forms
SHARE_WORDS = ("util", "percent")


def fits(bundle: Path, name: str) -> bool:
    """Whether the bundle's values can carry ``name``: a share (utilization, percent) never exceeds 100."""
    if not any(word in name for word in SHARE_WORDS):
        return True
    return all(float(s.values.max()) <= 100.0 for s in load_bundle(bundle).series if len(s))


def recall_and_false_alarms(values: dict[str, float | None]) -> str:
    return f"{pct(values['recall'])} / {pct(values['false alarms'])}"


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if not (args.data / SET).is_dir():
        raise SystemExit(f"{args.data / SET}: no such set")
    bundles = find_bundles(args.data / SET)[: args.limit]
    table = Table(title=f"{SET} under other metric names: recall / false alarms, beside the same bundles as given")
    for header in ("name", "bundles", "renamed", "as given"):
        table.add_column(header, justify="right" if header != "name" else "left")
    data: dict[str, dict] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-names-") as scratch:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        root = Path(scratch)
        as_given: dict[tuple[str, ...], dict[str, float | None]] = {}  # one run per distinct choice of bundles
        for name in NAMES:
            chosen = [b for b in bundles if fits(b, name)]
            renamed_dir = root / name / SET
            for bundle in chosen:
                # the event names the service, which here often shares the metric's name: left as it is
                rewritten_copy(bundle, renamed_dir, lambda _metric, value, new=name: (new, value), event_too=False)
            renamed = measured(SET, *run_set(renamed_dir, None, settings, knowledge, root / "runs"))
            key = tuple(b.name for b in chosen)
            if key not in as_given:
                given_dir = root / f"as-given-{len(as_given)}" / SET
                for bundle in chosen:
                    linked_copy(bundle, given_dir)
                as_given[key] = measured(SET, *run_set(given_dir, None, settings, knowledge, root / "runs"))
            data[name] = {"bundles": len(chosen), "renamed": renamed, "as given": as_given[key]}
            table.add_row(name, str(len(chosen)), recall_and_false_alarms(renamed),
                          recall_and_false_alarms(as_given[key]))
    return BenchResult(tables={"names": table}, data=data)


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv[1:])
