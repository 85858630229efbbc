"""The ceiling of a usage share: a ratio tops out at 1, a percentage at 100."""

from __future__ import annotations

JITTER = 1.05  # a share computed from rates overshoots its ceiling a little when pegged (101 %)


def capacity_limit(metric: str, top: float) -> float | None:
    """The ceiling a usage series named ``metric`` cannot exceed (``top``: its largest value), or None.

    A name with ``ratio`` whose values stay within 1 is a share of 1; one with ``percent`` (or ending
    ``_pct``) whose values stay within 100 is a share of 100, each up to ``JITTER`` over (a pegged CPU
    share computed from counters reads 101 %). Anything else has no known ceiling: a "percent" that
    reaches 270 % counts cores. A ratio or percent of one core that never exceeds it is taken for a share.
    """
    name = metric.lower()
    if "ratio" in name and top <= JITTER:
        return 1.0
    if ("percent" in name or name.endswith("_pct")) and top <= 100.0 * JITTER:
        return 100.0
    return None
