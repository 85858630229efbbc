"""Can the gathered data answer the question? ``missing_data`` Findings saying it cannot.

No data is never "no problem" (DESIGN.md): with no metric series and no log line the answer is
"could not judge", so is a change whose service is unknown, and a change observed for less than
``MIN_OBSERVATION_S`` (or fewer than ``MIN_SAMPLES`` samples of the changed service since it began) is
held until there is more. With fewer than ``MIN_REFERENCE`` samples before the incident the answer is
"could not judge" too; with fewer than ``SHORT_REFERENCE`` the data is judged (cautiously, see
``calibration``) but a ``thin_reference`` caveat says the history is too short to call an alert noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from agent.detectors.calibration import MIN_REFERENCE, SHORT_REFERENCE
from agent.detectors.emit import make_finding
from agent.detectors.wording import fmt_duration
from agent.events import Event, Pattern
from agent.findings import (
    ABSENT_SERVICE_LABEL,
    COVERAGE_DETECTOR,
    LOGS_ONLY_DETECTOR,
    STALE_DATA_DETECTOR,
    THIN_REFERENCE_DETECTOR,
    UNKNOWN_CHANGE,
    UNMATCHED_METRICS,
    Finding,
    FindingKind,
)
from agent.graph.gathered import as_detected, no_data_of
from agent.graph.reference import reference_split
from agent.graph.timing import CHANGE_LOOKUP_S
from agent.phrases import first_of
from agent.series import median_gap
from agent.sources.base import label_matches
from agent.timeparse import to_rfc3339

MIN_OBSERVATION_S = 300.0  # a change is judged on at least 5 minutes of its service's data after it began
MIN_SAMPLES = 5  # ... and at least this many sample times
STALE_S = 300.0  # an rca's services whose newest sample is older than this before the event cannot clear it
NAMES_SHOWN = 4
NO_SERVICE = ("no service was found to look at (the event names none, and neither a topology nor the sources' data "
              "names any)")


def coverage_findings(event: Event, gathered: Mapping[str, Any], window: Mapping[str, float],
                      targets: Sequence[str], metrics: Sequence[str], step: float) -> list[Finding]:
    """At most one Finding saying why the data cannot answer the question (or, for a reference of
    fewer than ``SHORT_REFERENCE`` samples, that it answers from a thin history); none when it can. Its
    ``source`` says where the metric data was looked for (``gathered["metric_source"]``; empty: nowhere).

    ``metrics`` are the metric names the Skill asked for, ``step`` its sample spacing.
    """
    found = _gap(event, gathered, window, targets, metrics, step)
    if found is None:
        return []
    return [found.model_copy(update={"source": gathered.get("metric_source") or ""})]  # where to look: failsafe


def _gap(event: Event, gathered: Mapping[str, Any], window: Mapping[str, float], targets: Sequence[str],
         metrics: Sequence[str], step: float) -> Finding | None:
    """The one Finding of :func:`coverage_findings`, if any."""
    if "start" not in window:
        return None
    unknown = _unknown_change(event, window)
    if unknown is not None:
        return unknown
    current = _current_series(gathered)
    if not current and (not gathered.get("logs") or (metrics and event.pattern != Pattern.RELEASE_INTERCEPTION)):
        return _no_metrics(gathered, window, targets, metrics)  # a release's logs alone: _too_early says why
    if event.pattern == Pattern.RELEASE_INTERCEPTION:
        return (_too_early(event, current, window, targets, metrics, step)
                or _unmatched_selectors(event, current, window, targets)
                or _thin_release_reference(event, current, window, targets))
    return _no_reference(event, gathered, current, window, targets) or _stale(event, current, window, targets)


def _stale(event: Event, current: Sequence[Mapping[str, Any]], window: Mapping[str, float],
           targets: Sequence[str]) -> Finding | None:
    """An rca whose services' newest metric sample is more than ``STALE_S`` (or 3 sample spacings) before the event: a
    silent service or a scrape that broke. What came before says nothing of the event's minutes, so it cannot clear
    the alert (a caveat, like a thin history's); ``None`` when the data reaches the event, or has no series of them."""
    own = [s for s in current if s.get("service") in targets]
    if event.pattern != Pattern.RCA or not own:
        return None
    newest = max(float(s["t"][-1]) for s in own)
    silent = window["anchor"] - newest
    if silent <= max(STALE_S, 3 * median_gap(s["t"] for s in own)):
        return None
    who = _names(list(targets))
    summary = (f"the newest metric sample of {who} is from {to_rfc3339(newest)}, {fmt_duration(silent)} before "
               f"{to_rfc3339(window['anchor'])}: its data stopped (a silent service, or a scrape that broke)")
    return _finding(who, window, summary, {"newest_sample": newest, "silent_s": silent},
                    detector=STALE_DATA_DETECTOR, score=0.0)


def _no_reference(event: Event, gathered: Mapping[str, Any], current: Sequence[Mapping[str, Any]],
                  window: Mapping[str, float], targets: Sequence[str]) -> Finding | None:
    """Data exists but none of it reaches far enough back to know what normal is (a series that began
    minutes before the alert): with fewer than ``MIN_REFERENCE`` samples nothing can be called unusual,
    so nothing can be called noise either; with fewer than ``SHORT_REFERENCE`` the detectors judge, but
    the history is still too short to call the alert noise (a ``thin_reference`` caveat)."""
    first = min((float(s["t"][0]) for s in current), default=window["start"])
    split = reference_split(event.pattern, max(window["start"], first), window["end"] + 1, window["anchor"],
                            window.get("reference_end"), median_gap(s["t"] for s in current))
    longest = max((int((as_detected(s).timestamps < split).sum()) for s in current), default=0)
    logged_before = any(float(r["ts"]) < split for r in gathered.get("logs", []))
    if longest >= SHORT_REFERENCE or logged_before or not current:
        return None
    who = _names(list(targets)) or "the services in question"
    numbers = {"series": len(current), "reference_end": split, "reference_samples": longest}
    if longest >= MIN_REFERENCE:
        summary = (f"the data begins {to_rfc3339(first)}: no series has more than {longest} samples before "
                   f"{to_rfc3339(split)}, too few to know what normal is")
        return _finding(who, window, summary, numbers, detector=THIN_REFERENCE_DETECTOR, score=0.0)
    summary = (f"no series of {who} has {MIN_REFERENCE} samples before {to_rfc3339(split)} (the data begins "
               f"{to_rfc3339(first)}): there is no normal to compare with")
    return _finding(who, window, summary, numbers)


def _current_series(gathered: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Gathered series of the judged period (not history) that hold at least one sample."""
    return [s for s in gathered.get("series", []) if s.get("period", "current") == "current" and s.get("t")]


def _names(values: Sequence[str]) -> str:
    return first_of(values, NAMES_SHOWN)


def _no_metrics(gathered: Mapping[str, Any], window: Mapping[str, float], targets: Sequence[str],
                metrics: Sequence[str]) -> Finding:
    """No metric series came (no source, every query empty or failed). With no log line either, the data cannot
    answer at all; with log lines they are judged, but a verdict on them alone cannot clear an alert or a system
    (a ``logs_only`` caveat, like a thin history's)."""
    who = _names(list(targets)) or "the services in question"
    lines = len(gathered.get("logs", []))
    numbers: dict[str, float] = {"series": 0, "log_lines": lines}
    what = _why_no_metrics(gathered, window, who if targets else "", metrics, numbers)
    if not lines:
        return _finding(who, window, f"{what}, and no log lines", numbers)
    return _finding(who, window, f"{what}: only log lines were judged, which cannot clear it", numbers,
                    detector=LOGS_ONLY_DETECTOR, score=0.0)


def _why_no_metrics(gathered: Mapping[str, Any], window: Mapping[str, float], who: str, metrics: Sequence[str],
                    numbers: dict[str, float]) -> str:
    """Why no metric series of ``who`` (empty: no service to ask about) came: no source, failed queries, or series
    the source does not hold (then ``numbers`` gets ``UNMATCHED_METRICS``: the Skill's names are to check)."""
    missing = [str(m) for m in gathered.get("missing", [])]
    if not who:  # no metric was asked for: the Skill's names are not the problem
        return NO_SERVICE
    if any(m.startswith("metrics: no metric source") for m in missing):
        return "no metric source is configured"
    if failed := next((m for m in missing if m.startswith("metric ") and no_data_of(m) is None), None):
        return f"no metric query returned data (e.g. {failed})"
    if absent := gathered.get(ABSENT_SERVICE_LABEL):  # no series names a service the way the settings say
        numbers[ABSENT_SERVICE_LABEL] = 1
        return f"no metric data was found for {who}: {absent}"
    numbers[UNMATCHED_METRICS] = 1  # the source answered, with nothing: the Skill names series it does not hold
    return _not_found(who, metrics, window)


def _not_found(who: str, metrics: Sequence[str], window: Mapping[str, float]) -> str:
    """No data of ``who``'s ``metrics`` in the window: the window is named, since data that exists only at other times
    (an event time days after a bundle's data) reads as a Skill naming metrics the source does not hold."""
    named = f" ({_names(list(metrics))})" if metrics else ""
    return (f"no metric data was found for {who}{named} from {to_rfc3339(window['start'])} to "
            f"{to_rfc3339(window['end'])}")


def _too_early(event: Event, current: Sequence[Mapping[str, Any]], window: Mapping[str, float],
               targets: Sequence[str], metrics: Sequence[str], step: float) -> Finding | None:
    """The changed service has too little data since the change began (or none at all) to judge it: fewer than
    ``MIN_SAMPLES`` sample times, or less than ``MIN_OBSERVATION_S`` or ``MIN_SAMPLES`` - 1 sample spacings (the
    Skill's step or the data's own, whichever is coarser) of them; says when to judge again. A canary is counted by
    its own series (those its selector matches, when any does): its baseline's samples say nothing of it, and a
    canary that stopped reporting minutes in would otherwise pass on the baseline's data."""
    service = _changed_service(event, targets)
    own = [s for s in current if s.get("service") == service]
    if not own:
        return _finding(service, window, _not_found(service or "the changed service", metrics, window), {"series": 0})
    change, whose = event.change, ""
    if change is not None and change.canary and change.baseline:
        canary = [s for s in own if label_matches(s.get("labels") or {}, change.canary)]
        own, whose = (canary, "the canary's ") if canary else (own, "")  # none: ``_unmatched_selectors`` says so
    anchor, end = window["anchor"], window["end"]
    times = sorted({float(t) for s in own for t in s["t"] if anchor <= t <= end})
    observed = times[-1] - anchor if times else 0.0
    spacing = max(step, median_gap((s["t"] for s in own), default=step))  # hourly data needs hours, not minutes
    needed = max(MIN_OBSERVATION_S, (MIN_SAMPLES - 1) * spacing)
    if len(times) >= MIN_SAMPLES and observed >= needed:
        return None
    missing = max(MIN_SAMPLES - len(times), math.ceil((needed - observed) / spacing))  # by count, and by time
    last = times[-1] if times else anchor
    ready = max(anchor + needed, last + missing * spacing)  # enough time, and the missing samples at their pace
    seen = f"only {fmt_duration(observed)} of {whose}data" if times else f"no {whose}data yet"
    if missing and times and observed >= needed:  # time enough, samples not
        seen = f"only {len(times)} sample(s) in {fmt_duration(observed)} of {whose}data"
    if ready > end:
        wait = f"judge again after {to_rfc3339(ready)}"
    else:  # they should have come by now: the data has a gap, so when it resumes is unknown
        wait = f"judge again when {missing} more sample(s) have come (none for {fmt_duration(end - last)})"
    summary = (f"{seen} since the change began at {to_rfc3339(anchor)}; {wait} (at least {fmt_duration(needed)} "
               f"and {MIN_SAMPLES} samples)")
    numbers = {"started": anchor, "observed_s": observed, "samples": len(times), "ready_at": ready,
               "missing_samples": missing, "min_observation_s": needed}
    return _finding(service, window, summary, numbers)


def _unknown_change(event: Event, window: Mapping[str, float]) -> Finding | None:
    """A release whose change names no service, and whose id no change record holds (``timing.with_logged_details``
    found none to fill it in): which service changed is unknown, so nothing can be judged; the services in question
    would otherwise be the topology's entry points, and their data could pass the change."""
    change = event.change
    if event.pattern != Pattern.RELEASE_INTERCEPTION or change is None or change.service:
        return None
    summary = (f"the change {change.id or '(no id)'} names no service and no change record with its id was found "
               f"within {CHANGE_LOOKUP_S / 3600:g}h of the judgement: which service changed is unknown")
    return _finding(change.id or "change", window, summary, {UNKNOWN_CHANGE: 1})


def _unmatched_selectors(event: Event, current: Sequence[Mapping[str, Any]], window: Mapping[str, float],
                         targets: Sequence[str]) -> Finding | None:
    """The change names canary and baseline selectors but none of the changed service's series matches one of
    them (a label misspelt, a version not reporting yet): the canary cannot be told from the rest, and judging
    every instance together could pass a bad canary among healthy ones. Could not judge, naming the labels the
    data has."""
    change = event.change
    if change is None or not (change.canary and change.baseline):
        return None
    service = _changed_service(event, targets)
    labels = [s.get("labels") or {} for s in current if s.get("service") == service]
    if not labels:
        return None
    unmatched = [(role, selector) for role, selector in (("canary", change.canary), ("baseline", change.baseline))
                 if not any(label_matches(own, selector) for own in labels)]
    if not unmatched:
        return None
    keys = sorted({key for _, selector in unmatched for key in selector})
    seen = sorted({f"{key}={own[key]}" for own in labels for key in keys if own.get(key)})
    said = " and ".join(f"{role} selector {_selector_text(selector)}" for role, selector in unmatched)
    has = ", ".join(seen) if seen else f"no {'/'.join(keys)} label"
    summary = (f"the change's {said} matches none of {service}'s series (its data has {has}): the canary cannot be "
               f"told from the rest")
    return _finding(service, window, summary, {"series": len(labels), "unmatched_selectors": len(unmatched)})


def _selector_text(selector: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{key}={value}" for key, value in sorted(selector.items())) + "}"


def _thin_release_reference(event: Event, current: Sequence[Mapping[str, Any]], window: Mapping[str, float],
                            targets: Sequence[str]) -> Finding | None:
    """Fewer than ``MIN_SAMPLES`` samples of every series of the changed service in the look-back before the change:
    no normal to judge the change by (coarse data under a short ``window.lookback``). A canary is judged against
    its baseline instances, not its past (new instances have none): never held for this."""
    if event.change is not None and event.change.canary and event.change.baseline:
        return None
    service = _changed_service(event, targets)
    start, anchor = window["start"], window["anchor"]
    counts = [sum(1 for t in s["t"] if start <= t < anchor) for s in current if s.get("service") == service]
    if not counts or max(counts) >= MIN_SAMPLES:
        return None
    summary = (f"only {max(counts)} sample(s) of {service} in the {fmt_duration(anchor - start)} before the change "
               f"began at {to_rfc3339(anchor)}: too few to know its normal (a Skill window.lookback holding at least "
               f"{MIN_SAMPLES} of the data's samples gives the gate a reference)")
    return _finding(service, window, summary, {"started": anchor, "reference_samples": max(counts)})


def _changed_service(event: Event, targets: Sequence[str]) -> str:
    """The service the change is to: the change's own, else the first target ("" when neither says)."""
    return (event.change.service if event.change else "") or (targets[0] if targets else "")


def _finding(subject: str, window: Mapping[str, float], summary: str, numbers: Mapping[str, float],
             detector: str = COVERAGE_DETECTOR, score: float = 1.0) -> Finding:
    return make_finding(
        FindingKind.MISSING_DATA, detector=detector, subject=subject or "data", service=None,
        window=(window["start"], window["end"]), score=score, summary=summary, numbers=numbers,
    )
