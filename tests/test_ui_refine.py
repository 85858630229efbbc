"""Propose a Skill fix from a corrected case and apply it (Cases page), then roll it back (Skills page),
through Streamlit's AppTest."""

from __future__ import annotations

import pytest

from agent.bundles.reader import load_bundle
from agent.config import get_settings
from agent.investigate import investigate
from agent.memory import Memory
from agent.runtime import bundle_toolkit, load_skills
from agent.sim.scenario import build_scenario, write_scenario
from tests.test_evolve_support import use_blind_skills
from tests.test_ui_app import app, open_cases, shown, texts

pytestmark = pytest.mark.usefixtures("fresh_resources")  # tests/conftest.py

NAME = "memory-pressure-rca"


def missed_leak(tmp_path) -> str:
    """A memory leak the blind Skill answered wrongly; the stored case id."""
    path = write_scenario(build_scenario("rca", "memory_leak", 2000), tmp_path / "leak")
    bundle = load_bundle(path)
    with Memory() as memory:
        toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)
        case_id = investigate(bundle.event, toolkit, skill=NAME, bundle_path=str(path)).case_id
        assert memory.get_case(case_id).verdict.root_causes[0].fault != "memory_leak"
    return case_id


def memory_signals() -> set[str]:
    return {m.id for m in load_skills(get_settings()).get(NAME).skill.data.metrics}


def test_a_fix_is_proposed_applied_and_rolled_back(tmp_path, monkeypatch):
    use_blind_skills(tmp_path, monkeypatch)
    case_id = missed_leak(tmp_path)
    at = open_cases(app())
    assert not at.exception
    propose = f"refine-{case_id}-propose"
    assert propose not in {b.key for b in at.button}  # offered only once the case is corrected as wrong

    at.radio(key=f"correction-{case_id}-verdict").set_value("Wrong")
    at.text_input(key=f"correction-{case_id}-service").set_value("recommendation")
    at.text_input(key=f"correction-{case_id}-fault").set_value("memory_leak")
    at.checkbox(key=f"correction-{case_id}-index").uncheck()
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    at.button(key=propose).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "accepted: 1 of 1 corrected case(s) fixed" in shown(" ".join(s.value for s in at.success))
    assert any("+      name: memory_usage_bytes" in c.value for c in at.code)
    corrected = next(d.value for d in at.dataframe if list(d.value.get("case", [])) == [case_id])
    assert list(corrected["result"]) == ["fixed"]
    assert "Regression set (must not break)" in texts(at)
    assert "memory" not in memory_signals()  # proposing saves nothing

    at.text_input(key=f"refine-{case_id}-author").set_value("oncall")
    at.button(key=f"refine-{case_id}-apply").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert f"Saved {NAME} v2 to" in shown(" ".join(s.value for s in at.success))
    assert f"refine-{case_id}-apply" not in {b.key for b in at.button}  # applied: no second Apply
    assert "memory" in memory_signals()
    with Memory() as memory:
        saved = memory.skill_versions(NAME)
    assert [(v.version, v.active) for v in saved] == [(1, False), (2, True)] and saved[1].author == "oncall"

    at.switch_page("views/skills.py").run()
    at.selectbox(key="skills_shown").set_value(NAME).run()
    assert not at.exception
    history = next(d.value for d in at.dataframe if "reason" in d.value)
    assert list(history["version"]) == ["v1", "v2"] and list(history["active"]) == [False, True]
    at.selectbox(key=f"rollback_version-{NAME}").set_value(1).run()
    assert any("-      name: memory_usage_bytes" in c.value for c in at.code)
    at.button(key=f"rollback-{NAME}").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert f"{NAME} v3 (rollback to v1)" in shown(" ".join(s.value for s in at.success))
    assert "memory" not in memory_signals()


def test_a_skill_never_changed_says_so(tmp_path, monkeypatch):
    at = app().run()
    at.switch_page("views/skills.py").run()
    at.selectbox(key="skills_shown").set_value(NAME).run()
    assert not at.exception
    assert "Bian Que has never changed this Skill" in texts(at)
