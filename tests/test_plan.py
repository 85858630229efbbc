"""Gather plans: only what the Skill names, bounded by its window; templates cannot inject."""

from __future__ import annotations

from agent.events import Alert, ChangeEvent, Event, Pattern, event_from_alert, event_from_change
from agent.graph.plan import build_plan
from agent.skills.library import load_default_library
from agent.topology import Topology

T0 = 1_700_000_000.0
TOPO = Topology({"edge": ["gateway"], "gateway": ["ranking"], "ranking": ["feature-store", "cache"],
                 "feature-store": [], "cache": []})
LIB = load_default_library()


def test_rca_plan_pulls_signals_for_targets_and_dependencies_only():
    skill = LIB.get("ranking-rca").skill
    event = event_from_alert(Alert(labels={"alertname": "RankingP99LatencyHigh", "service": "ranking"}, startsAt=T0))
    plan = build_plan(skill, event, ["ranking"], TOPO)
    assert plan.start == T0 - skill.window.lookback and plan.end == T0 + skill.window.after
    names = {s.id for s in skill.data.metrics}
    assert {t.signal for t in plan.metric_tasks} <= names
    services = {t.service for t in plan.metric_tasks}
    assert services == {"ranking", "feature-store", "cache", "gateway"}  # one hop both ways, not two (edge)
    for task in plan.metric_tasks:
        assert task.query.matchers["service"] == task.service
        signal = next(s for s in skill.data.metrics if s.id == task.signal)
        assert task.role == "target" or signal.dependencies


def test_release_window_is_anchored_on_the_change():
    skill = LIB.get("generic-release").skill
    change = ChangeEvent(id="d1", type="deploy", service="ranking", ts=T0 - 600)
    plan = build_plan(skill, event_from_change(change, T0), ["ranking"], TOPO)
    assert plan.anchor == T0 - 600
    assert plan.start == T0 - 600 - skill.window.lookback
    assert plan.end == T0  # the evidence runs from the change's start up to the judgement (BUNDLE.md)


def test_a_release_also_reads_the_same_hours_a_day_before():
    """The daily cycle: every signal of a release is also fetched one (the Skill's shortest) history offset back."""
    skill = LIB.get("generic-release").skill
    change = ChangeEvent(id="d1", type="deploy", service="ranking", ts=T0 - 600)
    plan = build_plan(skill, event_from_change(change, T0), ["ranking"], TOPO)
    day = min(skill.window.history)
    current = {t.signal for t in plan.metric_tasks if t.period == "current"}
    earlier = [t for t in plan.metric_tasks if t.period != "current"]
    assert current and {t.signal for t in earlier} == current
    assert {t.period for t in earlier} == {f"history:{int(day)}"}
    assert all(t.query.start == plan.start - day and t.query.end == plan.end - day for t in earlier)


def test_event_values_cannot_widen_label_matchers():
    skill = LIB.get("generic-rca").skill
    event = Event(pattern=Pattern.RCA, time=T0, service="rank*",
                  alert=Alert(labels={"alertname": "X", "service": "rank*"}))
    plan = build_plan(skill, event, ["rank*"], None)
    assert plan.metric_tasks
    for task in plan.metric_tasks:
        assert task.query.matchers["service"] != "rank*"  # the glob is escaped, matching only itself


def test_settings_bound_every_query_of_the_plan():
    skill = LIB.get("generic-rca").skill
    event = event_from_alert(Alert(labels={"alertname": "Slow", "service": "ranking"}, startsAt=T0))
    plan = build_plan(skill, event, ["ranking"], TOPO, max_series=7, max_log_lines=10)
    assert plan.metric_tasks and {t.query.limit for t in plan.metric_tasks} == {7}
    assert plan.log_requests and {r.limit for r in plan.log_requests.values()} == {10}
    wide = build_plan(skill, event, ["ranking"], TOPO, max_log_lines=10**9)
    assert {r.limit for r in wide.log_requests.values()} == {log.limit for log in skill.data.logs}


def test_an_inspection_trend_also_reads_the_same_hours_a_day_before_unless_its_reference_holds_them():
    """A trend the same hours showed a day earlier is the daily cycle (``trend._seasonal``): a leak hunt looking 6 h
    back had fetched only those 6 h, so a daily ramp of memory or traffic was a leak to it."""
    event = Event(pattern=Pattern.INSPECTION, time=T0)
    plan = build_plan(LIB.get("memory-leak-inspection").skill, event, ["ranking"], TOPO)
    earlier = [t for t in plan.metric_tasks if t.period != "current"]
    assert {t.signal for t in earlier} == {"memory", "throughput", "p99_latency"}  # each compare: trend
    assert all(t.period == "history:86400" and t.query.start == plan.start - 86400 and t.query.end == plan.end - 86400
               for t in earlier)
    generic = build_plan(LIB.get("generic-inspection").skill, event, ["ranking"], TOPO)  # reference: 2d holds it
    assert {t.period for t in generic.metric_tasks} == {"current"}
