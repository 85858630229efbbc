"""The ceiling of a usage share: a ratio tops out at 1, a percentage at 100."""

from __future__ import annotations

from agent.detectors.direction import name_tokens

JITTER = 1.05  # a share computed from rates overshoots its ceiling a little when pegged (101 %)
# a share that does not say its scale (cpu_util, DiskUtilization): its values do
SHARE_WORDS = frozenset({"util", "utilization", "utilisation"})


def capacity_limit(metric: str, top: float) -> float | None:
    """The ceiling a usage series named ``metric`` cannot exceed (``top``: its largest value), or None.

    A name with ``ratio`` whose values stay within 1 is a share of 1; one with ``percent`` (or ``pct``) whose
    values stay within 100 is a share of 100, each up to ``JITTER`` over (a pegged CPU share computed from counters
    reads 101 %). A utilisation (``cpu_util``, ``CPUUtilization``) says a share but not its scale: within 1 it is a
    share of 1, else within 100 a share of 100. Anything else has no known ceiling: a "percent" that reaches 270 %
    counts cores. A ratio or percent of one core that never exceeds it is taken for a share.
    """
    name = metric.lower()
    words = set(name_tokens(metric))
    if ("ratio" in name or words & SHARE_WORDS) and top <= JITTER:
        return 1.0
    if ("percent" in name or "pct" in words or words & SHARE_WORDS) and top <= 100.0 * JITTER:
        return 100.0
    return None
