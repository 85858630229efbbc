"""Silent targets: the RCA sets with one service's series cut off shortly before the alert, as a crash leaves them.

A pod that crashes, hangs or is OOM-killed is no longer scraped: its series end. Every labelled, actionable RCA
bundle of the sets (``--sets``) is copied with every series of one service cut from ``--lead`` seconds before the
alert on, that service being **the faulty one** (the labelled root cause stopped answering) or **another one**
(picked at random, seeded by the bundle's name: an innocent service stopped answering, which a reader of the
evidence blames rightly or not). Scored strictly as ``bianque eval`` does: top-1 / top-3 of the labelled cause.

Usage::

    .venv/bin/python benchmarks/silent_targets.py [--data DIR] [--sets nezha-ob,nezha-tt-dev] [--lead 60] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
from common import SHARED_DATA, BenchResult, add_common_arguments, bench_settings, emit, linked_copy
from messy_scrapes import measured_copies, variants_table

from agent.series import Series

CUTS = ("as given", "the faulty service stops", "another service stops")


def cut_copy(bundle: Path, root: Path, which: str, lead: float) -> Path:
    """A copy of ``bundle`` under ``root`` with the series of the service ``which`` names cut from ``lead`` seconds
    before the alert on (``as given``, or another service when no other has series: linked unchanged)."""
    from agent.bundles.label import load_label
    from agent.bundles.reader import load_bundle
    from agent.bundles.writer import write_metrics_csv

    if which == CUTS[0]:
        return linked_copy(bundle, root)
    loaded = load_bundle(bundle)
    truth = load_label(bundle).root_cause[0].service
    victim = truth
    if which == CUTS[2]:
        others = sorted({s.service for s in loaded.series if s.service and s.service != truth})
        if not others:  # no other service has series: nothing to cut, the bundle as given
            return linked_copy(bundle, root)
        victim = others[np.random.default_rng(zlib.crc32(bundle.name.encode())).integers(len(others))]
    cut = loaded.event.time - lead
    series = []
    for s in loaded.series:
        keep = s.timestamps < cut if s.service == victim else np.ones(len(s), dtype=bool)
        if keep.any():
            series.append(Series(s.metric, dict(s.labels), s.timestamps[keep], s.values[keep]))
    copy = linked_copy(bundle, root, {"metrics.csv", "metrics.csv.gz"})
    write_metrics_csv(copy / "metrics.csv", series)
    return copy


def actionable(bundle: Path) -> bool:
    """A labelled RCA bundle whose label names a root cause and is no noise."""
    from agent.bundles.label import load_label

    label = load_label(bundle)
    return label is not None and bool(label.root_cause) and not label.noise


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of sets (default: %(default)s)")
    parser.add_argument("--sets", default="nezha-ob,nezha-tt-dev", help="comma-separated RCA sets")
    parser.add_argument("--lead", type=float, default=60.0, help="seconds before the alert the cut falls (default 60)")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    from agent.eval.runner import find_bundles

    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-silent-") as scratch:
        groups = {name: [b for b in find_bundles(args.data / name) if actionable(b)]
                  for name in filter(None, args.sets.split(","))}
        rows = measured_copies(CUTS, groups, settings, lambda b, which, name: cut_copy(
            b, Path(scratch) / which / name / b.parent.name, which, args.lead))
    table = variants_table(f"Silent targets (series cut {args.lead:g} s before the alert): strict RCA top-1 / top-3",
                           "cut", rows)
    return BenchResult(tables={"silent": table}, data={"lead": args.lead, "cuts": rows})


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv)
