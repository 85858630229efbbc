"""Against history: now vs the same window a day / a week earlier, so daily and weekly cycles are no anomaly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.detectors.comparison import mann_whitney
from agent.detectors.direction import bad_signs, mwu_alternative
from agent.detectors.emit import make_finding
from agent.detectors.persistence import sustained
from agent.detectors.robust import diff_noise, finite, relative_change
from agent.detectors.scoring import combine, p_confidence, saturate
from agent.detectors.wording import fmt_change, fmt_of, fmt_offset, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series

DETECTOR = "history"
MIN_POINTS = 5


@dataclass(frozen=True)
class _Params:
    start: float
    end: float
    offsets: Sequence[float]
    min_effect: float
    noise_z: float
    last_n: int
    min_fraction: float
    ignore_last: int
    alpha: float


@dataclass(frozen=True)
class _Offset:
    offset: float
    bad: np.ndarray  # per current point: worse than history by min_effect and beyond noise
    reference: np.ndarray  # history aligned to the current timestamps


def detect_history(
    series: Sequence[Series],
    *,
    start: float,
    end: float,
    offsets: Sequence[float] = (86400.0, 604800.0),
    direction: str = "up",
    min_effect: float = 0.2,
    noise_z: float = 3.0,
    last_n: int = 10,
    min_fraction: float = 0.7,
    ignore_last: int = 1,
    alpha: float = 0.05,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``history_deviation`` Finding per series unlike the same window ``offsets`` seconds earlier.

    The series must hold those earlier samples. For each offset with data, history is aligned to the
    current timestamps; a point is worse when it differs from history the bad way by at least
    ``min_effect`` (relative) and ``noise_z`` x the history's noise (from first differences). It
    must hold against EVERY offset with data, for ``min_fraction`` of the last ``last_n`` points
    (newest ``ignore_last`` left out), and Mann-Whitney on those points vs history below ``alpha``.
    Score: saturate(smallest median relative deviation / min_effect) x p-value confidence.
    """
    params = _Params(start, end, tuple(offsets), min_effect, noise_z, last_n, min_fraction, ignore_last, alpha)
    findings: list[Finding] = []
    for s in series:
        now = s.between(start, end)
        if len(now) < MIN_POINTS:
            continue
        for sign in bad_signs(direction):
            finding = _judge(s, now, sign, params)
            if finding is not None:
                findings.append(finding.model_copy(update={"signal": signal, "source": source}))
                break
    return findings


def _judge(s: Series, now: Series, sign: int, p: _Params) -> Finding | None:
    """The Finding for one series and one bad sign, or None."""
    compared = [c for off in p.offsets if (c := _against(s, now, off, sign, p.min_effect, p.noise_z)) is not None]
    if not compared:
        return None
    worse_than_all = np.logical_and.reduce([c.bad for c in compared])
    held = sustained(worse_than_all, last_n=p.last_n, min_fraction=p.min_fraction, ignore_last=p.ignore_last)
    if not held.held:
        return None
    stop = now.values.size - p.ignore_last
    recent = slice(max(0, stop - p.last_n), stop)
    current = float(np.median(now.values[recent]))
    alternative = mwu_alternative("up" if sign > 0 else "down")
    numbers: dict[str, float] = {"current_median": current, "worse_fraction": held.fraction}
    rels, p_values = [], []
    for c in compared:
        ref = float(np.median(c.reference[recent]))
        rel = relative_change(current, ref)
        rels.append(abs(rel))
        p_values.append(mann_whitney(now.values[recent], c.reference[recent], alternative)[0])
        tag = fmt_offset(c.offset)
        numbers[f"history_{tag}_median"] = ref
        numbers[f"rel_change_{tag}"] = finite(rel)
    p_value = max(p_values)
    confidence = p_confidence(p_value, p.alpha)
    if confidence == 0.0:
        return None
    numbers["p_value"] = p_value
    weakest = int(np.argmin(rels))
    onset = float(now.timestamps[held.run_start]) if held.run_start is not None else None
    ref_text = ", ".join(
        f"{fmt_of(s, numbers[f'history_{fmt_offset(c.offset)}_median'])} {fmt_offset(c.offset)} ago"
        for c in compared
    )
    who = subject_of(s)
    summary = (
        f"{who} {s.metric} {fmt_of(s, current)} vs {ref_text} "
        f"({fmt_change(sign * rels[weakest])} at least), since {fmt_time(onset)}"
    )
    return make_finding(
        FindingKind.HISTORY_DEVIATION, detector=DETECTOR, subject=who, service=s.service,
        window=(p.start, p.end), score=combine(saturate(rels[weakest] / p.min_effect), confidence),
        summary=summary, numbers=numbers, metric=s.metric, direction="up" if sign > 0 else "down", onset=onset,
    )


def _against(s: Series, now: Series, offset: float, sign: int, min_effect: float, noise_z: float) -> _Offset | None:
    """Compare the current points with the series ``offset`` seconds earlier; None without history."""
    step = float(np.median(np.diff(now.timestamps)))
    past = s.between(float(now.timestamps[0]) - offset - step, float(now.timestamps[-1]) - offset + step + 1e-6)
    if len(past) < MIN_POINTS:
        return None
    shifted = now.timestamps - offset
    covered = (shifted >= past.timestamps[0] - step) & (shifted <= past.timestamps[-1] + step)
    if covered.sum() < MIN_POINTS:
        return None
    reference = np.interp(shifted, past.timestamps, past.values)
    floor = noise_z * np.sqrt(2.0) * diff_noise(past.values)
    delta = sign * (now.values - reference)
    bad = covered & (delta > 0) & (delta >= min_effect * np.abs(reference)) & (delta >= floor)
    return _Offset(offset, bad, reference)
