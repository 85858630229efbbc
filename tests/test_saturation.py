"""A resource used up with no more work to do: its ceiling is read off the series, and the ranking says so."""

from __future__ import annotations

from tests.fakes.chain import investigate_chain

NOTE = "of capacity with no more requests to serve"


def db_notes(result) -> str:
    return next(c.explanation for c in result.verdict.root_causes if c.service == "db")


def test_a_cpu_share_near_its_ceiling_is_saturation(tmp_path):
    result = investigate_chain(tmp_path, minutes_of_data=30, cpu_base=30.0)  # 30 % -> 90 % of the limit
    assert result.verdict.root_causes[0].service == "db"
    assert NOTE in db_notes(result)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    assert cpu.numbers["ceiling"] == 100.0 and cpu.numbers["recent_level"] > 80.0


def test_a_percentage_above_100_has_no_ceiling(tmp_path):
    # several cores' worth: 90 % -> 270 %, so "percent" is not a share of one limit
    result = investigate_chain(tmp_path, minutes_of_data=30, cpu_base=90.0)
    assert result.verdict.root_causes[0].service == "db"
    assert NOTE not in db_notes(result)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    assert "ceiling" not in cpu.numbers
