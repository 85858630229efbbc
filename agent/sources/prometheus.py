"""Metrics from any server speaking the Prometheus HTTP API (Prometheus, Thanos, VictoriaMetrics, Mimir)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import httpx

from agent.call_labels import OWN_SERVICE, CallLabels
from agent.config import masked_url
from agent.series import Series, make_series
from agent.sources.base import MetricInfo, MetricQuery, QueryLimits, SourceResult, late_reason, time_left
from agent.sources.promql import label_ref, regex_selector, selector
from agent.sources.resample import to_step

log = logging.getLogger(__name__)

MAX_POINTS = 11_000  # Prometheus refuses longer query_range answers per series


BOUNDED = "what was left of the investigation's time for its sources, BIANQUE_GATHER_DEADLINE_S"
LEFT_NONE = "the investigation's time for its sources (BIANQUE_GATHER_DEADLINE_S) had run out"


class PrometheusError(RuntimeError):
    """The server could not be reached or answered something other than a success."""


class AnswerTooLarge(PrometheusError):
    """The answer grew past the query limits while it downloaded."""


class ServerRefused(PrometheusError):
    """The server answered the request with an error (bad query, too many samples, HTTP 4xx/5xx)."""


class NoAnswerInTime(PrometheusError):
    """The server took longer than the timeout to answer."""


class PrometheusMetricSource:
    """A :class:`~agent.sources.base.MetricSource` over ``/api/v1/query_range`` and the catalog APIs."""

    where = "the metric source (BIANQUE_PROMETHEUS_URL)"  # for people: what to check when it holds nothing

    def __init__(
        self,
        base_url: str,
        timeout: float = 15.0,
        name: str = "prometheus",
        max_label_lookups: int = 500,
        transport: httpx.BaseTransport | None = None,
        limits: QueryLimits | None = None,
        service_label: str = "service",
    ) -> None:
        """``service_label``: the label that names a series' service on this server; queries ask for it where a
        Skill says ``service``, and answers carry its value as ``service`` too."""
        self.base_url = base_url.rstrip("/")
        self.shown_url = masked_url(self.base_url)  # what messages name: a basic-auth password is not shown
        self.service_label = service_label
        self.timeout = timeout
        self.name = name
        self.max_label_lookups = max_label_lookups
        self.last_error: str | None = None
        self._transport = transport
        self.limits = limits or QueryLimits()

    # --- queries ------------------------------------------------------------------------

    def query(self, query: MetricQuery) -> SourceResult[Series]:
        """Series for a Skill's metric; every failure becomes ``SourceResult.failed``.

        A Skill's own ``promql`` is evaluated by ``query_range`` at the step. A metric name (a selector) is read
        as its raw samples and averaged to the step (``resample.to_step``, as the bundle source does), so a
        15-s or 1-s scrape gives step means, not the one sample ``query_range`` would pick per step; when the
        raw samples would not fit the answer limits, the selector goes through ``query_range`` instead (the
        request records which read was made, under ``read``).
        """
        request = query.describe()
        try:
            expr = query.promql or selector(query.name, self._server_matchers(query.matchers), query.exclude)
        except ValueError as exc:
            return SourceResult.failed(self.name, request, f"cannot build a PromQL selector: {exc}")
        step = _step(query)
        request.update(expr=expr, step=step)
        if query.end < query.start:
            return SourceResult.failed(self.name, request, "query end is before its start")
        start = math.floor(query.start / step) * step  # on the step grid: the same instants on every query
        try:
            with self._client() as client:
                series = None if query.promql else self._step_means(client, expr, query, start, step, request)
                if series is None:
                    series = self._range(client, expr, query.name, start, query.end, step)
                    request["read"] = "query_range: the sample at each step"
        except PrometheusError as exc:
            return SourceResult.failed(self.name, request, str(exc))
        problem = self.limits.problem(series)
        if problem:
            return SourceResult.failed(self.name, request, problem)
        series.sort(key=Series.key)
        truncated = len(series) > query.limit
        return SourceResult.of(self.name, request, series[: query.limit], truncated=truncated)

    def _range(self, client: httpx.Client, expr: str, name: str, start: float, end: float,
               step: float) -> list[Series]:
        params = {"query": expr, "start": _num(start), "end": _num(end), "step": _num(step)}
        data = self._get(client, "/api/v1/query_range", params)
        return [self._with_service(s) for s in _matrix_to_series(data, name, self.shown_url + "/api/v1/query_range")]

    def _step_means(self, client: httpx.Client, expr: str, query: MetricQuery, start: float, step: float,
                    request: dict[str, object]) -> list[Series] | None:
        """The selector's raw samples in ``[start, end]`` averaged to ``step`` on the grid through 0 (where
        ``query_range`` puts its instants), or None when the server refused the range selector, took too long,
        had none (a long-term store may keep only downsampled data for old windows) or they would not fit the
        answer limits (the download stops at the limit: up to ``limits.max_bytes``)."""
        span_ms = math.ceil((query.end - start) * 1000) + 1  # a range selector leaves its start out
        params = {"query": f"{expr}[{span_ms}ms]", "time": _num(query.end)}
        try:
            data = self._get(client, "/api/v1/query", params)
        except (AnswerTooLarge, ServerRefused, NoAnswerInTime) as exc:  # unreachable: query_range fails as fast
            log.info("%s: no raw samples (%s); reading the sample at each step instead", self.name, exc)
            return None
        raw = _matrix_to_series(data, query.name, self.shown_url + "/api/v1/query")
        if not raw or self.limits.problem(raw) is not None:  # none: maybe only downsampled data (Thanos) is left
            return None
        request["read"] = "raw samples, averaged over each step when at least twice as fine"
        return [self._with_service(to_step(s, step, 0.0)) for s in raw]

    def calls(self, convention: CallLabels, start: float, end: float) -> SourceResult[tuple[str, str]]:
        """The (caller, callee) pairs the labels of the server's series with samples in ``[start, end]`` name under
        ``convention`` (its own service is the ``service_label``), sorted: one instant query at ``end`` over every
        metric carrying both labels, ``group by (caller, callee) (last_over_time({...}[window]))``, so the answer
        holds one element per pair, however many series name it; every failure is ``SourceResult.failed``."""
        caller = self.service_label if convention.caller == OWN_SERVICE else convention.caller
        callee = convention.callee
        request: dict[str, object] = {"caller": caller, "callee": callee, "where": dict(convention.where),
                                      "start": start, "end": end}
        if end < start:
            return SourceResult.failed(self.name, request, "query end is before its start")
        try:
            match = regex_selector({caller: ".+", callee: ".+", **dict(convention.where)}, utf8_names=True)
            by = f"{label_ref(caller)}, {label_ref(callee)}"
        except ValueError as exc:
            return SourceResult.failed(self.name, request, f"cannot build a PromQL selector: {exc}")
        span_ms = math.ceil((end - start) * 1000) + 1  # a range selector leaves its start out
        expr = f"group by ({by}) (last_over_time({match}[{span_ms}ms]))"
        request["expr"] = expr
        try:
            with self._client() as client:
                data = self._get(client, "/api/v1/query", {"query": expr, "time": _num(end)})
            pairs = _vector_pairs(data, caller, callee, self.shown_url + "/api/v1/query")
        except PrometheusError as exc:
            return SourceResult.failed(self.name, request, str(exc))
        return SourceResult.of(self.name, request, pairs)

    def label_names(self, start: float, end: float) -> set[str] | None:
        """The label names of the server's series with samples in ``[start, end]`` (``/api/v1/labels``); None when
        it cannot list them (the reason is logged)."""
        try:
            with self._client() as client:
                names = self._get(client, "/api/v1/labels", {"start": _num(start), "end": _num(end)})
        except PrometheusError as exc:
            log.warning("%s: cannot list label names: %s", self.name, exc)
            return None
        return {str(n) for n in names} if isinstance(names, list) else None

    def services(self, start: float | None = None, end: float | None = None) -> list[str]:
        """The values of the service label (``service_label``) the server knows, in ``[start, end]`` when given
        (services with series then, not every one it ever saw), sorted; ``[]`` when it cannot list them (the
        reason is kept in ``last_error``)."""
        span = {k: _num(v) for k, v in (("start", start), ("end", end)) if v is not None}
        with self._client() as client:
            values = self._label_values(client, self.service_label, span)
        return sorted(str(v) for v in values or [] if v)

    def _server_matchers(self, matchers: Mapping[str, str]) -> dict[str, str]:
        """A query's label matchers with ``service`` asked of the server's own service label."""
        if self.service_label == "service" or "service" not in matchers:
            return dict(matchers)
        renamed = {k: v for k, v in matchers.items() if k != "service"}
        renamed[self.service_label] = matchers["service"]
        return renamed

    def _with_service(self, series: Series) -> Series:
        """``series`` with its service label also under ``service`` (what Skills and the ranking read)."""
        value = series.labels.get(self.service_label)
        if self.service_label == "service" or not value or series.labels.get("service"):
            return series
        return Series(series.metric, {**series.labels, "service": value}, series.timestamps, series.values)

    def _label_values(self, client: httpx.Client, label: str,
                      params: Mapping[str, str] | None = None) -> list[Any] | None:
        """The values of ``label`` the server knows; None when it cannot list them (the reason kept in
        ``last_error``, which is cleared first, for the caller to report: said once, where it is used)."""
        self.last_error = None
        try:
            return list(self._get(client, f"/api/v1/label/{label}/values", dict(params or {})) or [])
        except PrometheusError as exc:
            self.last_error = str(exc)
            return None

    def metrics(self) -> list[MetricInfo]:
        """Every metric name the server knows (backfilled ones too), with type, help and labels.

        Returns ``[]`` when the server cannot list names; the reason is kept in ``last_error``.
        Label names and ``service`` values are looked up for at most ``max_label_lookups`` metrics.
        """
        with self._client() as client:
            names = self._label_values(client, "__name__")
            if names is None:
                return []
            metadata = self._optional(client, "/api/v1/metadata", {})
            metadata = metadata if isinstance(metadata, Mapping) else {}
            infos = []
            for i, metric in enumerate(sorted(str(n) for n in names or [])):
                meta = _first_metadata(metadata.get(metric))
                found = self._labels_of(client, metric) if i < self.max_label_lookups else ((), ())
                infos.append(
                    MetricInfo(
                        name=metric,
                        type=str(meta.get("type") or "unknown"),
                        help=str(meta.get("help") or ""),
                        labels=found[0],
                        services=found[1],
                    )
                )
        return infos

    def _labels_of(self, client: httpx.Client, metric: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Label names and service values (``service_label``) of a metric's series (the first 1000 series)."""
        params = {"match[]": selector(metric, {}), "limit": "1000"}
        found = self._optional(client, "/api/v1/series", params)
        labels: set[str] = set()
        services: set[str] = set()
        for item in found[:1000] if isinstance(found, list) else []:
            if isinstance(item, Mapping):
                labels.update(str(k) for k in item if k != "__name__")
                if item.get(self.service_label):
                    services.add(str(item[self.service_label]))
        return tuple(sorted(labels)), tuple(sorted(services))

    # --- HTTP ---------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout, transport=self._transport)

    def _optional(self, client: httpx.Client, path: str, params: Mapping[str, str]) -> Any:
        """``data`` of a call whose failure only makes the catalog poorer."""
        try:
            return self._get(client, path, params)
        except PrometheusError as exc:
            log.info("%s: %s", self.name, exc)
            return None

    def _get(self, client: httpx.Client, path: str, params: Mapping[str, str]) -> Any:
        """The ``data`` field of a successful API answer, or :class:`PrometheusError`."""
        url, shown = self.base_url + path, self.shown_url + path
        timeout, bounded = self._request_timeout()
        why = late_reason() if bounded else None  # what the investigation says of a call it stopped waiting for
        if timeout <= 0:
            raise NoAnswerInTime(f"{shown}: {why or f'not asked: {LEFT_NONE}'}")
        waited = f"{shown}: " + (why or f"no answer within {timeout:g}s" + (f" ({BOUNDED})" if bounded else ""))
        try:
            with client.stream("GET", url, params=params, timeout=timeout) as response:
                raw = self._read_bounded(response, shown, waited)
        except httpx.TimeoutException:
            raise NoAnswerInTime(waited) from None
        except httpx.HTTPError as exc:
            raise PrometheusError(f"{shown}: cannot reach the server: {exc}") from None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            body = None
        if isinstance(body, Mapping) and body.get("status") == "error":
            kind = body.get("errorType") or "error"
            status = response.status_code
            raise ServerRefused(f"{shown}: Prometheus {kind} (HTTP {status}): {body.get('error')}")
        if response.status_code >= 400:
            raise ServerRefused(f"{shown}: HTTP {response.status_code}: {_snippet(_text(raw))}")
        if not isinstance(body, Mapping) or body.get("status") != "success":
            raise PrometheusError(f"{shown}: not a Prometheus API answer: {_snippet(_text(raw))}")
        return body.get("data")

    def _request_timeout(self) -> tuple[float, bool]:
        """The timeout of a request made now: the source's own, or less when the investigation stops waiting for this
        call sooner (:func:`agent.sources.base.time_left`; then True)."""
        left = time_left()
        return (left, True) if left is not None and left < self.timeout else (self.timeout, False)

    def _read_bounded(self, response: httpx.Response, url: str, waited: str = "") -> bytes:
        """The answer's body, refused as soon as it grows past ``limits.max_bytes``, or (a body trickling in) once the
        investigation stopped waiting for this call (``NoAnswerInTime(waited)``)."""
        limit = self.limits.max_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            if (left := time_left()) is not None and left <= 0:
                raise NoAnswerInTime(waited or f"{url}: {LEFT_NONE}")
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge(
                    f"{url}: the answer is larger than {limit} bytes, the most {self.limits.max_points} points "
                    f"and {self.limits.max_series} series can take: narrow the Skill's labels, shorten the window, "
                    "or raise BIANQUE_MAX_QUERY_POINTS / BIANQUE_MAX_QUERY_SERIES")
            chunks.append(chunk)
        return b"".join(chunks)


def _matrix_to_series(data: Any, fallback_name: str, url: str) -> list[Series]:
    """Series from a ``query_range`` answer or a range selector's raw samples; the metric name comes from
    ``__name__``."""
    if not isinstance(data, Mapping) or data.get("resultType") != "matrix":
        kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
        raise PrometheusError(f"{url}: expected a matrix, got {kind!r}")
    series = []
    for item in data.get("result") or []:
        try:
            labels = {str(k): str(v) for k, v in item["metric"].items()}
            points = [(float(t), float(v)) for t, v in item.get("values") or []]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PrometheusError(f"{url}: malformed series in the answer: {exc!r}") from None
        metric = labels.pop("__name__", fallback_name)
        series.append(make_series(metric, labels, points))
    return series


def _vector_pairs(data: Any, first: str, second: str, url: str) -> list[tuple[str, str]]:
    """The sorted (``first``, ``second``) label values of an instant vector answer's elements, those carrying
    both."""
    if not isinstance(data, Mapping) or data.get("resultType") != "vector":
        kind = data.get("resultType") if isinstance(data, Mapping) else type(data).__name__
        raise PrometheusError(f"{url}: expected a vector, got {kind!r}")
    pairs: set[tuple[str, str]] = set()
    for item in data.get("result") or []:
        labels = item.get("metric") if isinstance(item, Mapping) else None
        if not isinstance(labels, Mapping):
            raise PrometheusError(f"{url}: malformed element in the answer: {item!r:.200}")
        if labels.get(first) and labels.get(second):
            pairs.add((str(labels[first]), str(labels[second])))
    return sorted(pairs)


def _first_metadata(entries: Any) -> Mapping[str, Any]:
    if isinstance(entries, list) and entries and isinstance(entries[0], Mapping):
        return entries[0]
    return {}


def _step(query: MetricQuery) -> float:
    """The query's step, widened when the range would exceed the server's point limit."""
    step = query.step if query.step > 0 else 60.0
    span = max(query.end - query.start, 0.0)
    return max(step, math.ceil(span / MAX_POINTS))


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
