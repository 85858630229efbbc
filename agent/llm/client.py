"""A small client for any OpenAI-compatible chat endpoint: our own retries, JSON mode, token counts."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import openai
from openai import OpenAI

from agent.config import Settings, get_settings
from agent.llm.redact import redact
from agent.llm.types import LLMError, Usage

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 409, 425, 429})
PLACEHOLDER_KEY = "not-needed"  # local servers (vLLM, Ollama) accept any key, the SDK demands one


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
        self.max_retries = max(0, settings.llm_max_retries)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.usage = Usage()
        self._sleep = sleep
        self._json_mode_supported = True
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        self._client = OpenAI(
            base_url=settings.llm_base_url,
            api_key=key or PLACEHOLDER_KEY,
            timeout=settings.llm_timeout_s,
            max_retries=0,
        )

    def __repr__(self) -> str:
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r})"

    def complete_json(self, messages: list[dict[str, str]], schema_name: str = "json") -> tuple[str, Usage]:
        """The model's reply to ``messages``, asked for as a JSON object; ``schema_name`` names it in errors.

        Uses ``response_format={"type": "json_object"}``; an endpoint that rejects it (HTTP 400/422)
        is asked again, and from then on, without it.
        """
        return self._complete(messages, schema_name, json_mode=True)

    def complete_text(self, messages: list[dict[str, str]], purpose: str = "text") -> tuple[str, Usage]:
        """The model's plain-text reply to ``messages``."""
        return self._complete(messages, purpose, json_mode=False)

    def _complete(self, messages: list[dict[str, str]], purpose: str, json_mode: bool) -> tuple[str, Usage]:
        use_json = json_mode and self._json_mode_supported
        attempt = 0
        while True:
            try:
                text, usage = self._call(messages, use_json)
            except openai.APIStatusError as exc:
                if use_json and exc.status_code in (400, 422):
                    log.info("endpoint rejected response_format (HTTP %s); asking for plain text", exc.status_code)
                    use_json = False
                    continue
                retryable = exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500
                error = self._error(purpose, attempt, _status_reason(exc), exc.status_code, retryable)
                retry_after = _retry_after(exc)
            except openai.APITimeoutError:
                error = self._error(purpose, attempt, f"timed out after {self.timeout_s:g} s", None, True)
                retry_after = None
            except openai.APIConnectionError as exc:
                error = self._error(purpose, attempt, f"connection error: {_cause(exc)}", None, True)
                retry_after = None
            except (openai.OpenAIError, ValueError) as exc:  # malformed response body, empty answer
                error = self._error(purpose, attempt, f"bad response: {exc}", None, True)
                retry_after = None
            else:
                if json_mode and not use_json:
                    self._json_mode_supported = False
                self.usage.add(usage)
                return text, usage
            if not error.retryable or attempt >= self.max_retries:
                raise error
            delay = self._backoff(attempt, retry_after)
            log.warning("%s; retrying in %.2f s", error, delay)
            self._sleep(delay)
            attempt += 1

    def _call(self, messages: list[dict[str, str]], use_json: bool) -> tuple[str, Usage]:
        extra: dict[str, Any] = {"response_format": {"type": "json_object"}} if use_json else {}
        response = self._client.chat.completions.create(
            model=self.model, messages=messages, temperature=0, **extra  # type: ignore[arg-type]
        )
        usage = Usage(
            prompt_tokens=getattr(response.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(response.usage, "completion_tokens", 0) or 0,
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
            f"LLM {purpose} request to {self.base_url} (model {self.model}) failed"
            f" after {tries} attempt{'s' if tries > 1 else ''}: {redact(reason)}"
        )
        return LLMError(message, status=status, retryable=retryable)


class _EmptyAnswer(openai.OpenAIError):
    """An answer with no content: retried like a malformed response."""


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
