"""The local ONNX embedding function and the OpenAI-compatible one (against a loopback fake)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from agent.config import Settings
from agent.knowledge.embedding import (
    DIMENSION,
    ENV_MODEL_PATH,
    EmbeddingModelError,
    LocalOnnxEmbedding,
    OpenAIEmbedding,
    embedding_function_for,
    embedding_space,
    model_file,
)


@pytest.fixture(scope="module")
def ef() -> LocalOnnxEmbedding:
    return LocalOnnxEmbedding(batch_size=2, cache_size=0)


def test_vectors_are_384_dim_unit_norm(ef):
    texts = ["cache hit ratio dropped", "disk is almost full", "x " * 600, ""]
    vectors = np.asarray(ef(texts))
    assert vectors.shape == (4, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_no_vectors(ef):
    assert ef.embed([]).shape == (0, DIMENSION)


def test_batching_and_order_do_not_change_vectors(ef):
    texts = ["short", "a much longer sentence about the feature store timing out", "medium length text"]
    batched = ef.embed(texts)
    single = np.vstack([LocalOnnxEmbedding(batch_size=1, cache_size=0).embed([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=1e-4)
    reversed_ = ef.embed(texts[::-1])[::-1]
    np.testing.assert_allclose(batched, reversed_, atol=1e-4)


def test_cache_returns_same_vectors_and_is_bounded():
    cached = LocalOnnxEmbedding(cache_size=2)
    first = cached.embed(["alpha", "beta", "gamma"])
    assert list(cached._cache) == ["beta", "gamma"]
    first[1] = 0.0  # callers own their arrays; the cache keeps its copy
    again = cached.embed(["gamma", "beta"])
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(again[0], first[2])
    assert list(cached._cache) == ["gamma", "beta"]


def test_semantic_similarity(ef):
    query, cache, disk = ef.embed(
        [
            "cache hit ratio dropped",
            "The cache stops serving hits: hit ratio collapses and callers get slower.",
            "The volume fills up and writes fail with no space left on device.",
        ]
    )
    assert float(query @ cache) > float(query @ disk) + 0.1


def test_text_beyond_256_word_pieces_is_truncated(ef):
    head = "memory grows linearly until the process is killed " * 40  # ~360 word pieces
    a, b = ef.embed([head + "disk full", head + "cache hit ratio collapsed"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    c, d = LocalOnnxEmbedding(max_length=512).embed([head + "disk full", head + "cache hit ratio collapsed"])
    assert not np.allclose(c, d, atol=1e-6)
    # tokenizer.json itself truncates at 128; ours must see up to 256 word pieces.
    mid = "memory grows linearly until the process is killed " * 15  # ~135 word pieces
    e, f = ef.embed([mid + "disk full", mid + "cache hit ratio collapsed"])
    assert not np.allclose(e, f, atol=1e-3)


def test_chroma_protocol_is_not_legacy(ef):
    assert not ef.is_legacy()
    assert known_embedding_functions[LocalOnnxEmbedding.name()] is LocalOnnxEmbedding
    rebuilt = LocalOnnxEmbedding.build_from_config(ef.get_config())
    assert rebuilt.get_config() == {"batch_size": 2, "max_length": 256}
    assert ef.default_space() == "cosine"
    with pytest.raises(ValueError, match="unknown"):
        LocalOnnxEmbedding.validate_config({"batch_size": 2, "device": "gpu"})


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"max_length": 4}])
def test_invalid_parameters_are_rejected(kwargs):
    with pytest.raises(ValueError):
        LocalOnnxEmbedding(**kwargs)


def test_missing_model_override_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_MODEL_PATH, str(tmp_path / "nope.onnx"))
    with pytest.raises(EmbeddingModelError, match="nope.onnx"):
        model_file()


def test_default_is_local_without_an_embedding_model():
    assert isinstance(embedding_function_for(Settings(llm_base_url="http://127.0.0.1:1")), LocalOnnxEmbedding)
    assert isinstance(embedding_function_for(Settings(embedding_model="e5")), LocalOnnxEmbedding)


class _JsonHandler(BaseHTTPRequestHandler):
    """A fake endpoint's handler: answers with JSON, logs nothing."""

    def reply(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class _FakeEmbeddings(_JsonHandler):
    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.0, 3.0]}
            for i, text in enumerate(body["input"])
        ]
        self.reply(200, {"object": "list", "data": data[::-1], "model": body["model"],
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}})


def test_openai_compatible_embeddings_against_fake_server():
    server = HTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings = Settings(
            llm_base_url=f"http://127.0.0.1:{server.server_port}/v1", embedding_model="Text-Embed/3 small"
        )
        ef = embedding_function_for(settings)
        assert isinstance(ef, OpenAIEmbedding)
        ef.batch_size = 2
        vectors = np.asarray(ef(["abcd", "a", "abc"]))
    finally:
        server.shutdown()
    assert [r["input"] for r in _FakeEmbeddings.requests] == [["abcd", "a"], ["abc"]]
    assert _FakeEmbeddings.requests[0]["model"] == "Text-Embed/3 small"
    # Results come back out of order from the server; they are put back by index and normalised.
    np.testing.assert_allclose(vectors[:, 0], [4 / 5, 1 / np.sqrt(10), 3 / np.sqrt(18)], atol=1e-6)
    assert embedding_space(ef) == "oai-text-embed-3-small"
    assert "api_key" not in ef.get_config()


def test_a_password_in_the_endpoint_url_is_not_stored_with_the_collection(monkeypatch):
    """Chroma stores ``get_config`` in the collection's metadata on disk: the URL's password was stored with it. It
    comes back from BIANQUE_LLM_BASE_URL when the function is rebuilt for the same endpoint."""
    url = "http://admin:s3cret@llm.internal:8080/v1"
    config = OpenAIEmbedding(model="m", base_url=url).get_config()
    assert config["base_url"] == "http://admin:***@llm.internal:8080/v1" and "s3cret" not in repr(config)
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", url)
    assert OpenAIEmbedding.build_from_config(config).base_url == url
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", "http://other:8080/v1")  # another endpoint: what was stored
    assert OpenAIEmbedding.build_from_config(config).base_url == config["base_url"]


class _RefusesKey(_JsonHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.reply(401, {"error": {"message": "Incorrect API key provided: sk-live-0123456789abcdef"}})


def test_a_failing_embedding_endpoint_is_named_without_the_providers_message():
    server = HTTPServer(("127.0.0.1", 0), _RefusesKey)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        with pytest.raises(EmbeddingModelError) as failed:
            embedding_function_for(Settings(llm_base_url=url, embedding_model="e5"))(["text"])
    finally:
        server.shutdown()
    assert str(failed.value) == f"embeddings from {url} (model e5) failed: HTTP 401 (check BIANQUE_LLM_API_KEY)"


def test_an_embeddings_request_ends_when_the_investigation_stops_waiting_saying_so():
    """Within an investigation's gathering a request had waited its whole timeout, retried twice: a knowledge search
    went on long after the investigation stopped waiting for it. Now it is given what is left, once, and says what
    the investigation says of a call it gave up on; once none is left nothing is sent."""
    import socket
    import time

    from agent.sources.base import answer_by

    late = "not answered within the investigation's 5 s for gathering (BIANQUE_GATHER_DEADLINE_S)"
    with socket.socket() as silent:  # accepts connections (the kernel completes them), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        ef = OpenAIEmbedding(model="e5", base_url=url, timeout_s=3.0)
        with answer_by(time.monotonic() + 0.3, late), pytest.raises(EmbeddingModelError) as given_up:
            ef(["text"])
        with answer_by(time.monotonic() - 1.0, late), pytest.raises(EmbeddingModelError) as not_sent:
            ef(["text"])
    assert str(given_up.value) == f"embeddings from {url} (model e5) failed: {late}"
    assert str(not_sent.value) == f"embeddings from {url} (model e5): {late}"
