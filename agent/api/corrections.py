"""Corrections from the API: through the evolution step (``agent.evolve.corrections``) when installed."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from agent.api.schemas import CorrectionRequest, CorrectionResponse
from agent.memory import Memory


def _correct_case() -> Callable[..., Any] | None:
    """``agent.evolve.corrections.correct_case`` when that module exists, else None."""
    try:
        module = importlib.import_module("agent.evolve.corrections")
    except ModuleNotFoundError as exc:
        if exc.name in ("agent.evolve", "agent.evolve.corrections"):
            return None
        raise
    return getattr(module, "correct_case", None)


def apply_correction(
    memory: Memory, case_id: str, body: CorrectionRequest, knowledge: Callable[[], Any] | None = None
) -> CorrectionResponse:
    """Check the correction fits the case, store it and (``body.index`` and a store) index the case.

    Raises CaseNotFoundError for an unknown case and InvalidInputError for a correction that does not fit.
    """
    correct_case = _correct_case()
    if correct_case is None:
        fields = body.model_dump(exclude={"index"})
        return CorrectionResponse(correction=memory.add_correction(case_id, **fields))
    result = correct_case(
        memory,
        case_id,
        correct=body.correct,
        service=body.root_cause_service,
        fault=body.root_cause_fault,
        decision=body.decision,
        needs_attention=body.needs_attention,
        note=body.note,
        author=body.author,
        knowledge=knowledge() if body.index and knowledge is not None else None,
    )
    return CorrectionResponse(
        correction=result.correction, truth=result.truth.describe(), indexed=result.indexed, notes=result.notes
    )
