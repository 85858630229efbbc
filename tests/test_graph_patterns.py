"""The whole graph on curated scenario bundles, one per pattern, with knowledge and memory: the case is
stored with the Skill that answered, its verdict, evidence and report."""

from __future__ import annotations

import shutil

import pytest

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, Settings, get_settings
from agent.events import Event
from agent.graph.build import NODES
from agent.investigate import investigate
from agent.knowledge.embedding import LocalOnnxEmbedding
from agent.knowledge.store import KnowledgeStore
from agent.memory import Memory
from agent.runtime import bundle_toolkit

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
HANDBOOK_PAGES = ["runbooks/slow-dependency.md", "runbooks/bad-release.md", "runbooks/memory-leak.md",
                  "services/gateway.md", "services/feature-store.md"]


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> KnowledgeStore:
    """A few handbook pages, embedded once for the module."""
    root = tmp_path_factory.mktemp("graph-knowledge")
    for page in HANDBOOK_PAGES:
        (root / "handbook" / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "knowledge" / page, root / "handbook" / page)
    store = KnowledgeStore(Settings(home=root / "home"), embedding_function=LocalOnnxEmbedding())
    assert store.ingest_handbook(root / "handbook").ok
    return store


@pytest.fixture
def memory(bianque_home):
    with Memory() as store:
        yield store


def run_scenario(name: str, knowledge, memory):
    bundle = load_bundle(SCENARIOS / name)
    toolkit = bundle_toolkit(bundle, get_settings(), knowledge=knowledge, memory=memory)
    result = investigate(bundle.event, toolkit, source="bundle", bundle_path=str(SCENARIOS / name))
    return bundle, result, memory.get_case(result.case_id)


def check_rca(result, label) -> None:
    assert result.skill["name"].endswith("-rca")
    assert result.verdict.needs_attention is True
    assert label.root_cause[0].service in [c.service for c in result.verdict.root_causes[:3]]


def check_release(result, label) -> None:
    assert result.verdict.decision == label.decision == "block"
    assert result.verdict.root_causes and result.verdict.root_causes[0].evidence


def check_inspection(result, label) -> None:
    [truth] = label.findings
    assert (truth.service, truth.kind) in [(i.service, i.kind) for i in result.verdict.items]
    assert "**Inspection: " in result.report and "HEALTHY" not in result.report


CHECKS = {"rca-slow-dependency": check_rca, "release-bad-canary": check_release,
          "inspection-memory-leak": check_inspection}


@pytest.mark.parametrize("name", list(CHECKS))
def test_a_full_run_is_stored_with_skill_verdict_and_report(name, knowledge, memory):
    bundle, result, case = run_scenario(name, knowledge, memory)
    assert case.status == "done", case.error
    assert (case.skill, case.skill_version) == (result.skill["name"], result.skill["version"])
    assert case.selection_reason == result.skill["reason"] and case.selection_reason
    assert case.event.pattern == bundle.event.pattern == result.verdict.pattern
    assert case.verdict == result.verdict and case.reasoner == "offline"
    assert case.report == result.report and f"`{case.skill}` v{case.skill_version}" in case.report
    assert [f.id for f in case.findings] == [f.id for f in result.findings] != []
    assert (case.thread_id, case.bundle_path) == (result.thread_id, str(SCENARIOS / name))
    pack = case.evidence
    assert (pack.skill, pack.skill_version) == (case.skill, case.skill_version)
    assert {f.id for f in pack.findings} <= {f.id for f in case.findings}
    assert result.verdict.cited_ids() <= pack.finding_ids()
    assert pack.knowledge and all(k.collection == "handbook" for k in pack.knowledge)
    assert set(result.timings) == {name for name, _ in NODES}
    assert memory.cases_for_skill(case.skill)[0].id == case.id
    CHECKS[name](result, load_label(SCENARIOS / name))  # and the answer is the labelled one


def test_a_failing_run_marks_the_case_failed(memory):
    bundle = load_bundle(SCENARIOS / "rca-noisy-alert")
    toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)
    with pytest.raises(LookupError, match="no Skill named 'missing-skill'"):
        investigate(bundle.event, toolkit, skill="missing-skill")
    [case] = memory.list_cases()
    assert case.status == "failed" and "missing-skill" in case.error
    assert case.event.alert.name == bundle.event.alert.name


@pytest.mark.parametrize(("name", "step"), [("release-bad-canary", "keep the canary at 0 % traffic"),
                                            ("release-bad-config", "stop any further rollout of the change")])
def test_a_blocked_change_is_told_what_to_do_with_its_own_rollout(name, step, memory):
    """A config push to every instance was told to keep "the canary" at 0 % traffic: it has no canary."""
    _, result, _ = run_scenario(name, None, memory)
    assert result.verdict.decision == "block" and any(a.startswith(step) for a in result.verdict.actions)
    assert name == "release-bad-canary" or not any("canary" in a for a in result.verdict.actions)


def test_a_run_that_fails_after_triage_stores_the_event_as_triage_resolved_it(memory):
    """A release change named by id alone: a failed case kept it as received, a ``deploy`` of no service, where a
    finished case stores the config push of its changes line (``finish_case(event=)``)."""
    bundle = load_bundle(SCENARIOS / "release-bad-config")
    named = Event.model_validate({"pattern": "release_interception", "time": bundle.event.time,
                                  "change": {"id": "cfg-24"}})
    with pytest.raises(LookupError, match="no Skill named 'missing-skill'"):  # select_skill, after triage
        investigate(named, bundle_toolkit(bundle, get_settings(), memory=memory), skill="missing-skill")
    [case] = memory.list_cases()
    assert case.status == "failed" and "missing-skill" in case.error
    assert (case.event.change.type, case.event.change.service, case.event.primary_service) == (
        "config", "user-profile", "user-profile")
