"""Applying a refinement: refused when the Skill's version moved since the proposal, whatever its text."""

from __future__ import annotations

import pytest

from agent.config import get_settings
from agent.evolve.patch import Edit, patch_skill
from agent.evolve.proposals import Proposal
from agent.evolve.refinement import Refinement, StaleRefinement, apply_refinement
from agent.evolve.replay import ReplayReport
from agent.evolve.versions import current_version, next_version, rollback, skill_text
from agent.evolve.workbench import Workbench
from agent.memory.skill_versions import text_sha256
from tests.test_evolve_support import use_blind_skills

NAME = "memory-pressure-rca"
METRIC = {"name": "memory_usage_bytes", "labels": {"service": "{service}"}, "compare": "trend"}


@pytest.fixture
def settings(tmp_path, monkeypatch, bianque_home):
    use_blind_skills(tmp_path, monkeypatch)
    return get_settings()


def _refinement(bench: Workbench, metric_id: str) -> Refinement:
    """An accepted refinement of the current Skill adding metric ``metric_id``."""
    loaded = bench.skill(NAME)
    patched = patch_skill(skill_text(loaded), [Edit("append", ("data", "metrics"), {"id": metric_id, **METRIC})],
                          version=next_version(bench.memory, NAME, loaded.skill.version))
    proposal = Proposal(NAME, "rules", f"add {metric_id}", patched, case_id="c1")
    return Refinement(NAME, "c1", text_sha256(skill_text(loaded)), current_version(bench.memory, loaded),
                      first=proposal,
                      first_report=ReplayReport(NAME, "c1", accepted=True, reason="accepted"))


@pytest.mark.parametrize("second_metric", ["memory", "rss"], ids=["same-patch", "other-patch"])
def test_a_proposal_made_before_a_save_and_a_rollback_is_refused(memory, settings, second_metric) -> None:
    bench = Workbench.from_settings(settings, memory)
    first, second = _refinement(bench, "memory"), _refinement(bench, second_metric)
    assert apply_refinement(bench, first).record.version == 2
    back = rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=bench.skill(NAME))
    assert back.record.version == 3  # v1's text again, under a new number
    bench = Workbench.from_settings(settings, memory)
    with pytest.raises(StaleRefinement, match=f"{NAME} changed after this refinement was proposed.*propose again"):
        apply_refinement(bench, second)
    assert [(v.version, v.active) for v in memory.skill_versions(NAME)] == [(1, False), (2, False), (3, True)]
    assert skill_text(bench.skill(NAME)) == memory.get_skill_version(NAME, 1).yaml_text
