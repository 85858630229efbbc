"""The LLM variant of the correct-one-half protocol: what the model is asked, bounded, and what it answered.

With an endpoint configured the project routes a corrected case's Skill patch and an experience note to
the model (:mod:`agent.evolve.generate`, :mod:`agent.evolve.distill`) and, optionally, the verdict of
every investigation (the LLM reasoner, the offline verdict its floor). :class:`LLMPlan` says which of
these the protocol uses and how many requests it may make; :class:`LLMTally` counts what came back.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.distill import collect_groups, llm_note
from agent.evolve.llm_loop import GenerationFailed
from agent.llm.types import LLMError

MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class LLMPlan:
    """Settings pointing at the model and the bounds of its use in one protocol run.

    ``reason``: investigations are answered by the LLM reasoner (floor rule applied); ``max_patches``:
    misses whose Skill patch is asked of the model (the others get none); ``max_notes``: groups of
    corrected cases whose experience note the model writes.
    """

    settings: Any
    reason: bool = False
    max_patches: int = 3
    max_notes: int = 3

    def __post_init__(self) -> None:
        if not self.settings.llm_enabled:
            raise ValueError("llm_base_url: the LLM variant needs an endpoint (BIANQUE_LLM_BASE_URL)")
        for name in ("max_patches", "max_notes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")


@dataclass
class LLMTally:
    """What the model answered, by purpose (``patch``, ``note``, ``verdict``), and the time it took."""

    counts: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # why each failed or erred answer was refused, per ask

    def add(self, purpose: str, outcome: str, seconds: float = 0.0) -> None:
        self.counts[f"{purpose}: {outcome}"] += 1
        self.seconds += seconds

    def get(self, purpose: str, outcome: str) -> int:
        return self.counts[f"{purpose}: {outcome}"]

    def record_verdict(self, result: Any) -> None:
        """Count the LLM reasoner's outcome of one investigation (accepted, set_aside, failed, fail_safe)."""
        run = getattr(result, "llm", None)
        if run:
            self.add("verdict", str(run.get("outcome", "failed")), float(run.get("seconds", 0.0)))


def ask_timed(tally: LLMTally, purpose: str, ask: Any) -> Any:
    """``ask()`` counted as valid, or None counted as failed (no valid answer) or error (endpoint)."""
    started = time.perf_counter()
    try:
        answer = ask()
    except GenerationFailed as exc:
        tally.add(purpose, "failed", time.perf_counter() - started)
        tally.errors.append(f"{purpose}: {exc}"[:MAX_ERROR_CHARS])
        return None
    except LLMError as exc:
        tally.add(purpose, "error", time.perf_counter() - started)
        tally.errors.append(f"{purpose}: {exc}"[:MAX_ERROR_CHARS])
        return None
    tally.add(purpose, "valid", time.perf_counter() - started)
    return answer


def llm_notes(client: Any, memory: Any, tally: LLMTally, limit: int) -> int:
    """Ask the model for the experience notes of at most ``limit`` groups of corrected cases; groups asked.

    The notes are validated as ``knowledge distill`` validates them and counted, not stored: the
    protocol scores with the lessons of the corrected cases, which notes do not change.
    """
    groups = list(collect_groups(memory.experience_cases()).items())[:limit]
    for group, members in groups:
        ask_timed(tally, "note", lambda g=group, m=members: llm_note(client, g, [c for c, _ in m],
                                                                     [t for _, t in m]))
    return len(groups)
