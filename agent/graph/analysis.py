"""Which detector runs on which gathered data: the only place that calls detectors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from agent.detectors.canary import detect_canary
from agent.detectors.capacity import capacity_limit
from agent.detectors.change_impact import detect_change_impact
from agent.detectors.changes import detect_change_proximity, earliest_onsets
from agent.detectors.counters import rated_by_shape
from agent.detectors.deviation import WEAK_SCORE, among_many, detect_deviation
from agent.detectors.history import detect_history
from agent.detectors.level import detect_level_shift
from agent.detectors.logs import detect_logs
from agent.detectors.onset import detect_onset
from agent.detectors.rate_shift import DETECTOR as RATE_SHIFT
from agent.detectors.rate_shift import detect_rate_shift, service_totals
from agent.detectors.seasonal import detect_daily_shift
from agent.detectors.silence import detect_silence
from agent.detectors.slo import detect_slo_burn
from agent.detectors.spikes import detect_spike_density
from agent.detectors.threshold import detect_threshold
from agent.detectors.trace_logs import detect_trace_evidence
from agent.detectors.trend import detect_trend
from agent.detectors.wording import fmt_duration, subject_of
from agent.events import Event, Pattern
from agent.findings import Finding
from agent.graph.continued import without_new_replicas
from agent.graph.gathered import SignalData, changes_of, logs_of, series_by_signal, shared_metrics, split_by_selector
from agent.graph.log_windows import LogWindows, log_windows
from agent.graph.reference import reference_split
from agent.graph.series_ops import with_history
from agent.reasoners.faults import metric_family
from agent.reasoners.service_evidence import activity
from agent.series import LogRecord, Series, sample_step
from agent.skills.schema import Compare, MetricSignal, Skill

AT_ALERT_S = 120.0  # "at the alert": the last two one-minute samples up to it (two samples, if coarser)
ACTIVE_SPAN_S = 300.0  # a deviation held in the five minutes up to the alert is present too (two samples off)
LATE_SAMPLES = 5  # a canary's last minutes hold at least this many of its samples (compare_samples' minimum)


def _by_direction(signal: MetricSignal, series: Sequence[Series]) -> dict[str, list[Series]]:
    """Series grouped by their bad direction (one group unless the signal's direction is ``auto``)."""
    groups: dict[str, list[Series]] = {}
    for s in series:
        groups.setdefault(signal.direction_for(s.metric), []).append(s)
    return groups


def _release_findings(signal: MetricSignal, direction: str, service: str, series: list[Series], event: Event,
                      window: Mapping[str, float], source: str,
                      earlier: Mapping[float, Sequence[Series]] | None = None) -> list[Finding]:
    """Canary vs baseline instances when the change names both selectors, else after vs before.

    The evidence is ``[anchor, end]`` (from the change's start to the judgement); the reference of
    after-vs-before is the Skill's look-back before the start (``[start, anchor)``), read against the same
    hours a period before when ``earlier`` holds them (``change_impact``: a daily cycle). After vs before is
    judged twice: the whole observation against the reference (``change_impact``: a sustained shift of the
    median), and point by point for a deviation that held a few samples (``onset``, calibrated on the same
    reference) and is still there at the judgement (``service_evidence.activity`` at ``end``), since a regression that
    began late in a half-hour observation leaves the median where it was; one that had passed by then (a
    warm-up after the restart, caches filling) is no lasting effect of the change. A canary is compared with its
    baseline over the whole observation and over its last minutes (``_canary_findings``).
    """
    change = event.change
    common = {"direction": direction, "min_effect": signal.min_effect, "signal": signal.id, "source": source}
    start, anchor, end = window["start"], window["anchor"], window["end"]
    if change and service == change.service and change.canary and change.baseline:
        canary = split_by_selector(series, change.canary)
        baseline = split_by_selector(series, change.baseline)
        if canary and baseline:
            return _canary_findings(canary, baseline, anchor, end, common)
    cycle = min(earlier) if earlier else None  # the same hours a period before: a daily cycle is no regression
    found = detect_change_impact(series, change_ts=anchor, before=max(anchor - start, 1.0),
                                 after=end - anchor + 1, change_id=change.id if change else None,
                                 earlier=earlier[cycle] if cycle else (), period=cycle or 86400.0, **common)
    shifted = {(f.metric, f.service) for f in found}  # a shift is pooled over a service's instances
    onsets = detect_onset(series, start=start, end=end + 1, baseline_end=anchor, direction=direction,
                          min_effect=signal.min_effect, signal=signal.id, source=source)
    step = sample_step(series)
    lasting = [f for f in (_with_activity(o, series, end, step) for o in onsets) if activity(f) == 1.0]
    return found + [f for f in lasting if (f.metric, f.service) not in shifted]


def _canary_findings(canary: list[Series], baseline: list[Series], anchor: float, end: float,
                     common: Mapping[str, Any]) -> list[Finding]:
    """Canary vs baseline over the whole observation, and over its last minutes (``ACTIVE_SPAN_S``, or
    ``LATE_SAMPLES`` samples if longer) for a metric the whole observation clears: a canary getting worse as it
    runs (a leak, a queue filling) shows at the end before it moves the median of the whole."""
    whole = detect_canary(canary, baseline, start=anchor, end=end + 1, **common)
    recent = max(anchor, end - max(ACTIVE_SPAN_S, LATE_SAMPLES * sample_step(canary)))
    if recent <= anchor:
        return whole
    flagged = {(f.metric, f.subject) for f in whole}
    late = [f.model_copy(update={"summary": f"{f.summary}, over the last {fmt_duration(end - recent)}"})
            for f in detect_canary(canary, baseline, start=recent, end=end + 1, **common)
            if (f.metric, f.subject) not in flagged]
    return whole + late


def _metric_findings(signal: MetricSignal, series: list[Series], event: Event,
                     window: Mapping[str, float], series_judged: int = 1, no_history: bool = False) -> list[Finding]:
    """Detectors for one service's series of one signal, by the signal's compare mode."""
    found: list[Finding] = []
    for direction, group in _by_direction(signal, series).items():
        found += _directed_findings(signal, direction, group, event, window, series_judged, no_history)
    return found


def _directed_findings(signal: MetricSignal, direction: str, series: list[Series], event: Event,
                       window: Mapping[str, float], series_judged: int = 1, no_history: bool = False) -> list[Finding]:
    """Detectors for series that share one bad direction (``series_judged``: how many series an inspection
    judges against their baseline in all, see ``deviation.among_many``; ``no_history``: a ``compare: history``
    signal none of whose series reaches a day back is judged against the window's reference instead)."""
    start, end, anchor = window["start"], window["end"] + 1, window["anchor"]
    common = {"signal": signal.id, "source": ""}
    found: list[Finding] = []
    set_aside = event.pattern == Pattern.RCA  # a short reference before an alert: see calibration.calibrate
    if signal.compare == Compare.TREND:
        # an inspection's catch-all: no name says the series is a resource, so a ratio rising may be good news
        # (a hit ratio): growth beyond everything its reference showed says it matters, not a ceiling
        unknown = signal.catch_all and event.pattern == Pattern.INSPECTION
        if unknown:  # a rate of work growing is load, not a leak: the catch-all's baseline signal judges it
            series = [s for s in series if metric_family(s.metric) != "traffic_spike"]
        limit = signal.threshold
        if limit is None and not unknown:
            limit = natural_limit(series)
        beyond_before = window.get("reference_end") if unknown else None
        found += detect_trend(series, start=start, end=end, direction=direction, limit=limit,
                              min_growth=signal.min_effect, beyond_before=beyond_before, **common)
    elif signal.compare == Compare.THRESHOLD and signal.threshold is not None:
        found += detect_threshold(series, threshold=signal.threshold, start=start, end=end, direction=direction,
                                  **common)
    elif signal.compare == Compare.HISTORY and (offsets := history_offsets(series, window)):
        found += detect_history(series, start=window.get("reference_end") or start, end=end, offsets=offsets,
                                direction=direction, min_effect=signal.min_effect, **common)
    if signal.objective is not None:
        measure = "success" if direction == "down" else "error"
        found += detect_slo_burn(series, objective=signal.objective, start=start, end=end, measure=measure, **common)
    if event.pattern == Pattern.RCA or signal.compare == Compare.BASELINE or no_history:
        if event.pattern == Pattern.INSPECTION:  # a count by its shape: its level is always new, its rate is not
            series = [rated_by_shape(s) for s in series]
        first = max(start, _first_sample(series, start))  # the reference is the data we have, not the request
        step = sample_step(series)
        baseline_end = reference_split(event.pattern, first, end, anchor, window.get("reference_end"), step)
        onsets = detect_onset(series, start=first, end=end, baseline_end=baseline_end,
                              direction=direction, min_effect=signal.min_effect, set_aside_episodes=set_aside,
                              **common)
        summed: list[Series] = []
        if event.pattern in (Pattern.RCA, Pattern.INSPECTION):
            # RCA: weak evidence keeps every service rankable; inspection: a point far beyond anything
            # the reference did is worth reporting even when it does not last.
            inspection = event.pattern == Pattern.INSPECTION
            clear = set() if inspection else {(f.subject, f.metric) for f in onsets}
            unclear = [s for s in series if (subject_of(s), s.metric) not in clear]
            deviations = detect_deviation(unclear, start=first, end=end, baseline_end=baseline_end,
                                          direction=direction, max_score=1.0 if inspection else WEAK_SCORE,
                                          min_effect=signal.min_effect if inspection else 0.0,
                                          set_aside_episodes=set_aside, **common)
            deviations = [among_many(f, series_judged) for f in deviations]  # before the strongest is picked
            if not inspection:  # a count of a few requests a sample: its rate over the window, where stronger
                deviations = _strongest_per_series(deviations + detect_rate_shift(
                    series, start=first, end=end, baseline_end=baseline_end, direction=direction,
                    set_aside_episodes=set_aside, found=clear, **common))
                if any(f.detector == RATE_SHIFT for f in deviations):  # present or past by the series it was
                    # found in, a service's pods' sum among them
                    summed = [total for total, _ in service_totals(series, first, end)]
            onsets += deviations
        if event.pattern == Pattern.INSPECTION:  # a level held over the whole window, beyond the reference's
            onsets += detect_level_shift(series, start=first, end=end, baseline_end=baseline_end,
                                         direction=direction, **common)
            onsets += detect_daily_shift(series, start=first, end=end, baseline_end=baseline_end,
                                         direction=direction, **common)
            onsets += detect_spike_density(series, start=first, end=end, baseline_end=baseline_end,
                                           direction=direction, **common)
            onsets = _strongest_per_series(onsets)
        found += [_with_activity(f, series + summed, anchor, step) for f in onsets]
    return found


def _strongest_per_series(findings: list[Finding]) -> list[Finding]:
    """One Finding per series (subject and metric): the higher-scored of its onset and its deviation."""
    best: dict[tuple[str, str | None], Finding] = {}
    for f in findings:
        key = (f.subject, f.metric)
        if key not in best or f.score > best[key].score:
            best[key] = f
    return list(best.values())


def _with_activity(finding: Finding, series: Sequence[Series], anchor: float, step: float) -> Finding:
    """Add ``active_z``: how far off the baseline the series was at the event time (``activity`` in the ranking).

    A deviation that had already recovered well before the alert is a past episode, not its cause; one
    that recovers after the alert fired (a short fault) was not. Present means any of:
    - off in the last ``AT_ALERT_S`` up to the alert (the farthest point counts, not their median: with
      one-minute samples a fault that began a minute before the alert has a single point there);
    - off at two samples or more in the last ``ACTIVE_SPAN_S`` (five minutes): alert rules wait a few
      minutes (``for: 5m``) before they fire, and a short fault may have passed by then while its
      symptoms last; one blip in those minutes does not keep an earlier episode present;
    - deviating after the event time (a replay whose event is the fault's first minute): the spans then
      end at the Finding's ``onset`` (an onset's start, or a deviation's peak).
    A rate shift of a few counts a sample (``rate_shift``) is judged by its rate, as it was found (a service's pods'
    sum among ``series`` for one found in that sum, ``rate_shift.service_totals``): the mean of the
    ``ACTIVE_SPAN_S`` span in standard errors of a mean that long (one sample's spread says nothing there: a fall
    from under 2.25 a sample never reaches 1.5 spreads, however long it holds).
    Both spans are at least two samples long when sampling is coarser. The sampling interval is recorded as
    ``step_s``: onsets closer than a sample apart cannot be ordered. For a usage share (``natural_limit``,
    read off all its values) that is the subject's only series, also ``recent_level``, the farthest value
    the deviation's way in the short span (how full it was at the alert), and ``ceiling``.
    """
    center, scale = finding.numbers.get("baseline_median"), finding.numbers.get("baseline_scale")
    match = [s for s in series if s.metric == finding.metric and subject_of(s) == finding.subject]
    if center is None or not scale or not match:
        return finding
    until = anchor if finding.onset is None else max(anchor, finding.onset)
    recent = match[0].between(until - max(AT_ALERT_S, 2 * step), until + 1).values
    held = match[0].between(until - max(ACTIVE_SPAN_S, 2 * step), until + 1).values
    if recent.size == 0:
        return finding
    if finding.detector == RATE_SHIFT:  # a count's rate: the span's mean, in standard errors of a mean that long
        active = abs(float(np.mean(held)) - center) / (scale / np.sqrt(held.size))
    else:
        off = np.sort(np.abs(held - center))[::-1]
        active = max(float(np.max(np.abs(recent - center))), float(off[1]) if off.size > 1 else 0.0) / scale
    numbers = {**finding.numbers, "active_z": round(active, 3), "step_s": step}
    # several series of one subject (mount points): which one deviated is unclear
    if len(match) == 1 and (ceiling := natural_limit(match)) is not None:
        level = np.min(recent) if finding.direction == "down" else np.max(recent)  # the farthest the deviation's way
        numbers.update(recent_level=round(float(level), 6), ceiling=ceiling)
    return finding.model_copy(update={"numbers": numbers})


def natural_limit(series: Sequence[Series]) -> float | None:
    """The ceiling of a usage ratio (1.0) or percentage (100), from the metric name and its values
    (``detectors.capacity``)."""
    if not series:
        return None
    return capacity_limit(series[0].metric, max((float(s.values.max()) for s in series if len(s)), default=0.0))


def _first_sample(series: Sequence[Series], start: float) -> float:
    """The earliest sample at or after ``start`` across the series (history samples lie before it)."""
    firsts = [float(s.timestamps[s.timestamps >= start][0]) for s in series if (s.timestamps >= start).any()]
    return min(firsts) if firsts else start


def history_offsets(series: Sequence[Series], window: Mapping[str, float]) -> list[float]:
    """The history offsets (a day, a week) the judged window's series hold data for; an inspection with a
    reference before its window judges the window itself, its reference days being the history."""
    return signal_offsets(series, window.get("reference_end") or window["start"])


def signal_offsets(series: Sequence[Series], start: float) -> list[float]:
    """History offsets present in merged series (samples well before the window)."""
    offsets = set()
    for s in series:
        early = s.timestamps[s.timestamps < start - 3600]
        for offset in (86400.0, 604800.0):
            if early.size and ((early >= start - offset - 7200) & (early <= start - offset + 7200)).any():
                offsets.add(offset)
    return sorted(offsets)


def _signal_findings(
    signal: MetricSignal, data: SignalData, event: Event, window: Mapping[str, float],
    shared: Mapping[tuple[str, str], int], series_judged: int = 1,
) -> list[Finding]:
    findings: list[Finding] = []
    no_history = _without_history(signal, data, window)
    for service, series in data.current.items():
        source = next((data.sources.get(s.key(), "") for s in series), "")
        if event.pattern == Pattern.RELEASE_INTERCEPTION:
            earlier = data.history.get(service, {})
            for direction, group in _by_direction(signal, series).items():
                findings += _release_findings(signal, direction, service, group, event, window, source, earlier)
            continue
        merged = with_history(series, data.history.get(service, {}))
        for finding in _metric_findings(signal, merged, event, window, series_judged, no_history):
            update: dict[str, Any] = {"source": finding.source or source}
            if (others := shared.get((service, finding.metric or ""))) is not None:
                update["numbers"] = {**finding.numbers, "shared_with": float(others)}
                update["summary"] = f"{finding.summary} (the same series as {others} other service(s) report: " \
                    "a shared figure, it names none of them)"
            findings.append(finding.model_copy(update=update))
    return findings


def _leave_named_metrics_to_their_signals(skill: Skill, signals: dict[str, SignalData]) -> None:
    """A catch-all signal keeps only the series no other signal of the Skill gathered (no double counting), and
    hands a series of a family another signal reads (``family_twin``) to that signal: ``rt_p50`` is judged as the
    latency signal judges ``*[Ll]atency*``, with its direction, minimum effect and weight."""
    named = {s.key() for m in skill.data.metrics if not m.catch_all and m.id in signals
             for series in signals[m.id].current.values() for s in series}
    for signal in skill.data.metrics:
        if not signal.catch_all or signal.id not in signals:
            continue
        data = signals[signal.id]
        for service, series in list(data.current.items()):
            kept = []
            for s in (s for s in series if s.key() not in named):
                if (twin := family_twin(skill, signal, s.metric)) is None:
                    kept.append(s)
                else:
                    _hand_over(data, signals.setdefault(twin.id, SignalData()), service, s)
            data.current[service] = kept


def _hand_over(source: SignalData, target: SignalData, service: str, series: Series) -> None:
    """``series`` of ``service``, with its history and where it came from, added to ``target``."""
    key = series.key()
    target.current.setdefault(service, []).append(series)
    target.sources[key] = source.sources.get(key, "")
    target.roles.setdefault(service, source.roles.get(service, "target"))
    for offset, past in source.history.get(service, {}).items():
        target.history.setdefault(service, {}).setdefault(offset, []).extend(p for p in past if p.key() == key)


def family_twin(skill: Skill, catch_all: MetricSignal, metric: str) -> MetricSignal | None:
    """The Skill's named signal that reads ``metric``'s family, judging it the way the catch-all would (the same
    compare mode, and every bad direction the catch-all would judge: a temperature named ``…_failure`` is read both
    ways, so no errors signal reading rises alone takes it), if any: the first in the Skill's order."""
    family = metric_family(metric)
    if family is None:
        return None
    wanted = catch_all.direction_for(metric)
    for signal in skill.data.metrics:
        if signal.catch_all or signal.compare != catch_all.compare or signal_family(signal) != family:
            continue
        if signal.direction_for(metric) in (wanted, "both"):
            return signal
    return None


def signal_family(signal: MetricSignal) -> str | None:
    """The family a named signal's glob says (``*[Ll]atency*`` -> slow_dependency), if it is one word."""
    return _glob_family(signal.name)


@lru_cache(maxsize=256)  # asked for every catch-all series of every investigation; a library has few globs
def _glob_family(glob: str) -> str | None:
    word = re.sub(r"\[(.)[^\]]*\]", r"\1", glob).strip("*")
    return metric_family(word) if word and not re.search(r"[*?\[\]]", word) else None


def _series_against_baseline(skill: Skill, signals: Mapping[str, SignalData]) -> int:
    """How many series the Skill's ``compare: baseline`` signals judged (each once: a catch-all skips the rest)."""
    return sum(len(series) for signal in skill.data.metrics
               if signal.compare == Compare.BASELINE and signal.id in signals
               for series in signals[signal.id].current.values())


def _log_findings(query_id: str, records: Sequence[LogRecord], windows: LogWindows, traces: bool,
                  pattern: Pattern) -> list[Finding]:
    """Where traces leave the reference's paths for a query that asks for it, else new and bursting templates
    (an inspection's new templates tested for chance, ``detect_logs(test_new=)``)."""
    common = {"baseline": windows.baseline, "current": windows.current, "signal": query_id,
              "source": f"logs:{query_id}"}
    if traces:
        return detect_trace_evidence(records, **common)
    return detect_logs(records, test_new=pattern == Pattern.INSPECTION, store_begins=windows.store_begins,
                       **common)


def signals_without_history(skill: Skill, gathered: Mapping[str, Any], window: Mapping[str, float]) -> list[str]:
    """The ``compare: history`` signals with data but none a day or a week before the judged window: they are
    judged against the window's own reference instead (``_directed_findings``), which the report says."""
    wanted = {signal.id for signal in skill.data.metrics if signal.compare == Compare.HISTORY}
    if "start" not in window or not wanted:
        return []
    # only those signals' series are read again (analyze_gathered read them all once already)
    signals = series_by_signal({"series": [s for s in gathered.get("series", []) if s["signal"] in wanted]})
    return [signal.id for signal in skill.data.metrics
            if signal.id in signals and _without_history(signal, signals[signal.id], window)]


def _without_history(signal: MetricSignal, data: SignalData, window: Mapping[str, float]) -> bool:
    """A ``compare: history`` signal with data none of which reaches a day (a week) before the judged window: the
    source keeps too little for it (a service's new instances alone, beside others with history, do not count)."""
    return signal.compare == Compare.HISTORY and bool(data.current) and not any(
        history_offsets(with_history(series, data.history.get(service, {})), window)
        for service, series in data.current.items())


def _silent_services(signals: Mapping[str, SignalData], window: Mapping[str, float]) -> list[Finding]:
    """Services that stopped answering after the RCA reference while the others kept being sampled
    (``detectors.silence``), read over every signal's series of each service at once (each series once)."""
    by_service: dict[str, dict[str, Series]] = {}
    for data in signals.values():
        for service, series in data.current.items():
            by_service.setdefault(service, {}).update((s.key(), s) for s in series)
    every = [s for series in by_service.values() for s in series.values()]
    start, end = window["start"], window["end"] + 1
    first = max(start, _first_sample(every, start))
    split = reference_split(Pattern.RCA, first, end, window["anchor"], step=sample_step(every))
    return detect_silence({service: list(series.values()) for service, series in by_service.items()},
                          start=first, end=end, judged_from=split)


def analyze_gathered(
    skill: Skill, event: Event, gathered: Mapping[str, Any], targets: Sequence[str], window: Mapping[str, float],
    callers: Mapping[str, Sequence[str]] | None = None,
) -> list[Finding]:
    """Findings from everything gathered: metric detectors per signal, log templates, change correlation.

    ``callers`` maps a service to the services it calls (the topology), for change correlation.
    """
    if "start" not in window:
        return []
    signals = series_by_signal(gathered)
    _leave_named_metrics_to_their_signals(skill, signals)
    if event.pattern != Pattern.RELEASE_INTERCEPTION:  # a release judges its new pods (a canary) against the old
        for data in signals.values():
            for service, series in data.current.items():
                data.current[service] = without_new_replicas(series)
    shared = shared_metrics(signals)
    # an inspection judges a peak against every series it looks at, not one (deviation.among_many)
    judged = _series_against_baseline(skill, signals) if event.pattern == Pattern.INSPECTION else 1
    findings: list[Finding] = []
    for signal in skill.data.metrics:
        if signal.id in signals:
            findings += _signal_findings(signal, signals[signal.id], event, window, shared, judged)
    start, end = window["start"], window["end"] + 1
    split = reference_split(event.pattern, start, end, window["anchor"], window.get("reference_end"))
    windows = log_windows(event.pattern, start, end, window["anchor"], split, gathered.get("log_span"))
    if windows is not None:
        by_traces = {q.id for q in skill.data.logs if q.traces}
        for query_id, records in logs_of(gathered).items():
            findings += _log_findings(query_id, records, windows, query_id in by_traces, event.pattern)
    if event.pattern == Pattern.RCA:
        findings += _silent_services(signals, window)
    changes = changes_of(gathered)
    if changes and event.pattern != Pattern.RELEASE_INTERCEPTION:
        findings += detect_change_proximity(changes, earliest_onsets(findings), dependencies=callers)
    return findings
