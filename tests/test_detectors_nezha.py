"""Sanity check on real incidents (Nezha / OnlineBoutique bundles): the onset detector sees the injected service.

Aggregate only; constants are not tuned to single cases. With the baseline ending 10 minutes before
the alert, the injected service had a Finding scoring >= 0.35 in 40 of 56 bundles, and was among the
three services with the strongest Finding in 36 (a per-service z-score ranking reaches 31 of 56).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import yaml

from agent.detectors import detect_onset
from agent.series import Series, make_series
from agent.timeparse import to_epoch
from tests.shared_data import SHARED_DATA, needs

DATA = SHARED_DATA / "nezha-ob"
BUNDLES = sorted(DATA.glob("ob-*")) if DATA.is_dir() else []
SIGNIFICANT = 0.35


def load_metrics(path: Path) -> list[Series]:
    points: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            labels = tuple(sorted((k, v) for k, v in row.items() if k not in ("timestamp", "metric", "value") and v))
            points[(row["metric"], labels)].append((float(row["timestamp"]), float(row["value"])))
    return [make_series(metric, dict(labels), pts) for (metric, labels), pts in points.items()]


def strongest_per_service(bundle: Path) -> tuple[str, dict[str, float]]:
    event = yaml.safe_load((bundle / "event.yaml").read_text())
    truth = yaml.safe_load((bundle / "label.yaml").read_text())["root_cause"][0]["service"]
    series = load_metrics(bundle / "metrics.csv")
    start = min(float(s.timestamps[0]) for s in series)
    end = max(float(s.timestamps[-1]) for s in series) + 1
    best: dict[str, float] = defaultdict(float)
    for finding in detect_onset(series, start=start, end=end, baseline_end=to_epoch(event["time"]) - 600):
        if finding.service and finding.service != "entrypoint":
            best[finding.service] = max(best[finding.service], finding.score)
    return truth, best


@needs(DATA)
def test_onset_fires_on_the_injected_service_more_often_than_not():
    fired = top3 = 0
    for bundle in BUNDLES:
        truth, best = strongest_per_service(bundle)
        fired += best.get(truth, 0.0) >= SIGNIFICANT
        top3 += truth in sorted(best, key=lambda s: -best[s])[:3]
    assert fired > len(BUNDLES) / 2
    assert top3 > len(BUNDLES) / 2
