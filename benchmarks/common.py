"""Helpers every benchmark script shares: offline settings, fresh scenarios, progress, tables, output.

The scripts import this module as a sibling (``from common import ...``), so run them as files:
``.venv/bin/python benchmarks/<name>.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.bundles.data_files import locate, open_text
from agent.config import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from agent.eval.runner import EvalReport

OUT_DIR = PROJECT_ROOT / "benchmarks" / "out"
TABLE_WIDTH = 240  # rich falls back to 80 columns when stdout is not a terminal: too narrow for these tables


def stdout_console() -> Console:
    """A console for the tables, wide enough not to squash them when stdout is a file or a pipe."""
    width = None if os.isatty(1) else int(os.environ.get("COLUMNS", TABLE_WIDTH))
    return Console(width=width)


err_console = Console(stderr=True)


@dataclass
class BenchResult:
    """What a benchmark's ``main`` returns: its rich tables (printed) and the same numbers as JSON data."""

    tables: dict[str, Table] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    plot: Path | None = None


def add_common_arguments(parser: argparse.ArgumentParser, *, knowledge: bool = True) -> None:
    """``--home`` and ``--json`` (and ``--no-knowledge``), defined once for every script."""
    parser.add_argument("--home", type=Path, default=None,
                        help="BIANQUE_HOME to use (default: a fresh temporary directory, removed afterwards)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    if knowledge:
        parser.add_argument("--no-knowledge", action="store_true",
                            help="do not open the knowledge store (faster; Skill selection by token overlap)")


SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
RCA_SETS = ("nezha-ob", "nezha-tt-dev")


def rca_sets_parser(description: str) -> argparse.ArgumentParser:
    """``--data``, ``--sets`` (the real RCA sets), ``--count`` fresh simulated incidents, ``--limit`` and the
    common arguments, for the scripts that compare rankings across sets."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--sets", default=",".join(RCA_SETS), help="comma-separated RCA sets (default: %(default)s)")
    parser.add_argument("--count", type=int, default=20, help="fresh simulated RCA incidents (seeds 1000+)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles of each set")
    add_common_arguments(parser)
    return parser


def all_sets_parser(description: str) -> argparse.ArgumentParser:
    """``--data``, ``--sets`` (default: every set in ``--data``), ``--limit`` and the common arguments, for the
    scripts that go over every real set."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--sets", default="", help="comma-separated set names (default: every set in --data)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles of each set")
    add_common_arguments(parser)
    return parser


def chosen_sets(args: argparse.Namespace) -> list[Path]:
    """The set directories ``args.sets`` names in ``args.data``, in its order (every one there, sorted, when it
    names none); exits when the directory or a named set is missing."""
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no such directory (pass --data DIR holding the sets)")
    wanted = [s for s in args.sets.split(",") if s]
    for name in wanted:
        if not (args.data / name).is_dir():
            raise SystemExit(f"{args.data / name}: no such set")
    sets = [args.data / name for name in wanted] or [p for p in sorted(args.data.iterdir()) if p.is_dir()]
    if not sets:
        raise SystemExit(f"{args.data}: no sets found")
    return sets


def rca_set_bundles(args: argparse.Namespace) -> dict[str, list[Path]]:
    """The bundles of every set named in ``args.sets`` (the first ``args.limit`` of each); exits on a missing set."""
    from agent.eval.runner import find_bundles

    groups: dict[str, list[Path]] = {}
    for name in filter(None, args.sets.split(",")):
        if not (args.data / name).is_dir():
            raise SystemExit(f"{args.data / name}: no such set")
        groups[name] = find_bundles(args.data / name)[: args.limit]
    return groups


def linked_copy(bundle: Path, root: Path, leave_out: Collection[str] = ()) -> Path:
    """A copy of ``bundle`` under ``root`` with its files linked, not copied, except those named in ``leave_out``
    (the caller writes its own version of them, or none)."""
    copy = root / bundle.name
    copy.mkdir(parents=True)
    for item in bundle.iterdir():
        if item.name not in leave_out:
            (copy / item.name).symlink_to(item.resolve())
    return copy


def rewrite_metrics(bundle: Path, copy: Path,
                    rows: Callable[[Iterator[dict[str, str]]], Iterable[dict[str, str]]]) -> None:
    """``copy``'s metrics.csv: ``bundle``'s metric rows (metrics.csv or metrics.csv.gz) passed through ``rows``,
    under the same columns; nothing when the bundle has no metrics file. ``copy`` must not link one."""
    source = locate(bundle, "metrics.csv")[0]
    if source is None:
        return
    with open_text(source, newline="") as src, (copy / "metrics.csv").open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(rows(reader))


def evaluated(label: str, bundles: Sequence[Path], settings: Settings, knowledge: Any = None) -> EvalReport:
    """The bundles answered offline as ``bianque eval`` does, with a progress bar named ``label``."""
    from agent.eval.runner import evaluate

    with progress_bar(label, len(bundles)) as advance:
        return evaluate(bundles, settings, knowledge=knowledge, on_case=lambda _p, _s: advance())


def strict_rca(report: EvalReport) -> tuple[int, int, int]:
    """(top-1 hits, top-3 hits, actionable RCA cases) of an ``evaluate`` report, strictly scored: a case that failed
    counts as an actionable RCA case missed (its pattern is not known)."""
    rca = report.by_pattern["rca"]
    return rca.top1, rca.top3, rca.rca_cases + len(report.errors)


def releases_stopped(report: EvalReport) -> tuple[int, int]:
    """(bad releases held or blocked, bad releases: labelled other than pass) of an ``evaluate`` report."""
    bad = [s for s in report.scores if s.pattern == "release_interception" and s.decision_label != "pass"]
    return sum(s.decision in ("hold", "block") for s in bad), len(bad)


def unlabelled_windows(report: EvalReport) -> tuple[int, int]:
    """(inspection windows labelled with nothing to find that were warned of anyway, such windows)."""
    quiet = [s for s in report.scores if s.pattern == "inspection" and not s.expected_items]
    return sum(s.false_alarms > 0 for s in quiet), len(quiet)


def strict_rca_top(bundles: Sequence[Path], label: str, settings: Settings, knowledge: Any,
                   ranks: dict[str, int | None] | None = None) -> tuple[int, int, int]:
    """:func:`strict_rca` of one offline evaluation with a progress bar; a case that fails is reported on stderr.
    ``ranks``, when given, is filled with each actionable RCA case's strict rank of its true cause (None: absent,
    judged "no attention" or failed), by case id."""
    report = evaluated(label, bundles, settings, knowledge)
    if ranks is not None:
        ranks.update({s.case: s.rank for s in report.scores if s.pattern == "rca" and not s.noise_label})
        ranks.update(dict.fromkeys(report.errors))
    print_failures(label, report)
    return strict_rca(report)


def print_failures(label: str, report: EvalReport) -> None:
    """Each case of ``report`` that failed, on stderr: strict counts score it as a miss."""
    for case, error in sorted(report.errors.items()):
        err_console.print(f"{label}: {case} failed (counted as a miss): {error}")


def plot_argument(parser: argparse.ArgumentParser, default_name: str) -> None:
    """``--plot FILE.png`` with a default under benchmarks/out/ (gitignored); ``--plot ''`` disables it."""
    parser.add_argument("--plot", type=str, default=str(OUT_DIR / default_name),
                        help="write a PNG here (default: %(default)s; empty to skip)")


@contextmanager
def bench_settings(home: Path | None = None) -> Iterator[Settings]:
    """Offline settings (no LLM, embedded stores) on ``home`` or on a temporary directory removed afterwards."""
    temp = None if home is not None else Path(tempfile.mkdtemp(prefix="bianque-bench-"))
    root = Path(home) if home is not None else temp
    previous = os.environ.get("BIANQUE_HOME")
    os.environ["BIANQUE_HOME"] = str(root)  # for anything that reads the settings itself
    try:
        yield Settings(home=root, llm_base_url=None, database_url=None, chroma_url=None, user_skills_dir=None)
    finally:
        if previous is None:
            os.environ.pop("BIANQUE_HOME", None)
        else:
            os.environ["BIANQUE_HOME"] = previous
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def open_knowledge_if(settings: Settings, enabled: bool) -> Any:
    """The knowledge store with the handbook ingested (what ``bianque eval`` uses), or None."""
    if not enabled:
        return None
    from agent.runtime import open_knowledge

    with err_console.status("opening the knowledge store (embedding the handbook)…"):
        return open_knowledge(settings)


@contextmanager
def progress_bar(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr; yields the function that advances it by one."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def seed_start_argument(parser: argparse.ArgumentParser) -> None:
    """``--seed-start``: the first seed of fresh scenarios, never one used in development (below 1000)."""
    from agent.sim.batch import BENCHMARK_SEEDS

    def fresh(value: str) -> int:
        seed = int(value)
        if seed < BENCHMARK_SEEDS:
            raise argparse.ArgumentTypeError(f"must be >= {BENCHMARK_SEEDS}: lower seeds were used in development")
        return seed

    parser.add_argument("--seed-start", type=fresh, default=BENCHMARK_SEEDS,
                        help=f"first seed of the fresh scenarios (default {BENCHMARK_SEEDS})")


def fresh_scenarios(root: Path, patterns: Sequence[str], per_pattern: int, seed_start: int) -> dict[str, list[Path]]:
    """``per_pattern`` labelled bundles of each pattern under ``root/<pattern>``, seeds ``seed_start``.. (>= 1000)."""
    from agent.sim.batch import BENCHMARK_SEEDS, generate_batch

    if seed_start < BENCHMARK_SEEDS:
        raise ValueError(f"seed {seed_start} is below {BENCHMARK_SEEDS}: those seeds were used in development")
    out: dict[str, list[Path]] = {}
    with progress_bar("generating scenarios", per_pattern * len(patterns)) as advance:
        for pattern in patterns:
            out[pattern] = generate_batch(root / pattern, per_pattern, seed_start, pattern,
                                          progress=lambda _i, _p: advance())
    return out


def pattern_measures(report: EvalReport) -> dict[str, str]:
    """An ``evaluate`` report's measures per pattern, as table cells: RCA top-1 / top-3, actionable alerts judged
    as needing no attention, noise silenced; bad releases intercepted, good ones blocked; inspection recall and
    false alarms. Strictly scored as :func:`strict_rca`: a case that failed is an actionable RCA case missed (in the
    RCA denominators, in no hit); its pattern is not known, so it is in none of the other measures."""
    rca = report.by_pattern["rca"]
    release = report.by_pattern["release_interception"]
    inspection = report.by_pattern["inspection"]
    top1, top3, actionable = strict_rca(report)
    return {
        "RCA top-1": fraction(top1, actionable),
        "RCA top-3": fraction(top3, actionable),
        "actionable judged no attention": fraction(rca.missed_actionable, actionable),
        "noise silenced": fraction(rca.noise_silenced, rca.noise_cases),
        "bad releases intercepted": fraction(*releases_stopped(report)),
        "good releases blocked": fraction(release.good_blocked, release.good_releases),
        "inspection recall": fraction(inspection.found_items, inspection.expected_items),
        "inspection false alarms": str(inspection.false_alarms),
    }


def evaluated_measures(label: str, bundles: Sequence[Path], settings: Settings) -> dict[str, str]:
    """The bundles answered offline as ``bianque eval`` does (a progress bar named ``label``), as ``pattern_measures``
    cells; a case that fails is reported on stderr."""
    report = evaluated(label, bundles, settings)
    print_failures(label, report)
    return pattern_measures(report)


def measures_table(title: str, columns: Mapping[str, Mapping[str, str]]) -> Table:
    """A table of ``pattern_measures`` cells: one row per measure, one column per variant (its heading the key)."""
    table = Table(title=title)
    table.add_column("measure")
    for heading in columns:
        table.add_column(heading, justify="right")
    for measure in next(iter(columns.values()), {}):
        table.add_row(measure, *(cells[measure] for cells in columns.values()))
    return table


def pct(value: float | None, digits: int = 0) -> str:
    """``0.734`` as ``73%``; None as an em dash."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def fraction(numerator: int, denominator: int) -> str:
    """``12/13 (92%)``, or an em dash when there is nothing to count."""
    return f"{numerator}/{denominator} ({pct(numerator / denominator)})" if denominator else "—"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100, linear interpolation); NaN for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan


def met(measured: float | None, target: float, at_most: bool = False) -> str:
    """``met`` / ``not met`` / ``—`` for a measured rate against a target (at least, or at most)."""
    if measured is None:
        return "—"
    ok = measured <= target if at_most else measured >= target
    return "met" if ok else "not met"


def emit(result: BenchResult, as_json: bool) -> None:
    """Print the tables (or the JSON data) to stdout."""
    if as_json:
        print(json.dumps(result.data, indent=2, default=str))
        return
    console = stdout_console()
    for table in result.tables.values():
        console.print(table)
        console.print()
    if result.plot is not None:
        console.print(f"plot: {result.plot}")


def save_figure(figure: Any, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (creating the directory) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return path


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
