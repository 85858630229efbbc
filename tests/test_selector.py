"""Skill selection: scope, triggers, ranking, LLM pick and the generic fallback."""

from __future__ import annotations

import pytest

from agent.events import Alert, ChangeEvent, Event, Pattern, event_from_alert, event_from_change
from agent.skills.library import load_default_library
from agent.skills.selector import select_skill, trigger_match


@pytest.fixture(scope="module")
def skills():
    library = load_default_library()
    assert not library.errors, library.errors
    return [loaded.skill for loaded in library.skills.values()]


def _alert(name: str, service: str) -> Event:
    return event_from_alert(Alert(labels={"alertname": name, "service": service}, startsAt=1_700_000_000))


def test_alert_on_ranking_picks_the_ranking_skill(skills):
    selection = select_skill(skills, _alert("RankingP99LatencyHigh", "ranking"))
    assert selection.skill.name == "ranking-rca"
    assert selection.method == "rules"
    assert "ranking" in selection.reason


def test_unknown_service_falls_back_to_the_generic_skill(skills):
    selection = select_skill(skills, _alert("CheckoutLatencyHigh", "checkoutservice"))
    assert selection.skill.name == "generic-rca"
    assert selection.method == "generic"


def test_an_alert_naming_no_service_is_not_guessed_onto_a_scoped_skill(skills):
    """An SLO alert of an unknown system without a service label matches a scoped Skill's alert glob; with no
    service to put in that scope the generic Skill answers, not a guess about a system it may not know."""
    bare = event_from_alert(Alert(labels={"alertname": "EntrySLOBurn"}, startsAt=1_700_000_000))
    assert select_skill(skills, bare).skill.name == "generic-rca"
    searched = bare.model_copy(update={"business": "search"})  # a business the scoped Skills name still counts
    assert select_skill(skills, searched).skill.name != "generic-rca"


def test_canary_change_picks_a_release_skill(skills):
    change = ChangeEvent(id="d1", type="canary", service="ranking", ts=1_700_000_000,
                         canary={"version": "v2"}, baseline={"version": "v1"})
    selection = select_skill(skills, event_from_change(change))
    assert selection.skill.pattern == Pattern.RELEASE_INTERCEPTION
    assert not selection.skill.generic


def test_override_wins_and_unknown_override_is_an_error(skills):
    event = _alert("RankingP99LatencyHigh", "ranking")
    assert select_skill(skills, event, override="generic-rca").method == "override"
    with pytest.raises(KeyError, match="no Skill named"):
        select_skill(skills, event, override="no-such-skill")


def test_llm_chooser_may_pick_only_among_candidates(skills):
    event = _alert("RankingP99LatencyHigh", "ranking")
    seen = {}

    def chooser(ev, candidates):
        seen["names"] = [c.skill.name for c in candidates]
        return candidates[-1].skill.name, "the model said so"

    picked = select_skill(skills, event, chooser=chooser)
    assert picked.method == "llm" and picked.skill.name == seen["names"][-1]
    rogue = select_skill(skills, event, chooser=lambda ev, c: ("generic-inspection", "nope"))
    assert rogue.method == "rules"


@pytest.mark.parametrize(("triggers", "said"), [({}, "has no triggers"), ({"keywords": ["disk"]}, "no triggers hit")])
def test_the_reason_tells_a_skill_without_triggers_from_one_whose_triggers_did_not_hit(skills, triggers, said):
    """An inspection has no alert or change to miss a trigger: a Skill with triggers still fits it, "no triggers
    hit"; one without any had been said to have missed them too."""
    [skill] = [s for s in skills if s.name == "disk-inspection"]
    skill = skill.model_copy(update={"triggers": skill.triggers.model_validate(triggers)})
    event = Event(pattern=Pattern.INSPECTION, time=1_700_000_000, scope={"services": ["gateway"]})
    assert trigger_match(skill, event) == (0.0, said)


def test_no_generic_skill_is_a_clear_error(skills):
    specific = [s for s in skills if not s.generic]
    with pytest.raises(LookupError, match="no Skill fits"):
        select_skill(specific, _alert("Whatever", "nowhere"))
