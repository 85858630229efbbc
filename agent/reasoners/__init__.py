"""Reasoners: turn an evidence pack into a verdict (offline analyst, or an LLM with offline fallback)."""

from agent.reasoners.base import Reasoner, ReasonerError, ReasonerResult, reason_with_fallback

__all__ = ["Reasoner", "ReasonerError", "ReasonerResult", "reason_with_fallback"]
