"""Irrelevant metrics: every real set and fresh simulated scenarios with K distractor series added per service.

Real systems export dozens of metrics per service (CPU, memory, disk and network I/O, GC, threads, per-endpoint
latency quantiles...), most of them irrelevant to an incident and each with its own glitches; the development
sets hold a couple of dozen at most. Issue 10 asks that a service's score not grow with how many metrics it has
(``docs/detectors.md``, calibration). Each bundle of the real sets in ``--data`` (``--sets``; default every one)
and ``--count`` fresh simulated scenarios per pattern (seeds from ``--seed-start``, >= 1000) is copied with ``K``
distractor series added to every service of its metrics (``--k``, default 0, 5, 20; 0 is the bundle as given):
service-level series on the service's own timestamps, named as exporters name such series, each level drawn from a
range its name makes plausible (``DISTRACTORS``; the first K of them, so K = 5 is part of K = 20), each of one of
four seeded shapes:

- **ar1**: AR(1) noise around a level (``phi`` 0.3-0.9, noise 2-10 % of the level);
- **integer**: a small integer gauge (threads, open files, pool connections) wandering around its level;
- **counter**: a monotone count (``_total``) growing by Poisson increments, each over the time since the sample
  before (a gap in the data counts for its whole length);
- **trend**: a slow drift over the whole series (up to 30 % either way) under AR(1) noise;

and, with chance ``--glitch-chance`` (default 0.3), one unrelated glitch at a uniformly random sample of the
series, independent of the incident: a one-point spike of 5-15 noise sigmas, or a level shift of 4-8 sigmas held
for 3-6 samples, either way (a counter's increments burst instead). Seeded per (``--seed``, bundle, service,
index): the same K answers the same every run.

Scored strictly as ``real_sets.py`` and ``bianque eval`` do: RCA top-1 / top-3 (and actionable alerts judged as
needing no attention), inspection recall (labelled items found at warning or above) and unlabelled windows
flagged, bad releases intercepted and good ones blocked, per set and K. Beside them (``--null-draws``), how often a
distractor of each shape, without a glitch, alone shows an RCA onset at ``SIGNIFICANT`` or above by chance.

Usage::

    .venv/bin/python benchmarks/distractor_metrics.py [--data DIR] [--sets nezha-ob,nab-dev] [--limit N]
        [--count 20] [--seed-start 1000] [--k 0,5,20] [--glitch-chance 0.3] [--seed 0] [--null-draws 100] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from common import (
    BenchResult,
    all_sets_parser,
    bench_settings,
    chosen_sets,
    emit,
    evaluated,
    fraction,
    fresh_scenarios,
    linked_copy,
    open_knowledge_if,
    releases_stopped,
    rewrite_metrics,
    seed_start_argument,
    strict_rca,
    unlabelled_windows,
)
from rich.table import Table

from agent.eval.runner import EvalReport, find_bundles

PATTERNS = ("rca", "release_interception", "inspection")
SIMULATED = "simulated"
DEFAULT_KS = (0, 5, 20)
GLITCH_CHANCE = 0.3
NULL_POINTS, NULL_REFERENCE = 30, 18  # one-minute samples, the first of them the reference: a real RCA set's window
CATCH_ALL_EFFECT = 0.1  # the generic RCA Skill's catch-all min_effect
AR1, INTEGER, COUNTER, TREND = "ar1", "integer", "counter", "trend"
DISTRACTORS: tuple[tuple[str, str, float, float], ...] = (  # (name, shape, level range): what exporters add
    ("process_open_fds", INTEGER, 20, 200), ("jvm_gc_pause_seconds", AR1, 0.005, 0.2),
    ("disk_read_bytes_total", COUNTER, 1e3, 1e7), ("heap_committed_bytes", TREND, 1e7, 1e9),
    ("threads_live", INTEGER, 10, 200), ("endpoint_items_latency_p95_seconds", AR1, 0.01, 1.0),
    ("net_tcp_retransmits_total", COUNTER, 1, 50), ("cache_entries", TREND, 1e3, 1e6),
    ("db_pool_connections_in_use", INTEGER, 5, 50), ("endpoint_profile_latency_p99_seconds", AR1, 0.02, 2.0),
    ("disk_write_bytes_total", COUNTER, 1e3, 1e7), ("queue_depth", AR1, 5, 500), ("goroutines", INTEGER, 20, 200),
    ("memory_page_cache_bytes", TREND, 1e7, 1e9), ("gc_collections_total", COUNTER, 1, 30),
    ("node_cpu_steal_ratio", AR1, 0.01, 0.1), ("kafka_consumer_offset", COUNTER, 10, 1e4),
    ("classes_loaded", TREND, 1e3, 2e4), ("http_connections_open", INTEGER, 5, 200),
    ("page_faults_total", COUNTER, 10, 1e4), ("endpoint_login_latency_p50_seconds", AR1, 0.005, 0.5),
    ("filesystem_inodes_used", TREND, 1e4, 1e6), ("network_packets_received_total", COUNTER, 1e2, 1e5),
    ("worker_busy_ratio", AR1, 0.05, 0.6),
)


def distractor_name(index: int) -> str:
    """The ``index``-th distractor's metric name: ``DISTRACTORS`` in order, then again prefixed ``pool2_``, ..."""
    name = DISTRACTORS[index % len(DISTRACTORS)][0]
    round_ = index // len(DISTRACTORS)
    return f"pool{round_ + 1}_{name}" if round_ else name


def _ar1(n: int, phi: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean AR(1) noise, started in its stationary distribution."""
    out = np.empty(n)
    previous = rng.normal(0.0, sigma / np.sqrt(1.0 - phi * phi))
    for i in range(n):
        previous = phi * previous + rng.normal(0.0, sigma)
        out[i] = previous
    return out


def _glitch(n: int, spread: float, rng: np.random.Generator, chance: float) -> np.ndarray:
    """Zero, or (with ``chance``) one spike of 5-15 ``spread`` at a random sample or a level shift of 4-8 held for
    3-6 samples, either way."""
    out = np.zeros(n)
    if n == 0 or rng.random() >= chance:
        return out
    at = int(rng.integers(n))
    sign = rng.choice((-1.0, 1.0))
    if rng.random() < 0.5:
        out[at] = sign * rng.uniform(5.0, 15.0) * spread
    else:
        out[at:at + int(rng.integers(3, 7))] = sign * rng.uniform(4.0, 8.0) * spread
    return out


def distractor_values(spec: tuple[str, str, float, float], n: int, rng: np.random.Generator,
                      glitch_chance: float, spacing: np.ndarray | None = None) -> np.ndarray:
    """``n`` samples of the distractor series ``spec`` describes (``DISTRACTORS``; see the module docstring): its
    level (a counter's increment a sample) drawn log-uniformly from its range. A counter counts over the time since
    its previous sample: ``spacing`` is each sample's gap in sampling intervals (``sample_spacing``; one each when
    not given), so a sample after a gap in the data counts for the whole gap, as a real counter does."""
    _name, shape, low, high = spec
    level = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if shape == COUNTER:
        rate = level
        spans = np.ones(n) if spacing is None else spacing
        steps = rng.poisson(rate * spans).astype(float) + np.abs(_glitch(n, np.sqrt(rate), rng, glitch_chance))
        return np.round(rng.uniform(0.0, 1e6) + np.cumsum(steps))
    phi = rng.uniform(0.3, 0.9)
    if shape == INTEGER:
        sigma = max(np.sqrt(level) * rng.uniform(0.2, 0.6), 0.5)
        values = level + _ar1(n, phi, sigma, rng)
        return np.maximum(np.round(values + _glitch(n, sigma / np.sqrt(1 - phi * phi), rng, glitch_chance)), 0.0)
    sigma = level * rng.uniform(0.02, 0.1)
    drift = level * rng.uniform(-0.3, 0.3) * np.linspace(0.0, 1.0, n) if shape == TREND else 0.0
    values = level + drift + _ar1(n, phi, sigma, rng) + _glitch(n, sigma / np.sqrt(1 - phi * phi), rng, glitch_chance)
    return np.maximum(values, 0.0)  # a gauge never reads below zero: a deep dip reads 0, as exporters' gaps do


def sample_spacing(times: Sequence[float]) -> np.ndarray:
    """Each sample's gap from the one before in median sampling intervals (the first: one interval)."""
    gaps = np.diff(np.asarray(times, dtype=float))
    if gaps.size == 0:
        return np.ones(len(times))
    return np.concatenate(([1.0], gaps / np.median(gaps)))


def distractor_rows(rows: Iterable[dict[str, str]], k: int, seed: int, bundle: str,
                    glitch_chance: float = GLITCH_CHANCE) -> Iterator[dict[str, str]]:
    """The metric rows as they were, then ``k`` distractor series for every service they hold, on the service's
    own timestamps (as written there), other columns empty. Deterministic for (``seed``, ``bundle``)."""
    stamps: dict[str, dict[float, str]] = defaultdict(dict)
    columns: list[str] = []
    for row in rows:
        columns = columns or list(row)
        stamps[row["service"]].setdefault(float(row["timestamp"]), row["timestamp"])
        yield row
    blank = dict.fromkeys(columns, "")
    for service, by_time in sorted(stamps.items()):
        times = [by_time[t] for t in sorted(by_time)]
        spacing = sample_spacing(sorted(by_time))
        for index in range(k):
            rng = np.random.default_rng([seed, zlib.crc32(bundle.encode()), zlib.crc32(service.encode()), index])
            values = distractor_values(DISTRACTORS[index % len(DISTRACTORS)], len(times), rng, glitch_chance,
                                       spacing)
            metric = distractor_name(index)
            for ts, value in zip(times, values, strict=True):
                yield {**blank, "timestamp": ts, "metric": metric, "service": service, "value": f"{value:.6g}"}


def distracted_copy(bundle: Path, out: Path, k: int, seed: int = 0, glitch_chance: float = GLITCH_CHANCE) -> Path:
    """``bundle`` under ``out`` with ``k`` distractor series per service added to its metrics (``distractor_rows``);
    every other file linked as it is."""
    copy = linked_copy(bundle, out, leave_out=("metrics.csv", "metrics.csv.gz"))
    rewrite_metrics(bundle, copy, lambda rows: distractor_rows(rows, k, seed, bundle.name, glitch_chance))
    return copy


def null_onsets(draws: int, seed: int) -> dict[str, tuple[int, int]]:
    """Per shape: (series with an onset at ``SIGNIFICANT`` or above, series judged) over ``draws`` glitch-free
    draws of each distractor of that shape, ``NULL_POINTS`` one-minute samples judged as an RCA judges its
    catch-all (counters read as rates, either way, ``CATCH_ALL_EFFECT``, earlier episodes set aside) after
    ``NULL_REFERENCE`` of reference: how often a series that has nothing to say deviates by chance."""
    from agent.detectors.counters import rated
    from agent.detectors.onset import detect_onset
    from agent.reasoners.service_evidence import SIGNIFICANT
    from agent.series import Series

    stamps = np.arange(NULL_POINTS) * 60.0
    counts: dict[str, tuple[int, int]] = {}
    for index, spec in enumerate(DISTRACTORS):
        for draw in range(draws):
            values = distractor_values(spec, NULL_POINTS, np.random.default_rng([seed, index, draw]), 0.0)
            series = rated(Series(spec[0], {"service": "null"}, stamps, values))
            found = detect_onset([series], start=0.0, end=NULL_POINTS * 60.0, baseline_end=NULL_REFERENCE * 60.0,
                                 min_effect=CATCH_ALL_EFFECT, set_aside_episodes=True)
            hits, judged = counts.get(spec[1], (0, 0))
            counts[spec[1]] = (hits + any(f.score >= SIGNIFICANT for f in found), judged + 1)
    return counts


def null_table(counts: dict[str, tuple[int, int]]) -> Table:
    table = Table(title=f"Chance onsets per distractor series ({NULL_POINTS} one-minute samples, {NULL_REFERENCE} "
                        "of reference, no glitch)")
    for header in ("shape", "series with an onset"):
        table.add_column(header)
    for shape, (hits, judged) in counts.items():
        table.add_row(shape, fraction(hits, judged))
    return table


def measures(report: EvalReport) -> dict[str, int]:
    """The counts behind the table, from one strict evaluation (:func:`common.strict_rca`: a failed case counts as an
    RCA miss). Beside ``pattern_measures``' cells, the unlabelled windows flagged: K distractors add false alarms
    there first."""
    rca, release, inspection = (report.by_pattern[p] for p in ("rca", "release_interception", "inspection"))
    top1, top3, cases = strict_rca(report)
    (flagged, unlabelled), (stopped, bad) = unlabelled_windows(report), releases_stopped(report)
    return {
        "rca": cases, "top1": top1, "top3": top3, "no_attention": rca.missed_actionable,
        "noise": rca.noise_cases, "silenced": rca.noise_silenced,
        "expected": inspection.expected_items, "found": inspection.found_items,
        "unlabelled": unlabelled, "flagged": flagged, "false_alarms": inspection.false_alarms,
        "bad": bad, "stopped": stopped, "good": release.good_releases, "blocked": release.good_blocked,
    }


MEASURES = {  # table row: the cell from measures()
    "RCA top-1": lambda m: fraction(m["top1"], m["rca"]),
    "RCA top-3": lambda m: fraction(m["top3"], m["rca"]),
    "RCA judged no attention": lambda m: fraction(m["no_attention"], m["rca"]),
    "noise silenced": lambda m: fraction(m["silenced"], m["noise"]),
    "inspection recall": lambda m: fraction(m["found"], m["expected"]),
    "unlabelled windows flagged": lambda m: fraction(m["flagged"], m["unlabelled"]),
    "inspection false alarms (items)": lambda m: str(m["false_alarms"]) if m["expected"] or m["unlabelled"] else "—",
    "bad releases intercepted": lambda m: fraction(m["stopped"], m["bad"]),
    "good releases blocked": lambda m: fraction(m["blocked"], m["good"]),
}


def case_rows(report: EvalReport) -> list[dict[str, object]]:
    """Per case: its rank (RCA), found / expected / false alarms (inspection), decision (release), or its error."""
    rows: list[dict[str, object]] = [
        {"case": s.case, "pattern": s.pattern, "rank": s.rank, "needs_attention": s.needs_attention,
         "found": s.found_items, "expected": s.expected_items, "false_alarms": s.false_alarms,
         "decision": s.decision, "decision_label": s.decision_label} for s in report.scores]
    rows.extend({"case": case, "error": error} for case, error in sorted(report.errors.items()))
    return rows


def results_table(title: str, counts: dict[str, dict[int, dict[str, int]]], ks: Sequence[int]) -> Table:
    """One row per (set, measure that set has), one column per K."""
    table = Table(title=title)
    table.add_column("set")
    table.add_column("measure")
    for k in ks:
        table.add_column(f"K = {k}", justify="right")
    for name, by_k in counts.items():
        for measure, cell in MEASURES.items():
            cells = [cell(by_k[k]) for k in ks]
            if any(c != "—" for c in cells):
                table.add_row(name, measure, *cells)
    return table


def parse_ks(text: str) -> list[int]:
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k wants comma-separated whole numbers, got {text!r}") from None
    if not ks or ks[0] < 0:
        raise argparse.ArgumentTypeError(f"--k wants numbers >= 0, got {text!r}")
    return ks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = all_sets_parser(__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="fresh simulated scenarios per pattern (0: none)")
    seed_start_argument(parser)
    parser.add_argument("--k", type=parse_ks, default=list(DEFAULT_KS),
                        help="distractor series per service, comma-separated (default 0,5,20)")
    parser.add_argument("--glitch-chance", type=float, default=GLITCH_CHANCE,
                        help=f"chance a distractor holds one glitch (default {GLITCH_CHANCE:g})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the distractors (default 0)")
    parser.add_argument("--null-draws", type=int, default=100,
                        help="glitch-free draws of each distractor judged alone for chance onsets (0: skip)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.glitch_chance <= 1.0:
        parser.error(f"--glitch-chance must be in [0, 1], got {args.glitch_chance}")
    return args


def main(argv: list[str] | None = None) -> BenchResult:
    args = parse_args(argv)
    sets = chosen_sets(args)
    counts: dict[str, dict[int, dict[str, int]]] = {}
    cases: dict[str, dict[int, list[dict[str, object]]]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-distract-") as scratch:
        root = Path(scratch)
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        groups = {path.name: find_bundles(path)[: args.limit] for path in sets}
        if args.count > 0:
            fresh = fresh_scenarios(root / "fresh", PATTERNS, args.count, args.seed_start)
            groups[SIMULATED] = [p for paths in fresh.values() for p in paths]
        for name, bundles in groups.items():
            for k in args.k:
                copies = bundles if k == 0 else [
                    distracted_copy(b, root / f"k{k}" / name / b.parent.name, k, args.seed, args.glitch_chance)
                    for b in bundles]
                report = evaluated(f"{name}, K = {k}", copies, settings, knowledge)
                counts.setdefault(name, {})[k] = measures(report)
                cases.setdefault(name, {})[k] = case_rows(report)
    title = (f"Strict scores with K distractor series per service (glitch chance {args.glitch_chance:g}, "
             f"seed {args.seed}; simulated: {args.count} per pattern from seed {args.seed_start})")
    chance = null_onsets(args.null_draws, args.seed) if args.null_draws > 0 else {}
    tables = {"distractors": results_table(title, counts, args.k), **({"null": null_table(chance)} if chance else {})}
    return BenchResult(tables=tables, data={"k": args.k, "glitch_chance": args.glitch_chance, "seed": args.seed,
                                            "count": args.count, "seed_start": args.seed_start, "sets": counts,
                                            "null_onsets": chance, "cases": cases})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
