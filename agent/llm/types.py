"""Small value types shared by the LLM client and its callers."""

from __future__ import annotations

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
