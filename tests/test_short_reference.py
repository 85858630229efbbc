"""Data that begins minutes before an alert (the day's first incident, a pod just started): a reference of
three or four samples is judged with a spread of at least its range, and can show a fault but not clear
one; fewer cannot be judged."""

from __future__ import annotations

import numpy as np
import pytest

from agent.detectors.calibration import MIN_REFERENCE, SHORT_REFERENCE, calibrate
from agent.events import Pattern
from agent.findings import THIN_REFERENCE_DETECTOR, Finding
from agent.graph.reference import reference_split
from agent.investigate import InvestigationResult
from agent.reasoners.failsafe import CHECK_SOURCES, WAIT_FOR_HISTORY
from tests.fakes.chain import investigate_chain


def test_a_short_reference_is_as_wide_as_its_range():
    reference = np.array([26.7, 28.6, 25.7])  # three samples: their MAD (1.0) is luck, their range is not
    found = calibrate(reference, np.array([27.0, 81.0]), "up")
    assert found is not None and found.scale == pytest.approx(2.9)
    assert found.z(np.array([81.0]))[0] > 10 > found.z(np.array([33.0]))[0]
    assert calibrate(reference[: MIN_REFERENCE - 1], np.array([81.0]), "up") is None


def test_a_few_equal_points_give_no_calibration():
    assert calibrate(np.zeros(SHORT_REFERENCE - 1), np.ones(5), "up") is None  # how it varies is unknown
    assert calibrate(np.zeros(SHORT_REFERENCE), np.ones(5), "up") is not None  # floored as any flat series


def test_a_reference_of_five_or_more_uses_its_robust_spread():
    reference = np.array([26.7, 28.6, 25.7, 26.9, 26.5])
    found = calibrate(reference, np.array([27.0]), "up")
    assert SHORT_REFERENCE <= reference.size and found is not None and found.scale < np.ptp(reference)


def caveat(result: InvestigationResult) -> Finding:
    [found] = [f for f in result.findings if f.detector == THIN_REFERENCE_DETECTOR]
    return found


def test_three_samples_before_the_fault_are_enough_to_find_it(tmp_path):
    result = investigate_chain(tmp_path, minutes_of_data=5)  # reference: the first three samples
    verdict = result.verdict
    assert verdict.judged and verdict.needs_attention, verdict.attention_reason
    assert verdict.root_causes[0].service == "db"
    assert caveat(result).id not in {i for cause in verdict.root_causes for i in cause.evidence}


def test_a_short_history_where_nothing_moved_cannot_be_cleared(tmp_path):
    result = investigate_chain(tmp_path, minutes_of_data=5, fault=False)
    verdict = result.verdict
    assert not verdict.judged and verdict.needs_attention
    assert verdict.attention_reason.startswith("could not judge: the data begins")
    assert "too few to know what normal is" in verdict.attention_reason
    assert verdict.evidence == [caveat(result).id]


def test_an_inspection_of_a_short_history_is_no_clean_bill_of_health(tmp_path):
    result = investigate_chain(tmp_path, minutes_of_data=6, fault=False, pattern="inspection")  # 4 samples
    assert not result.verdict.judged and result.verdict.summary.startswith("Could not judge: the data begins")
    assert "not a clean bill of health" in result.verdict.summary
    long = investigate_chain(tmp_path / "long", minutes_of_data=60, fault=False, pattern="inspection")
    assert long.verdict.judged and not any(f.detector == THIN_REFERENCE_DETECTOR for f in long.findings)


def test_a_long_history_where_nothing_moved_is_noise(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=20, fault=False).verdict
    assert verdict.judged and not verdict.needs_attention, verdict.attention_reason


def test_two_samples_before_the_fault_cannot_be_judged(tmp_path):
    verdict = investigate_chain(tmp_path, minutes_of_data=4).verdict  # reference: the first two samples
    assert not verdict.judged and verdict.needs_attention
    assert verdict.attention_reason.startswith("could not judge")
    assert WAIT_FOR_HISTORY in verdict.actions and CHECK_SOURCES not in verdict.actions  # the data exists


def test_counters_are_counted_as_the_rates_the_detectors_see(tmp_path):
    # three raw samples before the split are two rates: no normal to compare with, not a thin one
    verdict = investigate_chain(tmp_path, minutes_of_data=5, counters=True).verdict
    assert not verdict.judged and "has 3 samples before" in verdict.attention_reason


def test_data_four_minutes_long_is_judged_on_its_first_three_samples(tmp_path):
    # half the four minutes before the alert would leave two samples: the reference takes the least it can judge
    verdict = investigate_chain(tmp_path, minutes_of_data=4, fault_minutes=(-1, None)).verdict
    assert verdict.judged and verdict.needs_attention, verdict.attention_reason
    assert verdict.root_causes[0].service == "db"


@pytest.mark.parametrize("samples_before", [2.2, 2.5, 3.0, 4.0])
def test_the_reference_holds_the_first_three_samples_whenever_they_lie_before_the_alert(samples_before):
    start, step = 1_700_000_000.0, 60.0
    anchor = start + samples_before * step  # the third sample, at start + 2 steps, comes before the alert
    split = reference_split(Pattern.RCA, start, anchor + 600, anchor, step=step)
    assert start + (MIN_REFERENCE - 1) * step < split <= anchor


def test_data_beginning_too_late_for_three_samples_before_the_alert_keeps_the_usual_split():
    start, step = 1_700_000_000.0, 60.0
    anchor = start + 1.5 * step  # two samples before the alert: no floor to raise the split to
    # mid-way to the alert, moved to between the samples around it (start and start + step)
    assert reference_split(Pattern.RCA, start, anchor + 600, anchor, step=step) == start + 0.5 * step


def test_an_rca_reference_ends_between_two_samples_so_a_late_scrape_stays_on_its_side():
    start, step = 1_000.0, 60.0
    anchor = start + 26 * step  # ten minutes before it is a sample's time
    split = reference_split(Pattern.RCA, start, anchor + 300, anchor, step=step)
    assert (split - start) % step == step / 2  # half a scrape from the samples on either side
    assert abs(split - (anchor - 600.0)) <= step / 2  # still about ten minutes before the alert
    for sample in (start + 15 * step, start + 16 * step):  # the last in the reference, the first after it
        early, late = sample - 5.0, sample + 5.0  # scraped a few seconds early or late
        assert (early < split) == (late < split) == (sample < split)
