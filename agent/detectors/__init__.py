"""Deterministic detectors: plain functions turning series, log lines and changes into scored Findings.

Each takes data plus explicit parameters and returns ``list[Finding]`` with ``id`` left empty
(the analyze step numbers them). None imports a source, a reasoner or the graph.
Contracts and defaults: ``docs/detectors.md``.

The names below are imported on first use: importing one detector module (the Skill schema reads
``direction``) does not load them all, nor scipy.stats with them.
"""

from __future__ import annotations

from agent.lazy_exports import lazy_getattr

_HOMES = {
    "detect_canary": "agent.detectors.canary",
    "detect_change_impact": "agent.detectors.change_impact",
    "detect_change_proximity": "agent.detectors.changes",
    "detect_daily_shift": "agent.detectors.seasonal",
    "detect_history": "agent.detectors.history",
    "detect_level_shift": "agent.detectors.level",
    "detect_logs": "agent.detectors.logs",
    "detect_onset": "agent.detectors.onset",
    "detect_slo_burn": "agent.detectors.slo",
    "detect_spike_density": "agent.detectors.spikes",
    "detect_threshold": "agent.detectors.threshold",
    "detect_trend": "agent.detectors.trend",
    "earliest_onsets": "agent.detectors.changes",
    "select_by_labels": "agent.detectors.grouping",
}
__all__ = sorted(_HOMES)
__getattr__ = lazy_getattr(__name__, _HOMES)
