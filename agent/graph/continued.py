"""A replaced pod's series continued by its successor's: one series per role, not per process.

A pod that restarts or is rescheduled comes back under another name, so its series end mid-window and new ones
begin under another ``instance`` / ``pod`` label. Judged apart, neither is whole: the old one has a reference and
no present, the new one a present and no reference. The new series continues the old one when they are the same
metric of the same service with the same labels but the pod's, and the old one ended before the new one began or
at most ``OVERLAP`` samples after (a rolling update starts the new pod before it stops the old one; where both
report, the new one's samples are kept: the old pod is draining). A pod added mid-window (a scale-up) continues
no one and stays a series of its own; an RCA or an inspection leaves it to its siblings (``without_new_replicas``;
judging it against its siblings' median was tried: docs/history.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from agent.detectors.calibration import MIN_REFERENCE
from agent.series import Series, median_gap

POD_LABELS = ("instance", "pod")  # the labels naming the process a series was scraped from
OVERLAP = 2  # samples an old pod may still be scraped after its successor's first: a rolling update's handover


def continued(series: Sequence[Series]) -> list[Series]:
    """``series`` (one service's) with each chain of successive pods joined into one series under the first pod's
    labels (its history, a day or a week back, is kept under them): each series, in order of its first sample,
    continues the chain of its role whose last series hands over to it (``_hands_over``) and ended latest, if
    any; series that overlap longer (replicas running side by side) stay apart. Order and identity are kept for
    series no other continues."""
    roles = _roles(series)
    whole: dict[int, Series] = {}  # the first series of a chain of several -> the chain as one series
    absorbed: set[int] = set()
    for members in roles:
        chains: list[list[int]] = []
        for i in sorted(members, key=lambda m: series[m].timestamps[0]):
            ended = [c for c in chains if _hands_over(series[c[-1]], series[i])]
            if ended:
                max(ended, key=lambda c: series[c[-1]].timestamps[-1]).append(i)
            else:
                chains.append([i])
        whole.update({c[0]: _join([series[j] for j in c]) for c in chains if len(c) > 1})
        absorbed.update(i for c in chains for i in c[1:])
    return [whole.get(i, s) for i, s in enumerate(series) if i not in absorbed]


def without_new_replicas(series: Sequence[Series]) -> list[Series]:
    """``series`` (one service's, continued) without those of a pod added mid-window (a scale-up): a series of a
    role that began after at least ``MIN_REFERENCE`` samples of another of the role, which still reported when it
    last did (to within a scrape interval). Its reference, if it has any, is the last few points of its siblings':
    calibrated on them, ordinary variation passes for an onset; and counted beside its siblings it changes how
    their service is judged (a host's figure no longer reported by every series of the service, one series more
    judged in an inspection). Its siblings judge the role; a window that begins with it judges it. Order kept."""
    late: set[int] = set()
    for members in _roles(series):
        gaps = {j: median_gap([series[j].timestamps]) for j in members}  # each sibling's scrape interval
        for i in members:
            first, last = series[i].timestamps[0], series[i].timestamps[-1]
            if any(np.count_nonzero(series[j].timestamps < first) >= MIN_REFERENCE
                   and series[j].timestamps[-1] >= last - gaps[j]
                   for j in members if j != i):
                late.add(i)
    return [s for i, s in enumerate(series) if i not in late]


def _roles(series: Sequence[Series]) -> list[list[int]]:
    """Indexes of the series (with samples) that carry a pod label, grouped by role: the same metric and labels
    but the pod's."""
    roles: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    for i, s in enumerate(series):
        if len(s) and any(s.labels.get(k) for k in POD_LABELS):
            roles[(s.metric, tuple(sorted((k, v) for k, v in s.labels.items() if k not in POD_LABELS)))].append(i)
    return list(roles.values())


def _hands_over(old: Series, new: Series) -> bool:
    """Whether ``new`` may continue ``old``: ``old`` ended before ``new`` did, at most ``OVERLAP`` of its samples
    at or after ``new``'s first."""
    return old.timestamps[-1] < new.timestamps[-1] and np.count_nonzero(old.timestamps >= new.timestamps[0]) <= OVERLAP


def _join(chain: Sequence[Series]) -> Series:
    """The chain as one series under its first pod's labels; where two pods both report, the later one's samples."""
    ends = [after.timestamps[0] for after in chain[1:]] + [np.inf]
    kept = [s.timestamps < end for s, end in zip(chain, ends, strict=True)]
    first = chain[0]
    return Series(first.metric, dict(first.labels),
                  np.concatenate([s.timestamps[k] for s, k in zip(chain, kept, strict=True)]),
                  np.concatenate([s.values[k] for s, k in zip(chain, kept, strict=True)]))
