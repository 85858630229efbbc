"""Real incidents under other systems' metric names: each real RCA set answered with its metrics renamed.

The real development sets share one naming convention (``pod_client_latency_p99_seconds``,
``memory_usage_mebibytes``, ``pod_success_rate_percent``, ``pod_workload_ops``). Other systems say the same
things other ways, and an answer that holds only under one convention has learnt the names, not the system.
Every bundle of each set (``--sets``) is answered offline, as ``bianque eval`` does, once per convention:

- **as given**;
- **rt for latency**: the word ``latency`` becomes ``rt`` (response time, as many monitoring systems say);
- **unit and quantile only**: the word ``latency`` dropped (``pod_client_p99_seconds``);
- **mem for memory**: ``memory`` becomes ``mem``;
- **error rate for success rate**: ``success_rate`` becomes ``error_rate`` and its values ``100 - v`` (a
  percent) or ``1 - v`` (a ratio): the bad direction turns over with the name;
- **ms and bytes**: ``_seconds`` becomes ``_ms`` (values x 1000), ``_mebibytes`` becomes ``_bytes`` (x 2^20);
- **calls for workload**: the request amount (``workload``, ``ops``) becomes ``calls_total``;
- **opaque names**: every metric ``metric-NNN``: nothing says what a series measures or which way is bad.

Names are rewritten word by word (words split on ``_``), in ``metrics.csv`` and, as whole names, in
``event.yaml``; everything else is linked unchanged. Prints strict top-1 / top-3 per set and convention.

Usage::

    .venv/bin/python benchmarks/metric_conventions.py [--sets nezha-ob,nezha-tt-dev] [--limit N] [--json]
"""

from __future__ import annotations

import csv
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import (
    BenchResult,
    bench_settings,
    emit,
    fraction,
    linked_copy,
    open_knowledge_if,
    rca_set_bundles,
    rca_sets_parser,
    strict_rca_top,
)
from foreign_names import word_replacer
from rich.table import Table

from agent.bundles.data_files import locate, open_text

Rewrite = Callable[[str, float], tuple[str, float]]
METRIC_FILES = ("metrics.csv", "metrics.csv.gz")


def replace_words(words: dict[str, list[str]]) -> Callable[[str], str]:
    """A renamer replacing whole ``_``-separated words of a name (a word mapped to ``[]`` is dropped)."""
    def rename(name: str) -> str:
        parts = name.split("_")
        return "_".join(new for part in parts for new in words.get(part, [part]))
    return rename


def word_swap(old: str, new: str) -> Rewrite:
    """Every word ``old`` of a name becomes ``new`` (or is dropped when ``new`` is empty); values unchanged."""
    rename = replace_words({old: [new] if new else []})
    return lambda name, value: (rename(name), value)


def error_rate_for_success(name: str, value: float) -> tuple[str, float]:
    """``success_rate`` names become ``error_rate``, their values the complement (of 100 for a percent)."""
    if "success_rate" not in name:
        return name, value
    whole = 100.0 if name.split("_")[-1] == "percent" else 1.0
    return name.replace("success_rate", "error_rate"), whole - value


def finer_units(name: str, value: float) -> tuple[str, float]:
    """Seconds as milliseconds and mebibytes as bytes, values scaled to match."""
    for unit, new, factor in (("seconds", "ms", 1000.0), ("mebibytes", "bytes", 1048576.0)):
        if name.split("_")[-1] == unit:
            return name[: -len(unit)] + new, value * factor
    return name, value


def calls_for_workload(name: str, value: float) -> tuple[str, float]:
    """A request amount named by ``workload`` (and its ``ops`` unit) renamed ``calls_total``."""
    words = name.split("_")
    if "workload" not in words:
        return name, value
    kept = [w for w in words if w not in ("workload", "ops")]
    return "_".join([*kept, "calls", "total"]), value


def opaque(names: dict[str, str]) -> Rewrite:
    """Every metric ``metric-NNN``, numbered in order of first sight (shared by all bundles of a run)."""
    return lambda name, value: (names.setdefault(name, f"metric-{len(names) + 1:03d}"), value)


CONVENTIONS: dict[str, Callable[[], Rewrite]] = {
    "rt for latency": lambda: word_swap("latency", "rt"),
    "unit and quantile only": lambda: word_swap("latency", ""),
    "mem for memory": lambda: word_swap("memory", "mem"),
    "error rate for success rate": lambda: error_rate_for_success,
    "ms and bytes": lambda: finer_units,
    "calls for workload": lambda: calls_for_workload,
    "opaque names": lambda: opaque({}),
}


def rewritten_copy(bundle: Path, root: Path, rewrite: Rewrite, *, event_too: bool = True) -> Path:
    """``bundle`` under ``root`` with every metric row passed through ``rewrite`` (a plain ``metrics.csv``) and,
    with ``event_too``, the renamed metrics replaced as whole names in ``event.yaml``; other files linked."""
    copy = linked_copy(bundle, root, leave_out=(*METRIC_FILES, "event.yaml"))
    source, errors = locate(bundle, "metrics.csv")
    if source is None:
        raise SystemExit(f"{bundle}: no metrics.csv ({'; '.join(map(str, errors))})")
    renamed: dict[str, str] = {}
    with open_text(source, newline="") as src, (copy / "metrics.csv").open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        for row in reader:
            name, value = rewrite(row["metric"], float(row["value"]))
            renamed[row["metric"]] = name
            writer.writerow({**row, "metric": name, "value": repr(value)})
    event = (bundle / "event.yaml").read_text()
    if event_too:
        event = word_replacer({a: b for a, b in renamed.items() if a != b})(event)
    (copy / "event.yaml").write_text(event)
    return copy


def main(argv: list[str] | None = None) -> BenchResult:
    parser = rca_sets_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    groups = rca_set_bundles(args)
    results: dict[str, dict[str, list[int]]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-conv-") as scratch:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        for set_name, bundles in groups.items():
            results[set_name] = {"as given": list(strict_rca_top(bundles, f"{set_name} as given", settings,
                                                                 knowledge))}
            for label, make in CONVENTIONS.items():
                rewrite = make()
                root = Path(scratch) / set_name / label.replace(" ", "-")
                copies = [rewritten_copy(b, root, rewrite) for b in bundles]
                results[set_name][label] = list(strict_rca_top(copies, f"{set_name} {label}", settings, knowledge))
    table = Table(title="Real incidents under other metric-naming conventions (strict top-1 / top-3)")
    table.add_column("convention")
    for set_name in results:
        table.add_column(f"{set_name} top-1", justify="right")
        table.add_column(f"{set_name} top-3", justify="right")
    for label in ("as given", *CONVENTIONS):
        cells = []
        for by_label in results.values():
            top1, top3, total = by_label[label]
            cells += [fraction(top1, total), fraction(top3, total)]
        table.add_row(label, *cells)
    return BenchResult(tables={"conventions": table}, data={"sets": results})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
