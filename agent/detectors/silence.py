"""A target that stopped answering: a service none of whose series has a sample since some time while the rest of
the system kept being sampled (Prometheus' ``up == 0``: a pod crashed, hung or was killed)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from agent.detectors.emit import make_finding
from agent.detectors.scoring import saturate
from agent.detectors.wording import fmt_duration, fmt_time
from agent.findings import Finding, FindingKind
from agent.series import Series, sample_step

DETECTOR = "silence"
SILENT_SCRAPES = 3  # scrapes in a row a service must miss: one or two missed are a collector's hiccup
MIN_SAMPLES = 5  # a service seen fewer times than this before it went quiet has no rhythm to miss
KEPT_ON = 1 / 3  # the share of the other services whose sampling went on that dates "the rest of the system"


def detect_silence(by_service: Mapping[str, Sequence[Series]], *, start: float, end: float, judged_from: float,
                   source: str = "") -> list[Finding]:
    """One ``went_silent`` Finding per service whose last sample in ``[start, end)`` lies in the judged part
    (at or after ``judged_from``) and at least ``SILENT_SCRAPES`` of its sampling intervals, and longer than any
    gap it came back from in the window, before the time the rest of the system was last sampled (``system_end``:
    one service's data ending late does not make the others quiet, nor do others silent too hide it). A gap in the
    middle is no silence: the service answered again. Needs another service sampled (else it is the collector's
    gap).

    Score: ``saturate(quiet / usual)``, ``usual`` the larger of ``SILENT_SCRAPES`` intervals and its longest gap
    (0.5 at the threshold); dated by the last sample.
    """
    seen = {service: _times(series, start, end) for service, series in by_service.items()}
    seen = {service: times for service, times in seen.items() if times.size}
    findings: list[Finding] = []
    for service, times in seen.items():
        others = [float(t[-1]) for other, t in seen.items() if other != service]
        last = float(times[-1])
        if not others or times.size < MIN_SAMPLES or last < judged_from:
            continue
        step = sample_step(by_service[service])
        longest = float(np.max(np.diff(times)))
        usual = max(SILENT_SCRAPES * step, longest)
        quiet = system_end(others) - last
        if quiet < usual - step / 2:  # half an interval of slack: scrapes run seconds early or late
            continue
        missed = round(quiet / step)
        went_on = sum(other - last >= usual - step / 2 for other in others)  # not those that went quiet too
        summary = (f"{service}: no sample of any of its {len(by_service[service])} series since {fmt_time(last)}, "
                   f"{fmt_duration(quiet)} ({missed} scrapes) while the other {went_on} service(s) kept "
                   "being sampled: it stopped answering (down, hung or killed)")
        findings.append(make_finding(
            FindingKind.WENT_SILENT, detector=DETECTOR, subject=service, service=service, window=(start, end),
            score=round(saturate(quiet / usual), 4), summary=summary, onset=last, source=source,
            numbers={"last_seen": last, "silent_s": quiet, "missed_scrapes": missed, "step_s": step,
                     "longest_gap_s": longest}))
    return findings


def system_end(others: Sequence[float]) -> float:
    """When the rest of the system was last sampled: the latest time at least ``KEPT_ON`` of the other services
    (at least one) were still sampled. Not their median, which services going silent together pull back (two of
    three silent hid each other); not their latest, which one service's data ending late would set alone."""
    ends = np.sort(np.asarray(others, dtype=float))
    return float(ends[ends.size - math.ceil(ends.size * KEPT_ON)])


def _times(series: Sequence[Series], start: float, end: float) -> np.ndarray:
    """Every time any of ``series`` was sampled in ``[start, end)``, sorted, each once."""
    stamps = [s.timestamps[(s.timestamps >= start) & (s.timestamps < end)] for s in series]
    return np.unique(np.concatenate(stamps)) if stamps else np.empty(0)
