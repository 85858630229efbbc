"""When the alert fired relative to the fault must not decide whether the fault counts (benchmarks/alert_timing.py).

A deviation counts at full weight while it is present at the alert: off in the last two minutes, held over two
samples or more in the last five, or deviating after the event time in a replay. One that had ended well
before the alert is a past episode, and a single blip since does not make it present again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.findings import Finding
from agent.investigate import InvestigationResult
from agent.reasoners.service_evidence import RECOVERED_WEIGHT, activity
from tests.fakes.chain import T0, investigate_chain


def _db_cpu(tmp_path: Path, fault_minutes: tuple[int, int | None], minutes_after: int = 2,
            **chain: Any) -> tuple[Finding, InvestigationResult]:
    """The fault's Finding on ``db``'s CPU and the whole investigation."""
    result = investigate_chain(tmp_path, minutes_of_data=30, fault_minutes=fault_minutes, minutes_after=minutes_after,
                               **chain)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    return cpu, result


def test_a_fault_that_begins_after_the_event_time_is_present(tmp_path):
    # a replay whose event time is just before the fault (data sets converted without alerts may do that):
    # every deviating sample lies after the alert, none in the minutes up to it
    cpu, result = _db_cpu(tmp_path, (1, None), minutes_after=6)
    assert cpu.onset is not None and cpu.onset >= T0
    assert activity(cpu) == 1.0, cpu.numbers
    assert result.verdict.root_causes[0].service == "db"


def test_a_cause_that_ended_minutes_before_a_late_alert_still_counts(tmp_path):
    # an alert rule that waits (``for: 5m``) fires after a short fault has passed; its symptoms last longer
    cpu, _ = _db_cpu(tmp_path, (-7, -3))
    assert activity(cpu) == 1.0, cpu.numbers


def test_an_episode_that_ended_well_before_the_alert_is_past(tmp_path):
    cpu, _ = _db_cpu(tmp_path, (-9, -6))
    assert activity(cpu) == RECOVERED_WEIGHT, cpu.numbers


def test_one_blip_after_an_episode_does_not_make_it_present(tmp_path):
    # the episode ended six minutes before the alert; three minutes before it one sample jumped back up
    cpu, _ = _db_cpu(tmp_path, (-9, -6), cpu_samples={27: 90.0})  # sample 27 is T0 - 180
    assert activity(cpu) == RECOVERED_WEIGHT, cpu.numbers


def test_a_resource_full_minutes_before_the_alert_is_not_saturated_at_it(tmp_path):
    # CPU at 90 % of its limit until four minutes before the alert, back to 30 % since: present as a short
    # fault's tail may be, but not "saturated with no rise in requests" at the alert
    cpu, result = _db_cpu(tmp_path, (-9, -4))
    assert cpu.numbers["recent_level"] < 50.0, cpu.numbers
    assert not any("of capacity" in c.explanation for c in result.verdict.root_causes)
