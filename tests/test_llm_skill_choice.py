"""The LLM Skill choice: the candidates' names as an enum, anything else falls back to the rule ranking."""

from __future__ import annotations

import json

import pytest

from agent.config import Settings
from agent.llm.client import LLMClient
from agent.llm.skill_choice import make_chooser
from agent.llm.types import LLMError
from agent.runtime import _reasoners
from agent.skills.selector import Candidate
from tests.fakes.evidence import make_event, make_pack, make_skill, rca_answer
from tests.fakes.openai_server import Reply


def _candidates() -> list[Candidate]:
    first = make_skill().model_copy(update={"name": "latency-rca", "description": "Latency alerts."})
    second = make_skill().model_copy(update={"name": "errors-rca", "description": "Error-rate alerts."})
    return [Candidate(first, 0.9), Candidate(second, 0.7)]


def _chooser():
    return make_chooser(LLMClient(Settings(llm_model="fake-model", llm_max_retries=0)))


def test_the_model_chooses_among_the_candidates_under_an_enum(fake_llm) -> None:
    fake_llm.queue(Reply.json({"skill": "errors-rca", "reason": "timeouts are errors"}))
    assert _chooser()(make_event(), _candidates()) == ("errors-rca", "chosen by the LLM: timeouts are errors")
    schema = fake_llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["skill"]["enum"] == ["latency-rca", "errors-rca"]


def test_an_unknown_or_broken_choice_falls_back_to_the_rule_ranking(fake_llm) -> None:
    fake_llm.queue(Reply.json({"skill": "made-up", "reason": "?"}), Reply.text("no idea"), Reply.error(500))
    chooser = _chooser()
    assert [chooser(make_event(), _candidates()) for _ in range(3)] == [None, None, None]
    assert chooser(make_event(), _candidates()[:1]) is None  # one candidate: the model is not asked
    assert len(fake_llm.requests) == 3


def test_the_skill_choice_draws_on_the_investigations_llm_time_budget(fake_llm) -> None:
    """A slow Skill choice used to take its whole llm_timeout_s outside llm_investigation_timeout_s: the choice now
    times out within the budget (the rule ranking stands) and leaves the verdict none (the offline one stands)."""
    fake_llm.queue(Reply.slow(json.dumps({"skill": "errors-rca", "reason": "late"}), delay_s=3.0), rca_answer())
    parts = _reasoners(Settings(llm_model="fake-model", llm_max_retries=0, llm_timeout_s=60,
                                llm_investigation_timeout_s=1.0))  # one investigation's toolkit
    assert parts["chooser"](make_event(), _candidates()) is None
    with pytest.raises(LLMError, match="the time limit for this investigation is used up"):
        parts["llm_reasoner"].reason(make_pack(), make_skill())
    assert len(fake_llm.requests) == 1  # the verdict was never asked for
