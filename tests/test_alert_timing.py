"""When the alert fired relative to the fault must not decide whether the fault counts (benchmarks/alert_timing.py).

A deviation counts at full weight while it is present "at the alert": within ``ACTIVE_SPAN_S`` before it, or
beginning after it in a replay. Only one that had ended well before the alert is a past episode.
"""

from __future__ import annotations

from pathlib import Path

from agent.findings import Finding
from agent.graph.analysis import ACTIVE_SPAN_S
from agent.reasoners.ranking import RECOVERED_WEIGHT, activity
from tests.fakes.chain import T0, investigate_chain


def _db_cpu(tmp_path: Path, fault_minutes: tuple[int, int | None], minutes_after: int = 2) -> tuple[Finding, str]:
    """The fault's Finding on ``db``'s CPU and the verdict's first root cause."""
    result = investigate_chain(tmp_path, minutes_of_data=30, fault_minutes=fault_minutes, minutes_after=minutes_after)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    return cpu, result.verdict.root_causes[0].service


def test_a_fault_that_begins_after_the_event_time_is_present(tmp_path):
    # a replay whose event time is just before the fault (data sets converted without alerts may do that):
    # every deviating sample lies after the alert, none in the minutes up to it
    cpu, first = _db_cpu(tmp_path, (1, None), minutes_after=6)
    assert cpu.onset is not None and cpu.onset >= T0
    assert activity(cpu) == 1.0, cpu.numbers
    assert first == "db"


def test_a_cause_that_ended_minutes_before_a_late_alert_still_counts(tmp_path):
    # an alert rule that waits (``for: 5m``) fires after a short fault has passed; its symptoms last longer
    assert ACTIVE_SPAN_S >= 240
    cpu, first = _db_cpu(tmp_path, (-7, -3))
    assert activity(cpu) == 1.0, cpu.numbers
    assert first == "db"


def test_an_episode_that_ended_well_before_the_alert_is_past(tmp_path):
    cpu, _ = _db_cpu(tmp_path, (-9, -6))
    assert activity(cpu) == RECOVERED_WEIGHT, cpu.numbers
