"""Deterministic detectors: plain functions turning series, log lines and changes into scored Findings.

Each takes data plus explicit parameters and returns ``list[Finding]`` with ``id`` left empty
(the analyze step numbers them). None imports a source, a reasoner or the graph.
Contracts and defaults: ``docs/detectors.md``.

The names below are imported on first use: importing one detector module (the Skill schema reads
``direction``) does not load them all, nor scipy.stats with them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "detect_canary": "canary",
    "detect_change_impact": "change_impact",
    "detect_change_proximity": "changes",
    "detect_history": "history",
    "detect_level_shift": "level",
    "detect_logs": "logs",
    "detect_onset": "onset",
    "detect_slo_burn": "slo",
    "detect_threshold": "threshold",
    "detect_trend": "trend",
    "earliest_onsets": "changes",
    "select_by_labels": "grouping",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
