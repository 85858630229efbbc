"""Bundle-backed metric, log and change sources filter as the source protocols promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bundles.reader import load_bundle
from agent.sources.base import ChangeRequest, LogRequest, MetricQuery
from agent.sources.bundle import BundleChangeSource, BundleLogSource, BundleMetricSource

FIXTURE = Path(__file__).parent / "fixtures" / "bundles" / "small-rca"
T0 = 1772445600.0  # first sample, 2026-03-02T10:00:00Z
END = T0 + 19 * 60


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(FIXTURE)


def q(name: str, matchers: dict[str, str] | None = None, start=T0, end=END, limit: int = 200) -> MetricQuery:
    return MetricQuery(name=name, matchers=matchers or {}, start=start, end=end, limit=limit)


def test_metric_exact_name_and_label_matchers(bundle):
    source = BundleMetricSource(bundle)
    result = source.query(q("request_latency_p99_seconds", {"service": "ranking"}))
    assert result.status == "ok" and not result.truncated
    assert sorted(s.labels["instance"] for s in result.data) == ["ranking-0", "ranking-1"]
    assert result.request["name"] == "request_latency_p99_seconds" and result.source == "bundle"


def test_metric_globs(bundle):
    source = BundleMetricSource(bundle)
    assert {s.metric for s in source.query(q("request*")).data} == {
        "request_latency_p99_seconds",
        "requests_per_second",
    }
    one = source.query(q("*_p99_*", {"instance": "*-1"})).data
    assert [s.labels["instance"] for s in one] == ["ranking-1"]


def test_metric_empty_matcher_means_label_absent(bundle):
    source = BundleMetricSource(bundle)
    without_version = source.query(q("*", {"version": ""})).data
    assert len(without_version) == 3 and all("version" not in s.labels for s in without_version)
    assert [s.labels["version"] for s in source.query(q("*", {"version": "v2"})).data] == ["v2"]


def test_metric_time_bounds_are_inclusive(bundle):
    source = BundleMetricSource(bundle)
    (series,) = source.query(q("*", {"service": "gateway"}, start=T0 + 60, end=T0 + 180)).data
    assert series.timestamps.tolist() == [T0 + 60, T0 + 120, T0 + 180]
    assert series.values.tolist() == [101.0, 102.0, 103.0]
    outside = source.query(q("*", start=END + 1, end=END + 600))
    assert outside.status == "no_data" and outside.data == []


def test_metric_limit_truncates(bundle):
    result = BundleMetricSource(bundle).query(q("*", limit=2))
    assert len(result.data) == 2 and result.truncated is True
    assert BundleMetricSource(bundle).query(q("*", limit=4)).truncated is False


def test_metric_no_match(bundle):
    result = BundleMetricSource(bundle).query(q("no_such_metric"))
    assert result.status == "no_data" and result.error is None


def test_metrics_listing(bundle):
    infos = {m.name: m for m in BundleMetricSource(bundle).metrics()}
    assert sorted(infos) == ["request_latency_p99_seconds", "requests_per_second"]
    assert infos["request_latency_p99_seconds"].services == ("feature-store", "ranking")
    assert infos["request_latency_p99_seconds"].labels == ("instance", "service")
    assert infos["requests_per_second"].labels == ("instance", "service", "version")


def logs(source, **kwargs):
    request = LogRequest(**{"services": (), "start": 0, "end": 2e9, **kwargs})
    return source.query(request)


def test_logs_default_levels_and_order(bundle):
    result = logs(BundleLogSource(bundle))
    assert [r.level for r in result.data] == ["WARN", "ERROR", "ERROR"]  # INFO left out by default
    assert [r.ts for r in result.data] == sorted(r.ts for r in result.data)
    assert result.request["levels"] == ["WARN", "ERROR", "FATAL"]


def test_logs_filters(bundle):
    source = BundleLogSource(bundle)
    assert [r.service for r in logs(source, services=("ranking",)).data] == ["ranking"]
    assert len(logs(source, services=("ranking",), levels=()).data) == 2
    assert [r.service for r in logs(source, services=("feature-*",)).data] == ["feature-store"]
    assert [r.service for r in logs(source, patterns=("TIMEOUT",)).data] == ["ranking", "gateway"]
    assert [r.message for r in logs(source, levels=("info",)).data] == ["cache warmed"]
    window = logs(source, start=1772446380, end=1772446440, levels=())
    assert [r.ts for r in window.data] == [1772446380.0, 1772446440.0]
    assert logs(source, services=("nobody",)).status == "no_data"


def test_logs_limit_shares_the_lines_out_among_services_and_levels(bundle):
    every = logs(BundleLogSource(bundle), limit=100).data
    assert len({(r.service, r.level) for r in every}) == len(every) == 3
    result = logs(BundleLogSource(bundle), limit=2)
    assert len(result.data) == 2 and all(r in every for r in result.data) and result.truncated
    assert logs(BundleLogSource(bundle), limit=3).truncated is False
    assert BundleLogSource(bundle).services() == ["feature-store", "gateway", "ranking"]


def test_changes_filters(bundle):
    source = BundleChangeSource(bundle)
    every = source.query(ChangeRequest(services=(), start=0, end=2e9))
    assert [c.id for c in every.data] == ["deploy-8812", "cfg-77"]  # oldest first
    assert [c.id for c in source.query(ChangeRequest(("ranking",), 0, 2e9)).data] == ["deploy-8812"]
    assert [c.id for c in source.query(ChangeRequest((), 0, 2e9, types=("config",))).data] == ["cfg-77"]
    assert source.query(ChangeRequest((), 1772445901, 2e9)).status == "no_data"
    assert source.services() == ["feature-store", "ranking"]
