"""Metric, log and change sources over one loaded case bundle."""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from agent.call_labels import CallLabels
from agent.detectors.trace_ids import trace_of
from agent.series import ChangeRecord, LogRecord, Series, level_name, median_gap
from agent.sources.base import (
    ChangeRequest,
    LogRequest,
    MetricInfo,
    MetricQuery,
    QueryLimits,
    SourceResult,
    as_asked,
    label_matches,
    name_matches,
)
from agent.sources.promql import is_glob
from agent.sources.resample import to_step
from agent.sources.sampling import stratified, whole_traces

if TYPE_CHECKING:
    from agent.bundles.reader import CaseBundle


class BundleMetricSource:
    """Answers metric queries from a bundle's metrics.csv (``promql`` is ignored): raw samples, averaged to the
    query's step when they come much finer (``resample.to_step``), as ``avg_over_time(x[step])`` would answer; a
    query a live case's store answered in part (``capture.yaml``) as answered in part."""

    where = "the bundle's metrics.csv"  # where its data is, for people: what to check when it holds nothing

    def __init__(self, bundle: CaseBundle, name: str = "bundle", limits: QueryLimits | None = None) -> None:
        self.bundle = bundle
        self.name = name
        self.limits = limits or QueryLimits()
        self._by_metric: dict[str, list[Series]] = defaultdict(list)
        self._by_service: dict[str, dict[str, list[Series]]] = defaultdict(lambda: defaultdict(list))
        firsts = [float(s.timestamps[0]) for s in bundle.series if len(s)]
        self._grid = min(firsts, default=0.0)  # where the buckets of a step-averaged answer begin
        # id of each bundle series -> its sampling interval, worked out once here, not per query in the threads
        self._intervals = {id(s): median_gap([s.timestamps], default=math.inf) for s in bundle.series}
        for series in bundle.series:
            self._by_metric[series.metric].append(series)
            self._by_service[series.service or ""][series.metric].append(series)
        self._label_names = {name for series in bundle.series for name in series.labels}

    def _candidates(self, query: MetricQuery) -> list[Series]:
        """Series of every metric whose name matches and is not excluded, of the one service asked for when
        the query names it exactly; names are matched once, not once per series."""
        service = query.matchers.get("service")
        groups = self._by_metric if service is None or is_glob(service) else self._by_service.get(service, {})
        if query.name in groups and not query.exclude:
            return groups[query.name]
        return [s for name, group in groups.items()
                if name_matches(name, query.name) and not any(name_matches(name, g) for g in query.exclude)
                for s in group]

    def query(self, query: MetricQuery) -> SourceResult[Series]:
        """Series whose name matches (exact or glob) and whose labels match, cut to ``[start, end]`` and brought
        to the query's step when finer."""
        request = query.describe()
        found: list[Series] = []
        truncated = False
        for series in self._candidates(query):
            if not label_matches(series.labels, query.matchers):
                continue
            mask = (series.timestamps >= query.start) & (series.timestamps <= query.end)
            if not mask.any():
                continue
            if len(found) >= query.limit:
                truncated = True
                break
            cut = Series(series.metric, series.labels, series.timestamps[mask], series.values[mask])
            found.append(to_step(cut, query.step, self._grid, self._intervals[id(series)]))
        problem = self.limits.problem(found)
        if problem:
            return SourceResult.failed(self.name, request, problem)
        return SourceResult.of(self.name, request, found, truncated or answered_in_part(self.bundle, query.asked()))

    def label_names(self, start: float, end: float) -> set[str]:
        """The label names of the bundle's series (metrics.csv's columns past the value; the window aside)."""
        return set(self._label_names)

    def calls(self, convention: CallLabels, start: float, end: float) -> SourceResult[tuple[str, str]]:
        """The (caller, callee) pairs the labels of the series with samples in ``[start, end]`` name under
        ``convention`` (metrics.csv's extra columns), sorted."""
        request = {"caller": convention.caller, "callee": convention.callee, "where": dict(convention.where),
                   "start": start, "end": end}
        found: set[tuple[str, str]] = set()
        if convention.named_labels <= self._label_names:
            for series in self.bundle.series:
                call = convention.call_of(series.labels)
                if call and call not in found and ((series.timestamps >= start) & (series.timestamps <= end)).any():
                    found.add(call)
        return SourceResult.of(self.name, request, sorted(found))

    def services(self, start: float | None = None, end: float | None = None) -> list[str]:
        """Services that have metric samples (in ``[start, end]`` when given), sorted; those the live sources listed
        for that window, when a live case's bundle says (:func:`listed_services`)."""
        listed = listed_services(self.bundle, start, end)
        if listed is not None:
            return listed
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return sorted({s.service for s in self.bundle.series
                       if s.service and ((s.timestamps >= lo) & (s.timestamps <= hi)).any()})

    def metrics(self) -> list[MetricInfo]:
        """Every metric name in the bundle with its label names and services, sorted by name."""
        labels: dict[str, set[str]] = defaultdict(set)
        services: dict[str, set[str]] = defaultdict(set)
        for series in self.bundle.series:
            labels[series.metric].update(series.labels)
            if series.service:
                services[series.metric].add(series.service)
        return [
            MetricInfo(name=m, labels=tuple(sorted(labels[m])), services=tuple(sorted(services[m])))
            for m in sorted(labels)
        ]


class BundleLogSource:
    """Answers log requests from a bundle's logs.jsonl; a live case's bundle as its live run's store answered
    (``capture.yaml``): the store's span, and a request it answered in part as answered in part."""

    def __init__(self, bundle: CaseBundle, name: str = "bundle", limits: QueryLimits | None = None) -> None:
        self.bundle = bundle
        self.name = name
        self.limits = limits or QueryLimits()
        self._logs = sorted(bundle.logs, key=lambda r: r.ts)
        self._times = [r.ts for r in self._logs]

    def query(self, request: LogRequest) -> SourceResult[LogRecord]:
        """Lines of the services (names or globs; none: all) in ``[start, end]`` at the levels (none: all)
        containing one of the patterns (case-insensitive substrings; none: any), oldest first; beyond
        ``limit`` lines, that many spread evenly over the window within each service and level, or a share of
        the traces whole when the request asks for whole traces (``sampling``; a line's trace is its
        ``trace_id`` or the id its text carries)."""
        wanted = _service_filter(request.services)
        levels = {level_name(lvl) for lvl in request.levels}
        patterns = [p.lower() for p in request.patterns]
        found: list[LogRecord] = []
        for record in self._logs:
            if not request.start <= record.ts <= request.end or not wanted(record.service):
                continue
            if levels and level_name(record.level) not in levels:
                continue
            if patterns and not any(p in record.message.lower() for p in patterns):
                continue
            found.append(record)
        if request.whole_traces:
            kept, truncated = whole_traces(found, request.limit, trace_of)
        else:
            kept, truncated = stratified(found, request.limit, _service_and_level)
        asked = as_asked(request)
        return SourceResult.of(self.name, asked, kept, truncated or answered_in_part(self.bundle, asked))

    def services(self, start: float | None = None, end: float | None = None) -> list[str]:
        """Services that have log lines (in ``[start, end]`` when given), sorted; those the live sources listed for
        that window, when a live case's bundle says (:func:`listed_services`)."""
        listed = listed_services(self.bundle, start, end)
        if listed is not None:
            return listed
        lo = -math.inf if start is None else start
        hi = math.inf if end is None else end
        return sorted({r.service for r in self.bundle.logs if lo <= r.ts <= hi})

    def line_span(self, start: float, end: float) -> tuple[float, float] | None:
        """The times of the bundle's first and last log lines in ``[start, end]``, None without one; within the window
        a live run asked its store about, the store's answer it kept (its first and last lines of any service and
        level, not only the kept lines')."""
        kept = self.bundle.capture.log_span_in(start, end) if self.bundle.capture is not None else False
        if kept is not False:
            return kept
        first, past = bisect.bisect_left(self._times, start), bisect.bisect_right(self._times, end)
        return (self._times[first], self._times[past - 1]) if past > first else None


class BundleChangeSource:
    """Answers change requests from a bundle's changes.jsonl."""

    def __init__(self, bundle: CaseBundle, name: str = "bundle", limits: QueryLimits | None = None) -> None:
        self.bundle = bundle
        self.name = name
        self.limits = limits or QueryLimits()
        self._changes = sorted(bundle.changes, key=lambda c: c.ts)

    def query(self, request: ChangeRequest) -> SourceResult[ChangeRecord]:
        """Changes of the services (names or globs; none: all) and types (none: all) in ``[start, end]``,
        oldest first."""
        wanted = _service_filter(request.services)
        types = set(request.types)
        found = [
            c
            for c in self._changes
            if request.start <= c.ts <= request.end and wanted(c.service) and (not types or c.type in types)
        ]
        return SourceResult.of(self.name, as_asked(request), found)

    def services(self) -> list[str]:
        """Services that have changes, sorted."""
        return sorted({c.service for c in self.bundle.changes})


def answered_in_part(bundle: CaseBundle, asked: dict[str, object]) -> bool:
    """Whether a live case's store answered the request ``asked`` only in part, as its bundle kept it
    (``capture.yaml``, :meth:`Capture.answered_in_part`); never for a bundle no live run kept."""
    return bundle.capture is not None and bundle.capture.answered_in_part(asked)


def listed_services(bundle: CaseBundle, start: float | None, end: float | None) -> list[str] | None:
    """The services the live sources listed as having data in ``[start, end]``, as a live case's bundle kept them
    (``capture.yaml``): its data holds only those the Skill's queries read. None when it did not keep them."""
    return bundle.capture.services_in(start, end) if bundle.capture is not None else None


def _service_and_level(record: LogRecord) -> tuple[str, str]:
    return record.service, record.level


def _service_filter(patterns: tuple[str, ...]) -> Callable[[str], bool]:
    """A cached predicate: does a service name match one of the names or globs (none: all)?"""

    @cache
    def wanted(service: str) -> bool:
        return not patterns or any(name_matches(service, p) for p in patterns)

    return wanted
