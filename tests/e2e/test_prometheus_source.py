"""PrometheusMetricSource against a real Prometheus backfilled with promtool."""

from __future__ import annotations

import numpy as np
import pytest

from agent.series import Series
from agent.sources.base import MetricQuery
from agent.sources.prometheus import PrometheusMetricSource

pytestmark = pytest.mark.e2e

WEIRD = 'we"ird} or vector(1) #\\svc'


@pytest.fixture(scope="module")
def source(prometheus_url) -> PrometheusMetricSource:
    return PrometheusMetricSource(prometheus_url)


@pytest.fixture(scope="module")
def window(prometheus_series) -> tuple[float, float]:
    ts = prometheus_series[0].timestamps
    return float(ts[0]), float(ts[-1])


def ask(source, window, name, matchers=None, **kwargs):
    return source.query(MetricQuery(name, matchers or {}, window[0], window[1], **kwargs))


def test_exact_name_and_labels_return_the_backfilled_samples(source, window, prometheus_series):
    result = ask(source, window, "request_latency_p99_seconds", {"service": "ranking"})
    assert result.status == "ok", result.error
    assert [s.labels["instance"] for s in result.data] == ["ranking-0", "ranking-1"]
    got = result.data[0]
    assert got.metric == "request_latency_p99_seconds"
    assert "__name__" not in got.labels
    assert dict(got.labels) == {"service": "ranking", "instance": "ranking-0", "version": "v1.0.0"}
    want = next(s for s in prometheus_series if s.key() == got.key())
    np.testing.assert_array_equal(got.timestamps, want.timestamps)
    np.testing.assert_allclose(got.values, want.values)
    assert not result.truncated


def test_glob_name_selects_every_matching_metric(source, window):
    result = ask(source, window, "request_latency_p*_seconds", {"service": "ranking"})
    assert {s.metric for s in result.data} == {"request_latency_p50_seconds", "request_latency_p99_seconds"}
    assert len(result.data) == 4


def test_a_catch_all_leaves_out_excluded_names(source, window):
    everything = ask(source, window, "*", {"service": "ranking"})
    rest = ask(source, window, "*", {"service": "ranking"}, exclude=("request_latency_p*_seconds",))
    assert {"request_latency_p50_seconds", "request_latency_p99_seconds"} <= {s.metric for s in everything.data}
    assert rest.status == "ok", rest.error
    assert {s.metric for s in rest.data} == {s.metric for s in everything.data} - {
        "request_latency_p50_seconds", "request_latency_p99_seconds"}


def test_glob_and_absent_label_matchers(source, window):
    by_glob = ask(source, window, "request_latency_p99_seconds", {"instance": "*-1"})
    assert sorted(s.labels["instance"] for s in by_glob.data) == ["gateway-1", "ranking-1", "retrieval-1"]
    no_instance = ask(source, window, "requests_per_second", {"instance": ""})
    assert sorted(s.service for s in no_instance.data) == ["gateway", "ranking", "retrieval"]
    assert ask(source, window, "request_latency_p99_seconds", {"instance": ""}).status == "no_data"


def test_limit_truncates(source, window):
    result = ask(source, window, "request_latency_p99_seconds", {}, limit=2)
    assert len(result.data) == 2
    assert result.truncated


def test_raw_promql_is_used_and_named_after_the_signal(source, window):
    result = ask(source, window, "rps_by_service", promql="sum by (service) (requests_per_second)")
    assert result.status == "ok", result.error
    assert {s.metric for s in result.data} == {"rps_by_service"}
    assert all(np.all(s.values == 100.0) for s in result.data)


def test_label_values_with_promql_syntax_match_only_themselves(source, window):
    exact = ask(source, window, "request_error_ratio", {"service": WEIRD})
    assert [s.service for s in exact.data] == [WEIRD]
    glob = ask(source, window, "request_error_ratio", {"service": 'we"ird}*'})
    assert [s.service for s in glob.data] == [WEIRD]


@pytest.mark.parametrize(
    "value",
    [
        'x"} or vector(1) #',
        'ranking"}) or on() vector(1) or rate({a="',
        "ranking|retrieval",
        "rank.*",
        "rank+ing*",
    ],
)
def test_injection_attempts_find_nothing_and_raise_nothing(source, window, value):
    result = ask(source, window, "request_latency_p99_seconds", {"service": value})
    assert result.status == "no_data", (result.error, [s.key() for s in result.data])
    assert result.error is None


def test_outside_the_data_window_is_no_data(source, window):
    result = source.query(MetricQuery("request_latency_p99_seconds", {}, window[1] + 3600, window[1] + 7200))
    assert result.status == "no_data"


def test_long_range_with_small_step_is_widened_not_refused(source, window):
    result = source.query(MetricQuery("requests_per_second", {}, window[0] - 30 * 86400, window[1], step=1))
    assert result.status == "ok", result.error
    assert result.request["step"] > 1


def test_server_errors_become_failed_results(source, window):
    result = ask(source, window, "x", promql="sum(")
    assert result.status == "error"
    assert "bad_data" in result.error


def test_metrics_lists_backfilled_names_with_labels_and_services(source):
    infos = {m.name: m for m in source.metrics()}
    assert source.last_error is None
    assert {"request_latency_p99_seconds", "requests_per_second", "request_error_ratio"} <= set(infos)
    p99 = infos["request_latency_p99_seconds"]
    assert p99.labels == ("instance", "service", "version")
    assert p99.services == ("gateway", "ranking", "retrieval")
    assert infos["requests_per_second"].labels == ("service",)


def test_services_lists_the_service_label_values(source, prometheus_url):
    assert {"gateway", "ranking", "retrieval"} <= set(source.services())
    assert source.last_error is None
    unreachable = PrometheusMetricSource("http://127.0.0.1:9", timeout=1.0)
    assert unreachable.services() == []
    assert "cannot reach" in unreachable.last_error


def test_an_answer_beyond_the_query_limits_is_refused_naming_the_limit(prometheus_url, window):
    from agent.sources.base import QueryLimits

    few_series = PrometheusMetricSource(prometheus_url, limits=QueryLimits(max_series=3))
    result = ask(few_series, window, "request_latency_p*_seconds", {"service": "ranking"})
    assert result.status == "error" and result.data == []
    assert "4 series, more than the limit of 3 per query" in result.error
    assert "BIANQUE_MAX_QUERY_SERIES" in result.error
    few_points = PrometheusMetricSource(prometheus_url, limits=QueryLimits(max_points=10))
    result = ask(few_points, window, "request_latency_p99_seconds", {"service": "ranking"})
    assert result.status == "error" and "more than the limit of 10 per query" in result.error
    assert "BIANQUE_MAX_QUERY_POINTS" in result.error
    within = PrometheusMetricSource(prometheus_url, limits=QueryLimits(max_series=4))
    assert ask(within, window, "request_latency_p*_seconds", {"service": "ranking"}).status == "ok"


def test_a_fine_scrape_is_read_as_step_means(start_prometheus, window):
    """Samples every 15 s alternating 8 and 12: a 60-s step reads each minute's mean, 10, where ``query_range``
    alone would answer with whichever sample came last before each step."""
    t0 = window[0]
    times = t0 + 15.0 * np.arange(4 * 60)
    values = np.where(np.arange(times.size) % 2 == 0, 8.0, 12.0)
    url = start_prometheus([Series("queue_depth", {"service": "orders"}, times, values)])
    source = PrometheusMetricSource(url)
    result = source.query(MetricQuery("queue_depth", {"service": "orders"}, t0, float(times[-1]), step=60.0))
    assert result.status == "ok", result.error
    (series,) = result.data
    assert len(series) >= 58 and np.allclose(series.values, 10.0)
    assert np.all(np.diff(series.timestamps) == 60.0)
    assert result.request["read"].startswith("raw samples")
    promql = source.query(MetricQuery("queue_depth", {}, t0, float(times[-1]), step=60.0, promql="queue_depth"))
    assert set(promql.data[0].values) <= {8.0, 12.0}  # an expression of the Skill's own: the sample at each step
