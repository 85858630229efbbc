"""Anomaly onset: when each series left its baseline, by how much, and how surely."""

from __future__ import annotations

from collections.abc import Sequence

from agent.detectors.calibration import reference_missed
from agent.detectors.changepoint import locate_onset, persistence_points
from agent.detectors.direction import check_direction
from agent.detectors.emit import make_finding
from agent.detectors.robust import finite
from agent.detectors.scoring import combine, saturate
from agent.detectors.wording import fmt_change, fmt_of, fmt_time, subject_of
from agent.findings import Finding, FindingKind
from agent.series import Series, sample_step

DETECTOR = "onset"


def detect_onset(
    series: Sequence[Series],
    *,
    start: float,
    end: float,
    baseline_end: float | None = None,
    direction: str = "both",
    z_threshold: float = 4.0,
    k: int | None = None,
    m: int | None = None,
    min_effect: float = 0.1,
    rel_floor: float = 0.01,
    set_aside_episodes: bool = False,
    signal: str | None = None,
    source: str = "",
) -> list[Finding]:
    """One ``anomaly`` Finding per series that deviates persistently after its baseline.

    The baseline is ``[start, baseline_end)`` (default: the first half of the window), evaluated
    points are ``[baseline_end, end)``. See ``changepoint.locate_onset`` for the statistics; a
    deviation also needs ``|relative change| >= min_effect``. Score: severity from the calibrated
    excess (how many times the baseline's own excursion, see ``calibration``), confidence from
    persistence. ``k`` of ``m`` points must be beyond the threshold (``changepoint.persistent_alarm``);
    by default from each series' own sampling interval (``changepoint.persistence_points``).
    """
    check_direction(direction)
    split = baseline_end if baseline_end is not None else start + (end - start) / 2.0
    findings: list[Finding] = []
    for s in series:
        base, now = s.between(start, split), s.between(split, end)
        step = sample_step([s])
        steady, window = persistence_points(step)
        found = locate_onset(
            now.values, base.values, direction=direction, z_threshold=z_threshold, k=k or steady, m=m or window,
            rel_floor=rel_floor,
            set_aside_episodes=set_aside_episodes, missed=reference_missed(base, now, step),
        )
        if found is None or abs(found.rel_change) < min_effect:
            continue
        severity = saturate(found.excess)  # min_effect gates above; the score is how unusual, not how big
        confidence = 0.4 + 0.6 * found.persistence
        onset_ts = float(now.timestamps[found.index])
        alarm_ts = float(now.timestamps[found.alarm_index])
        who = subject_of(s)
        summary = (
            f"{who} {s.metric} {fmt_of(s, found.post_median)} vs "
            f"{fmt_of(s, found.baseline_median)} baseline ({fmt_change(found.rel_change)}, "
            f"{found.z:+.1f} robust z), onset {fmt_time(onset_ts)}"
        )
        findings.append(make_finding(
            FindingKind.ANOMALY, detector=DETECTOR, subject=who, service=s.service,
            window=(start, end), score=combine(severity, confidence), summary=summary,
            numbers={
                "baseline_median": found.baseline_median,
                "baseline_scale": found.baseline_scale,
                "post_median": found.post_median,
                "robust_z": finite(found.z),
                "excess": finite(found.excess),
                "rel_change": finite(found.rel_change),
                "persistence": found.persistence,
                "onset": onset_ts,
                "alarm": alarm_ts,
                "alarm_z": finite(found.alarm_z),
            },
            metric=s.metric, signal=signal, direction="up" if found.sign > 0 else "down",
            onset=onset_ts, source=source,
        ))
    return findings
