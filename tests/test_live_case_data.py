"""A live investigation keeps what it read as its case's bundle, so that a correction of it can be replayed."""

from __future__ import annotations

from dataclasses import replace

from agent.bundles.reader import load_bundle
from agent.config import get_settings
from agent.evolve.replay import unreplayable
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from tests.fixtures.graph.world import alert_event, graph_library
from tests.test_live_call_graph import live


def test_a_live_case_keeps_its_data_as_a_bundle_that_answers_as_the_live_run_did(memory):
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path == str(get_settings().home / "case-data" / case.id)
    assert unreplayable(case) is None
    bundle = load_bundle(case.bundle_path)
    assert {s.metric for s in bundle.series} and bundle.logs
    replayed = investigate(case.event, bundle_toolkit(bundle, get_settings(), library=graph_library()),
                           source="replay")
    assert [c.service for c in replayed.verdict.root_causes] == [c.service for c in result.verdict.root_causes]
    assert replayed.verdict.needs_attention == result.verdict.needs_attention


def test_keep_case_data_off_keeps_none(memory, monkeypatch):
    monkeypatch.setenv("BIANQUE_KEEP_CASE_DATA", "false")
    get_settings.cache_clear()
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path is None and unreplayable(case) == "no bundle to replay from"
    assert not (get_settings().home / "case-data").exists()
