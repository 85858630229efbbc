"""Corrections from the API: checked and stored by the evolution step, refusals in the API's field names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.api.schemas import CorrectionRequest, CorrectionResponse
from agent.evolve.corrections import API_WORDING, correct_case
from agent.memory import Memory


def apply_correction(
    memory: Memory, case_id: str, body: CorrectionRequest, knowledge: Callable[[], Any] | None = None
) -> CorrectionResponse:
    """Check the correction fits the case, store it (with ``body.index``: false keeps the case out of experience)
    and, with a store (``knowledge`` opens it), index the case or (``body.index`` false) remove its record.

    Raises CaseNotFoundError for an unknown case and InvalidInputError for a correction that does not fit.
    """
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
        index=body.index,
        as_given=body.as_given,
        knowledge=knowledge,
        wording=API_WORDING,
    )
    return CorrectionResponse(correction=result.correction, truth=result.truth.describe(), indexed=result.indexed,
                              removed=result.removed, notes=result.notes, repeated=result.repeated)
