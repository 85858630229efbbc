"""Corrections from the API: through the evolution step when it is installed, else memory alone."""

from __future__ import annotations

from agent.api.schemas import CorrectionRequest, CorrectionResponse
from agent.config import Settings
from agent.memory import Memory


def apply_correction(memory: Memory, settings: Settings, case_id: str, body: CorrectionRequest) -> CorrectionResponse:
    """Store the correction of ``case_id`` (CaseNotFoundError / InvalidInputError on bad input)."""
    return CorrectionResponse(correction=memory.add_correction(case_id, **body.model_dump()))
