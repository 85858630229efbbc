"""The same bundles without ``topology.yaml``, their calls named instead by the labels of a per-call metric.

Each call of the bundle's call graph becomes one series of ``istio_requests_total`` with Istio's labels
(``service`` and ``source_workload`` the caller, ``destination_workload`` the callee, ``reporter="source"``) over
the caller's samples' times, a counter growing by one a sample: a flat rate, so the added series carry no anomaly
and the answers can only move by the call graph the gather step reads off their labels (``agent.call_labels``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agent.series import Series


def call_series(bundle_series: list[Series], depends_on: dict[str, list[str]]) -> list[Series]:
    """One flat per-call counter for each call of ``depends_on``, over the times of the caller's first series."""
    times = {}
    for series in bundle_series:
        if series.service and series.service not in times and len(series):
            times[series.service] = series.timestamps
    out = []
    for caller, callees in depends_on.items():
        if caller not in times:
            continue
        ts = times[caller]
        for callee in callees:
            labels = {"service": caller, "reporter": "source", "source_workload": caller,
                      "destination_workload": callee}
            out.append(Series("istio_requests_total", labels, ts, np.arange(1.0, ts.size + 1.0)))
    return out


def labelled_copy(bundle: Path, root: Path) -> Path:
    """A copy of ``bundle`` under ``root`` without ``topology.yaml``, its calls in a per-call metric's labels
    (see the module docstring); every other file linked."""
    from common import linked_copy

    from agent.bundles.reader import load_bundle
    from agent.bundles.writer import write_metrics_csv

    loaded = load_bundle(bundle)
    topology = loaded.topology
    depends_on = {s: topology.dependencies(s, depth=1) for s in topology.services()} if topology else {}
    copy = linked_copy(bundle, root, {"metrics.csv", "metrics.csv.gz", "topology.yaml"})
    write_metrics_csv(copy / "metrics.csv", [*loaded.series, *call_series(loaded.series, depends_on)])
    return copy
