"""Calibrate a deviation against the series' own reference noise, so a score means the same everywhere.

A robust z-score alone does not compare across series: a p99 latency that sits flat and spikes
now and then has a tiny MAD, so every spike is "50 sigmas"; a noisy CPU series never gets there.
Calibration asks instead *how unusual is this for this series*:

1. Centre and spread of the reference window: median and 1.4826 x MAD, floored at
   ``REL_FLOOR`` x the larger of |median| (flat baselines such as 100 % success) and the series'
   largest |value| (a counter that sat at 0 and now moves is a change, not infinity). A reference of
   fewer than ``SHORT_REFERENCE`` points (data that begins minutes before the alert) has a MAD that
   is mostly luck: its spread is at least its range, and nothing in it is set aside as an episode.
   A short reference before an alert may hold an earlier incident (alerts come in bursts); when
   asked to (``set_aside_episodes``), the level is first taken from the densest half of the
   reference (the *shorth*, Rousseeuw's least-median-of-squares location), the spread from the
   closest quarter of the points around it, runs of ``EPISODE_RUN`` or more points beyond
   ``MIN_EXCURSION`` such spreads are set aside as past episodes, and the median and MAD are
   taken over the rest. Isolated spikes stay: they are how this series is noisy.
2. The reference's own excursion: the ``REFERENCE_QUANTILE`` quantile of the reference's robust z
   the bad way, never below ``MIN_EXCURSION``. A series whose reference already strays 20 sigmas
   needs 20 sigmas to count; a quiet one needs ``MIN_EXCURSION``.
3. ``excess = z / excursion``: 1 means "as far out as the reference itself ever goes"; scores are
   ``saturate(excess)``, 0.5 there and 0.75 at twice it, on a quiet 9-service simulator and on a
   noisy 40-service cluster alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from agent.detectors.direction import check_direction
from agent.detectors.robust import MAD_TO_SIGMA, TINY
from agent.series import Series, missed_scrapes

REFERENCE_QUANTILE = 0.99  # the reference's own "worst normal" excursion; the top 1 % is its own outliers
TAIL_QUANTILE = 0.9  # with REFERENCE_QUANTILE, how fast the reference's tail thins (``Calibration.tail``)
MIN_TAIL = 0.4  # robust sigmas per e-fold of rarity at least: a normal tail's (a lumpy reference may show none)
MIN_EXCURSION = 3.0  # robust sigmas: nothing closer than this to the centre is unusual, however quiet the series
REL_FLOOR = 0.01  # spread floor relative to |median|: 100 % success that dips to 99 % is 1 sigma, not 1e12
MIN_REFERENCE = 3  # fewer reference points than this: no calibration, no judgement
SHORT_REFERENCE = 5  # fewer points than this: their MAD says little, so the spread is at least their range
EPISODE_RUN = 3  # consecutive points this far out are an episode (an earlier incident), not noise
RESOLUTION_EPS = 1e-6  # steps between distinct values below this share of the series' size are rounding
JITTER = 0.005  # values within this share of each other are one level (a rate extrapolated over a scrape window)
NEAR_QUANTILE = 0.25  # the closest quarter of the reference around its densest level sets the episode test's spread
NEAR_QUANTILE_TO_SIGMA = 0.3186  # a quarter of a normal sample lies within 0.3186 standard deviations of its centre


@dataclass(frozen=True)
class Calibration:
    """A series' reference centre, spread and own excursion in one bad direction."""

    center: float
    scale: float
    excursion: float  # robust z the reference itself reaches the bad way (>= MIN_EXCURSION)
    direction: str
    reference_z: np.ndarray = field(repr=False, compare=False)  # signed robust z of the (cleaned) reference

    def toward(self, direction: str) -> Calibration:
        """The same centre and spread judged another bad way (only the excursion differs)."""
        return Calibration(self.center, self.scale, _excursion(self.reference_z, direction), direction,
                           self.reference_z)

    def z(self, values: np.ndarray) -> np.ndarray:
        """Robust z of ``values`` the bad way (positive = worse); ``both`` takes the absolute value."""
        raw = (np.asarray(values, dtype=float) - self.center) / self.scale
        return _bad_way(raw, self.direction)

    def excess(self, values: np.ndarray) -> np.ndarray:
        """How many times the reference's own excursion each value lies out (the bad way)."""
        return self.z(values) / self.excursion

    def tail(self) -> float:
        """How much farther out, in robust sigmas, each e-fold rarer value of the reference lies beyond its
        90th percentile (an exponential tail through its 90th and 99th percentiles; at least ``MIN_TAIL``)."""
        bad = _bad_way(self.reference_z, self.direction)
        spread = quantile(bad, REFERENCE_QUANTILE) - quantile(bad, TAIL_QUANTILE)
        return max(spread / math.log(10.0), MIN_TAIL)


def _bad_way(z: np.ndarray, direction: str) -> np.ndarray:
    if direction == "up":
        return z
    if direction == "down":
        return -z
    return np.abs(z)


def _excursion(reference_z: np.ndarray, direction: str) -> float:
    return max(quantile(_bad_way(reference_z, direction), REFERENCE_QUANTILE), MIN_EXCURSION)


def quantile(values: np.ndarray, q: float) -> float:
    """``numpy.quantile`` (linear interpolation) by partial sorting: calibration runs for every series of
    every investigation, and a full quantile call costs ten times more."""
    position = q * (values.size - 1)
    low = int(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    return float(part[low] + (part[high] - part[low]) * (position - low))


def shorth(values: np.ndarray) -> float:
    """Median of the shortest half of ``values``: the level of their densest part (Rousseeuw's LMS location)."""
    ordered = np.sort(values)
    half = ordered.size // 2 + 1
    widths = ordered[half - 1 :] - ordered[: ordered.size - half + 1]
    i = int(np.argmin(widths))
    return quantile(ordered[i : i + half], 0.5)


def levels(values: np.ndarray) -> np.ndarray:
    """The levels ``values`` sit on, ascending: their distinct values, each within ``JITTER`` of the one before it
    taken as that one's level. Real series are rarely exact: a rate of a few requests is extrapolated over its
    scrape window (Prometheus' ``rate()``), a latency quantile interpolated inside a histogram bucket, so one
    level reads 0.13333 and 0.13334."""
    distinct = np.unique(values)
    if distinct.size < 2:
        return distinct
    jitter = JITTER * np.maximum(np.abs(distinct[1:]), np.abs(distinct[:-1]))
    return distinct[np.concatenate(([True], np.diff(distinct) > jitter))]


def resolution(values: np.ndarray, magnitude: float = 0.0) -> float:
    """The smallest step between the ``levels`` of ``values`` (steps below ``RESOLUTION_EPS`` x the larger of
    ``magnitude`` and their largest |value| are rounding): how finely the series is measured. A rate of a few
    requests a minute moves in whole requests (1/15 a second over 15 s windows)."""
    steps = np.diff(levels(values))
    steps = steps[steps > RESOLUTION_EPS * max(magnitude, float(np.max(np.abs(values))))]
    return float(steps.min()) if steps.size else 0.0


def past_episodes(reference: np.ndarray, magnitude: float, rel_floor: float,
                  missed: np.ndarray | None = None) -> np.ndarray:
    """Mask of reference points inside runs of ``EPISODE_RUN`` or more points far from its densest part.

    ``missed``: how many scrapes are missing just before each point (``series.missed_scrapes``; one more entry:
    before the first point after the reference). A run of two or more far points counts the scrapes missed
    within it and at its edges, which may have been far too: a run of missed scrapes that cuts an earlier incident
    short leaves it an incident, not noise that widens the reference.

    The spread for this test comes from the closest quarter of the points around the shorth level
    (``NEAR_QUANTILE``), so an incident filling half the reference cannot widen it; when a quarter of the points sit
    on one level (a count of a few requests; within ``JITTER`` of it) that spread is about 0, and the series'
    ``resolution`` is taken instead: every other count would otherwise be far.
    """
    center = shorth(reference)
    closest = quantile(np.abs(reference - center), NEAR_QUANTILE)
    if closest <= JITTER * abs(center):  # a quarter of the points on one level (a count of a few): its step instead
        near = resolution(reference, magnitude)
    else:
        near = closest / NEAR_QUANTILE_TO_SIGMA
    scale = max(near, rel_floor * max(abs(center), magnitude), TINY)
    far = np.abs(reference - center) / scale > MIN_EXCURSION
    mask = np.zeros(reference.size, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], far.astype(np.int8), [0]))))
    for begin, end in zip(edges[::2], edges[1::2], strict=True):  # runs of far points: [begin, end)
        length = end - begin
        if missed is not None and length > 1:
            length += int(np.sum(missed[begin:end + 1]))
        if length >= EPISODE_RUN:
            mask[begin:end] = True
    return mask


def reference_missed(reference: Series, after: Series, step: float) -> np.ndarray:
    """The scrapes of ``step`` seconds missing before each point of ``reference`` and before the first point of
    ``after`` (none when it is empty): ``past_episodes``' ``missed``."""
    return missed_scrapes(np.r_[reference.timestamps, after.timestamps[:1]], step)


def without_episodes(reference: np.ndarray, magnitude: float, rel_floor: float = REL_FLOOR,
                     missed: np.ndarray | None = None) -> np.ndarray:
    """The reference with its ``past_episodes`` set aside, when ``SHORT_REFERENCE`` points are left (else as it is)."""
    episodes = past_episodes(reference, magnitude, rel_floor, missed)
    return reference[~episodes] if (~episodes).sum() >= SHORT_REFERENCE else reference


def reference_spread(
    reference: np.ndarray, magnitude: float = 0.0, rel_floor: float = REL_FLOOR
) -> tuple[float, float]:
    """Median and floored robust spread of the reference (see the module docstring)."""
    center = quantile(reference, 0.5)
    mad = quantile(np.abs(reference - center), 0.5)
    return center, max(MAD_TO_SIGMA * mad, rel_floor * max(abs(center), magnitude), TINY)


def calibrate(
    reference: np.ndarray, current: np.ndarray, direction: str = "both", rel_floor: float = REL_FLOOR,
    set_aside_episodes: bool = False, magnitude: float | None = None, missed: np.ndarray | None = None,
) -> Calibration | None:
    """The calibration of a series from its reference window; None when the reference is too short.

    ``magnitude``: the size the spread's relative floor is taken of, when the values judged are not the series'
    own (differences from a day before); default the largest |value| of reference and current.

    ``set_aside_episodes``: the reference is the short recent past before an alert, where an earlier
    incident may sit (alerts come in bursts); a long inspection reference keeps its bursts, which are
    how that series normally behaves. ``missed``: the scrapes missing before each reference point
    (``past_episodes``).
    """
    direction = check_direction(direction)
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if reference.size < MIN_REFERENCE or (reference.size < SHORT_REFERENCE and np.ptp(reference) == 0):
        return None  # a few equal points say nothing of how the series varies
    if magnitude is None:
        magnitude = float(np.max(np.abs(np.concatenate([reference, current]))))
    if set_aside_episodes:
        reference = without_episodes(reference, magnitude, rel_floor, missed)
    center, scale = reference_spread(reference, magnitude, rel_floor)
    if reference.size < SHORT_REFERENCE:
        scale = max(scale, float(np.ptp(reference)))
    reference_z = (reference - center) / scale
    return Calibration(center, scale, _excursion(reference_z, direction), direction, reference_z)
