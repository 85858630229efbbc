"""A three-service chain (edge -> api -> db) as a case bundle, investigated end to end."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path

import numpy as np

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.events import Event
from agent.investigate import InvestigationResult, investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
CHAIN = ["edge", "api", "db"]  # each calls the next


def investigate_chain(tmp_path: Path, minutes_of_data: int, fault: bool = True, pattern: str = "rca",
                      counters: bool = False, cpu_base: float = 30.0,
                      cpu_samples: Mapping[int, float] | None = None,
                      fault_minutes: tuple[int, int | None] = (-2, None), minutes_after: int = 2,
                      ) -> InvestigationResult:
    """The alert on ``edge`` at T0; ``db``'s CPU (``cpu_usage_percent`` around ``cpu_base``) triples over
    ``fault_minutes`` (from, until: minutes relative to the alert, until exclusive, to the data's end
    when None; by default from two minutes before it) unless not ``fault``, with ``cpu_samples``
    (sample index -> value) set as given; data from ``minutes_of_data`` minutes before the alert to
    ``minutes_after`` after it, one sample a minute (as cumulative counters when ``counters``)."""
    rng = np.random.default_rng(7)
    times = T0 - 60.0 * minutes_of_data + 60.0 * np.arange(minutes_of_data + minutes_after + 1)
    series = []
    for service in CHAIN:
        for metric, base in (("cpu_usage_percent", cpu_base), ("request_latency_p90_seconds", 0.1)):
            values = base * (1 + 0.03 * rng.normal(size=times.size))
            if fault and service == "db" and metric.startswith("cpu"):
                begin, until = fault_minutes
                values[(times >= T0 + 60 * begin) & (times < (np.inf if until is None else T0 + 60 * until))] *= 3
                for index, value in (cpu_samples or {}).items():
                    values[index] = value
            if counters:
                metric, values = f"{metric}_total", np.cumsum(values * 60.0)
            series.append(Series(metric, {"service": service}, times, values))
    alert = {"service": "edge", "alert": {"labels": {"alertname": "EdgeSlow", "service": "edge"}}}
    event = Event.model_validate({"pattern": pattern, "time": T0, **(
        alert if pattern == "rca" else {"scope": {"services": CHAIN}})})
    topology = {caller: [callee] for caller, callee in pairwise(CHAIN)}
    bundle = load_bundle(write_bundle(tmp_path / "case", event, series, topology=topology))
    return investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                       source="cli")
