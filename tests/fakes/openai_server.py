"""A fake OpenAI-compatible HTTP server for tests, answering from a queue of scripted replies.

Runs FastAPI under uvicorn in a background thread on 127.0.0.1 (a free port), once per test session.
The ``fake_llm`` fixture resets it for each test and points ``BIANQUE_LLM_BASE_URL`` and
``BIANQUE_LLM_API_KEY`` at it::

    def test_x(fake_llm):
        fake_llm.queue('{"pattern": "rca", ...}', Reply.error(500), Reply.slow("{}", 2.0))
        ...
        assert "F1" in fake_llm.prompt_text()

``accepted_formats`` restricts the ``response_format`` kinds served (see :func:`format_kind`); others
get HTTP ``format_rejection_status`` (422; llama-cpp-python's server answers ``json_schema`` with a 500
naming the field).

Endpoints: ``POST /v1/chat/completions`` (scripted), ``POST /v1/embeddings`` (deterministic vectors),
``GET /v1/models``. Every request body is recorded. With the queue empty, chat answers HTTP 500
saying so, so a test that forgot to queue a reply fails loudly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import socket
import threading
import time
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.config import get_settings

FAKE_API_KEY = "sk-fake-test-key-0123456789abcdef"
FAKE_MODEL = "fake-model"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: assistant text, an HTTP error, a delay, or a raw (malformed) body."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    raw_body: str | None = None
    error_message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @classmethod
    def text(cls, content: str, delay_s: float = 0.0) -> Reply:
        return cls(content=content, delay_s=delay_s)

    @classmethod
    def json(cls, payload: Any, delay_s: float = 0.0) -> Reply:
        return cls(content=json.dumps(payload), delay_s=delay_s)

    @classmethod
    def error(cls, status: int, message: str = "scripted error", headers: dict[str, str] | None = None) -> Reply:
        return cls(status=status, error_message=message, headers=headers or {})

    @classmethod
    def slow(cls, content: str, delay_s: float) -> Reply:
        return cls(content=content, delay_s=delay_s)

    @classmethod
    def malformed_body(cls) -> Reply:
        """An HTTP 200 whose body is not JSON at all."""
        return cls(raw_body='{"id": "chatcmpl-broken", "choices": [ {')


def _as_reply(item: str | dict[str, Any] | Reply) -> Reply:
    if isinstance(item, Reply):
        return item
    if isinstance(item, dict):
        return Reply.json(item)
    return Reply.text(item)


def format_kind(response_format: Any) -> str | None:
    """``json_schema``, ``json_object+schema`` or ``json_object`` for a request's ``response_format``."""
    if not isinstance(response_format, dict):
        return None
    kind = str(response_format.get("type"))
    return f"{kind}+schema" if kind == "json_object" and "schema" in response_format else kind


def fake_embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for ``text``."""
    raw = b"".join(hashlib.sha256(f"{i}:{text}".encode()).digest() for i in range((dim + 31) // 32))
    values = [b / 127.5 - 1.0 for b in raw[:dim]]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


class FakeLLM:
    """The fake server's state and its control surface for tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self.requests: list[dict[str, Any]] = []  # chat completion bodies, in order
        self.embedding_requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # headers of each chat request
        self.supports_response_format = True
        self.accepted_formats: set[str] | None = None  # response_format kinds served; None: all
        self.format_rejection_status = 422  # llama-cpp-python's server answers 500
        self.embedding_dim = 16
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._build_app()

    # -- control ---------------------------------------------------------------------------------
    def queue(self, *replies: str | dict[str, Any] | Reply) -> None:
        """Append scripted replies; each chat request takes the next one."""
        with self._lock:
            self._replies.extend(_as_reply(r) for r in replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests; restore defaults."""
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.embedding_requests.clear()
            self.headers.clear()
            self.supports_response_format = True
            self.accepted_formats = None
            self.format_rejection_status = 422
            self.embedding_dim = 16

    @property
    def pending(self) -> int:
        """Replies queued but not yet served."""
        with self._lock:
            return len(self._replies)

    def prompt_text(self, index: int = -1) -> str:
        """All message contents of one recorded chat request, joined."""
        return "\n".join(str(m.get("content", "")) for m in self.requests[index]["messages"])

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Serve on a free loopback port in a daemon thread; returns once the server is up."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the HTTP app ----------------------------------------------------------------------------
    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            if "response_format" in body and not self.supports_response_format:
                return Reply.error(400, "response_format is not supported by this model")
            kind = format_kind(body.get("response_format"))
            if kind and self.accepted_formats is not None and kind not in self.accepted_formats:
                message = f"1 validation error: ('body', 'response_format', 'type'): {kind} is not supported"
                return Reply.error(self.format_rejection_status, message)
            return self._replies.popleft() if self._replies else None

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            reply = self._next_reply(body, dict(request.headers))
            if reply is None:
                return _error(500, "fake LLM: no scripted reply queued")
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.raw_body is not None:
                return Response(reply.raw_body, status_code=reply.status, media_type="application/json")
            if reply.status != 200:
                return _error(reply.status, reply.error_message, reply.headers)
            return JSONResponse(self._completion(body, reply))

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Response:
            body = await request.json()
            with self._lock:
                self.embedding_requests.append(body)
            inputs = body.get("input", [])
            texts = [inputs] if isinstance(inputs, str) else [str(i) for i in inputs]
            dim = int(body.get("dimensions") or self.embedding_dim)
            data = []
            for index, text in enumerate(texts):
                vector = fake_embedding(text, dim)
                encoded: Any = vector
                if body.get("encoding_format") == "base64":
                    encoded = base64.b64encode(array("f", vector).tobytes()).decode()
                data.append({"object": "embedding", "index": index, "embedding": encoded})
            tokens = sum(len(t.split()) for t in texts)
            return JSONResponse({
                "object": "list", "data": data, "model": body.get("model", FAKE_MODEL),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

        @app.get("/v1/models")
        async def models() -> Response:
            return JSONResponse({
                "object": "list",
                "data": [{"id": FAKE_MODEL, "object": "model", "created": 0, "owned_by": "fake"}],
            })

        return app

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else prompt_chars // 4 + 1
        completion_tokens = (
            reply.completion_tokens if reply.completion_tokens is not None else len(reply.content) // 4 + 1
        )
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", FAKE_MODEL),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": "stop",
                "logprobs": None,
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(payload, status_code=status, headers=headers or None)


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    """The session's fake OpenAI-compatible server."""
    fake = FakeLLM()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """The fake server, reset, with ``BIANQUE_LLM_BASE_URL``/``BIANQUE_LLM_API_KEY`` pointing at it."""
    fake_llm_server.reset()
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", fake_llm_server.base_url)
    monkeypatch.setenv("BIANQUE_LLM_API_KEY", FAKE_API_KEY)
    get_settings.cache_clear()
    yield fake_llm_server
    fake_llm_server.reset()
    get_settings.cache_clear()
