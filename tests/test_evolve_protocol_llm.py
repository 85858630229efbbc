"""The LLM variant of the correct-one-half protocol, against the fake OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
import yaml

from agent.config import get_settings
from agent.evolve.protocol import run_protocol
from agent.evolve.protocol_llm import LLMPlan
from agent.memory import Memory
from tests.test_evolve_search import _sim_set
from tests.test_evolve_support import use_blind_skills

NOTE = json.dumps({"title": "memory grows on the callee", "note": "check memory for a steady rise"})


def _set_with_a_miss(root):
    """The small simulated set, the first case relabelled to a leaf service the evidence does not point at."""
    bundles = _sim_set(root)
    label_path = bundles[0] / "label.yaml"
    label = yaml.safe_load(label_path.read_text())
    services = yaml.safe_load((bundles[0] / "topology.yaml").read_text())["services"]
    true_cause = label["root_cause"][0]["service"]
    other = sorted(s for s, spec in services.items() if not (spec or {}).get("depends_on") and s != true_cause)[0]
    label["root_cause"] = [{"service": other, "fault": "bad_config"}]
    label_path.write_text(yaml.safe_dump(label))
    return bundles


@pytest.fixture
def llm_settings(tmp_path, monkeypatch, bianque_home, fake_llm):
    use_blind_skills(tmp_path, monkeypatch)
    monkeypatch.setenv("BIANQUE_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()
    return get_settings()


def test_the_plan_needs_an_endpoint_and_sane_bounds(llm_settings) -> None:
    with pytest.raises(ValueError, match="llm_base_url"):
        LLMPlan(llm_settings.model_copy(update={"llm_base_url": None}))
    with pytest.raises(ValueError, match="max_patches"):
        LLMPlan(llm_settings, max_patches=-1)


def test_patches_and_notes_are_asked_within_bounds_and_counted(llm_settings, fake_llm, memory, tmp_path) -> None:
    fake_llm.queue(NOTE, "no json", "no json", "no json")  # one valid note; a patch answer invalid three times
    offline = llm_settings.model_copy(update={"llm_base_url": None})
    plan = LLMPlan(llm_settings, max_patches=1, max_notes=1)
    report = run_protocol(_set_with_a_miss(tmp_path / "sim"), offline, memory, search=False, by_day=False,
                          llm=plan)

    misses = report.counts["corrected: misses"]
    assert misses >= 1  # the blind library misses the memory leak: there is a patch to ask for
    assert report.llm.get("note", "valid") == 1
    assert report.llm.get("patch", "failed") == 1  # three invalid answers: no patch, nothing accepted
    assert report.llm.errors[0].startswith("patch: the model gave no valid Skill patch in 3 tries")
    assert report.counts["misses not sent to the model (limit)"] == misses - 1
    assert report.counts["patches accepted"] == 0 and not report.patches
    assert len(fake_llm.requests) == 4  # nothing beyond the bounds; verdicts stayed offline
    assert report.llm.get("verdict", "accepted") + report.llm.get("verdict", "failed") == 0


def test_llm_verdicts_that_fail_leave_the_offline_scores(llm_settings, fake_llm, tmp_path) -> None:
    bundles = _sim_set(tmp_path / "sim")
    offline = llm_settings.model_copy(update={"llm_base_url": None})
    with Memory(f"sqlite:///{tmp_path / 'a.db'}") as memory:
        base = run_protocol(bundles, offline, memory, search=False, by_day=False)
    with Memory(f"sqlite:///{tmp_path / 'b.db'}") as memory:  # no reply queued: every model call fails
        report = run_protocol(bundles, offline, memory, search=False, by_day=False,
                              llm=LLMPlan(llm_settings, reason=True, max_patches=0, max_notes=0))
    investigations = 2 * (len(report.scored_half) + len(report.corrected_half))
    assert report.llm.get("verdict", "failed") == investigations
    assert (report.scored_before, report.scored_after, report.corrected_after) == \
        (base.scored_before, base.scored_after, base.corrected_after)
