"""A latency histogram's buckets are read as the p50 and p99 they imply (PromQL's histogram_quantile)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_bundle
from agent.cli.app import app
from agent.config import get_settings
from agent.detectors.histograms import _quantile, histogram_quantiles, is_wait_bucket, quantile_name
from agent.events import Event, Pattern
from agent.graph.gathered import series_by_signal
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.series import Series
from agent.timeparse import to_epoch

T0 = to_epoch("2026-03-02T10:00:00Z")
TIMES = T0 - 3600 + 60.0 * np.arange(66)
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


@pytest.mark.parametrize(("q", "counts", "expected"), [
    (0.5, [50, 90, 99, 100], 0.1),  # the rank falls at the top of the first bucket
    (0.99, [50, 90, 99, 100], 1.0),
    (0.95, [50, 90, 99, 100], 0.5 + 0.5 * 5 / 9),  # linear within (0.5, 1]
    (0.99, [10, 20, 30, 100], 1.0),  # in the +Inf bucket: the highest finite bound
    (0.5, [0, 0, 0, 0], math.nan),  # no requests in the sample
])
def test_a_quantile_of_one_sample(q, counts, expected):
    value = _quantile(q, np.array([0.1, 0.5, 1.0, math.inf]), np.array(counts, dtype=float))
    assert value == pytest.approx(expected, nan_ok=True)


def test_only_buckets_of_waits_are_read_as_quantiles():
    assert is_wait_bucket("http_request_duration_seconds_bucket", {"le": "0.1"})
    assert is_wait_bucket("rpc_latency_bucket", {"le": "5"})
    assert not is_wait_bucket("response_size_bytes_bucket", {"le": "1024"})  # its quantiles are no waits
    assert not is_wait_bucket("http_request_duration_seconds_bucket", {})
    assert quantile_name("http_request_duration_seconds", "p99") == "http_request_duration_p99_seconds"
    assert quantile_name("rpc_latency", "p50") == "rpc_latency_p50"


def buckets(service: str, rate: np.ndarray, median: np.ndarray, p99: np.ndarray) -> list[Series]:
    """Cumulative buckets of requests whose latency is log-normal through ``median`` and ``p99`` each minute."""
    from scipy.stats import norm

    sigma = np.log(p99 / median) / norm.ppf(0.99)
    out = []
    for bound in BOUNDS:
        share = np.ones_like(rate) if math.isinf(bound) else norm.cdf((np.log(bound) - np.log(median)) / sigma)
        out.append(Series("http_request_duration_seconds_bucket", {"service": service, "le": f"{bound:g}"},
                          TIMES, np.cumsum(rate * 60.0 * share)))
    return out


def test_cumulative_buckets_become_the_quantiles_they_imply():
    rate, median, p99 = np.full(TIMES.size, 40.0), np.full(TIMES.size, 0.03), np.full(TIMES.size, 0.3)
    found = {s.metric: s for s in histogram_quantiles(buckets("a", rate, median, p99))}
    assert set(found) == {"http_request_duration_p50_seconds", "http_request_duration_p99_seconds"}
    assert found["http_request_duration_p50_seconds"].labels == {"service": "a"}
    p50, p99 = found["http_request_duration_p50_seconds"].values, found["http_request_duration_p99_seconds"].values
    assert np.all((p50 > 0.025) & (p50 <= 0.05))  # in the bucket the true 0.03 lies in, interpolated linearly
    assert np.all((p99 > 0.25) & (p99 <= 0.5))  # (0.3)
    assert found["http_request_duration_p99_seconds"].timestamps.size == TIMES.size - 1  # rated: one fewer


def test_a_signal_reads_a_histogram_as_quantiles_and_a_mean_and_keeps_the_count_and_other_buckets():
    def item(series: Series) -> dict:
        return {"signal": "other", "service": "a", "metric": series.metric, "labels": dict(series.labels),
                "t": series.timestamps.tolist(), "v": series.values.tolist(), "source": "bundle"}
    rate = np.full(TIMES.size, 40.0)
    waits = buckets("a", rate, np.full(TIMES.size, 0.03), np.full(TIMES.size, 0.3))
    sizes = Series("response_size_bytes_bucket", {"service": "a", "le": "1024"}, TIMES, np.cumsum(rate))
    count = Series("http_request_duration_seconds_count", {"service": "a"}, TIMES, np.cumsum(rate * 60.0))
    spent = Series("http_request_duration_seconds_sum", {"service": "a"}, TIMES, np.cumsum(rate * 60.0 * 0.05))
    read = series_by_signal({"series": [item(s) for s in (*waits, sizes, count, spent)]})["other"].current["a"]
    assert sorted(s.metric for s in read) == ["http_request_duration_mean_seconds", "http_request_duration_p50_seconds",
                                              "http_request_duration_p99_seconds",
                                              "http_request_duration_seconds_count", "response_size_bytes_bucket"]
    mean = next(s for s in read if s.metric == "http_request_duration_mean_seconds")
    assert np.allclose(mean.values, 0.05)  # time spent per request, where the sum alone grows with traffic


def test_a_latency_rise_seen_only_in_histogram_buckets_is_found(tmp_path):
    """orders gets slow (its p99 rises tenfold); only its histogram says so. Read bucket by bucket, the requests
    merely moved between buckets."""
    rng = np.random.default_rng(3)
    rate = 40.0 * (1.0 + rng.normal(0.0, 0.02, TIMES.size))
    median = 0.03 * (1.0 + rng.normal(0.0, 0.03, TIMES.size))
    p99 = 0.3 * (1.0 + rng.normal(0.0, 0.03, TIMES.size))
    median[55:] *= 4.0
    p99[55:] *= 10.0
    calm = buckets("storefront", rate, 0.02 * np.ones(TIMES.size), 0.2 * np.ones(TIMES.size))
    event = Event(pattern=Pattern.RCA, time=T0, service="storefront")
    bundle = load_bundle(write_bundle(tmp_path / "case", event, buckets("orders", rate, median, p99) + calm,
                                      topology={"storefront": ["orders"]}))
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings(), knowledge=None, memory=None),
                         source="cli")
    slow = [f for f in result.findings if f.service == "orders" and f.metric == "http_request_duration_p99_seconds"]
    assert slow and slow[0].direction == "up" and slow[0].score >= 0.5
    assert result.verdict.root_causes[0].service == "orders"


def test_the_catalog_says_how_a_latency_histogram_is_read(tmp_path):
    rate = np.full(TIMES.size, 40.0)
    series = [*buckets("orders", rate, np.full(TIMES.size, 0.03), np.full(TIMES.size, 0.3)),
              Series("http_request_duration_seconds_sum", {"service": "orders"}, TIMES, np.cumsum(rate * 3.0)),
              Series("response_size_bytes_bucket", {"service": "orders", "le": "1024"}, TIMES, np.cumsum(rate))]
    path = write_bundle(tmp_path / "case", Event(pattern=Pattern.INSPECTION, time=T0, service="orders"), series)
    out = CliRunner().invoke(app, ["catalog", "--bundle", str(path), "--json"])
    assert out.exit_code == 0, out.output
    read = {m["name"]: m["read_as"] for m in json.loads(out.output)["metrics"]}
    assert read == {
        "http_request_duration_seconds_bucket": "read as http_request_duration_p50_seconds and "
                                                "http_request_duration_p99_seconds, bad when they rise",
        "http_request_duration_seconds_sum": "read over its _count as http_request_duration_mean_seconds, bad when "
                                             "it rises",
        "response_size_bytes_bucket": None,
    }
    table = CliRunner().invoke(app, ["catalog", "--bundle", str(path)], env={"COLUMNS": "300"})
    assert "read as http_request_duration_p50_seconds and http_request_duration_p99_seconds" in table.output
