"""Onset detector: steps, ramps, spikes, blips, ordering of onsets."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors import detect_onset
from agent.detectors.calibration import past_episodes
from agent.detectors.changepoint import cusum_start, latest_episode, locate_onset, persistent_alarm
from agent.detectors.emit import tidy
from agent.findings import FindingKind
from agent.series import Series

T0 = 1772445600.0  # 2026-03-02T10:00:00Z
N = 60  # one hour of one-minute samples
START, END, SPLIT = T0, T0 + N * 60, T0 + 30 * 60


def minute_series(values: np.ndarray, metric: str = "request_latency_p99_seconds", **labels: str) -> Series:
    ts = T0 + 60.0 * np.arange(values.size)
    return Series(metric, {"service": "ranking", **labels}, ts, np.asarray(values, dtype=float))


def noise(seed: int, level: float = 0.2, sd: float = 0.01) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0.0, sd, N)


def run(*series: Series, **kw):
    return detect_onset(list(series), start=START, end=END, baseline_end=SPLIT, **kw)


def test_step_gives_onset_at_the_step():
    values = noise(1)
    values[40:] += 0.2  # +100 % from 10:40
    [finding] = run(minute_series(values, instance="r-1"))
    assert finding.kind == FindingKind.ANOMALY
    assert finding.onset == T0 + 40 * 60
    assert finding.direction == "up"
    assert finding.subject == "ranking/r-1" and finding.service == "ranking"
    assert finding.numbers["robust_z"] > 10
    assert finding.numbers["rel_change"] == pytest.approx(1.0, abs=0.1)
    assert finding.score > 0.7
    assert "onset 10:40" in finding.summary and "robust z" in finding.summary
    assert finding.id == "" and finding.detector == "onset"
    assert finding.numbers["onset"] == T0 + 40 * 60  # epoch seconds survive rounding of the numbers


def test_numbers_round_measurements_but_keep_timestamps_exact():
    assert tidy(0.123456789) == 0.123457
    assert tidy(1661140843.25) == 1661140843.25
    assert tidy(-2_500_000.0004) == -2_500_000.0


def test_pure_noise_gives_nothing():
    assert run(*[minute_series(noise(seed)) for seed in range(20)]) == []


@pytest.mark.parametrize("positions", [[45], [45, 46], [50, 52], [N - 1], [N - 2, N - 1]])
def test_one_or_two_point_spikes_and_last_point_blips_are_ignored(positions):
    values = noise(2)
    values[positions] += 1.0
    assert run(minute_series(values)) == []


def test_earlier_deviation_gets_earlier_onset():
    first, second = noise(3), noise(4)
    first[37:] += 0.15
    second[40:] += 0.15
    [a] = run(minute_series(first, instance="a"))
    [b] = run(minute_series(second, instance="b"))
    assert b.onset - a.onset == pytest.approx(180.0)


def test_ramp_onset_precedes_the_alarm():
    values = noise(5)
    values[35:] += 0.01 * np.arange(N - 35)  # +1 sd a minute from 10:35
    [finding] = run(minute_series(values))
    assert finding.onset < finding.numbers["alarm"]
    assert T0 + 35 * 60 <= finding.onset <= T0 + 39 * 60


def test_drop_with_direction_down_and_flat_baseline():
    values = np.full(N, 100.0)  # success rate 100 %, MAD 0
    values[42:] = 95.0
    series = minute_series(values, metric="success_rate_percent")
    assert run(series, direction="up") == []
    [finding] = run(series, direction="down", min_effect=0.02)
    assert finding.direction == "down"
    assert finding.onset == T0 + 42 * 60
    assert finding.numbers["rel_change"] == pytest.approx(-0.05)


def test_small_relative_change_on_a_very_stable_metric_is_below_min_effect():
    values = noise(6, level=100.0, sd=0.01)
    values[40:] += 2.0  # +2 %: huge in robust z, small in effect
    assert run(minute_series(values)) == []
    assert run(minute_series(values), min_effect=0.01) == []  # the noise floor (1 % x z 4) hides it
    [finding] = run(minute_series(values), min_effect=0.01, rel_floor=0.001)
    assert finding.onset == T0 + 40 * 60


def test_recovered_anomaly_scores_lower_than_a_lasting_one():
    lasting, transient = noise(7), noise(7)
    lasting[40:] += 0.2
    transient[40:46] += 0.2
    [a] = run(minute_series(lasting))
    [b] = run(minute_series(transient))
    assert b.numbers["persistence"] < a.numbers["persistence"]
    assert b.score < a.score
    # the alarm level it used is reported (the ranking reads half of it as "the run has ended")
    assert b.numbers["alarm_z"] >= 4.0 and b.numbers["robust_z"] >= b.numbers["alarm_z"] / 2


def test_default_baseline_is_the_first_half_and_short_baselines_are_skipped():
    values = noise(8)
    values[45:] += 0.2
    assert len(detect_onset([minute_series(values)], start=START, end=END)) == 1
    assert detect_onset([minute_series(values)], start=START, end=END, baseline_end=START + 120) == []


def test_bad_direction_is_rejected():
    with pytest.raises(ValueError, match="direction must be one of"):
        run(minute_series(noise(9)), direction="sideways")


def test_persistent_alarm_and_cusum_start():
    beyond = np.array([0, 1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)
    assert persistent_alarm(beyond, k=3, m=4) == 4
    assert persistent_alarm(np.array([0, 0, 1, 1], dtype=bool), k=3, m=4) is None
    z = np.array([0.0, 0.5, 3.0, 3.0, 5.0, 6.0])
    assert cusum_start(z, alarm=4, drift=2.0) == 2


def test_a_far_spike_before_a_step_does_not_date_the_onset_back_to_it():
    values = noise(11)
    values[36] += 2.0  # one point ten times as far out as the step that follows
    values[42:] += 0.2
    [finding] = run(minute_series(values))
    assert finding.onset == T0 + 42 * 60  # counted at most at the alarm level, the spike adds to the sum briefly
    z = np.array([0.0, 60.0, -0.5, 0.3, 0.1, 6.0, 6.0, 6.0])
    assert cusum_start(z, alarm=5, drift=2.0) == 5


def test_an_episode_that_ended_is_not_the_onset_of_the_one_in_progress():
    values = noise(12)
    values[34:38] += 0.2  # an earlier incident, over after four minutes
    values[44:] += 0.1  # the one in progress
    [finding] = run(minute_series(values))
    assert finding.onset == T0 + 44 * 60
    assert finding.numbers["post_median"] == pytest.approx(0.3, abs=0.02)  # its level, not the earlier one's
    assert finding.numbers["persistence"] == 1.0
    z = np.array([0.0, 8, 8, 8, 0.1, 0.2, 0.0, 9, 9, 9, 9])
    assert latest_episode(z, threshold=4.0, k=3, m=4) == (4, 7, 10)
    # one point back near the centre does not end an excursion (as ``run_end`` bridges it)
    assert latest_episode(np.array([0.0, 8, 8, 8, 0.1, 8, 8, 8]), threshold=4.0, k=3, m=4) == (0, 1, 7)
    assert latest_episode(np.array([0.0, 8, 0.0, 0.0]), threshold=4.0, k=3, m=4) is None
    # a fall through the baseline between them (a leak's restart) is the same episode going on
    assert latest_episode(np.array([0.0, 8, 8, 8, -9, 0.2, 0.1, 9, 9, 9]), threshold=4.0, k=3, m=4) == (0, 1, 3)


def test_locate_onset_picks_the_earlier_of_two_directions():
    base = np.random.default_rng(10).normal(0.0, 1.0, 30) + 50.0
    values = np.concatenate([np.full(5, 50.0), np.full(10, 30.0)])
    found = locate_onset(values, base, direction="both")
    assert found is not None and found.sign == -1 and found.index == 5


# A real request rate (OnlineBoutique, a callee of a service whose calls to it stopped): never zero before
CALLS_REFERENCE = np.array([0.2, 0.2, 0.2, 0.4, 0.0667, 0.2, 0.6, 0.533, 0.133, 0.2, 0.267, 0.133, 0.2, 0.467,
                            0.333, 0.333, 0.2, 0.133, 0.2, 0.4, 0.267, 0.133])
CALLS_NOW = np.array([0.4, 0.0667, 0.267, 0.333, 0.4, 0.133, 0.267, 0.333, 0.267, 0.0, 0.0, 0.0, 0.2])


def test_a_rate_that_went_silent_is_a_deviation_however_noisy_it_was():
    found = locate_onset(CALLS_NOW, CALLS_REFERENCE, direction="both", set_aside_episodes=True)
    assert found is not None and found.sign == -1 and found.index == 9 and found.post_median == 0.0
    assert found.baseline_scale > 0.05  # judged against its real spread, not one the episode test collapsed
    averaged = CALLS_NOW + np.where(CALLS_NOW == 0.0, np.array([1, -1] * 7)[: CALLS_NOW.size] * 1e-17, 0.0)
    rounded = locate_onset(averaged, CALLS_REFERENCE, direction="both", set_aside_episodes=True)  # up to rounding
    assert rounded is not None and (rounded.index, rounded.alarm_index, rounded.sign) == (9, 9, -1)
    # a series that sat at zero now and then before has not gone silent when it does so again
    with_zeros = np.where(np.arange(CALLS_REFERENCE.size) % 5 == 0, 0.0, CALLS_REFERENCE)
    assert locate_onset(CALLS_NOW, with_zeros, direction="both", set_aside_episodes=True) is None
    assert locate_onset(-CALLS_NOW, -CALLS_REFERENCE, direction="both") is None  # nor has one below zero


def test_an_earlier_incident_cut_short_by_missed_scrapes_is_still_set_aside():
    """Before an alert an earlier incident sits in the reference (four raised samples), set aside as one. When three
    scrapes are missed across its start only two of its samples are left: still an incident whose missing samples
    may have been raised too, not noise that widens the reference until the incident in progress looks normal."""
    rng = np.random.default_rng(5)
    values = 0.03 + rng.uniform(-0.005, 0.005, 35)
    values[14:18] = [1.9, 2.2, 2.5, 28.0]  # the earlier incident
    values[23:26] = [7.7, 4.6, 4.7]  # the one in progress
    times = 60.0 * np.arange(values.size)
    kept = np.ones(values.size, dtype=bool)
    kept[13:16] = False  # a normal sample and the incident's first two missed
    missed = Series("latency_p90_seconds", {"service": "recs"}, times[kept], values[kept])
    whole = Series("latency_p90_seconds", {"service": "recs"}, times, values)
    for series in (whole, missed):
        found = detect_onset([series], start=0.0, end=times[-1] + 1.0, baseline_end=20.5 * 60.0, direction="up",
                             set_aside_episodes=True)
        assert [f.onset for f in found] == [times[23]]
    # read without the missed scrapes, the two samples left were noise, and the incident in progress was not seen
    base, now = missed.between(0.0, 20.5 * 60.0), missed.between(20.5 * 60.0, times[-1] + 1.0)
    assert locate_onset(now.values, base.values, direction="up", set_aside_episodes=True) is None
    # a single raised sample beside missed scrapes is no incident: it stays in the reference
    lone = values.copy()
    lone[14:18] = [0.03, 0.03, 28.0, 0.03]  # right after the missed scrapes
    reference = lone[kept][:17]
    gaps = np.zeros(reference.size + 1, dtype=int)
    gaps[13] = 3
    assert not past_episodes(reference, float(np.max(lone)), 0.01, gaps).any()
