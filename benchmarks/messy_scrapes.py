"""Messy scrapes: the real sets and fresh simulated scenarios with pods churning and samples missing.

Real Prometheus data is messier than a development set: pods restart or are rescheduled, so a service's series
end and new ones begin under another ``instance`` / ``pod`` label mid-window; scrapes are missed, a few per cent
of samples here and there and sometimes a run of minutes. Every bundle of the real sets (``--data``: the RCA sets
``nezha-ob`` and ``nezha-tt-dev``, the inspection set ``nab-dev``) and ``--count`` fresh simulated RCA and
inspection scenarios (seeds from ``--seed-start``, >= 1000) is copied with its metrics rewritten, seeded by
``--seed`` and the bundle's name and never by its label (the faulty service is no likelier to be touched than
any other):

- **pod churn**: each service with probability ``--share``; each of its pods (every series carrying one
  ``instance`` / ``pod`` value, or, when a series carries neither, a new ``instance`` label) is split at a random
  time in the middle half of its samples: the samples after it carry a new pod name (``-xxxxx`` suffix replaced);
- **dropped samples**: each sample removed with probability p (0, 2 %, 10 %), and, for each service with
  probability ``--share``, a run of ``--gap`` consecutive scrapes missing from every series of it;
- **rolling update**: pod churn as above, the old pod still scraped for one or two samples after the new one
  began (alternately), both reporting the same values there;
- **a new replica**: each service with probability ``--share`` gains a pod at a random time in the middle half
  of its samples: a copy of its first pod's series from then on (a new ``instance`` label when it has none),
  scaled by a factor drawn from 0.8..1.2;
- **both**: pod churn, then dropped samples;
- **scrape times jittered**: every sample's time moved by up to ``--jitter`` seconds either way.

Everything is answered offline as ``bianque eval`` does and scored strictly: RCA top-1 / top-3 (a case that fails
counts as a miss), inspection windows: labelled ones found whole (recall) and unlabelled ones warned of (false
alarms).

Usage::

    .venv/bin/python benchmarks/messy_scrapes.py [--data DIR] [--sets nezha-ob,nezha-tt-dev,nab-dev] [--count 10]
        [--seed-start 1000] [--seed 0] [--share 0.3] [--gap 3] [--jitter 5] [--variants ...] [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import string
import sys
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import (
    SHARED_DATA,
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    evaluated,
    fraction,
    fresh_scenarios,
    linked_copy,
    seed_start_argument,
    strict_rca,
    unlabelled_windows,
)
from rich.table import Table

from agent.series import Series, median_gap

POD_LABELS = ("instance", "pod")  # the labels naming the process a series was scraped from
SIM_PATTERNS = ("rca", "inspection")
DEFAULT_SETS = "nezha-ob,nezha-tt-dev,nab-dev"
SUFFIX_CHARS = np.array(list(string.ascii_lowercase + string.digits))


@dataclass(frozen=True)
class Mess:
    """One variant: pod churn or not, the share of samples dropped, whether runs of scrapes go missing, and whether
    the scrape times jitter; ``overlap``: a churned pod's predecessor is still scraped a sample or two after it
    began (a rolling update); ``replica``: a service gains a pod mid-window (a scale-up)."""

    churn: bool = False
    overlap: bool = False
    replica: bool = False
    drop: float = 0.0
    gap: bool = False
    jitter: bool = False


VARIANTS = {
    "as given": Mess(),
    "pod churn": Mess(churn=True),
    "rolling update": Mess(churn=True, overlap=True),
    "a new replica": Mess(replica=True),
    "a missed run": Mess(gap=True),
    "2% dropped + a missed run": Mess(drop=0.02, gap=True),
    "10% dropped + a missed run": Mess(drop=0.10, gap=True),
    "churn + 10% dropped + a missed run": Mess(churn=True, drop=0.10, gap=True),
    "scrape times jittered": Mess(jitter=True),
}


def _pod_name(old: str, rng: np.random.Generator) -> str:
    """A rescheduled pod's name: ``old`` with its last ``-`` part replaced by five random characters."""
    head = old.rsplit("-", 1)[0] if "-" in old else old
    return f"{head}-{''.join(rng.choice(SUFFIX_CHARS, 5))}"


def _pod_of(series: Series) -> tuple[tuple[str, str], ...]:
    return tuple((k, series.labels[k]) for k in POD_LABELS if series.labels.get(k))


def _middle_half(stamps: np.ndarray) -> tuple[float, float]:
    """The middle half of the times of the latest stretch of ``stamps`` (after the last break of over ten scrape
    intervals: a bundle's history windows hold the same series a day or a week earlier)."""
    times = np.unique(stamps)
    if times.size < 2:
        return (float(times[0]), float(times[0])) if times.size else (0.0, 0.0)
    gaps = np.diff(times)
    breaks = np.flatnonzero(gaps > 10 * np.median(gaps))
    latest = times[breaks[-1] + 1:] if breaks.size else times
    low, high = np.quantile(latest, [0.25, 0.75])
    return float(low), float(high)


def _by_service(series: Sequence[Series]) -> list[tuple[str, list[Series]]]:
    """``series`` grouped by service, in service order."""
    groups: dict[str, list[Series]] = defaultdict(list)
    for s in series:
        groups[s.service or ""].append(s)
    return sorted(groups.items())


def churned(series: Sequence[Series], rng: np.random.Generator, share: float, overlap: bool = False) -> list[Series]:
    """``series`` with the pods of each service picked with probability ``share`` restarted once (module
    docstring): a series of a picked service becomes two, the old pod's samples and the new one's; with
    ``overlap`` the old pod keeps the new one's first one or two samples (alternately, pod by pod)."""
    out: list[Series] = []
    pods = 0  # pods restarted so far: the old one keeps one more sample after the new one's first, or two
    for service, group in _by_service(series):
        if rng.random() >= share:
            out += group
            continue
        splits: dict[tuple[tuple[str, str], ...], tuple[float, dict[str, str], dict[str, str], int]] = {}
        for s in group:
            pod = _pod_of(s)
            if pod not in splits:
                old = dict(pod) or {"instance": _pod_name(f"{service}-0", rng)}
                low, high = _middle_half(np.concatenate([g.timestamps for g in group if _pod_of(g) == pod]))
                pods += 1
                splits[pod] = (float(rng.uniform(low, high)), old, {k: _pod_name(v, rng) for k, v in old.items()},
                               1 + pods % 2 if overlap else 0)
            at, old, new, extra = splits[pod]
            cut = int(np.searchsorted(s.timestamps, at))
            kept = cut + extra
            for part, labels in ((slice(0, kept), old), (slice(cut, None), new)):
                if s.timestamps[part].size:
                    out.append(Series(s.metric, {**s.labels, **labels}, s.timestamps[part], s.values[part]))
    return out


def replicated(series: Sequence[Series], rng: np.random.Generator, share: float) -> list[Series]:
    """``series`` with each service picked with probability ``share`` gaining a pod (module docstring): the
    series of its first pod copied, from a random time in the middle half of its samples, under a new pod name,
    times a factor drawn from 0.8..1.2."""
    out: list[Series] = []
    for service, group in _by_service(series):
        if rng.random() >= share:
            out += group
            continue
        first = min(_pod_of(s) for s in group)
        old = dict(first) or {"instance": _pod_name(f"{service}-0", rng)}
        new = {k: _pod_name(v, rng) for k, v in old.items()}
        cloned = [s for s in group if _pod_of(s) == first]
        low, high = _middle_half(np.concatenate([s.timestamps for s in cloned]))
        at, factor = float(rng.uniform(low, high)), float(rng.uniform(0.8, 1.2))
        out += [Series(s.metric, {**s.labels, **old}, s.timestamps, s.values) if _pod_of(s) == first else s
                for s in group]
        for s in cloned:
            after = s.timestamps >= at
            if after.any():
                out.append(Series(s.metric, {**s.labels, **new}, s.timestamps[after], s.values[after] * factor))
    return out


def dropped(series: Sequence[Series], rng: np.random.Generator, share: float, p: float,
            run: int) -> list[Series]:
    """``series`` with each sample removed with probability ``p`` and, for each service picked with probability
    ``share`` (``run`` > 0), every sample of it in one run of ``run`` of its scrape intervals, at a random time."""
    out: list[Series] = []
    for _service, group in _by_service(series):
        missed: tuple[float, float] | None = None
        if run and rng.random() < share:
            stamps = np.concatenate([s.timestamps for s in group])
            length = run * median_gap([s.timestamps for s in group])
            start = float(rng.uniform(stamps.min(), max(stamps.max() - length, stamps.min())))
            missed = (start, start + length)
        for s in group:
            keep = rng.random(len(s)) >= p
            if missed is not None:
                keep &= (s.timestamps < missed[0]) | (s.timestamps >= missed[1])
            if keep.any():
                out.append(Series(s.metric, dict(s.labels), s.timestamps[keep], s.values[keep]))
    return out


def jittered(series: Sequence[Series], rng: np.random.Generator, seconds: float) -> list[Series]:
    """``series`` with every sample's time moved by up to ``seconds`` either way (uniformly), in order still."""
    out = []
    for s in series:
        times = s.timestamps + rng.uniform(-seconds, seconds, len(s))
        order = np.argsort(times, kind="stable")
        out.append(Series(s.metric, dict(s.labels), times[order], s.values[order]))
    return out


def messy_copy(bundle: Path, root: Path, mess: Mess, *, seed: int, share: float, run: int,
               jitter: float = 0.0) -> Path:
    """A copy of ``bundle`` under ``root`` with its metrics made messy so (``Mess``); every other file linked. The
    randomness depends on ``seed`` and the bundle's name only."""
    from agent.bundles.reader import load_bundle
    from agent.bundles.writer import write_metrics_csv

    if mess == Mess():
        return linked_copy(bundle, root)
    rng = np.random.default_rng([seed, zlib.crc32(bundle.name.encode())])
    series = load_bundle(bundle).series
    if mess.churn:
        series = churned(series, rng, share, mess.overlap)
    if mess.replica:
        series = replicated(series, rng, share)
    if mess.drop or mess.gap:
        series = dropped(series, rng, share, mess.drop, run if mess.gap else 0)
    if mess.jitter:
        series = jittered(series, rng, jitter)
    copy = linked_copy(bundle, root, {"metrics.csv", "metrics.csv.gz"})
    write_metrics_csv(copy / "metrics.csv", series)
    return copy


def measured(label: str, bundles: Sequence[Path], settings) -> dict:  # noqa: ANN001
    """Strict counts of one evaluation: RCA top-1 / top-3 of its actionable cases (a failed case a miss), labelled
    inspection windows found whole, unlabelled ones warned of; and per case, the true cause's rank (RCA) or
    whether the window was judged right (inspection).

    Two counts differ from ``common.pattern_measures`` on purpose. A labelled window counts as found only when
    every item it expects is found, not item by item: each window is then right or wrong as a whole, as the per-case
    comparison between variants needs. And the failed cases are kept apart from the actionable RCA ones (together
    :func:`common.strict_rca`'s count): a failed case's pattern is not known, so a set of inspection windows shows
    no RCA cell for one (:func:`cell`)."""
    report = evaluated(label, bundles, settings)
    windows = [s for s in report.scores if s.pattern == "inspection"]
    positive = [s for s in windows if s.expected_items]
    top1, top3, _ = strict_rca(report)
    alarms, negative = unlabelled_windows(report)
    return {"top1": top1, "top3": top3, "rca": report.by_pattern["rca"].rca_cases, "failed": len(report.errors),
            "found": sum(s.found_items >= s.expected_items for s in positive), "positive": len(positive),
            "alarms": alarms, "negative": negative,
            "cases": {**{s.case: s.rank for s in report.scores if s.pattern == "rca" and not s.noise_label},
                      **{s.case: (s.found_items >= s.expected_items) if s.expected_items else not s.false_alarms
                         for s in windows},
                      **dict.fromkeys(report.errors)}}


def measured_copies(variants: Sequence[str], groups: Mapping[str, Sequence[Path]], settings,  # noqa: ANN001
                    copy: Callable[[Path, str, str], Path]) -> dict[str, dict[str, dict]]:
    """Each variant's copies of each group's bundles (``copy(bundle, variant, group)``), ``measured``: variant ->
    group -> counts."""
    return {variant: {name: measured(f"{variant}: {name}", [copy(b, variant, name) for b in bundles], settings)
                      for name, bundles in groups.items()} for variant in variants}


def variants_table(title: str, heading: str, rows: Mapping[str, Mapping[str, dict]]) -> Table:
    """``measured_copies``' rows as a table: a row per variant (its column headed ``heading``), a column per group,
    each a ``cell``."""
    table = Table(title=title)
    table.add_column(heading)
    names = list(next(iter(rows.values()), {}))
    for name in names:
        table.add_column(name, justify="right")
    for variant, sets in rows.items():
        table.add_row(variant, *(cell(sets[name]) for name in names))
    return table


def cell(counts: dict) -> str:
    """A set's result as one table cell."""
    parts = []
    if counts["rca"] or (counts["failed"] and not counts["positive"]):
        cases = counts["rca"] + counts["failed"]
        parts.append(f"{counts['top1']} / {counts['top3']} of {cases}")
    if counts["positive"] or counts["negative"]:
        parts.append(f"recall {fraction(counts['found'], counts['positive'])}, "
                     f"false alarms {fraction(counts['alarms'], counts['negative'])}")
    return "; ".join(parts) or "—"


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--sets", default=DEFAULT_SETS, help="comma-separated real sets (default: %(default)s)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N bundles of each real set")
    parser.add_argument("--count", type=int, default=10, help="fresh simulated scenarios per pattern (default 10; "
                        "0: none)")
    seed_start_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the mess (default 0)")
    parser.add_argument("--share", type=float, default=0.3, help="probability a service's pods churn, and that it "
                        "misses a run of scrapes (default 0.3)")
    parser.add_argument("--gap", type=int, default=3, help="scrapes in a missed run (default 3)")
    parser.add_argument("--jitter", type=float, default=5.0, help="seconds a jittered scrape time moves at most, "
                        "either way (default 5)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated variants (default: all)")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    if unknown := [v for v in variants if v not in VARIANTS]:
        parser.error(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    if not 0.0 <= args.share <= 1.0 or args.gap < 1 or args.jitter < 0:
        parser.error("--share is a probability (0..1), --gap at least 1 and --jitter not negative")
    from agent.eval.runner import find_bundles

    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-messy-") as scratch:
        root = Path(scratch)
        groups = {}
        for name in filter(None, args.sets.split(",")):
            if not (args.data / name).is_dir():
                raise SystemExit(f"{args.data / name}: no such set")
            groups[name] = find_bundles(args.data / name)[: args.limit]
        if args.count:
            simulated = fresh_scenarios(root / "simulated", SIM_PATTERNS, args.count, args.seed_start)
            groups["simulated"] = [p for paths in simulated.values() for p in paths]
        rows = measured_copies(variants, groups, settings, lambda b, variant, name: messy_copy(
            b, root / variant / name / b.parent.name, VARIANTS[variant], seed=args.seed, share=args.share,
            run=args.gap, jitter=args.jitter))
    table = variants_table(f"Messy scrapes (share {args.share:g}, runs of {args.gap} scrapes, seed {args.seed}): "
                           "strict RCA top-1 / top-3, inspection windows", "variant", rows)
    return BenchResult(tables={"messy": table}, data={"share": args.share, "gap": args.gap, "seed": args.seed,
                                                      "count": args.count, "variants": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
