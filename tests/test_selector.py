"""Skill selection: scope, triggers, ranking, LLM pick and the generic fallback."""

from __future__ import annotations

import pytest

from agent.events import Alert, ChangeEvent, Event, Pattern, event_from_alert, event_from_change
from agent.skills.library import load_default_library
from agent.skills.loader import load_skill_text
from agent.skills.selector import alert_matches, select_skill, trigger_match


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
    labelled = event_from_alert(Alert(labels={"alertname": "EntrySLOBurn", "business": "search"}, startsAt=1.7e9))
    assert labelled.business == "search"  # the alert's business label is the event's business: it selects the same
    assert select_skill(skills, labelled).skill.name == select_skill(skills, searched).skill.name


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


ORDER_RCA = """\
name: order-rca
description: Order service root cause analysis
pattern: rca
scope:
  services: [ts-order-service]
triggers:
  alerts: ["{glob}"]
decision:
  default: attention
"""


def _with_order_rca(skills, glob: str):
    return [*skills, load_skill_text(ORDER_RCA.format(glob=glob), "order-rca.yaml").skill]


@pytest.mark.parametrize("glob", ["order*", "*order*latency*", "OrderService*", "*Latency*"])
def test_an_alert_glob_in_lower_case_matches_any_case_one_with_capitals_exactly(skills, glob):
    """Alert names are CamelCase: ``order*`` was meant to match OrderServiceLatencyHigh (smart case)."""
    selection = select_skill(_with_order_rca(skills, glob), _alert("OrderServiceLatencyHigh", "ts-order-service"))
    assert (selection.skill.name, selection.method) == ("order-rca", "rules")


@pytest.mark.parametrize(("glob", "name"), [("Order*", "orderServiceLatencyHigh"), ("*GC*", "OrderConfigChange")])
def test_an_alert_glob_with_a_capital_letter_matches_case_exactly(glob, name):
    assert not alert_matches(name, glob) and alert_matches(name.upper(), glob.upper())


def test_the_generic_fallback_names_the_skills_in_scope_whose_triggers_did_not_match(skills):
    selection = select_skill(_with_order_rca(skills, "Order*Error*"), _alert("OrderServiceLatencyHigh",
                                                                             "ts-order-service"))
    assert selection.method == "generic"
    passed = "order-rca covers ts-order-service but none of its triggers matched (alerts: Order*Error*)"
    assert selection.passed_over == [passed]
    assert selection.reason == ("no specific Skill fits; using the generic Skill; passed over for the alert "
                                f"OrderServiceLatencyHigh: {passed}")
    unscoped = select_skill(skills, _alert("CheckoutLatencyHigh", "checkoutservice"))
    assert unscoped.reason == "no specific Skill fits; using the generic Skill" and unscoped.passed_over == []


def test_many_skills_passed_over_are_named_three_at_most(skills):
    selection = select_skill(skills, _alert("RetrievalCPUUsageHigh", "retrieval"))
    assert len(selection.passed_over) == 4  # all of them in the JSON; three in the reason
    assert selection.reason.count(" but none of its triggers matched ") == 3
    assert selection.reason.endswith("; and 1 more Skill(s)")
    assert "disk-full-rca covers retrieval but none of its triggers matched (alerts: *Disk*, *disk*, *Volume* +2; " \
           "keywords: disk, no space, filesystem +2)" in selection.reason
