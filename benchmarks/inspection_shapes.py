"""Inspection on synthetic series of shapes real sets have and nab-dev lacks: anomalies unusual only for
their hour, and spikes coming more often.

nab-dev's anomalies are mostly bursts and level shifts. Series elsewhere (machine temperatures, taxi
demand, load balancers) have daily cycles whose anomalies stay inside the day's range (a plateau where the
day peaks, a jump at the day's low) and spikes that come more often without getting higher. This script
makes such bundles (my own guesses of those shapes, not data of any set; five-minute samples, two days of
reference, a two-hour inspected window, as nab-dev's), answers them offline as ``bianque eval`` does, and
prints found / false alarms per shape, with every detector and with the daily-shift and spike-density
detectors left out (``--leave-out``), so what each adds shows beside what the older detectors found.

Usage::

    .venv/bin/python benchmarks/inspection_shapes.py [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from common import BenchResult, add_common_arguments, bench_settings, emit, open_knowledge_if, progress_bar
from rich.table import Table

from agent.eval.runner import bundle_keys, evaluate
from agent.graph import analysis

STEP_S = 300.0
DAYS = 3  # two reference days and the inspected day
WINDOW_S = 7200.0
HOURS = (5, 11, 17, 23)  # where the inspected windows end on the last day
DETECTORS = {"daily shift": "detect_daily_shift", "spike density": "detect_spike_density"}


def _times() -> np.ndarray:
    end = 1_700_000_000.0 - (1_700_000_000.0 % 86400.0) + 86400.0 * DAYS
    return np.arange(end - DAYS * 86400.0, end, STEP_S)


def _shapes(rng: np.random.Generator, times: np.ndarray) -> dict[str, tuple[Callable[[float], np.ndarray], bool]]:
    """Shape name -> (values given the window's end, whether the window holds an anomaly)."""
    hour = (times % 86400.0) / 3600.0

    def cycle(noise: float) -> np.ndarray:
        return 50.0 + 30.0 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, noise, times.size)

    def window(end: float) -> np.ndarray:
        return (times > end - WINDOW_S) & (times <= end)

    def with_window(change: Callable[[np.ndarray, np.ndarray], None]) -> Callable[[float], np.ndarray]:
        def make(end: float) -> np.ndarray:
            values = cycle(2.0)
            change(values, window(end))
            return values
        return make

    def spikes(end: float) -> np.ndarray:
        values = cycle(1.0)
        before = np.flatnonzero(times <= end - WINDOW_S)
        values[before[::40]] += 25.0  # a spike every 40 readings as usual
        values[np.flatnonzero(window(end))[::3]] += 25.0  # every 3 in the window
        return values

    def plateau(values: np.ndarray, w: np.ndarray) -> None:
        values[w] = 50.0 + rng.normal(0, 2.0, w.sum())

    def up(values: np.ndarray, w: np.ndarray) -> None:
        values[w] += 40.0

    def down(values: np.ndarray, w: np.ndarray) -> None:
        values[w] -= 40.0

    def noisier(values: np.ndarray, w: np.ndarray) -> None:
        values[w] += rng.normal(0, 8.0, w.sum())

    square = np.where((hour >= 6) & (hour < 18), 80.0, 20.0)
    noisy = 50.0 + rng.normal(0, 10.0, times.size)
    return {
        "daily cycle, window 40 above its hour": (with_window(up), True),
        "daily cycle, window 40 below its hour": (with_window(down), True),
        "daily cycle, flat at its mean": (with_window(plateau), True),
        "spikes 13x as often, no higher": (spikes, True),
        "daily cycle, noise 4x as wide": (with_window(noisier), True),
        "daily cycle, nothing": (lambda _end: cycle(1.0), False),
        "square wave": (lambda _end: square.copy(), False),
        "white noise": (lambda _end: noisy.copy(), False),
        "flat line": (lambda _end: np.full(times.size, 42.0), False),
    }


def write_case(root: Path, name: str, times: np.ndarray, values: np.ndarray, end: float, anomaly: bool) -> Path:
    """One inspection bundle of the series up to ``end``, inspecting its last two hours."""
    case = root / name
    case.mkdir(parents=True)
    service = "shape"
    keep = times <= end
    rows = "".join(f"{int(t)},value,{service},{v:.4f}\n" for t, v in zip(times[keep], values[keep], strict=True))
    (case / "metrics.csv").write_text("timestamp,metric,service,value\n" + rows)
    (case / "event.yaml").write_text(f"pattern: inspection\ntime: {int(end)}\nservice: {service}\n"
                                     f"scope:\n  services: [{service}]\n  window: 2h\n")
    findings = f"findings:\n- service: {service}\n  kind: anomaly\n" if anomaly else "findings: []\n"
    (case / "label.yaml").write_text(findings)
    return case


def make_cases(root: Path, seed: int) -> dict[str, tuple[bool, list[Path]]]:
    """Per shape: whether its windows hold an anomaly, and its bundles, one per window end of ``HOURS``."""
    times = _times()
    rng = np.random.default_rng(seed)
    last_midnight = times[0] + (DAYS - 1) * 86400.0
    cases: dict[str, tuple[bool, list[Path]]] = {}
    for index, (shape, (make, anomaly)) in enumerate(_shapes(rng, times).items()):
        ends = [float(last_midnight + hour * 3600.0) for hour in HOURS]
        cases[shape] = (anomaly, [write_case(root, f"s{index}-h{hour}", times, make(end), end, anomaly)
                                  for hour, end in zip(HOURS, ends, strict=True)])
    return cases


@contextmanager
def left_out(names: list[str]) -> Iterator[None]:
    """The named detectors return nothing inside the block (the analysis module's references are swapped)."""
    saved = {name: getattr(analysis, name) for name in names}
    try:
        for name in names:
            setattr(analysis, name, lambda *_args, **_kwargs: [])
        yield
    finally:
        for name, function in saved.items():
            setattr(analysis, name, function)


def main(argv: list[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="noise seed (default: %(default)s)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    variants = {"every detector": [], "without daily shift and spike density": list(DETECTORS.values())}
    table = Table(title="Synthetic inspection shapes: windows found (labelled) or false alarms (unlabelled), of 4")
    table.add_column("shape")
    table.add_column("labelled")
    for variant in variants:
        table.add_column(variant, justify="right")
    data: dict[str, dict[str, int]] = {}
    with bench_settings(args.home) as settings, tempfile.TemporaryDirectory(prefix="bianque-shapes-") as scratch:
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        cases = make_cases(Path(scratch), args.seed)
        bundles = [b for _anomaly, paths in cases.values() for b in paths]
        keys = bundle_keys(bundles)  # how the report names each case
        for variant, names in variants.items():
            with left_out(names), progress_bar(variant, len(bundles)) as advance:
                report = evaluate(bundles, settings, knowledge=knowledge, on_case=lambda _p, _s: advance())
            scores = {s.case: s for s in report.scores}
            for shape, (_anomaly, paths) in cases.items():
                flagged = sum(1 for p in paths if keys[p] in scores and _flagged(scores[keys[p]]))
                data.setdefault(shape, {})[variant] = flagged
        for shape, (anomaly, _paths) in cases.items():
            table.add_row(shape, "yes" if anomaly else "no", *(str(data[shape][v]) for v in variants))
    return BenchResult(tables={"shapes": table}, data=data)


def _flagged(score) -> bool:  # noqa: ANN001 - a CaseScore
    """Whether the inspection reported something at warning or above (found, or a false alarm)."""
    return bool(score.found_items or score.false_alarms)


if __name__ == "__main__":
    result = main(sys.argv[1:])
    emit(result, "--json" in sys.argv[1:])
