"""A resource used up with no more work to do: its ceiling is read off the series, and the ranking says so."""

from __future__ import annotations

from agent.investigate import InvestigationResult
from tests.fakes.chain import investigate_chain

NOTE = "of capacity with no rise in requests"


def db_explanation(result: InvestigationResult) -> str:
    """Why the verdict ranks ``db`` where it does ("" when it does not rank it)."""
    return next((c.explanation for c in result.verdict.root_causes if c.service == "db"), "")


def test_a_cpu_share_near_its_ceiling_is_saturation(tmp_path):
    result = investigate_chain(tmp_path, minutes_of_data=30, cpu_base=30.0)  # 30 % -> 90 % of the limit
    assert result.verdict.root_causes[0].service == "db"
    assert NOTE in db_explanation(result)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    assert cpu.numbers["ceiling"] == 100.0 and cpu.numbers["recent_level"] > 80.0


def test_a_percentage_that_ever_exceeds_its_ceiling_has_none(tmp_path):
    # about 94 % up to the alert, but 110 % a minute after it: "percent" here counts cores, not a share
    spike = {31: 110.0}  # the sample at T0 + 60
    result = investigate_chain(tmp_path, minutes_of_data=30, cpu_base=31.5, cpu_samples=spike)
    assert result.verdict.root_causes[0].service == "db"
    assert NOTE not in db_explanation(result)
    [cpu] = [f for f in result.findings if f.service == "db" and f.metric == "cpu_usage_percent"]
    assert "ceiling" not in cpu.numbers
    pegged = investigate_chain(tmp_path / "pegged", minutes_of_data=30, cpu_base=31.5, cpu_samples={31: 101.0})
    assert NOTE in db_explanation(pegged)  # a pegged share computed from rates overshoots a little
