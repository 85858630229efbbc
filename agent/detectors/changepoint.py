"""Onset of a sustained deviation: calibrated z against a baseline, k-of-m persistence, CUSUM start.

A point is *beyond* when its robust z-score (median/MAD of the baseline, see ``calibration``) exceeds
``z_threshold`` and the baseline's own excursion the bad way (a series whose normal days stray far
must stray further). The *alarm* is the first beyond point that starts a run of at least ``k`` beyond points
among ``m`` consecutive ones, so one- or two-point spikes and a blip in the last points never alarm.
The *onset* is the start of the CUSUM excursion (drift half the alarm level, each point counted at most at the
alarm level) that leads to the alarm: for a step it is the step, for a ramp it is where the ramp left the noise,
earlier than the alarm. Of several sustained deviations that each came back, the last is judged
(``latest_episode``).
The noise scale is floored at ``rel_floor`` x |baseline median| and at a share of the series'
magnitude, so flat baselines do not turn tiny changes into huge z-scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from agent.detectors.calibration import MIN_REFERENCE, RESOLUTION_EPS, SHORT_REFERENCE, calibrate
from agent.detectors.direction import bad_signs
from agent.detectors.robust import relative_change


@dataclass(frozen=True)
class Onset:
    """Where and how strongly a series left its baseline."""

    index: int  # onset (CUSUM start), into the evaluated values
    alarm_index: int  # first point confirmed by k-of-m persistence
    sign: int  # +1 up, -1 down
    baseline_median: float
    baseline_scale: float
    post_median: float  # median over the excursion: onset to the end of its run beyond half the threshold
    z: float  # robust z of post_median (signed)
    rel_change: float  # relative change of post_median vs baseline median (signed, may be inf)
    persistence: float  # share of points from the alarm on still beyond half the threshold
    excess: float = 0.0  # |z| of post_median over the baseline's own excursion (1 = as far as normal ever goes)
    alarm_z: float = 0.0  # the alarm level used (robust z); its half ends the excursion's run


PERSIST_S = 180.0  # a deviation holds about three minutes before it counts as sustained
STEP_SLACK = 1.1  # a measured interval this much over a span still fits it: scrapes run seconds early or late


def persistence_points(step: float) -> tuple[int, int]:
    """``(k, m)`` for ``persistent_alarm`` at sampling interval ``step`` seconds: three samples of four
    at one-minute sampling or finer; two of three when three samples would span more than ``PERSIST_S``
    (a five-minute series holds only a point or two of a fault when its alert fires). ``step`` is a median gap: a
    one-minute series whose scrapes are a few seconds early or late measures 60.5 s, still one minute
    (``STEP_SLACK``), not a coarser series held to two samples."""
    k = 3 if 3 * step <= PERSIST_S * STEP_SLACK else 2
    return k, k + 1


def persistent_alarm(beyond: np.ndarray, k: int, m: int) -> int | None:
    """First index ``i`` with ``beyond[i]`` and at least ``k`` beyond among ``beyond[i:i+m]``.

    Near the end fewer than ``m`` points remain; the run must still hold ``k`` beyond points, so an
    excursion in the last ``k - 1`` points never alarms.
    """
    n = beyond.size
    for i in np.flatnonzero(beyond):
        if int(beyond[i : min(n, i + m)].sum()) >= k:
            return int(i)
    return None


def excursion_start(gains: np.ndarray, cost: float) -> int:
    """Where the one-sided CUSUM ``S = max(0, S + gain - cost)`` of ``gains`` last left zero: the index after the
    last point at which it stood at zero (``gains.size`` when it ends there)."""
    s, start = 0.0, 0
    for i, gain in enumerate(gains.tolist()):
        s = max(0.0, s + gain - cost)
        if s == 0.0:
            start = i + 1
    return start


def cusum_start(z: np.ndarray, alarm: int, drift: float) -> int:
    """Start of the one-sided CUSUM excursion (``S = max(0, S + min(z, 2 drift) - drift)``) that contains ``alarm``.
    Each point counts at most at twice the drift (the alarm level, as a Huber CUSUM caps it): one far spike would
    otherwise keep ``S`` up for many minutes and date a later onset back to it."""
    capped = np.minimum(np.asarray(z[:alarm + 1], dtype=float), 2.0 * drift)
    return min(excursion_start(capped, drift), alarm)


def run_end(flags: np.ndarray, start: int, max_gap: int = 1) -> int:
    """Last index of the run of true ``flags`` from ``start`` on, bridging gaps of up to ``max_gap``."""
    end, gap = start, 0
    for i in range(start + 1, flags.size):
        if flags[i]:
            end, gap = i, 0
        else:
            gap += 1
            if gap > max_gap:
                break
    return end


class Episode(NamedTuple):
    """One sustained deviation in a series of robust z-scores (indices into it)."""

    first: int  # where its excursion may begin: after the earlier episode's end, else 0
    alarm: int  # its first point confirmed by k-of-m persistence
    end: int  # the last point of its run beyond half the alarm level (single-point gaps bridged)


def latest_episode(z: np.ndarray, threshold: float, k: int, m: int) -> Episode | None:
    """The last sustained deviation in ``z``: its alarm as ``persistent_alarm`` finds it, after every earlier one
    ended by coming back (its run back within half ``threshold``, as ``run_end`` ends an excursion's run, with
    nothing beyond ``threshold`` the other way before the next). An earlier episode that came back is another
    incident (alerts come in bursts), and the one in progress is what an alert is about; one that ended by falling
    through its baseline (a memory leak's restart) is the same one going on. None without any deviation."""
    beyond, held = z >= threshold, z >= threshold / 2.0
    alarm = persistent_alarm(beyond, k, m)
    if alarm is None:
        return None
    episode = Episode(0, alarm, run_end(held, alarm))
    while episode.end + 1 < z.size:
        after = episode.end + 1
        later = persistent_alarm(beyond[after:], k, m)
        if later is None or (z[after : after + later] <= -threshold).any():
            break
        episode = Episode(after, after + later, run_end(held, after + later))
    return episode


def silent_points(values: np.ndarray, baseline: np.ndarray) -> np.ndarray | None:
    """Where ``values`` went silent (at zero, up to rounding), when a zero means that: the series is never negative
    and its baseline (of ``SHORT_REFERENCE`` points or more) never touched zero. A rate of requests that stops is
    then a deviation however noisy the rate was (a single zero may lie within its noise). None otherwise."""
    if baseline.size < SHORT_REFERENCE:
        return None
    rounding = RESOLUTION_EPS * float(np.max(np.abs(baseline)))
    if (baseline <= rounding).any() or (values < -rounding).any():
        return None
    return values <= rounding


def locate_onset(
    values: np.ndarray,
    baseline: np.ndarray,
    *,
    direction: str = "both",
    z_threshold: float = 4.0,
    k: int = 3,
    m: int = 4,
    rel_floor: float = 0.01,
    min_baseline: int = MIN_REFERENCE,
    set_aside_episodes: bool = False,
    missed: np.ndarray | None = None,
) -> Onset | None:
    """The earliest sustained deviation of ``values`` from ``baseline`` the bad way, or ``None``. ``missed``: the
    scrapes missing before each baseline point (``calibration.past_episodes``)."""
    if baseline.size < min_baseline or values.size < k:
        return None
    reference = calibrate(baseline, values, rel_floor=rel_floor, set_aside_episodes=set_aside_episodes,
                          missed=missed)
    if reference is None:
        return None
    best: Onset | None = None
    for sign in bad_signs(direction):
        calibration = reference.toward("up" if sign > 0 else "down")  # one centre and spread, two excursions
        center, scale = calibration.center, calibration.scale
        z = calibration.z(values)
        threshold = max(z_threshold, calibration.excursion)
        if sign < 0 and (silent := silent_points(values, baseline)) is not None:
            z = np.where(silent, np.maximum(z, threshold), z)
        episode = latest_episode(z, threshold, k, m)
        if episode is None:
            continue
        first, alarm, end = episode
        start = first + cusum_start(z[first:], alarm - first, drift=threshold / 2.0)
        post = float(np.median(values[start : end + 1]))
        candidate = Onset(
            index=start,
            alarm_index=alarm,
            sign=sign,
            baseline_median=center,
            baseline_scale=scale,
            post_median=post,
            z=(post - center) / scale,
            rel_change=relative_change(post, center),
            persistence=float(np.mean(z[alarm:] >= threshold / 2.0)),
            alarm_z=threshold,
            excess=abs(post - center) / scale / calibration.excursion,
        )
        if best is None or (candidate.alarm_index, -abs(candidate.z)) < (best.alarm_index, -abs(best.z)):
            best = candidate
    return best
