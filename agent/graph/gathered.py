"""Turn the JSON-ready gathered data in the graph state back into Series and records."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import BaseModel

from agent.detectors.counters import rated
from agent.detectors.histograms import histogram_quantiles, is_wait_bucket, is_wait_sum, mean_waits
from agent.graph.continued import continued
from agent.series import ChangeRecord, LogRecord, Series
from agent.sources.base import label_matches
from agent.status_labels import status_named

SHARED_MIN_DISTINCT = 5  # distinct values a series needs before an identical copy counts as the same series
SHARED_RTOL = 1e-6  # relative difference under which two services' values are one series computed twice
SHARED_MISSED = 0.5  # a copy may miss up to this share of its samples (runs of missed scrapes) and still be one
_NO_DATA = re.compile(r"^metric (?P<signal>\S+): no data for (?P<services>.+)$")


def no_data_line(signal: str, services: Sequence[str]) -> str:
    """The ``missing`` line of a signal whose query found no series for ``services`` (sorted, once each)."""
    return f"metric {signal}: no data for {', '.join(sorted(set(services)))}"


def no_data_of(line: str) -> tuple[str, str] | None:
    """(signal, services) of a :func:`no_data_line`; None for any other ``missing`` line."""
    match = _NO_DATA.match(line)
    return (match["signal"], match["services"]) if match else None


class Gap(BaseModel):
    """One thing that could not be gathered, as data: which kind of source (``metrics``, ``logs``, ``changes``,
    ``knowledge``), the signal (a Skill's metric or log id; the kind itself when the source is not configured), the
    service (None when the gap is not one service's: a log query, a source) and why."""

    kind: str
    signal: str
    service: str | None = None
    reason: str


@dataclass
class Gaps:
    """The ``missing`` lines of a gathering (for people and the reasoner) and the same gaps as :class:`Gap` records,
    one per signal and service (a line may name several services)."""

    lines: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: str, kind: str, signal: str, reason: str, services: Sequence[str | None] = (None,)) -> None:
        """One gap: its ``line`` for people, and a :class:`Gap` record for each of ``services`` (None: no one's)."""
        self.lines.append(line)
        self.records += [Gap(kind=kind, signal=signal, service=s, reason=reason).model_dump() for s in services]


@dataclass
class SignalData:
    """All series of one Skill signal, split by service and period."""

    current: dict[str, list[Series]] = field(default_factory=lambda: defaultdict(list))
    history: dict[str, dict[float, list[Series]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    sources: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def add(self, service: str, period: str, series: Series, source: str) -> None:
        """``series`` of ``service`` in ``period``: ``current``, or ``history:<seconds>`` (the same window that long
        before)."""
        self.sources[series.key()] = source
        if period == "current":
            self.current[service].append(series)
        else:
            self.history[service][float(period.split(":", 1)[1])].append(series)


def series_by_signal(gathered: Mapping[str, Any]) -> dict[str, SignalData]:
    """signal id -> its series per service (current window and history offsets); cumulative counters are
    read as per-second rates (``agent.detectors.counters``), a latency histogram's buckets as the quantiles they
    imply (``agent.detectors.histograms``), a replaced pod's series continued by its successor's
    (``continued``)."""
    out: dict[str, SignalData] = defaultdict(SignalData)
    buckets: dict[tuple[str, str, str], list[tuple[Series, str]]] = defaultdict(list)  # with where each came from
    for item in gathered.get("series", []):
        data = out[item["signal"]]
        service, period = item["service"], item.get("period", "current")
        data.roles[service] = item.get("role", "target")
        if is_wait_bucket(item["metric"], item["labels"]):
            buckets[item["signal"], service, period].append((_raw(item), item.get("source", "")))
            continue
        data.add(service, period, as_detected(item), item.get("source", ""))
    for (signal, service, period), found in buckets.items():
        for series in histogram_quantiles([bucket for bucket, _ in found]):
            out[signal].add(service, period, series, found[0][1])
    for data in out.values():
        _mean_waits(data)
        for groups in (data.current, *data.history.values()):
            for service, series in groups.items():
                groups[service] = continued(series)
    return out


def _mean_waits(data: SignalData) -> None:
    """A wait's ``_sum`` beside its ``_count`` replaced by their ratio, the mean wait (``histograms.mean_waits``)."""
    for groups in (data.current, *data.history.values()):
        for service, series in groups.items():
            pairs = mean_waits([s for s in series if is_wait_sum(s.metric)], series)
            replaced = {id(total) for _, total in pairs}
            for mean, total in pairs:
                data.sources[mean.key()] = data.sources.get(total.key(), "")
            if pairs:
                groups[service] = [s for s in series if id(s) not in replaced] + [mean for mean, _ in pairs]


def as_detected(item: Mapping[str, Any]) -> Series:
    """One gathered series as the detectors see it: a cumulative counter as a per-second rate (one
    sample fewer), a series whose labels carry an HTTP status under its name prefixed with the status class
    (``status_labels``: ``5xx:http_requests_total`` counts failures), anything else as it is."""
    series = rated(_raw(item))
    return replace(series, metric=status_named(series.metric, series.labels))


def _raw(item: Mapping[str, Any]) -> Series:
    return Series(metric=item["metric"], labels=item["labels"], timestamps=np.asarray(item["t"], dtype=float),
                  values=np.asarray(item["v"], dtype=float))


def shared_metrics(signals: Mapping[str, SignalData]) -> dict[tuple[str, str], int]:
    """(service, metric) -> how many other services report the very same series, for metrics whose every
    current series a service has is such a copy.

    The same series: the same metric name and as many samples, equal position by position within a
    relative ``SHARED_RTOL`` (two exporters computing one host figure differ in the last digits; the scrape
    times are not compared, so a copy scraped a second later still matches, but one that missed a sample
    does not). A host's CPU or network seen by every pod on it is one series under several services'
    names: it cannot say which of them is at fault (``agent.reasoners.service_evidence.weight``). Series with fewer
    than ``SHARED_MIN_DISTINCT`` distinct values (flat, or stepping between a few buckets) can match by
    chance and are never taken for copies."""
    entries: list[tuple[str, Series]] = []
    per_service: dict[tuple[str, str], list[int]] = defaultdict(list)
    for data in signals.values():
        for service, series in data.current.items():
            for s in series:
                per_service[(service, s.metric)].append(len(entries))
                entries.append((service, s))
    copies = _copies(entries)
    shared = {}
    for key, indexes in per_service.items():
        others = [len(copies.get(i, ())) for i in indexes]
        if min(others) > 0:
            shared[key] = max(others)
    return shared


def _copies(entries: list[tuple[str, Series]]) -> dict[int, set[str]]:
    """Entry index -> the other services that hold a copy of its series: as many samples, equal position by
    position; or, for a series none such matches, one missing some of its samples or having samples it lacks
    (``_gapped_copies``)."""
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    first: dict[int, float] = {}  # each candidate's first finite value: the sort key and the quick test
    for i, (_, s) in enumerate(entries):
        finite = s.values[np.isfinite(s.values)]
        if np.unique(finite).size >= SHARED_MIN_DISTINCT:
            groups[(s.metric, s.values.size)].append(i)
            first[i] = float(finite[0])
    copies: dict[int, set[str]] = defaultdict(set)
    for group in groups.values():
        group.sort(key=first.__getitem__)
        for n, i in enumerate(group):  # sorted by the first value: only close neighbours can be copies
            service, series = entries[i]
            for j in group[n + 1:]:
                if abs(first[j] - first[i]) > SHARED_RTOL * abs(first[i]):
                    break
                other, candidate = entries[j]
                if other != service and np.allclose(series.values, candidate.values, rtol=SHARED_RTOL, atol=0.0,
                                                    equal_nan=True):
                    copies[i].add(other)
                    copies[j].add(service)
    _gapped_copies(entries, list(first), copies)
    return copies


def _gapped_copies(entries: list[tuple[str, Series]], candidates: list[int], copies: dict[int, set[str]]) -> None:
    """Add to ``copies`` the pairs of ``candidates`` that are one series though a scrape of one or both was
    missed: of a series no equal-length copy matched and another of the same metric, the samples at the same
    times (within half a scrape interval) are equal within ``SHARED_RTOL``, and they are all but at most
    ``SHARED_MISSED`` of either's samples. Only series whose medians could be those of one series with that
    share missing are compared (between the other's quantiles 0.5 -/+ ``SHARED_MISSED``)."""
    by_metric: dict[str, list[int]] = defaultdict(list)
    for i in candidates:
        by_metric[entries[i][1].metric].append(i)
    for group in by_metric.values():
        medians = np.array([float(np.nanmedian(entries[i][1].values)) for i in group])
        order = np.argsort(medians)
        ranked = medians[order]
        for i in group:
            if copies.get(i):
                continue
            service, series = entries[i]
            low, high = np.nanquantile(series.values, [0.5 - SHARED_MISSED, 0.5 + SHARED_MISSED])
            slack = SHARED_RTOL * max(abs(low), abs(high))
            near = order[np.searchsorted(ranked, low - slack):np.searchsorted(ranked, high + slack, side="right")]
            for j in (group[k] for k in near if group[k] != i):
                other, candidate = entries[j]
                if other != service and other not in copies.get(i, ()) and _same_samples(series, candidate):
                    copies[i].add(other)
                    copies[j].add(service)


def _same_samples(a: Series, b: Series) -> bool:
    """Whether ``a`` and ``b`` are one series with some scrapes missed: their samples at the same times (nearest,
    within half the finer one's median interval) are equal within ``SHARED_RTOL`` and are all but at most
    ``SHARED_MISSED`` of each one's samples."""
    if min(len(a), len(b)) < 2:
        return False
    tolerance = 0.5 * min(float(np.median(np.diff(a.timestamps))), float(np.median(np.diff(b.timestamps))))
    at = np.clip(np.searchsorted(b.timestamps, a.timestamps), 1, len(b) - 1)
    nearest = np.where(np.abs(b.timestamps[at - 1] - a.timestamps) <= np.abs(b.timestamps[at] - a.timestamps),
                       at - 1, at)
    paired = np.abs(b.timestamps[nearest] - a.timestamps) <= tolerance
    matched = int(paired.sum())
    if matched < (1.0 - SHARED_MISSED) * max(len(a), len(b)) or np.unique(nearest[paired]).size < matched:
        return False
    if np.unique(a.values[paired][np.isfinite(a.values[paired])]).size < SHARED_MIN_DISTINCT:
        return False  # too few values in common to tell a copy from chance
    return bool(np.allclose(a.values[paired], b.values[nearest[paired]], rtol=SHARED_RTOL, atol=0.0, equal_nan=True))


def split_by_selector(series: list[Series], selector: Mapping[str, str] | None) -> list[Series]:
    """Series whose labels match a canary/baseline selector (label matchers)."""
    if not selector:
        return []
    return [s for s in series if label_matches(s.labels, selector)]


def logs_of(gathered: Mapping[str, Any]) -> dict[str, list[LogRecord]]:
    """query id -> log records."""
    out: dict[str, list[LogRecord]] = defaultdict(list)
    for rec in gathered.get("logs", []):
        out[rec.get("query", "logs")].append(
            LogRecord(ts=rec["ts"], service=rec["service"], level=rec["level"], message=rec["message"],
                      instance=rec.get("instance"), trace_id=rec.get("trace_id"))
        )
    return out


def changes_of(gathered: Mapping[str, Any]) -> list[ChangeRecord]:
    return [
        ChangeRecord(ts=c["ts"], service=c["service"], type=c["type"], id=c["id"],
                     description=c.get("description", ""), version=c.get("version"),
                     canary=c.get("canary"), baseline=c.get("baseline"))
        for c in gathered.get("changes", [])
    ]
