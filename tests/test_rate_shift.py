"""A count of a few events a sample is judged by its rate over the window, not sample by sample."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors.onset import detect_onset
from agent.detectors.rate_shift import counting_unit, detect_rate_shift, service_totals
from agent.events import Event, Pattern
from agent.graph.analysis import _metric_findings, _with_activity
from agent.reasoners.service_evidence import SIGNIFICANT, activity
from agent.series import Series
from agent.skills.schema import MetricSignal

STEP = 60.0
REFERENCE = 50  # samples before the split (an RCA's last hour, less its last ten minutes)
# one request a sample, as a quiet service counts them: 0, 1 and 2 alike, mean 1
QUIET = [1, 0, 2, 1, 1, 0, 1, 2, 0, 1] * (REFERENCE // 10)
DOUBLED = [2, 3, 1, 2, 3, 2, 1, 3, 2, 2]  # the last ten samples at about twice that rate: never more than 3


def requests(counts: list[int]) -> Series:
    """Requests counted per sample, written per second as a rate is."""
    times = STEP * np.arange(len(counts))
    return Series("requests_per_second", {"service": "entry"}, times, np.asarray(counts, dtype=float) / STEP)


def judged(series: Series, detector=detect_rate_shift) -> list:
    end = float(series.timestamps[-1]) + 1.0
    return detector([series], start=0.0, end=end, baseline_end=REFERENCE * STEP, direction="up",
                    set_aside_episodes=True)


def test_a_rate_doubled_at_one_request_a_sample_is_found_over_the_window_but_at_no_single_sample() -> None:
    series = requests(QUIET + DOUBLED)
    assert judged(series, detect_onset) == []  # no single count of 3 is far from 1 a sample
    [finding] = judged(series)
    assert finding.direction == "up" and finding.detector == "rate_shift"
    assert finding.onset == REFERENCE * STEP  # the whole stretch is the shift
    assert finding.numbers["post_median"] == pytest.approx(2.1 / STEP)
    assert finding.numbers["p_value"] < 0.01 and finding.numbers["excess"] > 1.0


def test_a_noisy_sparse_count_with_no_shift_is_not_flagged() -> None:
    """Poisson counts at one a sample throughout: a Finding as often as the test's level says (1 %), never one
    strong enough to make its service anomalous."""
    found = [f for seed in range(200)
             for f in judged(requests(np.random.default_rng(seed).poisson(1.0, REFERENCE + 10).tolist()))]
    assert len(found) <= 4
    assert all(f.score < SIGNIFICANT for f in found)


def test_a_count_no_higher_in_the_window_than_a_stretch_of_its_reference_is_no_shift() -> None:
    burst = [3, 2, 3, 2, 2, 3, 2, 1, 3, 2]  # the reference once held the window's rate for as long
    assert judged(requests(QUIET[:20] + burst + QUIET[:20] + DOUBLED)) == []


@pytest.mark.parametrize(("values", "unit"), [
    ([0.0, 1 / 60, 2 / 60, 5 / 60], 1 / 60),
    ([0.13333, 0.13334, 0.2, 0.0666667], 0.0666667),  # a scraper's rate(): one level read as two
    ([0.0, 0.5, 1.0, 0.5], 0.5),
])
def test_a_counting_series_counts_in_whole_units(values: list[float], unit: float) -> None:
    assert counting_unit(np.asarray(values)) == pytest.approx(unit, rel=1e-3)


@pytest.mark.parametrize("values", [
    [0.41, 0.43, 0.47, 0.52],  # a CPU share: no common unit
    [0.0, 30.0, 60.0, 9000.0],  # hundreds of units a sample: one sample shows a shift
    [-1.0, 0.0, 1.0, 2.0],  # negative: no count
    [3.0, 3.0, 3.0],  # one level: no unit
])
def test_other_series_are_no_counts(values: list[float]) -> None:
    assert counting_unit(np.asarray(values)) is None


def pod(counts: list[int], i: int) -> Series:
    series = requests(counts)
    return Series(series.metric, {"service": "entry", "instance": f"entry-{i}"}, series.timestamps, series.values)


def test_a_rise_spread_over_a_service_s_pods_is_found_in_their_sum() -> None:
    """Four pods at a request a sample, the last four samples at twice that: no pod alone shows it."""
    pods = [pod(np.roll(QUIET, 3 * i).tolist() + QUIET[:6] + np.roll([2, 2, 3, 1], i).tolist(), i) for i in range(4)]
    assert all(judged(p) == [] for p in pods)
    [(total, unit)] = service_totals(pods, 0.0, 1e9)
    assert total.labels == {"service": "entry"} and unit == pytest.approx(1 / STEP)
    assert total.values == pytest.approx(sum(p.values for p in pods))
    [finding] = detect_rate_shift(pods, start=0.0, end=1e9, baseline_end=REFERENCE * STEP, direction="up")
    assert finding.subject == "entry" and finding.direction == "up"
    assert finding.onset == (REFERENCE + 6) * STEP  # where the pods' rate doubled


def test_a_service_with_its_own_series_is_not_summed_again() -> None:
    pods = [pod(QUIET + DOUBLED, i) for i in range(2)]
    assert len(service_totals(pods, 0.0, 1e9)) == 1
    assert service_totals([*pods, requests(QUIET + DOUBLED)], 0.0, 1e9) == []


def test_a_share_of_a_few_requests_is_no_count() -> None:
    """An error ratio of a few requests moves in steps of a third or a half: whole steps, but no count of events."""
    failed = requests(QUIET + DOUBLED)
    ratio = Series("request_error_ratio", failed.labels, failed.timestamps, failed.values * STEP / 6.0)
    assert judged(Series("request_errors", ratio.labels, ratio.timestamps, ratio.values)) != []
    assert judged(ratio) == []


def test_a_latency_quantile_read_off_histogram_buckets_is_no_count() -> None:
    """A p99 interpolated from buckets holds a few levels (0.025 s, 0.05 s, 0.1 s): whole multiples of its
    smallest step, one or two of them a sample, yet no count of events: its rise is no rate shift."""
    counted = requests(QUIET + DOUBLED)
    p99 = Series("server_latency_p99_seconds", counted.labels, counted.timestamps, counted.values * STEP * 0.02485)
    assert judged(Series("server_calls", p99.labels, p99.timestamps, p99.values)) != []  # the same values counted
    assert judged(p99) == []


def test_a_series_another_detector_reported_is_not_judged_again() -> None:
    series = requests(QUIET + DOUBLED)
    assert detect_rate_shift([series], start=0.0, end=1e9, baseline_end=REFERENCE * STEP,
                             found={("entry", "requests_per_second")}) == []


def test_pods_summed_take_one_sample_a_time_when_a_pod_repeats_one() -> None:
    """A pod whose export repeats a sample (overlapping scrapes) is summed on the same samples as the others."""
    steady = pod(QUIET + DOUBLED, 0)
    repeated = pod(QUIET + DOUBLED, 1)
    repeated = Series(repeated.metric, repeated.labels, np.insert(repeated.timestamps, 5, repeated.timestamps[5]),
                      np.insert(repeated.values, 5, repeated.values[5]))
    [(total, _)] = service_totals([steady, repeated], 0.0, 1e9)
    assert total.timestamps.tolist() == steady.timestamps.tolist()
    assert total.values == pytest.approx(2 * steady.values)


def test_a_fall_of_a_sparse_count_held_through_the_alert_is_present_there() -> None:
    """1.4 requests a sample falling to about 0.2: no single sample lies 1.5 spreads (1.2 requests) below 1.4, yet
    the minutes up to the alert hold a rate far below it; a rate back at its reference there is recovered."""
    rng = np.random.default_rng(3)
    quiet = rng.poisson(1.4, REFERENCE).tolist()
    fell, back = requests(quiet + [0, 0, 1, 0, 0, 0, 0, 1, 0, 0]), requests(quiet + [0] * 10 + [2, 1, 1, 2, 1])
    for series, present in ((fell, True), (back, False)):
        end = float(series.timestamps[-1])
        [finding] = detect_rate_shift([series], start=0.0, end=end + 1.0, baseline_end=REFERENCE * STEP,
                                      direction="down")
        active = _with_activity(finding, [series], end, STEP).numbers["active_z"]
        assert bool(active >= 1.5) is present


def test_a_shift_found_in_a_service_s_pods_sum_is_present_or_past_by_that_sum() -> None:
    """Four pods at a request a sample, then three or four for ten samples: held up to the alert the sum's shift is
    present there; back at a request a sample for the last seven, it is past (before, no series matched the
    service's sum, so it always counted as present)."""
    signal = MetricSignal(id="m", name="*", direction="both")
    for back, present in (([], True), ([1, 1, 0, 1, 1, 1, 1], False)):
        pods = [pod(np.roll(QUIET, 3 * i).tolist() + np.roll([3, 4, 3, 3, 4, 3, 3, 4, 3, 3], i).tolist() + back, i)
                for i in range(4)]
        end = float(pods[0].timestamps[-1])
        event = Event(pattern=Pattern.RCA, time=end, service="entry")
        found = _metric_findings(signal, pods, event, {"start": 0.0, "end": end, "anchor": end})
        [shift] = [f for f in found if f.detector == "rate_shift"]
        assert shift.subject == "entry" and "active_z" in shift.numbers
        assert (activity(shift) == 1.0) is present
