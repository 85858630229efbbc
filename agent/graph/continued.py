"""A replaced pod's series continued by its successor's: one series per role, not per process.

A pod that restarts or is rescheduled comes back under another name, so its series end mid-window and new ones
begin under another ``instance`` / ``pod`` label. Judged apart, neither is whole: the old one has a reference and
no present, the new one a present and no reference. The new series continues the old one when they are the same
metric of the same service with the same labels but the pod's, and the old one ended before the new one began.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from agent.series import Series

POD_LABELS = ("instance", "pod")  # the labels naming the process a series was scraped from


def continued(series: Sequence[Series]) -> list[Series]:
    """``series`` (one service's) with each chain of successive pods joined into one series under the first pod's
    labels (its history, a day or a week back, is kept under them): each series, in order of its first sample,
    continues the chain of its role whose last sample ended latest before it began, if any; series that overlap in
    time (replicas running side by side) stay apart. Order and identity are kept for series no other continues."""
    roles: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    for i, s in enumerate(series):
        if len(s) and any(s.labels.get(k) for k in POD_LABELS):
            roles[(s.metric, tuple(sorted((k, v) for k, v in s.labels.items() if k not in POD_LABELS)))].append(i)
    joined: dict[int, list[int]] = {}  # the first series of a chain -> its series, in order
    for members in roles.values():
        chains: list[list[int]] = []
        for i in sorted(members, key=lambda m: series[m].timestamps[0]):
            began = series[i].timestamps[0]
            ended = [c for c in chains if series[c[-1]].timestamps[-1] < began]
            if ended:
                max(ended, key=lambda c: series[c[-1]].timestamps[-1]).append(i)
            else:
                chains.append([i])
        joined.update({c[0]: c for c in chains if len(c) > 1})
    absorbed = {i for chain in joined.values() for i in chain[1:]}
    return [_join([series[j] for j in joined[i]]) if i in joined else s
            for i, s in enumerate(series) if i not in absorbed]


def _join(chain: Sequence[Series]) -> Series:
    first = chain[0]
    return Series(first.metric, dict(first.labels), np.concatenate([s.timestamps for s in chain]),
                  np.concatenate([s.values for s in chain]))
