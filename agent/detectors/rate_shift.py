"""Rate shift of a sparse count: a few events a sample, judged over the window rather than sample by sample.

A request rate counted one to three requests a sample moves by whole requests: doubling its rate leaves most
samples within one sample's Poisson noise, so the per-sample onset detector (``onset``) never sees it, while the
count summed over the minutes since it rose is far beyond the reference's rate. For a *counting series* (every
value a whole multiple of one unit, a few units a sample on average: ``counting_unit``) this detector compares
the events counted over stretches up to the end of the window (``stretches``) with the reference's rate by the
exact conditional test of two Poisson rates (given the total, the stretch's share is binomial), over-dispersion
measured on the reference (quasi-Poisson), the stretches tested paid for (Bonferroni); the onset is where the rate
left the reference's (``shift_start``). A service's instances are judged by their sum (``service_totals``).

Score as the level shift's: ``saturate(excess) x p_confidence(p, alpha)``, where ``excess`` is the tested stretch's
mean count in standard errors of a mean of its length, over the most any stretch of the reference that long reached
(never below ``MIN_EXCURSION``): 1 means "as far out as the reference's own stretches ever go", as in
``calibration``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import reduce

import numpy as np
from scipy.special import betainc

from agent.detectors.calibration import JITTER, MIN_EXCURSION, SHORT_REFERENCE, resolution, without_episodes
from agent.detectors.changepoint import excursion_start
from agent.detectors.counters import no_count
from agent.detectors.direction import bad_signs
from agent.detectors.emit import make_finding
from agent.detectors.robust import relative_change
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_change, fmt_of, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "rate_shift"
FEW = 10.0  # a counting series counts at most this many units a sample on average: past it, one sample shows a shift
MIN_RUN = 3  # the shifted stretch holds this many samples at least, as the onset detector's persistence asks
ALPHA = 0.01


@dataclass(frozen=True)
class RateShift:
    """Where a count's rate shifted, from what to what, and how surely."""

    index: int  # where the shift began (``shift_start``), into the evaluated values
    sign: int  # +1 up, -1 down
    before: float  # the reference's mean count a sample
    after: float  # the mean count a sample from where it began
    dispersion: float  # the reference's variance over its mean (1 for Poisson counts, never below)
    z: float  # the tested stretch's mean in standard errors of a mean its length
    excess: float  # z over the reference's own stretches' (at least MIN_EXCURSION)
    p_value: float  # one-sided conditional test, times the stretches tested


def counting_unit(values: np.ndarray, few: float = FEW) -> float | None:
    """The unit ``values`` count in, when they are a count of a few events a sample: none negative, each a whole
    multiple of their smallest step between levels (within ``JITTER``, as a scraper's ``rate()`` extrapolates),
    at most ``few`` units a sample on average. None for any other series."""
    if values.size == 0 or (values < 0).any():
        return None
    unit = resolution(values)
    if unit <= 0.0:
        return None
    counts = values / unit
    whole = np.round(counts)
    if (np.abs(counts - whole) > 2.0 * JITTER * np.maximum(whole, 1.0)).any() or whole.mean() > few:
        return None
    return unit


def _tail(k: float, n: float, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), continuous in k and n (quasi-Poisson counts are scaled)."""
    if k <= 0.0:
        return 1.0
    if k > n:
        return 0.0
    return float(betainc(k, n - k + 1.0, p))


def _excursion(reference: np.ndarray, length: int, mean: float, error: float, sign: int) -> float:
    """How many standard errors the reference's own stretches of ``length`` samples strayed the bad way at most."""
    if reference.size < 2 * length:
        return MIN_EXCURSION
    stretches = np.convolve(reference, np.ones(length) / length, mode="valid")
    return max(MIN_EXCURSION, float(np.max(sign * (stretches - mean))) / error)


def stretches(size: int) -> list[int]:
    """The lengths of the stretches up to the end that are tested: ``MIN_RUN`` samples, doubling, and all ``size``
    (a shift shows over about as long as it lasted; each length tested is paid for)."""
    lengths = [MIN_RUN]
    while 2 * lengths[-1] < size:
        lengths.append(2 * lengths[-1])
    return [n for n in lengths if n < size] + [size] if size >= MIN_RUN else []


def shift_start(values: np.ndarray, rate: float, shifted: float) -> int:
    """Where the rate left ``rate`` for ``shifted``: the start of the Poisson CUSUM excursion (Page's, each sample
    adding its log-likelihood ratio ``x log(shifted / rate) - (shifted - rate)``) that runs to the end, as the onset
    detector dates its onset (``changepoint.excursion_start``); at least ``MIN_RUN`` samples before the end."""
    ratio = math.log(max(shifted, 1e-3) / rate)
    return min(excursion_start(np.asarray(values, dtype=float) * ratio, shifted - rate), values.size - MIN_RUN)


def locate_rate_shift(values: np.ndarray, reference: np.ndarray, *, direction: str = "both",
                      set_aside_episodes: bool = False) -> RateShift | None:
    """The most significant shift of the counts ``values`` (in units) from the ``reference`` counts' rate over a
    stretch up to their end (``stretches``), the bad way; None without ``SHORT_REFERENCE`` reference samples."""
    if set_aside_episodes and reference.size:
        reference = without_episodes(reference, float(np.max(np.concatenate([reference, values]))))
    lengths = stretches(values.size)
    if reference.size < SHORT_REFERENCE or not lengths:
        return None
    mean = float(reference.mean())
    rate = max(mean, 1.0 / reference.size)  # no event in the reference: at most about one in its length
    dispersion = max(1.0, float(reference.var(ddof=1)) / rate)
    best: RateShift | None = None
    for sign in bad_signs(direction):
        for length in lengths:
            after = values[-length:]
            share = length / (length + reference.size)
            k, total = float(after.sum()) / dispersion, float(after.sum() + reference.sum()) / dispersion
            p = _tail(k, total, share) if sign > 0 else _tail(total - k, total, 1.0 - share)
            error = math.sqrt(dispersion * rate / length)
            z = sign * (float(after.mean()) - mean) / error
            if z <= 0.0:
                continue
            excess = z / _excursion(reference, length, mean, error, sign)
            candidate = RateShift(values.size - length, sign, mean, float(after.mean()), dispersion, z, excess,
                                  min(1.0, p * len(lengths)))
            if best is None or (candidate.p_value, -excess) < (best.p_value, -best.excess):
                best = candidate
    if best is None:
        return None
    start = shift_start(values, rate, best.after)
    return replace(best, index=start, after=float(values[start:].mean()))


def service_totals(series: Sequence[Series], start: float, end: float) -> list[tuple[Series, float]]:
    """Per service and metric, its instances' counts summed on the samples all of them hold, with their unit, when it
    has two or more instances' counting series (one unit) and no series of its own in ``[start, end)``: the
    service's traffic. A shift spread over four pods at a request a sample each shows in their sum long before it
    shows in any one, and the sum dates it closer than the earliest of the pods' noisy onsets."""
    groups: dict[tuple[str, str], list[Series]] = {}
    for s in series:
        if s.service:
            groups.setdefault((s.service, s.metric), []).append(s)
    totals = []
    for (service, metric), members in sorted(groups.items()):
        inside = [s.between(start, end) for s in members]
        if any(subject_of(s) == service and len(w) for s, w in zip(members, inside, strict=True)) or len(members) < 2:
            continue
        units = [counting_unit(w.values) for w in inside]
        if None in units or max(units) > (1.0 + JITTER) * min(units):
            continue
        common = reduce(np.intersect1d, (w.timestamps for w in inside))
        counts = sum(np.round(s.values[np.searchsorted(s.timestamps, common)] / u)  # one sample a time, repeats or not
                     for s, u in zip(members, units, strict=True))
        totals.append((Series(metric, {"service": service}, common, counts * min(units), members[0].per_second),
                       min(units)))
    return totals


def counts_judged(series: Sequence[Series], start: float, end: float,
                  found: Collection[tuple[str, str | None]] = ()) -> list[tuple[Series, float]]:
    """The counts judged, with their units: each service's ``service_totals`` in place of its instances' series of
    that metric, and every other counting series (``counting_unit``) that ``found`` (subject and metric) does not
    name; none that a name says is a share or a wait (``no_count``)."""
    totals = [(t, u) for t, u in service_totals(series, start, end) if not no_count(t.metric)]
    summed = {(t.service, t.metric) for t, _ in totals}
    single = [(s, counting_unit(s.between(start, end).values)) for s in series
              if (s.service, s.metric) not in summed and (subject_of(s), s.metric) not in found
              and not no_count(s.metric)]
    return [(s, u) for s, u in single if u is not None] + totals


def detect_rate_shift(
    series: Sequence[Series], *, start: float, end: float, baseline_end: float, direction: str = "both",
    alpha: float = ALPHA, set_aside_episodes: bool = False, found: Collection[tuple[str, str | None]] = (),
    signal: str | None = None, source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per count judged (``counts_judged``; ``found``: the subjects and metrics another
    detector already reported) whose rate over a stretch up to ``end`` shifted from its reference's
    (``[start, baseline_end)``) beyond what the reference's own stretches reached (excess above 1) and by the exact
    test (``p < alpha``)."""
    findings: list[Finding] = []
    for s, unit in counts_judged(series, start, end, found):
        base, now = s.between(start, baseline_end), s.between(baseline_end, end)
        shift = locate_rate_shift(np.round(now.values / unit), np.round(base.values / unit), direction=direction,
                                  set_aside_episodes=set_aside_episodes)
        if shift is None or shift.excess <= 1.0 or shift.p_value >= alpha:
            continue
        onset = float(now.timestamps[shift.index])
        before, after = shift.before * unit, shift.after * unit
        who = subject_of(s)
        findings.append(make_finding(
            FindingKind.ANOMALY, detector=DETECTOR, subject=who, service=s.service, window=(baseline_end, end),
            score=combine(saturate(shift.excess), p_confidence(shift.p_value, alpha)),
            summary=(f"{who} {s.metric} {fmt_of(s, after)} vs {fmt_of(s, before)} baseline "
                     f"({fmt_change(relative_change(after, before))}, {shift.after:.2g} vs {shift.before:.2g} "
                     f"counted a sample over {now.values.size - shift.index} samples, p {shift.p_value:.1g}), "
                     f"onset {fmt_time(onset)}"),
            numbers={"baseline_median": before, "baseline_scale": math.sqrt(shift.dispersion * max(shift.before, 1.0))
                     * unit, "post_median": after, "unit": unit, "dispersion": shift.dispersion,
                     "robust_z": shift.z, "excess": shift.excess, "excursion": MIN_EXCURSION,
                     "p_value": shift.p_value, "onset": onset},
            metric=s.metric, signal=signal, direction="up" if shift.sign > 0 else "down", onset=onset, source=source,
        ))
    return findings
