"""The release gate on real series: harmless changes, and changes followed by a sustained regression.

No development set holds real releases, so the gate's judgement is measured on the real series of ``nab-dev``
(``../shared/data``: freeway traffic, ad-exchange prices, Twitter volume; names no Skill knows, real noise,
daily cycles, irregular sampling). Every bundle whose inspected hours and the 6 hours around them touch no
labelled anomaly (``-neg``) becomes a change to its service that began ``--change-age`` before the event time
and is judged at it:

- **harmless**: the series as recorded; the right decision is ``pass`` (a ``hold`` delays a good release, a
  ``block`` stops it);
- **regression up / down by k sigma**: from ``ONSET_DELAY_S`` after the change on, the series' values moved by
  k robust standard deviations of its day before the change (1.4826 x MAD, else the standard deviation when
  half its values are equal): a sustained level shift, injected, on real noise and daily cycles; the right
  decision is ``hold`` or ``block``. (A relative shift says nothing on counts that are mostly zero.)

A change the gate cannot judge is held for want of data (``agent/graph/coverage.py``) and counted apart, in every
variant: "no data" (the series has a gap over the window, or is empty) or "too few samples" (fewer than 5 of
the series' own samples since the change, or in the look-back before it). Shifts are also counted among the
series whose harmless version passed: one held anyway says nothing of the shift.

Usage::

    .venv/bin/python benchmarks/real_releases.py [--data DIR] [--change-age 2h] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
from common import SHARED_DATA, BenchResult, add_common_arguments, bench_settings, emit, fraction, pct, progress_bar
from rich.table import Table

from agent.bundles.reader import CaseBundle, load_bundle
from agent.detectors.direction import name_tokens
from agent.eval.runner import find_bundles
from agent.events import ChangeEvent, Event, Pattern
from agent.findings import FindingKind
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import parse_duration

SET = "nab-dev"
ONSET_DELAY_S = 600.0  # the regression shows ten minutes after the change began
VARIANTS = {"harmless": 0.0, "regression up 3 sigma": 3.0, "regression down 3 sigma": -3.0,
            "regression up 6 sigma": 6.0, "regression down 6 sigma": -6.0}
SPREAD_SPAN_S = 86400.0  # the noise a shift is measured in: the day before the change
NO_DATA, TOO_FEW = "no data", "too few samples"
DECISIONS = ("pass", "hold", "block", TOO_FEW, NO_DATA)
UNJUDGED = (TOO_FEW, NO_DATA)


def quiet_bundles(data: Path, limit: int | None) -> list[Path]:
    """The set's bundles whose window touches no labelled anomaly (their names end in ``-negN``)."""
    return [b for b in find_bundles(data / SET) if "-neg" in b.name][:limit]


def as_release(bundle: CaseBundle, change_age: float, sigmas: float) -> CaseBundle:
    """The inspection bundle as a change to its service that began ``change_age`` before the event time, the
    values from ``ONSET_DELAY_S`` after it on moved by ``sigmas`` robust standard deviations."""
    service = bundle.event.service or (bundle.event.scope.services[0] if bundle.event.scope else "")
    started = bundle.event.time - change_age
    event = Event(pattern=Pattern.RELEASE_INTERCEPTION, time=bundle.event.time, service=service,
                  change=ChangeEvent(id="release-1", type="deploy", service=service, version="v2", started=started))
    return replace(bundle, event=event, series=[shifted(s, started, sigmas) for s in bundle.series])


def shifted(series: Series, started: float, sigmas: float) -> Series:
    """``series`` with its values from ``ONSET_DELAY_S`` after ``started`` on moved by ``sigmas`` x its spread."""
    if sigmas == 0.0:
        return series
    values = series.values.copy()
    values[series.timestamps >= started + ONSET_DELAY_S] += sigmas * spread(series.between(started - SPREAD_SPAN_S,
                                                                                           started).values)
    return Series(series.metric, series.labels, series.timestamps, values)


def spread(values: np.ndarray) -> float:
    """1.4826 x MAD, or the standard deviation when the MAD is 0 (half the values equal)."""
    mad = float(np.median(np.abs(values - np.median(values)))) if values.size else 0.0
    return 1.4826 * mad if mad > 0 else float(np.std(values)) if values.size else 0.0


def decision_of(bundle: CaseBundle) -> str:
    """The gate's decision; when it held for want of data, whether there was none or too few samples (before
    or since the change)."""
    result = investigate(bundle.event, bundle_toolkit(bundle, knowledge=None, memory=None))
    if result.verdict.judged:
        return result.verdict.decision or "pass"
    gap = next((f for f in result.findings if f.kind == FindingKind.MISSING_DATA), None)
    return NO_DATA if gap is not None and gap.numbers.get("series") == 0 else TOO_FEW


def right(variant: str, decision: str) -> bool:
    return decision == "pass" if VARIANTS[variant] == 0.0 else decision in ("hold", "block")


def decisions_table(counts: dict[str, Counter], per_case: dict[str, dict[str, str]], change_age: float) -> Table:
    """Decisions per variant; right of those judged; and, for the shifts, caught among the series whose harmless
    version passed (a series held anyway says nothing of the shift)."""
    table = Table(title=f"The release gate on {SET}'s quiet real series: a change {change_age / 3600:g} h before "
                        "the judgement")
    table.add_column("variant")
    for decision in DECISIONS:
        table.add_column(decision, justify="right")
    table.add_column("right, of judged", justify="right")
    table.add_column("caught, where harmless passed", justify="right")
    passed = [case for case in per_case.values() if case.get("harmless") == "pass"]
    for variant, counted in counts.items():
        judged = sum(n for d, n in counted.items() if d not in UNJUDGED)
        hits = sum(n for d, n in counted.items() if d not in UNJUDGED and right(variant, d))
        caught = "—" if VARIANTS[variant] == 0.0 else fraction(
            sum(right(variant, case[variant]) for case in passed), len(passed))
        table.add_row(variant, *(str(counted.get(d, 0)) for d in DECISIONS),
                      f"{hits}/{judged} ({pct(hits / judged if judged else None)})", caught)
    return table


def kind_of_series(bundle: CaseBundle) -> str:
    """The first word of the bundle's metric name (``Twitter_volume_AAPL`` -> ``twitter``): the kind of series."""
    words = name_tokens(bundle.series[0].metric) if bundle.series else []
    return words[0] if words else "(no data)"


def per_metric_table(per_case: dict[str, dict[str, str]], metric_of: dict[str, str]) -> Table:
    """Shifts caught among the series whose harmless version passed, per kind of series (``kind_of_series``)."""
    table = Table(title="Caught where harmless passed, per kind of series (first word of the metric name)")
    table.add_column("series")
    shifts = [v for v, sigmas in VARIANTS.items() if sigmas != 0.0]
    for variant in shifts:
        table.add_column(variant, justify="right")
    for metric in sorted(set(metric_of.values())):
        passed = [c for name, c in per_case.items() if metric_of[name] == metric and c.get("harmless") == "pass"]
        if passed:
            table.add_row(metric, *(fraction(sum(right(v, c[v]) for c in passed), len(passed)) for v in shifts))
    return table


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--change-age", default="2h", help="how long before the judgement the change began")
    parser.add_argument("--limit", type=int, default=None, help="only the first N quiet bundles")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    if not (args.data / SET).is_dir():
        raise SystemExit(f"{args.data / SET}: no such set")
    change_age = parse_duration(args.change_age)
    paths = quiet_bundles(args.data, args.limit)
    counts: dict[str, Counter] = {variant: Counter() for variant in VARIANTS}
    per_case: dict[str, dict[str, str]] = {}
    metric_of: dict[str, str] = {}
    with bench_settings(args.home), progress_bar(f"{SET}: {len(paths)} series x {len(VARIANTS)}",
                                                 len(paths) * len(VARIANTS)) as advance:
        for path in paths:
            bundle = load_bundle(path)
            metric_of[path.name] = kind_of_series(bundle)
            for variant, sigmas in VARIANTS.items():
                decision = decision_of(as_release(bundle, change_age, sigmas))
                counts[variant][decision] += 1
                per_case.setdefault(path.name, {})[variant] = decision
                advance()
    tables = {"decisions": decisions_table(counts, per_case, change_age),
              "per_metric": per_metric_table(per_case, metric_of)}
    return BenchResult(tables=tables,
                       data={"change_age_s": change_age, "counts": {v: dict(c) for v, c in counts.items()},
                             "cases": per_case})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv[1:])
