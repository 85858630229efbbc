"""``capture.yaml``: what a live run read beside its data, kept with its case's bundle so a replay answers as it did.

An optional file of the bundle format (docs/bundle-format.md#captureyaml), written by a live investigation's memory
step (:mod:`agent.bundles.captured`) and read by the bundle reader; a reader that does not know it ignores it. It
holds what the data files cannot: the log store's span over the window read (the store's first and last lines of any
service and level, not the kept lines'), the services the live sources listed as having data, the call graph read
off the live data (also written as ``topology.yaml``, for readers without this file) and its notes, and which log
requests and metric queries were answered only in part.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from agent.bundles.errors import BundleError, BundleWarning, ErrorLog
from agent.bundles.yaml_lines import load_optional_yaml, report_validation, to_plain, warn_unknown_keys
from agent.names import name_problem

CAPTURE_FILE = "capture.yaml"
SAME_TIME_S = 1e-3  # a window asked again: event.yaml keeps an event's time to the microsecond, a float not exactly


def _service_name_problem(name: str) -> str | None:
    """Why ``name`` is no service name as the bundle's other files take one (blank, a control character), or None."""
    return "blank: not a service name" if not name.strip() else name_problem(name)


def _service_name(name: str) -> str:
    """``name`` when it is a service name (:func:`_service_name_problem`)."""
    problem = _service_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _named(names: list[str]) -> list[str]:
    """The service names among ``names`` (what a live source listed may hold others: a blank label value)."""
    return [name for name in names if _service_name_problem(name) is None]


def _span(span: tuple[float, float]) -> tuple[float, float]:
    """``span`` when it is one: finite times (Unix seconds), the end not before the start."""
    if not all(map(math.isfinite, span)):
        raise ValueError(f"times must be finite numbers of Unix seconds, got {list(span)}")
    if span[1] < span[0]:
        raise ValueError(f"ends ({span[1]}) before it starts ({span[0]})")
    return span


ServiceName = Annotated[str, AfterValidator(_service_name)]
Span = Annotated[tuple[float, float], AfterValidator(_span)]


def _within(outer: tuple[float, float], start: float, end: float) -> bool:
    """Whether ``[start, end]`` lies within ``outer`` (to ``SAME_TIME_S``)."""
    return start >= outer[0] - SAME_TIME_S and end <= outer[1] + SAME_TIME_S


class LogSpan(BaseModel):
    """The log store's first and last lines (``lines``; None: it held none there, or could not say) in the window
    asked (``asked``: the span of the run's log requests)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    asked: Span
    lines: Span | None = None

    def within(self, start: float, end: float) -> tuple[float, float] | None:
        """The store's first and last lines in ``[start, end]`` as the live store answered (``[start, end]`` within
        ``asked``: the kept span cut to it; None when it held none there)."""
        if self.lines is None or self.lines[1] < start or self.lines[0] > end:
            return None
        return max(self.lines[0], start), min(self.lines[1], end)


class ServicesListed(BaseModel):
    """The services with data the live sources listed for a window (``asked``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    asked: Span
    services: list[ServiceName] = Field(default_factory=list)


class CallsRead(BaseModel):
    """The call graph a live run read off its data (caller -> callees; empty: it read none) and its notes, as said."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    calls: dict[ServiceName, list[ServiceName]] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class LogAsked(BaseModel):
    """A log request as a source was asked it (``agent.sources.base.LogRequest``'s fields)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    services: list[str]
    start: float
    end: float
    levels: list[str]
    patterns: list[str]
    limit: int
    whole_traces: bool = False


class MetricAsked(BaseModel):
    """A metric query as a source was asked it (``agent.sources.base.MetricQuery.describe()`` and its ``limit``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    matchers: dict[str, str]
    start: float
    end: float
    step: float
    limit: int


class Capture(BaseModel):
    """What a live run read beside its data files; every part optional (absent: as an older bundle, from the data)."""

    model_config = ConfigDict(extra="ignore")

    log_span: LogSpan | None = None
    calls_read: CallsRead | None = None
    truncated_logs: list[LogAsked] = Field(default_factory=list)
    truncated_metrics: list[MetricAsked] = Field(default_factory=list)
    services_listed: list[ServicesListed] = Field(default_factory=list)

    def log_span_in(self, start: float, end: float) -> tuple[float, float] | None | bool:
        """The live store's span in ``[start, end]`` (:meth:`LogSpan.within`); False when the run did not ask for
        it (a window beyond the one asked: the kept lines must answer)."""
        span = self.log_span
        return span.within(start, end) if span is not None and _within(span.asked, start, end) else False

    def answered_in_part(self, asked: dict[str, Any]) -> bool:
        """Whether the live source answered the request ``asked`` (a log request's fields, tuples as lists; a metric
        query's ``describe()`` and ``limit``) only in part: one of ``truncated_logs`` or ``truncated_metrics`` (its
        times to ``SAME_TIME_S``)."""
        rest = {k: v for k, v in asked.items() if k not in ("start", "end")}
        return any(abs(cut.start - asked["start"]) <= SAME_TIME_S and abs(cut.end - asked["end"]) <= SAME_TIME_S
                   and cut.model_dump(exclude={"start", "end"}) == rest
                   for cut in (*self.truncated_logs, *self.truncated_metrics))

    def services_in(self, start: float | None, end: float | None) -> list[str] | None:
        """The services the live sources listed for ``[start, end]`` (the same window, to ``SAME_TIME_S``); None
        when they were not asked for it."""
        if start is None or end is None:
            return None
        for listed in self.services_listed:
            if abs(start - listed.asked[0]) <= SAME_TIME_S and abs(end - listed.asked[1]) <= SAME_TIME_S:
                return list(listed.services)
        return None


def capture_of(gathered: dict[str, Any]) -> dict[str, Any]:
    """The ``capture.yaml`` mapping of a gathering (``state["gathered"]`` of the gather step); empty when it holds
    nothing worth keeping. A name the live sources listed that no bundle takes (blank, a control character) is left
    out, so that the bundle stays readable."""
    data: dict[str, Any] = {}
    if gathered.get("log_span_asked") is not None:
        span = gathered.get("log_span")
        data["log_span"] = {"asked": list(gathered["log_span_asked"]), "lines": list(span) if span else None}
    if (read := gathered.get("calls_read")) is not None:
        calls = {caller: _named(callees) for caller, callees in read["calls"].items() if _named([caller])}
        data["calls_read"] = {**read, "calls": calls}
    for cut in ("truncated_logs", "truncated_metrics"):
        if gathered.get(cut):
            data[cut] = list(gathered[cut])
    if gathered.get("services_listed"):
        data["services_listed"] = [{**listed, "services": _named(listed["services"])}
                                   for listed in gathered["services_listed"]]
    return data


def read_capture(path: Path, label: str,
                 warnings: list[BundleWarning] | None = None) -> tuple[Capture | None, list[BundleError]]:
    """The capture of ``path`` (absent, or no YAML document: None) and its problems, each with its line and field;
    the keys it ignores are added to ``warnings`` when given (:func:`_warn_ignored`)."""
    log, data = load_optional_yaml(path, label)
    if data is None:
        return None, log.result()
    if not isinstance(data, dict):
        log.add(f"must be a mapping ({', '.join(Capture.model_fields)})")
        return None, log.result()
    try:
        capture = Capture.model_validate(to_plain(data))
    except ValidationError as exc:
        report_validation(log, data, exc)
        return None, log.result()
    if warnings is not None:
        _warn_ignored(log, data)
        warnings += log.warnings
    return capture, []


def _warn_ignored(log: ErrorLog, data: dict) -> None:
    """Warn on the keys of a valid capture that no part reads (``log_spans:``, ``services_listed[0].service:``); a
    request answered in part keeps every key it was asked with (:meth:`Capture.answered_in_part` compares them)."""
    parts: list[tuple[tuple[str | int, ...], type[BaseModel]]] = [((), Capture)]
    parts += [((name,), model) for name, model in (("log_span", LogSpan), ("calls_read", CallsRead))
              if isinstance(data.get(name), dict)]
    parts += [(("services_listed", i), ServicesListed) for i in range(len(data.get("services_listed") or []))]
    for loc, model in parts:
        warn_unknown_keys(log, data, loc, model.model_fields, f"only {', '.join(model.model_fields)} are read")
