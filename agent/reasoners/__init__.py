"""Reasoners: turn an evidence pack into a verdict (offline analyst, or an LLM above the offline floor)."""

from agent.reasoners.base import LLMRun, Reasoner, ReasonerError, ReasonerResult

__all__ = ["LLMRun", "Reasoner", "ReasonerError", "ReasonerResult"]
