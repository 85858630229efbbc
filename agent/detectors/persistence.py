"""Sustained conditions: a share of the last N points, ignoring spikes and a blip in the last points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sustained:
    """Whether a condition holds over the recent points, and since when."""

    held: bool
    count: int  # points meeting the condition among those considered
    considered: int  # points looked at (the last ``last_n`` before the ignored tail)
    fraction: float
    run_start: int | None  # first index of the trailing run of true points (short gaps allowed)


def sustained(
    condition: np.ndarray,
    *,
    last_n: int = 10,
    min_fraction: float = 0.6,
    ignore_last: int = 1,
    min_count: int = 3,
    max_gap: int = 1,
) -> Sustained:
    """Does ``condition`` hold for at least ``min_fraction`` (and ``min_count``) of the last ``last_n`` points?

    The final ``ignore_last`` points are left out (reporting delay makes the newest point unreliable:
    a blip there must neither raise nor hide an alarm), so a single- or two-point spike never holds.
    """
    flags = np.asarray(condition, dtype=bool)
    end = max(0, flags.size - ignore_last)
    begin = max(0, end - last_n)
    window = flags[begin:end]
    count = int(window.sum())
    considered = int(window.size)
    fraction = count / considered if considered else 0.0
    held = considered > 0 and count >= min_count and fraction >= min_fraction
    return Sustained(held, count, considered, fraction, trailing_run_start(flags[:end], max_gap) if held else None)


def trailing_run_start(flags: np.ndarray, max_gap: int = 1) -> int | None:
    """Start of the last run of true values, bridging gaps of up to ``max_gap`` false values."""
    true_idx = np.flatnonzero(flags)
    if true_idx.size == 0:
        return None
    start = int(true_idx[-1])
    for idx in true_idx[::-1][1:]:
        if start - int(idx) - 1 > max_gap:
            break
        start = int(idx)
    return start
