"""The data catalog from a bundle and from any metric source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.bundles.errors import InvalidBundleError
from agent.bundles.reader import load_bundle
from agent.sources.base import MetricInfo, MetricQuery, SourceResult
from agent.sources.catalog import (
    Catalog,
    CatalogError,
    catalog_from_bundle,
    catalog_from_metric_source,
    catalog_from_prometheus,
)

FIXTURE = Path(__file__).parent / "fixtures" / "bundles" / "small-rca"


def test_catalog_from_bundle_path_and_object():
    catalog = catalog_from_bundle(FIXTURE)
    assert catalog == catalog_from_bundle(load_bundle(FIXTURE))
    assert [m.name for m in catalog.metrics] == ["request_latency_p99_seconds", "requests_per_second"]
    assert catalog.log_sources == ["bundle"]
    assert catalog.log_services == ["feature-store", "gateway", "ranking"]
    assert catalog.change_services == ["feature-store", "ranking"]


def test_help_from_built_in_table():
    p99 = catalog_from_bundle(FIXTURE).metric("request_latency_p99_seconds")
    assert p99.help == "p99 request latency in seconds" and p99.type == "gauge"
    assert p99.services == ("feature-store", "ranking")


def test_find_and_knows():
    catalog = catalog_from_bundle(FIXTURE)
    assert [m.name for m in catalog.find_metrics("request*")] == [
        "request_latency_p99_seconds",
        "requests_per_second",
    ]
    assert catalog.knows_metric("requests_per_second")
    assert catalog.knows_metric("*_p99_*")
    assert not catalog.knows_metric("request_latency_p50_seconds")
    assert catalog.find_metrics("cpu*") == []
    assert catalog.metric("nope") is None


def test_to_dict_is_json_ready():
    data = json.loads(json.dumps(catalog_from_bundle(FIXTURE).to_dict()))
    assert data["metrics"][1]["labels"] == ["instance", "service", "version"]
    assert set(data) == {"metrics", "log_sources", "log_services", "change_services"}


class FakeSource:
    name = "fake"

    def query(self, query: MetricQuery) -> SourceResult:
        return SourceResult.of(self.name, query.describe(), [])

    def metrics(self) -> list[MetricInfo]:
        return [
            MetricInfo("zeta_total", "counter", "own help"),
            MetricInfo("cpu_usage_ratio", "gauge", "CPU said by the server"),
            MetricInfo("memory_usage_bytes"),
        ]


def test_catalog_from_any_metric_source_keeps_its_help():
    catalog = catalog_from_metric_source(FakeSource())
    assert [m.name for m in catalog.metrics] == ["cpu_usage_ratio", "memory_usage_bytes", "zeta_total"]
    assert catalog.metric("cpu_usage_ratio").help == "CPU said by the server"
    assert catalog.metric("memory_usage_bytes").help == "resident memory in bytes"
    assert catalog.metric("zeta_total").type == "counter"
    assert catalog.log_sources == [] and catalog.change_services == []


def test_empty_catalog():
    assert Catalog().knows_metric("*") is False


def test_invalid_bundle_is_reported(tmp_path):
    with pytest.raises(InvalidBundleError, match="event.yaml: missing"):
        catalog_from_bundle(tmp_path)


class BrokenSource(FakeSource):
    name = "prometheus"
    last_error = "http://127.0.0.1:1: cannot reach the server"

    def metrics(self) -> list[MetricInfo]:
        return []


def test_source_that_cannot_list_raises_catalog_error():
    with pytest.raises(CatalogError, match="prometheus: cannot list metrics: http://127.0.0.1:1: cannot reach"):
        catalog_from_metric_source(BrokenSource())


def test_catalog_from_prometheus_uses_the_prometheus_source(monkeypatch):
    import agent.sources.prometheus as prometheus

    seen = []

    class Recording(FakeSource):
        def __init__(self, url: str, service_label: str = "service") -> None:
            seen.append((url, service_label))

    monkeypatch.setattr(prometheus, "PrometheusMetricSource", Recording)
    catalog = catalog_from_prometheus("http://prom.example:9090", "app")
    assert seen == [("http://prom.example:9090", "app")]
    assert catalog.metric("memory_usage_bytes").help == "resident memory in bytes"


@pytest.mark.parametrize("as_json", [False, True])
def test_catalog_of_a_server_whose_series_lack_the_service_label_says_which_labels_they_carry(monkeypatch, as_json):
    """A team whose series name their service by `app` runs `bianque catalog` first: no metric lists a service, and
    it must say why rather than leave the services column out."""
    from typer.testing import CliRunner

    import agent.cli.catalog as catalog_cli
    from agent.cli.app import app
    from agent.sources.catalog import Catalog

    def fake(url: str, service_label: str = "service") -> Catalog:
        services = ("tariff-calc",) if service_label == "app" else ()
        return Catalog(metrics=[MetricInfo("rpc_handle_time_ms", labels=("app", "instance"), services=services)])

    monkeypatch.setattr(catalog_cli, "catalog_from_prometheus", fake)
    monkeypatch.delenv("BIANQUE_SERVICE_LABEL", raising=False)  # the default label, whatever the shell says
    from agent.config import get_settings

    get_settings.cache_clear()
    args = ["catalog", "--prometheus", "http://prom.example:9090", *(["--json"] if as_json else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    legend = "bad when: the way a signal with `direction: auto` (the generic Skills' catch-all) judges it"
    if as_json:
        assert json.loads(result.stdout)["metrics"][0]["name"] == "rpc_handle_time_ms"
    else:  # the columns say what they mean
        shown = " ".join(result.stdout.split())
        assert legend in shown and "family: the fault kind the ranking reads it as" in shown
    said = " ".join(result.stderr.split())
    assert ("note: no series names its service by the label 'service' (BIANQUE_SERVICE_LABEL), so no investigation "
            "of a service would find its metrics; the series carry app, instance: set BIANQUE_SERVICE_LABEL") in said
    monkeypatch.setenv("BIANQUE_SERVICE_LABEL", "app")
    get_settings.cache_clear()
    assert "note:" not in CliRunner().invoke(app, args).stderr
