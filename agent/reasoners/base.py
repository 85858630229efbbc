"""The reasoner contract: an evidence pack and a Skill in, a verdict citing Finding ids out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.evidence import EvidencePack
from agent.llm.types import Usage
from agent.skills.schema import Skill
from agent.verdict import Verdict


@dataclass
class LLMRun:
    """What the model did for one verdict: its outcome, answers, time and tokens."""

    model: str
    # accepted | set_aside (the floor rule) | failed (no valid answer, endpoint down) | fail_safe (a valid answer
    # the fail-safe verdict replaced: the data could not answer, or cannot clear what the answer clears)
    outcome: str = "accepted"
    answers: int = 0  # answers received
    valid_at: int | None = None  # which answer validated: 1 = the first
    reasons: list[str] = field(default_factory=list)  # why answers were rejected or set aside
    seconds: float = 0.0  # wall-clock time the model path took for this verdict (every attempt)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    structured: str = ""  # the response_format the endpoint accepted (json_schema, json_object+schema, ...)
    verdict: dict[str, Any] | None = None  # the model's validated verdict, before the floor rule

    def describe(self) -> str:
        """One line for the report: who answered, in how long, at what cost."""
        tries = f"valid at answer {self.valid_at} of {self.answers}" if self.valid_at else f"{self.answers} answer(s)"
        how = f", output constrained by {self.structured}" if self.structured else ""
        return (f"llm:{self.model}: {tries} in {self.seconds:.1f} s, {self.prompt_tokens} prompt + "
                f"{self.completion_tokens} completion tokens{how}")


class ReasonerError(RuntimeError):
    """A reasoner could not produce a valid verdict; ``usage`` is what the attempts cost."""

    def __init__(self, message: str, *, usage: Usage | None = None, run: LLMRun | None = None) -> None:
        super().__init__(message)
        self.usage = usage or Usage()
        self.run = run


@dataclass
class ReasonerResult:
    """A verdict and what it cost."""

    verdict: Verdict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    llm: LLMRun | None = None


@runtime_checkable
class Reasoner(Protocol):
    """Anything that turns an evidence pack into a verdict."""

    name: str

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        """A verdict for ``pack`` decided the way ``skill`` says; raises ``ReasonerError`` on failure."""
        ...
