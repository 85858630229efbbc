"""Source interfaces and the one result shape every source returns."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from agent.config import Settings
from agent.series import ChangeRecord, LogRecord, Series

T = TypeVar("T")
Status = Literal["ok", "no_data", "error"]
# time.monotonic() by which this thread's source calls are no longer waited for, and why they then bring nothing
_ANSWER_BY: ContextVar[tuple[float, str | None] | None] = ContextVar("answer_by", default=None)


@contextmanager
def answer_by(ends: float, why: str | None = None) -> Iterator[None]:
    """Source calls made in the block (in this thread) must be answered by ``ends`` (``time.monotonic()``): the
    investigation stops waiting for them then (``agent.graph.deadline.ask``), so a source that can bound its own
    requests (the PromQL source: each request's timeout; the SQL store: each statement's,
    :mod:`agent.sources.sqlbound`) gives up then too instead of running on unwatched, saying ``why`` (the reason the
    investigation gives a call it stopped waiting for, :func:`late_reason`)."""
    token = _ANSWER_BY.set((ends, why))
    try:
        yield
    finally:
        _ANSWER_BY.reset(token)


def time_left() -> float | None:
    """Seconds left before the calls of this thread are no longer waited for (:func:`answer_by`; 0 once passed),
    None when no one set a bound."""
    bound = _ANSWER_BY.get()
    return None if bound is None else max(0.0, bound[0] - time.monotonic())


def late_reason() -> str | None:
    """Why a call of this thread that the bound of :func:`answer_by` ended brings nothing, as the investigation says
    it of a call it stopped waiting for; None when none was given."""
    bound = _ANSWER_BY.get()
    return None if bound is None else bound[1]


@dataclass
class SourceResult(Generic[T]):
    """What was asked, what came back, or why nothing did."""

    source: str
    request: dict[str, object]
    status: Status
    data: list[T] = field(default_factory=list)
    error: str | None = None
    truncated: bool = False

    @classmethod
    def of(cls, source: str, request: dict[str, object], data: list[T], truncated: bool = False) -> SourceResult[T]:
        return cls(source, request, "ok" if data else "no_data", data, None, truncated)

    @classmethod
    def failed(cls, source: str, request: dict[str, object], error: str) -> SourceResult[T]:
        return cls(source, request, "error", [], error, False)


@dataclass(frozen=True)
class MetricQuery:
    """Series of a metric (exact name or glob) whose labels match, in ``[start, end]``."""

    name: str
    matchers: Mapping[str, str]
    start: float
    end: float
    step: float = 60.0
    promql: str | None = None
    limit: int = 200
    exclude: tuple[str, ...] = ()  # metric names (or globs) left out: a catch-all skips what others read

    def asked(self) -> dict[str, object]:
        """What it asks, with the number of series it reads at most: what a kept case says of a query answered in
        part (``capture.yaml``)."""
        return {**self.describe(), "limit": self.limit}

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "matchers": dict(self.matchers),
            "start": self.start,
            "end": self.end,
            "step": self.step,
            **({"promql": self.promql} if self.promql else {}),
            **({"exclude": list(self.exclude)} if self.exclude else {}),
        }


BYTES_PER_POINT = 64  # room per point in a raw answer (Prometheus JSON: about 30 bytes)
BYTES_PER_SERIES = 2048  # room per series for its label set


@dataclass(frozen=True)
class QueryLimits:
    """How big one metric query's answer may be (settings ``max_query_series``, ``max_query_points``)."""

    max_series: int = 10_000
    max_points: int = 2_000_000

    @property
    def max_bytes(self) -> int:
        """The largest raw answer worth reading: generous room for that many points and series in the
        Prometheus JSON encoding (about 30 bytes a point, a few hundred a label set), so an answer
        beyond the limits is cut off while it downloads, not after it filled memory."""
        return self.max_points * BYTES_PER_POINT + self.max_series * BYTES_PER_SERIES

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(settings.max_query_series, settings.max_query_points)

    def problem(self, series: Sequence[Series]) -> str | None:
        """Why an answer of ``series`` is refused (naming the limit and how to raise it), or None."""
        if len(series) > self.max_series:
            return (f"the answer has {len(series)} series, more than the limit of {self.max_series} per query: "
                    "narrow the Skill's labels, or raise BIANQUE_MAX_QUERY_SERIES")
        points = sum(len(s.timestamps) for s in series)
        if points > self.max_points:
            return (f"the answer has {points} points, more than the limit of {self.max_points} per query: "
                    "shorten the window, widen the step, or raise BIANQUE_MAX_QUERY_POINTS")
        return None


@dataclass(frozen=True)
class LogRequest:
    services: tuple[str, ...]
    start: float
    end: float
    levels: tuple[str, ...] = ("WARN", "ERROR", "FATAL")
    patterns: tuple[str, ...] = ()
    limit: int = 2000
    whole_traces: bool = False  # beyond ``limit``, keep a share of the traces whole (``sampling.whole_traces``)


def as_asked(request: LogRequest | ChangeRequest) -> dict[str, object]:
    """A request's fields as data (tuples as lists): what a source result says was asked, and what a kept case
    says of a log request answered in part (``capture.yaml``)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(request).items()}


@dataclass(frozen=True)
class ChangeRequest:
    services: tuple[str, ...]
    start: float
    end: float
    types: tuple[str, ...] = ("deploy", "config", "flag", "canary", "rollback")


@dataclass(frozen=True)
class MetricInfo:
    """One metric the catalog knows."""

    name: str
    type: str = "unknown"
    help: str = ""
    labels: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


class MetricSource(Protocol):
    name: str

    def query(self, query: MetricQuery) -> SourceResult[Series]: ...

    def metrics(self) -> list[MetricInfo]: ...


class LogSource(Protocol):
    name: str

    def query(self, request: LogRequest) -> SourceResult[LogRecord]: ...

    def services(self, start: float | None = None, end: float | None = None) -> list[str]: ...

    def line_span(self, start: float, end: float) -> tuple[float, float] | None:
        """When the store's first and last lines in ``[start, end]`` (any service, any level) were written; None:
        none, or unknown. Says which part of the window the store covers: a query at ERROR level finding nothing
        means no errors only where it does, and a template's expected count scales by the time it covers."""
        ...


class ChangeSource(Protocol):
    name: str

    def query(self, request: ChangeRequest) -> SourceResult[ChangeRecord]: ...


def label_matches(labels: Mapping[str, str], matchers: Mapping[str, str]) -> bool:
    """True when every matcher holds; a matcher value may be a glob, ``""`` means label absent."""
    for key, pattern in matchers.items():
        value = labels.get(key, "")
        if pattern == "":
            if value:
                return False
        elif not fnmatch.fnmatchcase(value, pattern):
            return False
    return True


def name_matches(name: str, pattern: str) -> bool:
    """Exact metric name or glob."""
    return fnmatch.fnmatchcase(name, pattern)
