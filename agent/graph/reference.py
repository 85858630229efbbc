"""Where an investigation's window splits into the reference and the part judged against it."""

from __future__ import annotations

import math

from agent.detectors.calibration import MIN_REFERENCE
from agent.events import Pattern
from agent.series import DEFAULT_STEP_S

RECENT_REFERENCE_GAP_S = 600.0  # RCA reference ends this long before the alert: the most recent normal data
RECENT_REFERENCE_GAP_SAMPLES = 3  # ... and never fewer samples before it than this (coarse sampling)


def reference_split(pattern: Pattern, start: float, end: float, anchor: float, reference_end: float | None = None,
                    step: float = DEFAULT_STEP_S) -> float:
    """Where the reference part of the window ends: the change for releases, the start of the inspected
    window for inspections with a reference before it (else mid-way), else shortly before the anchor
    (``RECENT_REFERENCE_GAP_S``, or ``RECENT_REFERENCE_GAP_SAMPLES`` samples of ``step`` seconds if longer), or
    mid-way between the data's start and the anchor if that is later; but never so early that the reference holds
    fewer than ``MIN_REFERENCE`` samples when the data before the anchor has them (data that begins minutes before
    the alert: the least reference that can be judged, rather than none)."""
    if pattern == Pattern.RELEASE_INTERCEPTION:
        return anchor
    if pattern == Pattern.INSPECTION:
        if reference_end is not None and reference_end > start:
            return reference_end
        return start + 0.5 * (end - start)  # no data before the window: its first half is the reference
    gap = max(RECENT_REFERENCE_GAP_S, RECENT_REFERENCE_GAP_SAMPLES * step)
    split = between_samples(max(start + 0.5 * (anchor - start), anchor - gap), start, step)
    if start + (MIN_REFERENCE - 1) * step >= anchor:  # fewer samples than that before the anchor: no floor
        return split
    return max(split, min(start + (MIN_REFERENCE - 0.5) * step, anchor))  # just past the MIN_REFERENCE-th sample


def between_samples(split: float, start: float, step: float) -> float:
    """``split`` moved to the middle between the samples of the grid ``start + k * step`` before and at or after it
    (which side each sample is on is unchanged): a reference that ends on a sample's time, or a second from it,
    would take or leave that sample by a scrape a few seconds early or late."""
    if step <= 0 or split <= start:
        return split
    return start + (math.ceil((split - start) / step) - 0.5) * step
