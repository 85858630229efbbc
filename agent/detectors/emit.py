"""Build Findings with the fields every detector fills the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping

from agent.findings import Finding, FindingKind

EXACT_ABOVE = 1e6  # epoch timestamps and large counts keep every unit: 6 significant digits would move them


def tidy(value: float) -> float:
    """6 significant digits for measurements; large values (timestamps, byte counts) to 3 decimals."""
    if abs(value) >= EXACT_ABOVE:
        return round(value, 3)
    return float(f"{value:.6g}")


def make_finding(
    kind: FindingKind,
    *,
    detector: str,
    subject: str,
    service: str | None,
    window: tuple[float, float],
    score: float,
    summary: str,
    numbers: Mapping[str, float],
    metric: str | None = None,
    signal: str | None = None,
    direction: str | None = None,
    onset: float | None = None,
    source: str = "",
) -> Finding:
    """A Finding with ``id`` left empty (analyze numbers them); numbers kept finite and tidy (see ``tidy``)."""
    clean = {k: tidy(float(v)) for k, v in numbers.items() if v is not None and math.isfinite(float(v))}
    return Finding(
        kind=kind,
        subject=subject,
        service=service,
        signal=signal,
        metric=metric,
        window_start=float(window[0]),
        window_end=float(window[1]),
        onset=onset,
        score=score,
        direction=direction,
        numbers=clean,
        summary=summary,
        source=source,
        detector=detector,
    )
