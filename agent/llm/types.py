"""Small value types shared by the LLM client and its callers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Usage:
    """Tokens and wall-clock seconds spent by one or more calls that got an answer."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    seconds: float = 0.0

    def add(self, other: Usage) -> None:
        """Accumulate ``other`` into this usage."""
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.seconds += other.seconds

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(RuntimeError):
    """The model endpoint could not give an answer (unreachable, timed out, rejected, empty)."""

    def __init__(
        self, message: str, *, status: int | None = None, retryable: bool = False, usage: Usage | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.usage = usage or Usage()


class TimeBudget:
    """Seconds all LLM calls of one investigation may take (``llm_investigation_timeout_s``): the Skill choice and
    the verdict's answers and retries draw on the same budget, so a slow choice leaves the verdict less time and
    one that used it all leaves none (the rule ranking and the offline verdict stand). ``limit_s`` None: no limit.
    Only the time spent in those calls counts, not the data gathering between them."""

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s = limit_s
        self.spent_s = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def spending(self) -> Iterator[float | None]:
        """A block of LLM calls: yields their ``time.monotonic()`` deadline (now plus what is left; None without a
        limit) and counts the time the block took against the budget."""
        started = time.monotonic()
        with self._lock:
            left = None if self.limit_s is None else max(0.0, self.limit_s - self.spent_s)
        try:
            yield None if left is None else started + left
        finally:
            with self._lock:
                self.spent_s += time.monotonic() - started
