"""The metrics-only z-score ranking the real-incident README names as the bar to beat.

Per service: the largest |max(after) - mean(before)| / std(before) over its metrics, where
"before" is the window before the alert's look-back split and "after" the rest. Services are
ranked by that number. Used by benchmarks/real_incidents.py beside the agent's own ranking.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from agent.bundles.reader import CaseBundle

SPLIT_BEFORE_ALERT_S = 0.0  # split at the alert: "before" is everything the alert looks back on


def zscore_ranking(bundle: CaseBundle, candidates: set[str] | None = None) -> list[str]:
    """Services ordered by their strongest post-split z-score."""
    split = bundle.event.time - SPLIT_BEFORE_ALERT_S
    best: dict[str, float] = defaultdict(float)
    for series in bundle.series:
        service = series.labels.get("service")
        if not service or (candidates is not None and service not in candidates):
            continue
        before = series.values[series.timestamps < split]
        after = series.values[series.timestamps >= split]
        if before.size < 3 or after.size == 0:
            continue
        std = float(np.std(before))
        if std <= 1e-12:
            continue
        z = abs(float(np.max(after)) - float(np.mean(before))) / std
        best[service] = max(best[service], z)
    return sorted(best, key=lambda s: -best[s])
