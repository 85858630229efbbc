"""The fake OpenAI-compatible server itself: env wiring, embeddings, models, queue and reset."""

from __future__ import annotations

import httpx
import pytest
from openai import OpenAI

from agent.config import get_settings
from tests.fakes.openai_server import FAKE_API_KEY, FAKE_MODEL, Reply, fake_embedding


def _openai(fake_llm) -> OpenAI:
    return OpenAI(base_url=fake_llm.base_url, api_key=FAKE_API_KEY, max_retries=0)


def test_fixture_points_settings_at_the_server(fake_llm) -> None:
    settings = get_settings()
    assert settings.llm_base_url == fake_llm.base_url
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == FAKE_API_KEY
    assert fake_llm.base_url.startswith("http://127.0.0.1:")


def test_embeddings_are_deterministic_unit_vectors(fake_llm) -> None:
    client = _openai(fake_llm)
    first = client.embeddings.create(model="emb", input=["alpha", "beta"])  # SDK default: base64
    again = client.embeddings.create(model="emb", input="alpha", encoding_format="float")
    a, b = first.data[0].embedding, first.data[1].embedding
    assert len(a) == fake_llm.embedding_dim
    assert a == pytest.approx(again.data[0].embedding, abs=1e-6)
    assert a != pytest.approx(b, abs=1e-3)
    assert sum(v * v for v in a) == pytest.approx(1.0, abs=1e-5)
    assert fake_llm.embedding_requests[0]["input"] == ["alpha", "beta"]
    assert len(fake_embedding("x", 40)) == 40


def test_models_lists_the_fake_model(fake_llm) -> None:
    assert [m.id for m in _openai(fake_llm).models.list()] == [FAKE_MODEL]


def test_replies_are_served_in_order_and_requests_recorded(fake_llm) -> None:
    fake_llm.queue("one", {"two": 2}, Reply.error(418, "teapot"))
    client = _openai(fake_llm)
    ask = lambda: client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])  # noqa: E731
    assert ask().choices[0].message.content == "one"
    assert ask().choices[0].message.content == '{"two": 2}'
    with pytest.raises(Exception, match="teapot"):
        ask()
    assert len(fake_llm.requests) == 3 and fake_llm.pending == 0
    assert fake_llm.prompt_text(0) == "hi"


def test_empty_queue_answers_500_and_reset_clears_state(fake_llm) -> None:
    response = httpx.post(f"{fake_llm.base_url}/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 500 and "no scripted reply" in response.text
    fake_llm.queue("left over")
    fake_llm.supports_response_format = False
    fake_llm.reset()
    assert fake_llm.pending == 0 and fake_llm.requests == [] and fake_llm.supports_response_format
