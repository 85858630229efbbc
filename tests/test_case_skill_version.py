"""A case names the stored version whose text answered it, not only the ``version:`` its file says."""

from __future__ import annotations

from agent.graph.nodes.select_skill import select_skill
from tests.fixtures.graph.world import SKILLS_DIR, alert_event, make_toolkit, start_state

NAME = "graph-api-rca"


def test_after_a_rollback_the_case_names_the_version_holding_its_files_text(memory):
    """A hand edit recorded as v4 (its file still says ``version: 3``, stored with another text) and a rollback to it
    after another edit: a case answered then had said v3, a version holding other text."""
    text = (SKILLS_DIR / f"{NAME}.yaml").read_text(encoding="utf-8")
    memory.save_skill_version(NAME, text + "# the first text\n", reason="first", version=3)
    memory.save_skill_version(NAME, text, reason="hand edit recorded", version=4)
    memory.save_skill_version(NAME, text + "# later\n", reason="edit", version=5)
    memory.restore_skill_version(NAME, 4)  # v6: the file's text again, made active
    state = select_skill(start_state(alert_event()), make_toolkit(memory=memory))
    assert state["skill"]["name"] == NAME and state["skill"]["version"] == 6
    memory.restore_skill_version(NAME, 5)  # v7 active, with another text than the file's: the latest holding it
    assert select_skill(start_state(alert_event()), make_toolkit(memory=memory))["skill"]["version"] == 6


def test_without_a_stored_version_of_its_text_the_case_names_its_files_version(memory):
    assert select_skill(start_state(alert_event()), make_toolkit(memory=memory))["skill"]["version"] == 3
    assert select_skill(start_state(alert_event()), make_toolkit())["skill"]["version"] == 3
