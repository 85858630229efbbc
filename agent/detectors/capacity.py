"""The ceiling of a usage share: a ratio tops out at 1, a percentage at 100."""

from __future__ import annotations


def capacity_limit(metric: str, top: float) -> float | None:
    """The ceiling a usage series named ``metric`` cannot exceed (``top``: its largest value), or None.

    A name with ``ratio`` whose values stay within 1 is a share of 1; one with ``percent`` (or ending
    ``_pct``) whose values stay within 100 is a share of 100. Anything else has no known ceiling.
    """
    name = metric.lower()
    if "ratio" in name and top <= 1.0:
        return 1.0
    if ("percent" in name or name.endswith("_pct")) and top <= 100.0:
        return 100.0
    return None
