"""A replaced pod's series continued by its successor's, and a new replica's read against its siblings': one
series per role, not per process.

A pod that restarts or is rescheduled comes back under another name, so its series end mid-window and new ones
begin under another ``instance`` / ``pod`` label. Judged apart, neither is whole: the old one has a reference and
no present, the new one a present and no reference. The new series continues the old one when they are the same
metric of the same service with the same labels but the pod's, and the old one ended before the new one began or
at most ``OVERLAP`` samples after (a rolling update starts the new pod before it stops the old one; where both
report, the new one's samples are kept: the old pod is draining). A pod added mid-window (a scale-up) continues
no one: its past is taken as its siblings', the median of the role's other pods at each of their scrapes before
it began, so it is judged against what the role did rather than not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from agent.detectors.calibration import MIN_REFERENCE
from agent.series import Series

POD_LABELS = ("instance", "pod")  # the labels naming the process a series was scraped from
OVERLAP = 2  # samples an old pod may still be scraped after its successor's first: a rolling update's handover


def continued(series: Sequence[Series]) -> list[Series]:
    """``series`` (one service's) with each chain of successive pods joined into one series under the first pod's
    labels (its history, a day or a week back, is kept under them): each series, in order of its first sample,
    continues the chain of its role whose last series hands over to it (``_hands_over``) and ended latest, if
    any; series that overlap longer (replicas running side by side) stay apart, and a chain that began after
    ``MIN_REFERENCE`` samples of another of its role is preceded by its siblings' (``_with_siblings_past``).
    Order and identity are kept for series no other continues or precedes."""
    roles: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    for i, s in enumerate(series):
        if len(s) and any(s.labels.get(k) for k in POD_LABELS):
            roles[(s.metric, tuple(sorted((k, v) for k, v in s.labels.items() if k not in POD_LABELS)))].append(i)
    whole: dict[int, Series] = {}  # the first series of a chain changed -> the chain as one series
    absorbed: set[int] = set()
    for members in roles.values():
        chains: list[list[int]] = []
        for i in sorted(members, key=lambda m: series[m].timestamps[0]):
            ended = [c for c in chains if _hands_over(series[c[-1]], series[i])]
            if ended:
                max(ended, key=lambda c: series[c[-1]].timestamps[-1]).append(i)
            else:
                chains.append([i])
        joined = {c[0]: _join([series[j] for j in c]) for c in chains}
        for head, one in joined.items():
            siblings = [s for other, s in joined.items() if other != head]
            whole[head] = _with_siblings_past(one, siblings) or one
        absorbed.update(i for c in chains for i in c[1:])
    return [whole.get(i, s) for i, s in enumerate(series) if i not in absorbed]


def _hands_over(old: Series, new: Series) -> bool:
    """Whether ``new`` may continue ``old``: ``old`` ended before ``new`` did, at most ``OVERLAP`` of its samples
    at or after ``new``'s first."""
    return old.timestamps[-1] < new.timestamps[-1] and np.count_nonzero(old.timestamps >= new.timestamps[0]) <= OVERLAP


def _join(chain: Sequence[Series]) -> Series:
    """The chain as one series under its first pod's labels; where two pods both report, the later one's samples."""
    if len(chain) == 1:
        return chain[0]
    ends = [after.timestamps[0] for after in chain[1:]] + [np.inf]
    kept = [s.timestamps < end for s, end in zip(chain, ends, strict=True)]
    first = chain[0]
    return Series(first.metric, dict(first.labels),
                  np.concatenate([s.timestamps[k] for s, k in zip(chain, kept, strict=True)]),
                  np.concatenate([s.values[k] for s, k in zip(chain, kept, strict=True)]))


def _with_siblings_past(series: Series, siblings: Sequence[Series]) -> Series | None:
    """``series`` (a pod added mid-window) preceded by the median of ``siblings`` (its role's other pods) at each
    scrape of the one with most samples before it began, where at least ``MIN_REFERENCE`` are; None otherwise."""
    began = series.timestamps[0]
    before = [s for s in siblings if np.count_nonzero(s.timestamps < began) >= MIN_REFERENCE]
    if not before:
        return None
    grid = max(before, key=lambda s: np.count_nonzero(s.timestamps < began)).timestamps
    grid = grid[grid < began]
    stacked = np.full((len(before), grid.size), np.nan)
    for row, s in zip(stacked, before, strict=True):
        inside = (grid >= s.timestamps[0]) & (grid <= s.timestamps[-1])
        row[inside] = np.interp(grid[inside], s.timestamps, s.values)
    return Series(series.metric, dict(series.labels), np.concatenate([grid, series.timestamps]),
                  np.concatenate([np.nanmedian(stacked, axis=0), series.values]))
