"""Map detector statistics to comparable 0..1 scores (severity x confidence)."""

from __future__ import annotations

import math


def saturate(ratio: float) -> float:
    """0 at 0, 0.5 when a statistic is exactly at its threshold (ratio 1), approaching 1 beyond."""
    if math.isnan(ratio) or ratio <= 0:
        return 0.0
    if math.isinf(ratio):
        return 1.0
    return 1.0 - 2.0 ** (-ratio)


def p_confidence(p_value: float, alpha: float) -> float:
    """Confidence from a p-value: 0 at or above ``alpha``, 0.5 just below it, 1 three decades below."""
    if math.isnan(p_value) or p_value >= alpha:
        return 0.0
    decades = math.log10(alpha / max(p_value, 1e-300))
    return min(1.0, 0.5 + decades / 6.0)


def combine(severity: float, confidence: float) -> float:
    """The Finding score: severity x confidence clipped to 0..1, rounded for stable output."""
    return round(min(1.0, max(0.0, severity * confidence)), 4)
