"""A request counter split by an HTTP status label: its 5xx series counts failures, its 2xx series the work."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.config import get_settings
from agent.detectors.direction import infer_direction
from agent.events import Event, Pattern
from agent.graph.gathered import as_detected
from agent.investigate import investigate
from agent.reasoners.faults import metric_family
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.status_labels import status_class, status_named
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
TIMES = T0 - 3600 + 60.0 * np.arange(66)


@pytest.mark.parametrize(("labels", "found"), [
    ({"code": "503"}, ("code", "5xx")),
    ({"status": "5XX"}, ("status", "5xx")),  # a class, as some exporters aggregate
    ({"response_code": "404"}, ("response_code", "4xx")),  # envoy / istio
    ({"http_response_status_code": "200"}, ("http_response_status_code", "2xx")),  # OpenTelemetry
    ({"code": "E42", "status": "500"}, ("status", "5xx")),  # the first label holding an HTTP status
    ({"grpc_code": "Unavailable"}, None),  # gRPC's codes are no HTTP status
    ({"code": "5000"}, None),
    ({"service": "orders"}, None),
])
def test_the_status_class_a_series_labels_carry(labels, found):
    assert status_class(labels) == found


def test_a_status_labelled_series_is_named_for_what_it_counts():
    failed = status_named("http_requests_total", {"code": "502"})
    served = status_named("http_requests_total", {"code": "200"})
    assert (failed, served) == ("5xx:http_requests_total", "2xx:http_requests_total")
    assert (infer_direction(failed), metric_family(failed)) == ("up", "error_fault")
    assert (infer_direction(served), metric_family(served)) == ("both", "traffic_spike")
    assert status_named("http_requests_total", {"service": "a"}) == "http_requests_total"


def test_a_cumulative_5xx_counter_is_read_as_its_rate_of_failures():
    item = {"metric": "http_requests_total", "labels": {"service": "a", "code": "500"},
            "t": [0.0, 60.0, 120.0, 180.0, 240.0, 300.0], "v": [10.0, 16.0, 22.0, 28.0, 34.0, 40.0]}
    series = as_detected(item)
    assert series.metric == "5xx:http_requests_total"
    assert series.values.tolist() == [0.1] * 5  # per second, not the ever-growing count
    assert series.labels["code"] == "500"


def _counter(service: str, code: str, per_second: np.ndarray) -> Series:
    return Series("http_requests_total", {"service": service, "code": code}, TIMES, np.cumsum(per_second * 60.0))


def test_failures_counted_by_status_name_an_error_fault_not_a_traffic_spike(tmp_path):
    """orders starts failing requests (its 5xx series rises, its 2xx series holds); the storefront that calls it fails
    some a minute later. Read by name alone, a rise of a request counter is more traffic."""
    rng = np.random.default_rng(7)
    def noisy(level: float) -> np.ndarray:
        return level * (1.0 + rng.normal(0.0, 0.03, TIMES.size))
    orders_failed, front_failed = noisy(0.05), noisy(0.05)
    orders_failed[54:] += 8.0
    front_failed[55:] += 6.0
    series = [_counter("orders", "200", noisy(50.0)), _counter("orders", "500", orders_failed),
              _counter("storefront", "200", noisy(60.0)), _counter("storefront", "500", front_failed)]
    event = Event(pattern=Pattern.RCA, time=T0, service="storefront")
    bundle = load_bundle(write_bundle(tmp_path / "case", event, series, topology={"storefront": ["orders"]}))
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    failures = [f for f in result.findings if f.service == "orders" and f.metric == "5xx:http_requests_total"]
    assert failures and failures[0].direction == "up"
    top = result.verdict.root_causes[0]
    assert (top.service, top.fault) == ("orders", "error_fault")


def test_the_catalog_says_a_status_label_splits_failures_from_work(tmp_path):
    times = T0 - 60.0 * np.arange(3)[::-1]
    series = [Series("http_requests_total", {"service": "orders", "code": code}, times, np.arange(3.0))
              for code in ("200", "500")] + [Series("queue_depth", {"service": "orders"}, times, np.ones(3))]
    path = write_bundle(tmp_path / "case", Event(pattern=Pattern.INSPECTION, time=T0, service="orders"), series)
    out = CliRunner().invoke(app, ["catalog", "--bundle", str(path), "--json"])
    assert out.exit_code == 0, out.output
    labels = {m["name"]: m["status_label"] for m in json.loads(out.output)["metrics"]}
    assert labels == {"http_requests_total": "code", "queue_depth": None}
    table = CliRunner().invoke(app, ["catalog", "--bundle", str(path)], env={"COLUMNS": "250"})
    assert "by code: a 5xx series is failures, bad when it rises" in table.output
