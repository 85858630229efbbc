"""The reason node and the whole graph with an LLM reasoner (the fake OpenAI server): what the model is
shown, secret redaction, and every failure mode leaving the offline verdict with a note."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, Settings, get_settings
from agent.graph.nodes.analyze import analyze
from agent.graph.nodes.gather import gather
from agent.graph.nodes.reason import reason
from agent.graph.nodes.report import literal
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.investigate import investigate
from agent.llm.client import LLMClient
from agent.reasoners.llm import LLMReasoner
from agent.runtime import bundle_toolkit
from agent.verdict import Verdict
from tests.fakes.openai_server import FAKE_API_KEY, Reply
from tests.fixtures.graph.world import (
    UNNAMED_METRICS,
    RecordingLogSource,
    RecordingMetricSource,
    advance,
    alert_event,
    make_toolkit,
    start_state,
)
from tests.llm_outcome import check_llm_outcome

MAX_FINDINGS = 3
SMALL_BUNDLE = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"
SECRETS = {
    "runbook": "https://oncall:Hunter2Secret@wiki.example.com/api",
    "note": "db_password=Tr0ub4dor-and-3",
    "token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
}


def llm_toolkit(**settings: object):
    """The test world with the LLM reasoner in front of the offline one (no retries, a short timeout)."""
    values = {"llm_model": "fake-model", "llm_max_retries": 0, "llm_timeout_s": 5.0, **settings}
    client = LLMClient(Settings(**values), backoff_s=0.001, backoff_max_s=0.002)
    return make_toolkit(llm_reasoner=LLMReasoner(client), max_findings=MAX_FINDINGS)


def analyzed(toolkit, event=None):
    return advance(start_state(event or alert_event()), toolkit, triage, select_skill, gather, analyze)


def answer(evidence: list[str], **overrides: object) -> str:
    body = {
        "pattern": "rca", "summary": "db got slow after its config push; api times out calling it.",
        "needs_attention": True, "attention_reason": "actionable: user-facing latency",
        "root_causes": [{"service": "db", "fault": "bad_config", "confidence": 0.7, "evidence": evidence,
                         "explanation": "earliest onset, changed just before"}],
        "evidence": evidence, "actions": ["roll back cfg-1"], "confidence": 0.7,
    }
    return json.dumps({**body, **overrides})


def test_the_model_sees_only_the_skill_selected_evidence(fake_llm):
    toolkit = llm_toolkit()
    state = analyzed(toolkit)
    fake_llm.queue(answer(["F3"]))  # F3: db's latency anomaly
    update = reason(state, toolkit)
    prompt = fake_llm.prompt_text()
    pack_ids = {f["id"] for f in update["pack"]["findings"]}
    all_ids = {f["id"] for f in state["findings"]}
    assert len(pack_ids) == MAX_FINDINGS < len(all_ids)
    shown = re.findall(r"^(F\d+) \| ", prompt, flags=re.MULTILINE)  # one line per Finding shown
    assert sorted(shown) == sorted(pack_ids)
    for finding in state["findings"]:
        assert (finding["summary"][:60] in prompt) == (finding["id"] in pack_ids)
    for name in UNNAMED_METRICS:  # held by the source, but the Skill does not name them
        assert name not in prompt
    assert "payment provider" not in prompt and "deploy-9" not in prompt  # billing's logs and deploy
    assert "cfg-1" in prompt and "api calls db and cache" in prompt  # the change and the knowledge it did ask for
    assert "Name the dependency whose latency rose first" in prompt  # the Skill's instructions
    verdict = Verdict.model_validate(update["verdict"])
    assert verdict.reasoner == update["reasoner"] == "llm:fake-model"
    assert update["prompt_tokens"] > 0


def test_secrets_in_alert_annotations_never_reach_the_model(fake_llm):
    toolkit = llm_toolkit()
    event = alert_event(annotations={"summary": "api p99 above 300ms", **SECRETS})
    fake_llm.queue(answer(["F1"]))
    reason(analyzed(toolkit, event), toolkit)
    prompt = fake_llm.prompt_text()
    for secret in ("Hunter2Secret", "Tr0ub4dor-and-3", SECRETS["token"]):
        assert secret not in prompt
    assert prompt.count("[REDACTED]") >= 3
    assert "api p99 above 300ms" in prompt


FAILURES = {
    "bad json": ([Reply.text("the root cause is db, trust me"), Reply.text("{not json"), Reply.text("[]")],
                 "gave no valid verdict"),
    "unknown ids": ([answer(["F1", "F99"]), answer(["F99"]), answer(["F98"])], "not in the evidence: F98"),
    "http 500": ([Reply.error(500, "upstream overloaded")], "HTTP 500"),
    "slow": ([Reply.slow(answer(["F1"]), 3.0)], "timed out"),
}


@pytest.mark.parametrize("mode", list(FAILURES))
def test_llm_failures_fall_back_to_the_offline_reasoner_end_to_end(fake_llm, mode):
    replies, reason_text = FAILURES[mode]
    fake_llm.queue(*replies)
    toolkit = llm_toolkit(llm_timeout_s=0.5)
    result = investigate(alert_event(), toolkit)
    assert result.verdict.reasoner == "offline"
    assert result.verdict.needs_attention is True and result.verdict.root_causes
    [note] = [n for n in result.notes if n.startswith("llm:fake-model failed")]
    assert reason_text in note and note.endswith("answered by offline instead")
    assert "Reasoner: offline" in result.report and literal(note) in result.report  # as markdown text
    assert fake_llm.pending == 0 and len(fake_llm.requests) == len(replies)


def test_a_rejected_answer_is_retried_with_the_error_and_the_second_one_counts(fake_llm):
    fake_llm.queue(answer(["F42"]), answer(["F3"]))
    result = investigate(alert_event(), llm_toolkit())
    assert result.verdict.reasoner == "llm:fake-model"
    assert result.verdict.cited_ids() == {"F3"}
    assert any("answer 1 rejected" in n and "F42" in n for n in result.notes)
    assert "F42" in fake_llm.prompt_text(1)  # the retry tells the model what was wrong


def test_500s_are_retried_by_the_client_before_falling_back(fake_llm):
    fake_llm.queue(Reply.error(503), Reply.error(500))
    result = investigate(alert_event(), llm_toolkit(llm_max_retries=1))
    assert result.verdict.reasoner == "offline"
    assert len(fake_llm.requests) == 2
    assert any("after 2 attempts" in n for n in result.notes)


def test_without_a_fallback_an_llm_failure_propagates(fake_llm):
    toolkit = llm_toolkit()
    toolkit.reasoner, toolkit.llm_reasoner = toolkit.llm_reasoner, None
    fake_llm.queue(Reply.error(500))
    with pytest.raises(Exception, match="HTTP 500"):
        investigate(alert_event(), toolkit)


SMALL_ANSWER = json.loads(answer(["F1"]))
SMALL_ANSWER["root_causes"][0]["service"] = "feature-store"  # the bundle's F1


@pytest.mark.parametrize(("reply", "reasoner"),
                         [(Reply.json(SMALL_ANSWER), "llm:gpt-4o-mini"), (Reply.error(502), "offline")])
def test_bundle_toolkit_asks_the_configured_llm(fake_llm, monkeypatch, reply, reasoner):
    monkeypatch.setenv("BIANQUE_LLM_MAX_RETRIES", "0")
    get_settings.cache_clear()
    fake_llm.queue(reply)
    bundle = load_bundle(SMALL_BUNDLE)
    result = investigate(bundle.event, bundle_toolkit(bundle, get_settings()))
    assert result.verdict.reasoner == reasoner
    assert len(fake_llm.requests) == 1 and "RankingP99LatencyHigh" in fake_llm.prompt_text()
    assert fake_llm.headers[0]["authorization"] == f"Bearer {FAKE_API_KEY}"


def test_a_model_answer_the_fail_safe_replaced_is_not_said_to_be_the_models_in_the_report(fake_llm):
    """The report said ``Reasoner: llm:fake-model`` of the fail-safe verdict that replaced the model's answer (no data:
    the model cleared the alert); the model's verdict stays in the run's record."""
    toolkit = replace(llm_toolkit(), metrics=RecordingMetricSource(series=[]), logs=RecordingLogSource(records=[]))
    fake_llm.queue(answer(["F1"], needs_attention=False, attention_reason="noise", root_causes=[]))
    result = investigate(alert_event(), toolkit)
    assert result.verdict.judged is False and result.verdict.needs_attention is True
    assert result.verdict.reasoner == "fail-safe over llm:fake-model"
    assert "- Reasoner: fail-safe over llm:fake-model\n" in result.report
    assert result.llm is not None and result.llm["outcome"] == "fail_safe"
    assert result.llm["verdict"]["needs_attention"] is False and result.llm["verdict"]["reasoner"] == "llm:fake-model"
    offline = investigate(alert_event(), replace(toolkit, llm_reasoner=None))
    check_llm_outcome(result, offline, "llm:fake-model")  # as the e2e test against a real model checks it
