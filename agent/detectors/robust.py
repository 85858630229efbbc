"""Robust statistics shared by the detectors: first-difference noise, safe relative change."""

from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 1.4826  # MAD of a normal sample times this estimates its standard deviation
TINY = 1e-12


def diff_noise(values: np.ndarray) -> float:
    """Noise of a series from its first differences (level shifts and trends barely move it)."""
    if values.size < 3:
        return 0.0
    diffs = np.diff(values)
    return MAD_TO_SIGMA * float(np.median(np.abs(diffs - np.median(diffs)))) / np.sqrt(2.0)


def relative_change(new: float, old: float) -> float:
    """``(new - old) / |old|``; a change from zero counts as +-inf."""
    if abs(old) < TINY:
        return 0.0 if abs(new) < TINY else float(np.sign(new)) * np.inf
    return (new - old) / abs(old)


def finite(value: float, cap: float = 1e6) -> float:
    """Clip +-inf/NaN to a finite number so it can live in ``Finding.numbers``."""
    if np.isnan(value):
        return 0.0
    return float(np.clip(value, -cap, cap))
