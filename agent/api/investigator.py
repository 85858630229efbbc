"""How the service runs an investigation: the library's investigator (:mod:`agent.investigator`)."""

from __future__ import annotations

from agent.investigator import Investigator, LiveInvestigator

__all__ = ["Investigator", "LiveInvestigator"]
