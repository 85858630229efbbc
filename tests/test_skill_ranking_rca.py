"""The simulator's ranking Skill reads what calls ranking too: a traffic surge entering at the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.eval.runner import evaluate
from agent.sim.scenario import build_scenario, write_scenario


@pytest.mark.parametrize("seed", [2, 77])  # development seeds whose surge alerts on ranking
def test_a_traffic_surge_alerted_on_ranking_is_traced_to_the_gateway(tmp_path: Path, seed: int):
    """ranking-rca read only what ranking calls: the gateway, where the surge entered, was not even a candidate
    (seed 77 was judged as needing no attention); reading its callers too, the gateway ranks first."""
    bundle = write_scenario(build_scenario("rca", "traffic_spike", seed), tmp_path / "case")
    [score] = evaluate([bundle]).scores
    assert score.skill == "ranking-rca"
    assert score.rank == 1, score.detail
