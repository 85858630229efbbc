"""The investigator the service runs (moved to the library: :mod:`agent.investigator`)."""

from __future__ import annotations

from agent.investigator import Investigator, LiveInvestigator

__all__ = ["Investigator", "LiveInvestigator"]
