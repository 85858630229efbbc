"""The floor rule: the model's verdict replaces the offline one only when its changes are backed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.config import Settings
from agent.evidence import EvidencePack
from agent.llm.client import LLMClient
from agent.reasoners.base import ReasonerResult
from agent.reasoners.floor import floor_problems, reason_with_floor
from agent.reasoners.llm import LLMReasoner
from agent.skills.schema import Skill
from agent.verdict import InspectionItem, RootCause, Verdict
from tests.fakes.evidence import make_event, make_pack, make_skill, rca_answer
from tests.fakes.openai_server import Reply


def _cause(service: str, *evidence: str) -> RootCause:
    return RootCause(service=service, fault="slow_dependency", confidence=0.7, evidence=list(evidence))


def _rca(*causes: RootCause, attention: bool = True) -> Verdict:
    return Verdict(pattern="rca", summary="s", needs_attention=attention, root_causes=list(causes),
                   evidence=sorted({i for c in causes for i in c.evidence}) or ["F1"])


def _release(decision: str, *evidence: str) -> Verdict:
    return Verdict(pattern="release_interception", summary="s", decision=decision, evidence=list(evidence))


def _inspection(*items: tuple[str, str, str]) -> Verdict:
    return Verdict(pattern="inspection", summary="s", evidence=["F1"], items=[
        InspectionItem(service=s, kind="anomaly", severity=sev, evidence=[fid]) for s, sev, fid in items
    ])


OFFLINE_RCA = _rca(_cause("gateway", "F2"), _cause("feature-store", "F1"))


def test_rca_reordering_backed_causes_is_accepted() -> None:
    assert floor_problems(_rca(_cause("feature-store", "F1"), _cause("gateway", "F2")), OFFLINE_RCA, make_pack()) == []


@pytest.mark.parametrize(("model", "problem"), [
    (_rca(attention=False), "no attention is needed for an alert the detectors flagged"),
    (_rca(), "drops every root cause of an actionable alert"),
    (_rca(_cause("gateway", "F1")), "cite no Finding about their service: gateway"),
])
def test_rca_answers_worse_than_the_offline_one_are_set_aside(model: Verdict, problem: str) -> None:
    assert any(problem in p for p in floor_problems(model, OFFLINE_RCA, make_pack()))


def test_rca_new_top_cause_needs_a_significant_finding_about_it() -> None:
    offline = _rca(_cause("gateway", "F2"))
    weak = make_pack(findings=[f.model_copy(update={"score": 0.2 if f.id == "F1" else f.score})
                               for f in make_pack().findings])
    model = _rca(_cause("feature-store", "F1"))
    assert floor_problems(model, offline, make_pack()) == []  # F1 scores 0.91
    assert "not among the offline candidates" in " ".join(floor_problems(model, offline, weak))


def test_rca_may_raise_a_noise_alert_only_with_significant_evidence() -> None:
    offline = _rca(attention=False)
    model = _rca(_cause("feature-store", "F1"))
    assert floor_problems(model, offline, make_pack()) == []
    weak = make_pack(findings=[f.model_copy(update={"score": 0.1}) for f in make_pack().findings])
    assert "raises an alert judged noise" in " ".join(floor_problems(model, offline, weak))


def test_release_may_only_be_more_cautious_with_evidence_on_the_changed_service() -> None:
    pack = make_pack("release_interception", event=make_event("release_interception"))  # change on gateway
    assert "less cautious" in " ".join(floor_problems(_release("pass", "F2"), _release("block", "F2"), pack))
    assert floor_problems(_release("hold", "F2"), _release("pass", "F1"), pack) == []  # F2: gateway, 0.6
    problems = floor_problems(_release("block", "F1"), _release("pass", "F1"), pack)  # F1 is feature-store
    assert "more cautious than 'pass' without citing a Finding about gateway" in " ".join(problems)
    assert floor_problems(_release("block", "F2"), _release("block", "F2"), pack) == []


def test_inspection_keeps_every_warning_and_backs_new_ones() -> None:
    pack = make_pack("inspection", event=make_event("inspection"))
    offline = _inspection(("feature-store", "critical", "F1"))
    assert floor_problems(_inspection(("feature-store", "warning", "F1"), ("gateway", "warning", "F2")),
                          offline, pack) == []
    assert "drops the warnings the detectors raised on feature-store" in " ".join(
        floor_problems(_inspection(("feature-store", "info", "F1")), offline, pack))
    assert "cite no Finding about their service: gateway" in " ".join(
        floor_problems(_inspection(("feature-store", "critical", "F1"), ("gateway", "warning", "F1")), offline, pack))


def test_inspection_may_not_raise_an_info_level_finding_to_a_warning() -> None:
    findings = make_pack("inspection").findings
    weak = [findings[0], findings[1].model_copy(update={"score": 0.4})]  # info on the offline severity scale
    pack = make_pack("inspection", event=make_event("inspection"), findings=weak)
    offline = _inspection(("feature-store", "critical", "F1"))
    model = _inspection(("feature-store", "critical", "F1"), ("gateway", "warning", "F2"))
    assert "it flags gateway without citing a Finding scoring 0.5" in " ".join(floor_problems(model, offline, pack))


def test_inspection_may_not_raise_a_context_signal_to_a_warning() -> None:
    """A signal no rule of the Skill names is context (the offline items make it info): a model's warning resting
    on it alone is not backed, however strong the Finding."""
    findings = make_pack("inspection").findings
    traffic = [findings[0], findings[1].model_copy(update={"signal": "throughput", "score": 0.9})]
    pack = make_pack("inspection", event=make_event("inspection"), findings=traffic)
    skill = make_skill("inspection").model_copy(update={"decision": Skill.model_validate({
        "name": "x", "description": "A Skill for reasoner tests.", "pattern": "inspection",
        "data": {"metrics": [{"id": "memory", "name": "m"}, {"id": "throughput", "name": "t"}]},
        "decision": {"rules": [{"if": {"signals": ["memory"]}, "then": "warning"}], "default": "info"},
    }).decision})
    offline = _inspection(("feature-store", "critical", "F1"))
    model = _inspection(("feature-store", "critical", "F1"), ("gateway", "warning", "F2"))
    assert floor_problems(model, offline, pack) == []  # without the Skill: every signal counts, as before
    assert "it flags gateway without citing a Finding scoring 0.5" in " ".join(
        floor_problems(model, offline, pack, skill))


def test_inspection_may_not_re_classify_what_the_detectors_flagged() -> None:
    pack = make_pack("inspection", event=make_event("inspection"))
    offline = Verdict(pattern="inspection", summary="s", evidence=["F1"], items=[
        InspectionItem(service="feature-store", kind="latency_regression", severity="critical", evidence=["F1"])])
    renamed = offline.model_copy(update={"items": [
        InspectionItem(service="feature-store", kind="disk_full", severity="critical", evidence=["F1"])]})
    assert "re-classifies what the detectors found on feature-store (latency_regression -> disk_full)" in " ".join(
        floor_problems(renamed, offline, pack))
    assert floor_problems(offline.model_copy(update={"summary": "re-worded"}), offline, pack) == []


class _Offline:
    """A stand-in offline reasoner returning a fixed verdict."""

    name = "offline"

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict.model_copy(update={"reasoner": "offline"})

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        return ReasonerResult(verdict=self.verdict, notes=["offline note"])


def _model(**settings: Any) -> LLMReasoner:
    values = {"llm_model": "fake-model", "llm_max_retries": 0, **settings}
    return LLMReasoner(LLMClient(Settings(**values), backoff_s=0.001, backoff_max_s=0.002))


def test_a_backed_answer_replaces_the_offline_verdict_and_the_report_says_who_and_how_long(fake_llm) -> None:
    fake_llm.queue(Reply(content=json.dumps(rca_answer()), prompt_tokens=900, completion_tokens=120))
    result = reason_with_floor(_model(), _Offline(OFFLINE_RCA), make_pack(), make_skill())
    assert result.verdict.reasoner == "llm:fake-model"
    assert result.verdict.root_causes[0].service == "feature-store"
    assert result.llm is not None and result.llm.outcome == "accepted" and result.llm.valid_at == 1
    assert result.notes[-1].startswith("llm:fake-model: valid at answer 1 of 1 in ")
    assert "900 prompt + 120 completion tokens" in result.notes[-1]


def test_an_answer_below_the_floor_is_set_aside_and_the_report_says_why(fake_llm) -> None:
    answer = rca_answer(needs_attention=False, attention_reason="noise", root_causes=[])
    fake_llm.queue(Reply(content=json.dumps(answer), prompt_tokens=500, completion_tokens=50))
    result = reason_with_floor(_model(), _Offline(OFFLINE_RCA), make_pack(), make_skill())
    assert result.verdict == OFFLINE_RCA.model_copy(update={"reasoner": "offline"})
    assert result.notes[0].startswith("llm:fake-model's answer was set aside, the offline verdict stands: ")
    assert "no attention is needed" in result.notes[0]
    assert result.llm is not None and result.llm.outcome == "set_aside"
    assert result.llm.verdict is not None and result.llm.verdict["needs_attention"] is False
    assert (result.prompt_tokens, result.completion_tokens) == (500, 50)


def test_a_failing_endpoint_leaves_the_offline_verdict(fake_llm) -> None:
    fake_llm.queue(Reply.error(503, "overloaded"))
    result = reason_with_floor(_model(), _Offline(OFFLINE_RCA), make_pack(), make_skill())
    assert result.verdict.reasoner == "offline"
    assert result.notes[0].startswith("llm:fake-model failed (") and "overloaded" in result.notes[0]
    assert result.notes[0].endswith("answered by offline instead")
    assert result.notes[-1] == "offline note"
    assert result.llm is not None and result.llm.outcome == "failed"


def test_rejected_answers_leave_the_offline_verdict_and_keep_the_tokens_spent(fake_llm) -> None:
    bad = json.dumps(rca_answer(evidence=["F7"]))
    fake_llm.queue(*[Reply(content=bad, prompt_tokens=100, completion_tokens=10)] * 3)
    result = reason_with_floor(_model(), _Offline(OFFLINE_RCA), make_pack(), make_skill())
    assert result.verdict.reasoner == "offline"
    assert "F7" in result.notes[0]
    assert (result.prompt_tokens, result.completion_tokens) == (300, 30)
    assert result.llm is not None and result.llm.answers == 3 and result.llm.outcome == "failed"
