"""Deterministic detectors: plain functions turning series, log lines and changes into scored Findings.

Each takes data plus explicit parameters and returns ``list[Finding]`` with ``id`` left empty
(the analyze step numbers them). None imports a source, a reasoner or the graph.
Contracts and defaults: ``docs/detectors.md``.
"""

from agent.detectors.canary import detect_canary
from agent.detectors.change_impact import detect_change_impact
from agent.detectors.changes import detect_change_proximity, earliest_onsets
from agent.detectors.grouping import select_by_labels
from agent.detectors.history import detect_history
from agent.detectors.level import detect_level_shift
from agent.detectors.logs import detect_logs
from agent.detectors.onset import detect_onset
from agent.detectors.slo import detect_slo_burn
from agent.detectors.threshold import detect_threshold
from agent.detectors.trend import detect_trend

__all__ = [
    "detect_canary",
    "detect_change_impact",
    "detect_change_proximity",
    "detect_history",
    "detect_level_shift",
    "detect_logs",
    "detect_onset",
    "detect_slo_burn",
    "detect_threshold",
    "detect_trend",
    "earliest_onsets",
    "select_by_labels",
]
