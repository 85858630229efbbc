"""Level shift: the inspected window's typical level beyond every level the reference held as long.

The point deviation (``deviation``) asks whether one reading lies beyond the reference's own
excursion. A series that bursts now and then (a minute of 100x traffic) has a wide excursion, so a
level shift to 5x that lasts hours never counts as a point: each reading is far below the bursts.
What is unusual there is not a reading but the level held for the whole window. This detector
judges that with a scan statistic, the same statistic on both sides:

- the window's level is the median of its robust z (calibrated as in ``calibration``: centre and
  spread of the reference);
- the reference's own level excursion is the most extreme median of any run of as many
  consecutive reference points (a rolling median), never below ``MIN_EXCURSION`` robust sigmas of *noise*:
  the spread of a smooth daily cycle is no noise, so when the reference's spread (MAD) is mostly its cycle,
  the floor shrinks by the share of it that point-to-point noise explains (``diff_noise``), to no less than
  one robust sigma (``level_floor``); for white noise, and for a flat series whose spread is the floor of
  the calibration, it stays ``MIN_EXCURSION``;
- a Finding when the window's level lies strictly beyond it (``excess > 1``: a tie, common with
  small counts, is a level the reference already held) **and** the window's points are
  significantly beyond the points of that most extreme stretch (one-sided Mann-Whitney,
  ``p < alpha``): a window one noise draw above a plateau the reference held every day is no shift.
  Score: ``saturate(excess) x p_confidence(p, alpha)``, as the canary scores.

A normal daily peak is no shift when the reference covers earlier days: the same hours held the
same level then. Short bursts do not move a median, so they neither raise the reference's
excursion nor count in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from agent.detectors.calibration import MIN_EXCURSION, Calibration, calibrate
from agent.detectors.comparison import MIN_SAMPLES, mann_whitney
from agent.detectors.direction import bad_signs, check_direction
from agent.detectors.emit import make_finding
from agent.detectors.robust import MAD_TO_SIGMA, diff_noise
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_of, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "level"
MIN_POINTS = MIN_SAMPLES  # the two-sample test needs this many points a side
ALPHA = 0.01


@dataclass(frozen=True)
class Level:
    """The window's level against the reference's most extreme stretch, one bad way (``sign``)."""

    sign: float  # +1 up, -1 down
    level: float  # median robust z of the window, the bad way
    excursion: float  # the most extreme rolling median of the reference, the bad way (>= MIN_EXCURSION)
    p_value: float  # one-sided Mann-Whitney: window points vs the points of that stretch

    @property
    def excess(self) -> float:
        return self.level / self.excursion


def level_excess(reference: np.ndarray, current: np.ndarray, sign: float, calibration: Calibration) -> Level:
    """The window's level and the reference's level excursion in robust z the ``sign`` way.

    The reference must hold at least as many points as the window.
    """
    toward = calibration.toward("up" if sign > 0 else "down")
    z_ref, z_now = toward.z(reference), toward.z(current)
    rolling = np.median(sliding_window_view(z_ref, current.size), axis=1)
    top = int(np.argmax(rolling))
    p_value, _ = mann_whitney(z_now, z_ref[top : top + current.size], "greater")
    return Level(sign, float(np.median(z_now)), max(float(rolling[top]), level_floor(reference, calibration)),
                 p_value)


def level_floor(reference: np.ndarray, calibration: Calibration) -> float:
    """The least level excursion, in robust sigmas: ``MIN_EXCURSION`` x the share of the reference's spread
    that is point-to-point noise (``diff_noise`` over the MAD spread), between ``1 / MIN_EXCURSION`` and 1.
    A spread set by the calibration's floor (a flat series) counts as all noise."""
    spread = MAD_TO_SIGMA * float(np.median(np.abs(reference - np.median(reference))))
    if spread < calibration.scale * (1.0 - 1e-9):  # the calibration floored it: no spread of its own
        return MIN_EXCURSION
    share = diff_noise(reference) / spread
    return MIN_EXCURSION * min(1.0, max(share, 1.0 / MIN_EXCURSION))


def detect_level_shift(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    alpha: float = ALPHA, signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per series whose level over ``[baseline_end, end)`` lies beyond every level
    the reference ``[start, baseline_end)`` held over as many consecutive points."""
    direction = check_direction(direction)
    findings = []
    for s in series:
        base, now = s.between(start, baseline_end), s.between(baseline_end, end)
        judged = strongest_level(base.values, now.values, direction, alpha)
        if judged is not None:
            findings.append(_finding(s, now, *judged, alpha, (baseline_end, end), signal, source))
    return findings


def strongest_level(reference: np.ndarray, current: np.ndarray, direction: str, alpha: float,
                    magnitude: float | None = None) -> tuple[Calibration, Level] | None:
    """The calibration and the bad way's ``Level`` of a window beyond its reference (``excess > 1``, ``p < alpha``);
    None when it is not, or when there is too little to judge (fewer than ``MIN_POINTS`` in the window, a
    reference shorter than twice it, no calibration). ``magnitude``: see ``calibration.calibrate``."""
    if current.size < MIN_POINTS or reference.size < 2 * current.size:
        return None
    calibration = calibrate(reference, current, direction, magnitude=magnitude)
    if calibration is None:
        return None
    best = max((level_excess(reference, current, sign, calibration) for sign in bad_signs(direction)),
               key=lambda found: found.excess)
    return (calibration, best) if best.excess > 1.0 and best.p_value < alpha else None


def _finding(s: Series, now: Series, calibration: Calibration, found: Level, alpha: float,
             window: tuple[float, float], signal: str | None, source: str) -> Finding:
    """The Finding for one shifted series; onset is the first window point beyond the reference's level from where
    the window holds it (:func:`held_from`)."""
    z_now = calibration.toward("up" if found.sign > 0 else "down").z(now.values)
    onset = float(now.timestamps[first_held(z_now > found.excursion)])
    median = float(np.median(now.values))
    summary = (f"{subject_of(s)} {s.metric} held {fmt_of(s, median)} over the window vs "
               f"{fmt_of(s, calibration.center)} baseline, {found.excess:.1f}x beyond any level the "
               f"reference held as long (from {fmt_time(onset)})")
    return level_finding(s, found, alpha, window, onset, detector=DETECTOR, signal=signal, source=source,
                         summary=summary, numbers={"baseline_median": calibration.center,
                                                   "baseline_scale": calibration.scale, "post_median": median})


def held_from(beyond: np.ndarray) -> int:
    """Where a window whose points are ``beyond`` the reference's level or not turns to holding it: the split of the
    binary segmentation of a proportion, the one maximising (share beyond after it - share before it) x
    sqrt(i (n - i) / n). A count that touched the level now and then before a step (a failure or two on a series
    that is 0 most minutes) is no onset; a window beyond from its start (no split raises the share) splits at 0."""
    n, i = beyond.size, np.arange(beyond.size)
    after = np.cumsum(beyond[::-1])[::-1] / (n - i)  # share beyond from i on
    before = np.concatenate([[0.0], np.cumsum(beyond)[:-1] / i[1:]])  # share before i (none before 0)
    return int(np.argmax((after - before) * np.sqrt(i * (n - i) / n)))


def first_held(beyond: np.ndarray) -> int:
    """The index of the first point ``beyond`` from where the window holds it (:func:`held_from`)."""
    start = held_from(beyond)
    return start + int(np.argmax(beyond[start:]))


def level_finding(s: Series, found: Level, alpha: float, window: tuple[float, float], onset: float, *,
                  detector: str, signal: str | None, source: str, summary: str,
                  numbers: dict[str, float]) -> Finding:
    """An ``anomaly`` Finding for a window whose level lies beyond its reference's (``found``): the score,
    direction and level numbers every level detector (this one, the daily shift) reports alike."""
    return make_finding(
        FindingKind.ANOMALY, detector=detector, subject=subject_of(s), service=s.service, window=window,
        score=combine(saturate(found.excess), p_confidence(found.p_value, alpha)), metric=s.metric,
        signal=signal, direction="up" if found.sign > 0 else "down", onset=onset, source=source, summary=summary,
        numbers={**numbers, "robust_z": found.sign * found.level, "excess": found.excess,
                 "excursion": found.excursion, "p_value": found.p_value},
    )
