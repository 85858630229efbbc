"""Small operations on groups of series used when preparing detector input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from agent.series import Series


def with_history(current: Sequence[Series], history: Mapping[float, Sequence[Series]]) -> list[Series]:
    """Each current series extended with the samples of its history windows (same metric and labels)."""
    if not history:
        return list(current)
    past_by_key: dict[str, list[Series]] = {}
    for past in history.values():
        for s in past:
            past_by_key.setdefault(s.key(), []).append(s)
    merged = []
    for s in current:
        parts = [s, *past_by_key.get(s.key(), [])]
        t = np.concatenate([p.timestamps for p in parts])
        v = np.concatenate([p.values for p in parts])
        order = np.argsort(t, kind="stable")
        merged.append(Series(s.metric, s.labels, t[order], v[order]))
    return merged
