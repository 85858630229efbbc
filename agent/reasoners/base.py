"""The reasoner contract: an evidence pack and a Skill in, a verdict citing Finding ids out."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from agent.evidence import EvidencePack
from agent.llm.types import LLMError, Usage
from agent.skills.schema import Skill
from agent.verdict import Verdict

log = logging.getLogger(__name__)


class ReasonerError(RuntimeError):
    """A reasoner could not produce a valid verdict; ``usage`` is what the attempts cost."""

    def __init__(self, message: str, *, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or Usage()


@dataclass
class ReasonerResult:
    """A verdict and what it cost."""

    verdict: Verdict
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class Reasoner(Protocol):
    """Anything that turns an evidence pack into a verdict."""

    name: str

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        """A verdict for ``pack`` decided the way ``skill`` says; raises ``ReasonerError`` on failure."""
        ...


def reason_with_fallback(
    primary: Reasoner, fallback: Reasoner | None, pack: EvidencePack, skill: Skill
) -> ReasonerResult:
    """Ask ``primary``; when it fails (``ReasonerError`` or ``LLMError``) ask ``fallback`` and say why.

    With no fallback the error propagates. Tokens spent by the failed primary are added to the result.
    """
    try:
        return primary.reason(pack, skill)
    except (ReasonerError, LLMError) as exc:
        if fallback is None:
            raise
        log.warning("reasoner %s failed, falling back to %s: %s", primary.name, fallback.name, exc)
        result = fallback.reason(pack, skill)
        spent = getattr(exc, "usage", None)
        note = f"{primary.name} failed ({exc}); answered by {fallback.name} instead"
        return ReasonerResult(
            verdict=result.verdict,
            prompt_tokens=result.prompt_tokens + (spent.prompt_tokens if spent else 0),
            completion_tokens=result.completion_tokens + (spent.completion_tokens if spent else 0),
            notes=[note, *result.notes],
        )
