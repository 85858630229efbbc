"""The generic Skill follows the call graph deep enough for systems with long call chains."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.config import get_settings
from agent.events import Event
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
CHAIN = ["edge", "api", "orders", "pricing", "tax"]  # each calls the next: tax is 4 hops below the edge


def test_a_cause_four_calls_below_the_alerted_service_is_found(tmp_path) -> None:
    rng = np.random.default_rng(2)
    times = T0 - 1800 + 30.0 * np.arange(70)
    series = []
    for service in CHAIN:
        for metric, base in (("cpu_usage_percent", 30.0), ("request_latency_p90_seconds", 0.1)):
            values = base * (1 + 0.03 * rng.normal(size=times.size))
            if service == "tax":
                values[times >= T0 - 180] *= 3  # the fault, three minutes before the alert
            series.append(Series(metric, {"service": service}, times, values))
    event = Event.model_validate({"pattern": "rca", "time": T0, "service": "edge",
                                  "alert": {"labels": {"alertname": "EdgeSlow", "service": "edge"}}})
    topology = {caller: [callee] for caller, callee in pairwise(CHAIN)}
    bundle = load_bundle(write_bundle(tmp_path / "case", event, series, topology=topology))
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    assert result.skill["name"] == "generic-rca"
    assert result.verdict.needs_attention, result.verdict.attention_reason
    assert result.verdict.root_causes[0].service == "tax"
