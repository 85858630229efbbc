"""What must hold of an investigation an LLM took part in, whatever the model answered (the e2e test against a real
model checks it, and a fake model's fail-safe case pins each outcome's meaning without one)."""

from __future__ import annotations

from typing import Any

from agent.reasoners.failsafe import fail_safe_over
from agent.reasoners.llm import FAIL_SAFE

OUTCOMES = ("accepted", "set_aside", "failed", "fail_safe")


def check_llm_outcome(result: Any, offline: Any, model: str) -> None:
    """``result`` (an investigation the LLM ``model`` answered) against ``offline`` (the same one offline): the
    model's valid verdict stands (accepted); the data could not answer, so the fail-safe verdict replaced the model's
    and says it could not judge (fail_safe: the model's own kept in the run); else the offline verdict stands and the
    report says why (set_aside, failed)."""
    run = result.llm
    assert run["outcome"] in OUTCOMES, run["outcome"]
    if run["outcome"] == "accepted":
        assert result.verdict.reasoner == model
        assert result.verdict.model_dump(mode="json") == {**run["verdict"], "reasoner": model}
    elif run["outcome"] == "fail_safe":
        assert result.verdict.reasoner == fail_safe_over(model) and result.verdict.judged is False
        assert "could not judge" in result.verdict.summary.lower() and result.verdict.confidence == 0.0
        assert run["verdict"]["reasoner"] == model and any(r.startswith(FAIL_SAFE) for r in run["reasons"])
    else:  # the offline verdict stands, and the report says why
        assert result.verdict.model_dump(exclude={"reasoner"}) == offline.verdict.model_dump(exclude={"reasoner"})
        assert result.verdict.reasoner == "offline"
        assert ("set aside" in result.report) or ("answered by offline instead" in result.report)
    assert result.verdict.pattern == offline.verdict.pattern
