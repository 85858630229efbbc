"""LLMClient against the fake OpenAI-compatible server: JSON mode, retries, timeouts, typed errors."""

from __future__ import annotations

import pytest

from agent.config import Settings
from agent.llm.client import LLMClient
from agent.llm.types import LLMError
from tests.fakes.openai_server import FAKE_API_KEY, Reply

MESSAGES = [{"role": "user", "content": "say {}"}]


def _client(**settings: object) -> tuple[LLMClient, list[float]]:
    waits: list[float] = []
    client = LLMClient(Settings(**settings), backoff_s=0.01, backoff_max_s=0.05, sleep=waits.append)
    return client, waits


def test_complete_json_asks_for_a_json_object_and_counts_tokens(fake_llm) -> None:
    fake_llm.queue(Reply(content='{"ok": true}', prompt_tokens=11, completion_tokens=4))
    client, _ = _client(llm_model="m-1")
    text, usage = client.complete_json(MESSAGES, "probe")
    assert text == '{"ok": true}'
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 4)
    body = fake_llm.requests[0]
    assert body["model"] == "m-1"
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"] == MESSAGES
    assert fake_llm.headers[0]["authorization"] == f"Bearer {FAKE_API_KEY}"
    with pytest.raises(LLMError, match="no scripted reply queued"):
        client.complete_json(MESSAGES)
    assert client.usage.prompt_tokens == 11


def test_usage_accumulates_over_calls(fake_llm) -> None:
    fake_llm.queue(Reply(content="{}", prompt_tokens=3, completion_tokens=1),
                   Reply(content="{}", prompt_tokens=5, completion_tokens=2))
    client, _ = _client()
    client.complete_json(MESSAGES)
    client.complete_json(MESSAGES)
    assert (client.usage.prompt_tokens, client.usage.completion_tokens) == (8, 3)


def test_endpoint_without_response_format_gets_plain_text(fake_llm) -> None:
    fake_llm.supports_response_format = False
    fake_llm.queue('{"a": 1}', '{"b": 2}')
    client, waits = _client(llm_max_retries=0)
    assert client.complete_json(MESSAGES)[0] == '{"a": 1}'
    assert "response_format" in fake_llm.requests[0] and "response_format" not in fake_llm.requests[1]
    assert client.complete_json(MESSAGES)[0] == '{"b": 2}'
    assert len(fake_llm.requests) == 3  # remembered: the second call went straight to plain text
    assert waits == []


def test_server_error_then_success_is_retried_with_growing_backoff(fake_llm) -> None:
    fake_llm.queue(Reply.error(500), Reply.error(503), '{"ok": 1}')
    client, waits = _client(llm_max_retries=2)
    assert client.complete_json(MESSAGES)[0] == '{"ok": 1}'
    assert len(fake_llm.requests) == 3
    assert len(waits) == 2
    assert 0.005 <= waits[0] <= 0.01 and 0.01 <= waits[1] <= 0.02  # base 0.01 s doubled, equal jitter


def test_rate_limit_honours_retry_after_up_to_the_cap(fake_llm) -> None:
    fake_llm.queue(Reply.error(429, "slow down", headers={"retry-after": "30"}), "{}")
    client, waits = _client(llm_max_retries=1)
    client.complete_json(MESSAGES)
    assert waits == [0.05]


def test_retries_are_bounded(fake_llm) -> None:
    fake_llm.queue(*[Reply.error(502, "bad gateway")] * 5)
    client, waits = _client(llm_max_retries=2)
    with pytest.raises(LLMError, match=r"failed after 3 attempts: HTTP 502: bad gateway") as info:
        client.complete_json(MESSAGES, "verdict")
    assert info.value.status == 502 and info.value.retryable
    assert "verdict" in str(info.value) and fake_llm.base_url in str(info.value)
    assert len(fake_llm.requests) == 3 and len(waits) == 2


def test_a_failure_names_the_endpoint_without_its_basic_auth_password(fake_llm) -> None:
    fake_llm.queue(Reply.error(502, "bad gateway"))
    client, _ = _client(llm_max_retries=0, llm_base_url=fake_llm.base_url.replace("http://", "http://admin:s3cret@"))
    with pytest.raises(LLMError) as info:
        client.complete_json(MESSAGES, "verdict")
    assert fake_llm.base_url.replace("http://", "http://admin:***@") in str(info.value)
    assert "s3cret" not in str(info.value) and "s3cret" not in repr(client)


def test_client_error_is_not_retried_and_never_shows_the_key(fake_llm) -> None:
    fake_llm.queue(Reply.error(401, f"Incorrect API key provided: {FAKE_API_KEY}"))
    client, waits = _client(llm_max_retries=3)
    with pytest.raises(LLMError, match="HTTP 401.*check BIANQUE_LLM_API_KEY") as info:
        client.complete_json(MESSAGES)
    assert FAKE_API_KEY not in str(info.value) and FAKE_API_KEY not in repr(client)
    assert not info.value.retryable
    assert len(fake_llm.requests) == 1 and waits == []


def test_slow_answer_beyond_the_timeout_is_an_llm_error(fake_llm) -> None:
    fake_llm.queue(Reply.slow('{"late": true}', delay_s=2.0))
    client, _ = _client(llm_timeout_s=0.5, llm_max_retries=0)
    with pytest.raises(LLMError, match="timed out after 0.5 s") as info:
        client.complete_json(MESSAGES)
    assert info.value.retryable


def test_malformed_body_is_retried_then_succeeds(fake_llm) -> None:
    fake_llm.queue(Reply.malformed_body(), '{"fine": true}')
    client, waits = _client(llm_max_retries=1)
    assert client.complete_json(MESSAGES)[0] == '{"fine": true}'
    assert len(waits) == 1


def test_empty_answer_is_an_error(fake_llm) -> None:
    fake_llm.queue("", "   ")
    client, _ = _client(llm_max_retries=1)
    with pytest.raises(LLMError, match="empty answer"):
        client.complete_json(MESSAGES)


def test_unreachable_endpoint_is_a_connection_error(monkeypatch) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LLMClient(Settings(llm_base_url=f"http://127.0.0.1:{port}/v1", llm_max_retries=0))
    with pytest.raises(LLMError, match="connection error"):
        client.complete_text(MESSAGES)


def test_no_endpoint_configured() -> None:
    with pytest.raises(LLMError, match="BIANQUE_LLM_BASE_URL"):
        LLMClient(Settings())


SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def test_a_schema_is_sent_in_the_most_constrained_format_the_endpoint_accepts(fake_llm) -> None:
    fake_llm.queue('{"ok": true}')
    client, _ = _client(llm_max_tokens=77)
    client.complete_json(MESSAGES, "probe answer", schema=SCHEMA)
    body = fake_llm.requests[0]
    assert body["response_format"] == {
        "type": "json_schema", "json_schema": {"name": "probe_answer", "schema": SCHEMA, "strict": False}
    }
    assert body["max_tokens"] == 77
    assert client.structured is not None and client.structured.label == "json_schema"


def test_an_endpoint_with_no_schema_support_steps_down_to_plain_json_and_remembers(fake_llm) -> None:
    fake_llm.accepted_formats = {"json_object"}
    fake_llm.queue('{"ok": true}', '{"ok": false}')
    client, waits = _client(llm_max_retries=0)
    client.complete_json(MESSAGES, schema=SCHEMA)
    kinds = [r["response_format"] for r in fake_llm.requests]
    assert [k["type"] for k in kinds] == ["json_schema", "json_object", "json_object"]
    assert "schema" in kinds[1] and kinds[2] == {"type": "json_object"}
    assert client.structured is not None and client.structured.label == "json_object"
    client.complete_json(MESSAGES, schema=SCHEMA)
    assert fake_llm.requests[3]["response_format"] == {"type": "json_object"}  # no refused format sent again
    assert waits == []


def test_a_used_up_deadline_fails_at_once_without_calling(fake_llm) -> None:
    client, waits = _client(llm_max_retries=3)
    with pytest.raises(LLMError, match="time limit for this investigation is used up") as info:
        client.complete_json(MESSAGES, "verdict", deadline=0.0)
    assert not info.value.retryable and fake_llm.requests == [] and waits == []


def test_no_retry_is_started_that_would_end_after_the_deadline(fake_llm) -> None:
    import time

    fake_llm.queue(Reply.error(500), '{"never": "used"}')
    client = LLMClient(Settings(llm_max_retries=3), backoff_s=5.0, backoff_max_s=5.0, sleep=lambda s: None)
    with pytest.raises(LLMError, match="HTTP 500"):
        client.complete_json(MESSAGES, deadline=time.monotonic() + 2.0)
    assert len(fake_llm.requests) == 1


def test_a_500_naming_response_format_is_a_refusal_like_llama_cpp_answers_not_an_outage(fake_llm) -> None:
    fake_llm.accepted_formats = {"json_object+schema", "json_object"}
    fake_llm.format_rejection_status = 500
    fake_llm.queue('{"ok": true}')
    client, waits = _client(llm_max_retries=2)
    client.complete_json(MESSAGES, schema=SCHEMA)
    assert [r["response_format"]["type"] for r in fake_llm.requests] == ["json_schema", "json_object"]
    assert client.structured is not None and client.structured.label == "json_object+schema"
    assert waits == []  # stepped down at once, not retried as a server error


def test_long_text_bounds_stay_out_of_the_grammar() -> None:
    from agent.evolve.llm_loop import text_fields_schema

    schema = text_fields_schema(summary=200, skill_yaml=12000)["properties"]
    assert schema["summary"] == {"type": "string", "minLength": 1, "maxLength": 200}
    assert schema["skill_yaml"] == {"type": "string", "minLength": 1}  # 12000 nested rules crashed llama.cpp
