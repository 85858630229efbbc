"""Fine sampling (a sample every few seconds): a bundle's raw samples are averaged to the step a query asks for,
so the detectors see what a one-minute series of the same system shows, and an incident is answered alike."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from agent.bundles.reader import load_bundle
from agent.bundles.writer import write_metrics_csv
from agent.config import PROJECT_ROOT
from agent.detectors.counters import as_rate
from agent.eval.runner import evaluate
from agent.series import Series, sample_step
from agent.sim.scenario import build_scenario, write_scenario
from agent.sources.base import MetricQuery
from agent.sources.bundle import BundleMetricSource
from agent.sources.resample import bucket_means, to_step

T0 = 1772445600.0
FINE_CASES = [("cache_failure", 1002), ("bad_release", 1017), ("memory_leak", 1039)]  # each missed at 1 s unaveraged


def five_second_series(values: list[float], start: float = T0) -> Series:
    return Series("latency", {"service": "db"}, start + 5.0 * np.arange(len(values)), np.asarray(values, float))


def test_fine_samples_become_step_means_stamped_at_their_latest_sample():
    series = five_second_series([1.0] * 12 + [3.0] * 12 + [5.0] * 12)
    minute = to_step(series, 60.0, anchor=T0)
    assert minute.values.tolist() == [1.0, 3.0, 5.0]
    assert minute.timestamps.tolist() == [T0 + 55, T0 + 115, T0 + 175]
    assert minute.labels == series.labels and minute.metric == "latency"


def test_nan_samples_are_left_out_of_their_bucket():
    values = [2.0] * 12 + [4.0, np.nan] * 6
    minute = bucket_means(five_second_series(values), 60.0, anchor=T0)
    assert minute.values.tolist() == [2.0, 4.0]


def test_a_bucket_the_window_cuts_through_is_dropped_at_either_end():
    series = five_second_series([7.0] * 12 * 4)
    cut = series.between(T0 + 50, T0 + 190)  # two samples of the first minute, two of the fourth
    minute = to_step(cut, 60.0, anchor=T0)
    assert minute.timestamps.tolist() == [T0 + 115, T0 + 175]


def test_a_bucket_is_partial_by_the_samples_a_full_one_holds():
    series = five_second_series([1.0] * 2 + [3.0] * 12 + [5.0] * 2, start=T0 + 50)
    minute = to_step(series, 60.0, anchor=T0)
    assert minute.values.tolist() == [3.0]  # 2 of 12 samples at either end: both dropped


def test_a_counter_keeps_each_steps_latest_sample_so_a_restart_is_no_false_spike():
    """50 requests a second scraped every 15 s, restarting from 0 halfway: the minute series holds the counts a
    one-minute scrape would read, and its rate stays 50/s."""
    times = T0 + 15.0 * np.arange(120)
    counts = 1e6 + 50.0 * 15.0 * np.arange(120)
    counts[60:] = 50.0 * 15.0 * np.arange(1, 61)  # restarted at the 16th minute's first scrape
    minute = to_step(Series("http_requests_total", {"service": "a"}, times, counts), 60.0, anchor=T0)
    assert minute.timestamps.tolist() == times[3::4].tolist()
    assert minute.values.tolist() == counts[3::4].tolist()
    assert np.allclose(as_rate(minute).values, 50.0)  # a mean per minute would mix both counts at the restart


def test_a_two_minute_step_reads_minute_data_as_two_minute_means():
    minute_series = Series("disk", {"service": "a"}, T0 + 60.0 * np.arange(1, 7), np.arange(1.0, 7.0))
    two = to_step(minute_series, 120.0, anchor=T0)
    assert two.values.tolist() == [1.0, 2.5, 4.5, 6.0]  # one of two samples at either end is half: kept
    assert two.timestamps.tolist() == [T0 + 60, T0 + 180, T0 + 300, T0 + 360]


def test_series_not_finer_than_half_the_step_are_untouched():
    minute_series = Series("cpu", {"service": "a"}, T0 + 60.0 * np.arange(10), np.arange(10.0))
    assert to_step(minute_series, 60.0, anchor=T0) is minute_series
    thirty = Series("cpu", {"service": "a"}, T0 + 30.0 * np.arange(10), np.arange(10.0))
    assert len(to_step(thirty, 60.0, anchor=T0)) == 5
    assert to_step(thirty, 0.0, anchor=T0) is thirty  # no step asked: raw


def test_the_bundle_source_answers_at_the_query_step(tmp_path: Path):
    bundle_dir = write_scenario(build_scenario("rca", "cache_failure", 1011), tmp_path / "case")
    bundle = load_bundle(bundle_dir)
    [raw] = [s for s in bundle.series if s.service == bundle.event.service][:1]
    seconds = np.repeat(raw.timestamps, 12) + np.tile(5.0 * np.arange(-11, 1), len(raw))
    write_metrics_csv(bundle_dir / "metrics.csv", [Series(raw.metric, raw.labels, seconds, np.repeat(raw.values, 12))])
    source = BundleMetricSource(load_bundle(bundle_dir))
    query = {"name": raw.metric, "matchers": dict(raw.labels), "start": -np.inf, "end": np.inf}
    [minute] = source.query(MetricQuery(**query, step=60.0)).data
    assert minute.timestamps.tolist() == raw.timestamps.tolist()
    assert minute.values == pytest.approx(raw.values)
    [fine] = source.query(MetricQuery(**query, step=5.0)).data
    assert len(fine) == 12 * len(raw)


@pytest.fixture
def spread_finer(monkeypatch):
    """benchmarks/resampling.finer: a series spread over finer samples whose minute means are the recorded ones."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    return importlib.import_module("resampling").finer


@pytest.mark.parametrize(("fault", "seed"), FINE_CASES)
def test_a_simulated_incident_sampled_every_second_is_answered_as_at_one_minute(tmp_path, spread_finer, fault, seed):
    minute_dir = write_scenario(build_scenario("rca", fault, seed), tmp_path / "minute")
    second_dir = write_scenario(build_scenario("rca", fault, seed), tmp_path / "second")
    write_metrics_csv(second_dir / "metrics.csv", [spread_finer(s, 1.0, seed) for s in load_bundle(minute_dir).series])
    assert sample_step(load_bundle(second_dir).series) == 1.0
    [minute], [second] = evaluate([minute_dir]).scores, evaluate([second_dir]).scores
    assert minute.rank == 1 and minute.needs_attention
    assert (second.rank, second.needs_attention) == (minute.rank, minute.needs_attention)
