"""A small client for any OpenAI-compatible chat endpoint: our own retries, structured output, token counts.

Structured output is detected, not configured. Asked with a JSON schema, the client tries, in order,
``response_format={"type": "json_schema", ...}`` (OpenAI, vLLM), ``{"type": "json_object", "schema": ...}``
(llama.cpp's server) and ``{"type": "json_object"}``, then none; a format the endpoint rejects (HTTP
400/422, or a 5xx naming ``response_format``) is never sent again by that client, and
:attr:`LLMClient.structured` says which one answered.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from enum import IntEnum
from typing import Any

import openai
from openai import OpenAI

from agent.config import Settings, get_settings, masked_url
from agent.llm.redact import redact
from agent.llm.types import LLMError, Usage

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
PLACEHOLDER_KEY = "not-needed"  # local servers (vLLM, Ollama) accept any key, the SDK demands one


class Format(IntEnum):
    """Ways of asking for JSON, most constrained first; the client steps down when one is rejected."""

    JSON_SCHEMA = 0  # {"type": "json_schema", "json_schema": {...}}: OpenAI, vLLM
    SCHEMA_IN_JSON_OBJECT = 1  # {"type": "json_object", "schema": {...}}: llama.cpp's server
    JSON_OBJECT = 2  # {"type": "json_object"}: any JSON, validated afterwards
    NONE = 3  # plain text, parsed and validated afterwards

    @property
    def label(self) -> str:
        return ("json_schema", "json_object+schema", "json_object", "none")[self]

    def body(self, schema: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        """The ``response_format`` to send (None: send none)."""
        if self is Format.NONE:
            return None
        if schema is None or self is Format.JSON_OBJECT:
            return {"type": "json_object"}
        if self is Format.SCHEMA_IN_JSON_OBJECT:
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": _schema_name(name), "schema": schema, "strict": False}}


class LLMClient:
    """Chat completions against ``settings.llm_base_url`` with bounded retries and backoff.

    Retries (at most ``settings.llm_max_retries``) on timeouts, connection errors, HTTP 429 and 5xx,
    waiting ``backoff_s * 2**attempt`` (capped at ``backoff_max_s``) with jitter. Every failure is
    raised as :class:`LLMError`. The API key is never logged nor put in an error message.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = settings or get_settings()
        if not settings.llm_base_url:
            raise LLMError("no LLM endpoint configured: set BIANQUE_LLM_BASE_URL (and BIANQUE_LLM_API_KEY)")
        self.model = settings.llm_model
        self.base_url = settings.llm_base_url
        self.timeout_s = settings.llm_timeout_s
        self.max_tokens = settings.llm_max_tokens if settings.llm_max_tokens > 0 else None
        self.max_retries = max(0, settings.llm_max_retries)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.usage = Usage()
        self._sleep = sleep
        self._floor = Format.JSON_SCHEMA  # the most constrained format not yet rejected
        self.structured: Format | None = None  # the format the last schema-constrained answer came under
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        self._client = OpenAI(
            base_url=settings.llm_base_url,
            api_key=key or PLACEHOLDER_KEY,
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"LLMClient(base_url={masked_url(self.base_url)!r}, model={self.model!r})"

    def complete_json(
        self,
        messages: list[dict[str, str]],
        schema_name: str = "json",
        *,
        schema: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> tuple[str, Usage]:
        """The model's reply to ``messages``, asked for as a JSON object; ``schema_name`` names it in errors.

        With ``schema`` (a JSON Schema) the endpoint is asked to constrain its answer to it, in the
        most constrained format it accepts (see the module doc); the caller still validates the
        answer. ``deadline`` (a ``time.monotonic()`` value) bounds every attempt and retry.
        """
        start = self._floor if schema is not None else max(self._floor, Format.JSON_OBJECT)
        return self._complete(messages, schema_name, start, schema, deadline)

    def complete_text(
        self, messages: list[dict[str, str]], purpose: str = "text", *, deadline: float | None = None
    ) -> tuple[str, Usage]:
        """The model's plain-text reply to ``messages``."""
        return self._complete(messages, purpose, Format.NONE, None, deadline)

    def _complete(
        self, messages: list[dict[str, str]], purpose: str, fmt: Format, schema: dict[str, Any] | None,
        deadline: float | None,
    ) -> tuple[str, Usage]:
        asked = fmt
        attempt = 0
        while True:
            timeout = self._timeout(deadline, purpose, attempt)
            try:
                text, usage = self._call(messages, fmt.body(schema, purpose), timeout)
            except openai.APIStatusError as exc:
                if fmt is not Format.NONE and _rejects_format(exc):
                    log.info("endpoint rejected response_format %s (HTTP %s): %s", fmt.label, exc.status_code,
                             _status_reason(exc))
                    fmt = Format(fmt + 1)
                    continue
                retryable = exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
                error = self._error(purpose, attempt, _status_reason(exc), exc.status_code, retryable)
                retry_after = _retry_after(exc)
            except openai.APITimeoutError:
                error = self._error(purpose, attempt, f"timed out after {timeout:.3g} s", None, True)
                retry_after = None
            except openai.APIConnectionError as exc:
                error = self._error(purpose, attempt, f"connection error: {_cause(exc)}", None, True)
                retry_after = None
            except (openai.OpenAIError, ValueError) as exc:  # malformed response body, empty answer
                error = self._error(purpose, attempt, f"bad response: {exc}", None, True)
                retry_after = None
            else:
                if fmt > asked:  # a format was rejected and a less constrained one answered: remember
                    self._floor = max(self._floor, fmt)
                if schema is not None:
                    self.structured = fmt
                self.usage.add(usage)
                return text, usage
            if not error.retryable or attempt >= self.max_retries:
                raise error
            delay = self._backoff(attempt, retry_after)
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise error
            log.warning("%s; retrying in %.2f s", error, delay)
            self._sleep(delay)
            attempt += 1

    def _timeout(self, deadline: float | None, purpose: str, attempt: int) -> float:
        """The per-call limit, shortened to what is left before ``deadline``; LLMError when nothing is."""
        if deadline is None:
            return self.timeout_s
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._error(purpose, attempt, "the time limit for this investigation is used up", None, False)
        return min(self.timeout_s, left)

    def _call(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None,
              timeout: float) -> tuple[str, Usage]:
        extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
        if self.max_tokens:
            extra["max_tokens"] = self.max_tokens
        started = time.monotonic()
        response = self._client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, timeout=timeout, **extra  # type: ignore[arg-type]
        )
        usage = Usage(
            prompt_tokens=getattr(response.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(response.usage, "completion_tokens", 0) or 0,
            calls=1,
            seconds=time.monotonic() - started,
        )
        content = response.choices[0].message.content if response.choices else None
        if not content or not content.strip():
            self.usage.add(usage)
            raise _EmptyAnswer("the model returned an empty answer")
        return content, usage

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, raised to the server's Retry-After (capped)."""
        delay = min(self.backoff_max_s, self.backoff_s * 2**attempt)
        delay = delay / 2 + random.uniform(0, delay / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max_s))
        return delay

    def _error(self, purpose: str, attempt: int, reason: str, status: int | None, retryable: bool) -> LLMError:
        tries = attempt + 1
        message = (
            f"LLM {purpose} request to {masked_url(self.base_url)} (model {self.model}) failed"
            f" after {tries} attempt{'s' if tries > 1 else ''}: {redact(reason)}"
        )
        return LLMError(message, status=status, retryable=retryable)


class _EmptyAnswer(openai.OpenAIError):
    """An answer with no content: retried like a malformed response."""


def _rejects_format(exc: openai.APIStatusError) -> bool:
    """True when the endpoint refused the request's ``response_format``.

    HTTP 400/422 as most servers answer; llama-cpp-python's server answers its request-validation
    errors with HTTP 500, naming the field, so a 5xx naming ``response_format`` counts too.
    """
    if exc.status_code in (400, 422):
        return True
    return exc.status_code >= 500 and "response_format" in _status_reason(exc)


def _schema_name(purpose: str) -> str:
    """A ``json_schema.name`` the OpenAI API accepts (letters, digits, ``_`` and ``-``)."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in purpose)[:64] or "answer"


def _status_reason(exc: openai.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("message") or body.get("error") or exc.message
    if isinstance(detail, dict):
        detail = detail.get("message", detail)
    hint = {
        401: " (check BIANQUE_LLM_API_KEY)",
        403: " (check BIANQUE_LLM_API_KEY)",
        404: " (check BIANQUE_LLM_BASE_URL and BIANQUE_LLM_MODEL)",
    }.get(exc.status_code, "")
    return f"HTTP {exc.status_code}: {str(detail)[:300]}{hint}"


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return str(cause) if cause else str(exc)
