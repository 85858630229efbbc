"""Configurable size limits: bundle data files (bytes, lines; gzip counted uncompressed) and metric query
answers (series, points) are refused with an error naming the file or query, the limit and its setting.
(The same limits on a real Prometheus: tests/e2e/test_prometheus_source.py.)"""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from agent.bundles.errors import InvalidBundleError
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, SettingsError, get_settings
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.sources.base import MetricQuery, QueryLimits
from agent.sources.bundle import BundleMetricSource

SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"


@pytest.fixture
def bundle(tmp_path):
    return shutil.copytree(SMALL, tmp_path / "case")


def limit(monkeypatch, name: str, value: int) -> None:
    monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


def refusal(bundle) -> str:
    with pytest.raises(InvalidBundleError) as caught:
        load_bundle(bundle)
    return str(caught.value)


VARIABLE = {"metrics.csv": "BIANQUE_MAX_METRICS_FILE", "logs.jsonl": "BIANQUE_MAX_BUNDLE_FILE",
            "changes.jsonl": "BIANQUE_MAX_BUNDLE_FILE"}  # metrics have their own, higher limits


@pytest.mark.parametrize("name", ["metrics.csv", "logs.jsonl"])
def test_a_data_file_larger_than_the_byte_limit_is_refused_before_it_is_read(bundle, bianque_home, monkeypatch,
                                                                             name):
    size = (bundle / name).stat().st_size
    limit(monkeypatch, f"{VARIABLE[name]}_BYTES", size - 1)
    message = refusal(bundle)
    assert f"{bundle}/{name}: more than {size - 1} bytes ({size} bytes), the limit for " in message
    assert f"raise {VARIABLE[name]}_BYTES" in message
    limit(monkeypatch, f"{VARIABLE[name]}_BYTES", size)
    assert load_bundle(bundle).series


def test_a_gzip_bomb_stops_at_the_byte_limit(bundle, bianque_home, monkeypatch):
    (bundle / "logs.jsonl").unlink()
    line = json.dumps({"ts": 1772446320, "service": "ranking", "level": "ERROR", "message": "x" * 1000}) + "\n"
    with gzip.open(bundle / "logs.jsonl.gz", "wt", encoding="utf-8") as out:
        for _ in range(20_000):  # 20 MB uncompressed, a few KB on disk
            out.write(line)
    assert (bundle / "logs.jsonl.gz").stat().st_size < 200_000
    limit(monkeypatch, "BIANQUE_MAX_BUNDLE_FILE_BYTES", 1_000_000)
    message = refusal(bundle)
    assert f"{bundle}/logs.jsonl.gz: more than 1000000 bytes uncompressed" in message
    assert "BIANQUE_MAX_BUNDLE_FILE_BYTES" in message


@pytest.mark.parametrize("name", ["logs.jsonl", "changes.jsonl", "metrics.csv"])
def test_a_data_file_with_more_lines_than_the_limit_is_refused(bundle, bianque_home, monkeypatch, name):
    lines = len((bundle / name).read_text().splitlines())
    limit(monkeypatch, f"{VARIABLE[name]}_LINES", lines - 1)
    message = refusal(bundle)
    assert f"case/{name}: more than {lines - 1} lines, the limit for " in message
    assert f"raise {VARIABLE[name]}_LINES" in message


def test_the_default_limits_admit_an_hour_of_per_second_samples_of_a_thousand_series(bianque_home):
    """Real exports of finely scraped systems are large: the defaults must read them, not refuse them."""
    rows = 3600 * 1000
    row = "1772446320.000,container_cpu_usage_seconds_total,checkout-service,0.123456,checkout-7d9f8-abcde\n"
    settings = get_settings()
    assert settings.max_metrics_file_lines > rows
    assert settings.max_metrics_file_bytes > rows * len(row)


def test_limits_must_be_positive(monkeypatch, bianque_home):
    monkeypatch.setenv("BIANQUE_MAX_QUERY_SERIES", "0")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="BIANQUE_MAX_QUERY_SERIES: Input should be greater than 0"):
        get_settings()


def query(source, name="*"):
    return source.query(MetricQuery(name, {}, 0, 4e9))


def test_a_bundle_query_beyond_the_limits_fails_naming_the_limit(bianque_home):
    loaded = load_bundle(SMALL)
    everything = query(BundleMetricSource(loaded))
    count = len(everything.data)
    points = sum(len(s.timestamps) for s in everything.data)
    assert everything.status == "ok" and count > 1
    series = query(BundleMetricSource(loaded, limits=QueryLimits(max_series=count - 1)))
    assert series.status == "error" and series.data == []
    assert f"{count} series, more than the limit of {count - 1} per query" in series.error
    many = query(BundleMetricSource(loaded, limits=QueryLimits(max_points=points - 1)))
    assert f"{points} points, more than the limit of {points - 1} per query" in many.error
    assert "BIANQUE_MAX_QUERY_POINTS" in many.error
    assert query(BundleMetricSource(loaded, limits=QueryLimits(count, points))).status == "ok"


def test_an_investigation_reports_a_refused_query_as_missing_data(bianque_home, monkeypatch):
    limit(monkeypatch, "BIANQUE_MAX_QUERY_POINTS", 3)
    result = investigate(load_bundle(SMALL).event, bundle_toolkit(SMALL, get_settings()))
    assert "more than the limit of 3 per query" in result.report
    assert "BIANQUE_MAX_QUERY_POINTS" in result.report


def test_series_and_log_line_limits_bound_what_an_investigation_reads(bianque_home, monkeypatch):
    limit(monkeypatch, "BIANQUE_MAX_SERIES_PER_SIGNAL", 1)  # ranking has two instances
    limit(monkeypatch, "BIANQUE_MAX_LOG_LINES", 1)
    result = investigate(load_bundle(SMALL).event, bundle_toolkit(SMALL, get_settings()))
    assert "only the first 1 series were read (BIANQUE_MAX_SERIES_PER_SIGNAL)" in result.report
    assert "only about 1 lines were read, a share of the lines spread evenly over the window (the Skill's limit " \
           "or BIANQUE_MAX_LOG_LINES)" in result.report
