"""PrometheusMetricSource failure handling against a fake HTTP server, and the PromQL selector builder.

The real behaviour (series, globs, matchers, catalog) is tested against a real Prometheus in
``tests/e2e/test_prometheus_source.py``.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator

import numpy as np
import pytest

from agent.call_labels import CONVENTIONS
from agent.sources.base import MetricQuery, QueryLimits
from agent.sources.prometheus import PrometheusMetricSource
from agent.sources.promql import escape_string, glob_to_re2, quote, regex_selector, selector


class FakePrometheus:
    """Answers each path with a queued (status, body, delay) or 404."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, float]] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                status, body, delay = fake.routes.get(self.path.split("?")[0], (404, "not found", 0.0))
                time.sleep(delay)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading (a size limit)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, path: str, body: object, status: int = 200, delay: float = 0.0) -> None:
        self.routes[path] = (status, body if isinstance(body, str) else json.dumps(body), delay)


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    yield server
    server.server.shutdown()
    server.server.server_close()


def query(name: str = "up", **kwargs) -> MetricQuery:
    return MetricQuery(name, kwargs.pop("matchers", {}), 1000.0, 2000.0, **kwargs)


def matrix(*results: dict) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": list(results)}}


def test_matrix_becomes_series(fake):
    fake.answer(
        "/api/v1/query_range",
        matrix(
            {"metric": {"__name__": "up", "job": "b"}, "values": [[1060, "1"], [1000, "0"], [1120, "NaN"]]},
            {"metric": {"__name__": "up", "job": "a"}, "values": [[1000, "1"]]},
        ),
    )
    result = PrometheusMetricSource(fake.url).query(query())
    assert result.status == "ok"
    assert [s.labels for s in result.data] == [{"job": "a"}, {"job": "b"}]
    assert result.data[1].timestamps.tolist() == [1000.0, 1060.0]
    assert result.data[1].values.tolist() == [0.0, 1.0]
    assert fake.requests[-1].startswith("/api/v1/query_range?query=%7B__name__%3D%22up%22%7D&")


def _params(request: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(request).query)


def test_query_start_sits_on_the_step_grid(fake):
    fake.answer("/api/v1/query_range", matrix())
    PrometheusMetricSource(fake.url).query(MetricQuery("up", {}, 1_000_037.5, 1_003_600.0, step=60.0))
    ranged = next(r for r in fake.requests if r.startswith("/api/v1/query_range"))
    params = _params(ranged)
    assert (params["start"], params["step"]) == (["1000020"], ["60"])  # floor to the grid, never later


def _every(interval: float, start: float, end: float, value) -> list[list]:
    return [[t, str(value(t))] for t in np.arange(start, end + 1e-9, interval)]


def test_a_selector_reads_raw_samples_and_averages_them_to_the_step(fake):
    """A 15-s scrape read at a 60-s step: each minute's mean (here 10, the samples alternate 8 and 12),
    not the one sample ``query_range`` would pick per step."""
    samples = _every(15.0, 1020.0, 2000.0, lambda t: 8 if int(t // 15) % 2 else 12)
    fake.answer("/api/v1/query", matrix({"metric": {"__name__": "up", "job": "a"}, "values": samples}))
    result = PrometheusMetricSource(fake.url).query(MetricQuery("up", {}, 1000.0, 2000.0, step=60.0))
    assert result.status == "ok", result.error
    assert fake.requests and all(r.startswith("/api/v1/query?") for r in fake.requests)
    params = _params(fake.requests[0])
    assert params["query"] == ['{__name__="up"}[1040001ms]'] and params["time"] == ["2000"]  # from 960 on the grid
    (series,) = result.data
    assert series.values.tolist() == [10.0] * 17  # minutes from 1020 on; the last (1980, 1995) holds half: kept
    assert series.timestamps[0] == 1065.0  # stamped at each minute's latest sample
    assert result.request["read"].startswith("raw samples")


def test_samples_as_coarse_as_the_step_come_back_as_they_are(fake):
    samples = _every(60.0, 1020.0, 2000.0, lambda t: t % 7)
    fake.answer("/api/v1/query", matrix({"metric": {"__name__": "up"}, "values": samples}))
    (series,) = PrometheusMetricSource(fake.url).query(MetricQuery("up", {}, 1000.0, 2000.0, step=60.0)).data
    assert series.timestamps.tolist() == [float(t) for t, _ in samples]


def test_raw_samples_beyond_the_limits_are_read_at_each_step_instead(fake):
    fake.answer("/api/v1/query", matrix({"metric": {"__name__": "up"}, "values": _every(1.0, 1000.0, 1099.0, abs)}))
    fake.answer("/api/v1/query_range", matrix({"metric": {"__name__": "up"}, "values": [[1020, "1"], [1080, "2"]]}))
    source = PrometheusMetricSource(fake.url, limits=QueryLimits(max_series=10, max_points=50))
    result = source.query(MetricQuery("up", {}, 1000.0, 1100.0, step=60.0))
    assert result.status == "ok" and result.data[0].values.tolist() == [1.0, 2.0]
    assert result.request["read"].startswith("query_range")


def test_a_server_refusing_the_range_selector_is_asked_at_each_step(fake):
    fake.answer("/api/v1/query", {"status": "error", "errorType": "execution", "error": "too many samples"},
                status=422)
    fake.answer("/api/v1/query_range", matrix({"metric": {"__name__": "up"}, "values": [[1020, "1"]]}))
    result = PrometheusMetricSource(fake.url).query(query())
    assert result.status == "ok" and result.data[0].values.tolist() == [1.0]
    assert [r.split("?")[0] for r in fake.requests] == ["/api/v1/query", "/api/v1/query_range"]
    assert result.request["read"].startswith("query_range")


def test_no_raw_samples_or_no_answer_in_time_is_asked_at_each_step(fake):
    """A long-term store may hold only downsampled data for an old window; a heavy raw read may time out."""
    fake.answer("/api/v1/query", matrix())
    fake.answer("/api/v1/query_range", matrix({"metric": {"__name__": "up"}, "values": [[1020, "1"]]}))
    assert PrometheusMetricSource(fake.url).query(query()).data[0].values.tolist() == [1.0]
    fake.answer("/api/v1/query", matrix({"metric": {"__name__": "up"}, "values": [[1020, "5"]]}), delay=1.5)
    result = PrometheusMetricSource(fake.url, timeout=0.5).query(query())
    assert result.status == "ok" and result.data[0].values.tolist() == [1.0]
    assert result.request["read"].startswith("query_range")


def test_a_skills_own_promql_is_evaluated_at_each_step(fake):
    fake.answer("/api/v1/query_range", matrix({"metric": {}, "values": [[1020, "1"]]}))
    result = PrometheusMetricSource(fake.url).query(query(promql="sum(rate(x[5m]))"))
    assert result.status == "ok"
    assert [r.split("?")[0] for r in fake.requests] == ["/api/v1/query_range"]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, "this is not json", "not a Prometheus API answer"),
        (200, "[" * 100_000 + "]" * 100_000, "not a Prometheus API answer"),  # a RecursionError had escaped
        (500, "internal meltdown", "HTTP 500: internal meltdown"),
        (502, "", "HTTP 502"),
        (422, {"status": "error", "errorType": "execution", "error": "too many samples"}, "too many samples"),
        (200, {"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data"),
        (200, {"status": "success", "data": {"resultType": "vector", "result": []}}, "expected a matrix"),
        (200, matrix({"metric": {"__name__": "up"}, "values": [["x", "1"]]}), "malformed series"),
        (200, matrix({"values": [[1, "1"]]}), "malformed series"),
    ],
)
def test_bad_answers_become_failed_results(fake, status, body, expected):
    fake.answer("/api/v1/query_range", body, status=status)
    result = PrometheusMetricSource(fake.url).query(query())
    assert result.status == "error"
    assert expected in result.error
    assert "/api/v1/query_range" in result.error
    assert result.data == []


def test_timeout_becomes_failed_result(fake):
    fake.answer("/api/v1/query_range", matrix(), delay=2.0)
    result = PrometheusMetricSource(fake.url, timeout=0.2).query(query())
    assert result.status == "error"
    assert "no answer within 0.2s" in result.error


def test_unreachable_server_becomes_failed_result(fake):
    url = fake.url
    fake.server.shutdown()
    fake.server.server_close()
    result = PrometheusMetricSource(url).query(query())
    assert result.status == "error"
    assert "cannot reach the server" in result.error


def test_a_failure_names_the_server_without_its_basic_auth_password(fake):
    """A URL carrying basic-auth credentials is used as given; what the failure says (shown in reports, stored with
    the case) masks the password."""
    fake.answer("/api/v1/query_range", {"status": "error", "errorType": "bad_data", "error": "parse error"}, 400)
    source = PrometheusMetricSource(fake.url.replace("http://", "http://admin:s3cret@"))
    result = source.query(query())
    assert result.status == "error"
    assert result.error.startswith(fake.url.replace("http://", "http://admin:***@") + "/api/v1/query_range: ")
    assert "s3cret" not in result.error


def test_invalid_label_name_is_refused_before_any_request(fake):
    result = PrometheusMetricSource(fake.url).query(query(matchers={'a"}': "x"}))
    assert result.status == "error"
    assert "not a valid label name" in result.error
    assert fake.requests == []


def test_limit_truncates_sorted_series(fake):
    fake.answer(
        "/api/v1/query_range",
        matrix(*({"metric": {"__name__": "up", "i": str(i)}, "values": [[1000, "1"]]} for i in range(5))),
    )
    result = PrometheusMetricSource(fake.url).query(query(limit=3))
    assert [s.labels["i"] for s in result.data] == ["0", "1", "2"]
    assert result.truncated


def test_metrics_merges_names_metadata_and_series_labels(fake):
    fake.answer("/api/v1/label/__name__/values", {"status": "success", "data": ["b_total", "a_bytes"]})
    metadata = {"b_total": [{"type": "counter", "help": "B."}]}
    fake.answer("/api/v1/metadata", {"status": "success", "data": metadata})
    series = [{"__name__": "x", "service": "s1", "pod": "p"}, {"__name__": "x", "service": "s0"}]
    fake.answer("/api/v1/series", {"status": "success", "data": series})
    infos = PrometheusMetricSource(fake.url).metrics()
    assert [(m.name, m.type, m.help) for m in infos] == [
        ("a_bytes", "unknown", ""),
        ("b_total", "counter", "B."),
    ]
    assert infos[0].labels == ("pod", "service")
    assert infos[0].services == ("s0", "s1")


def test_metrics_survives_missing_metadata_and_reports_unreachable(fake):
    fake.answer("/api/v1/label/__name__/values", {"status": "success", "data": ["up"]})
    source = PrometheusMetricSource(fake.url, max_label_lookups=0)
    assert [(m.name, m.labels) for m in source.metrics()] == [("up", ())]
    assert not any(r.startswith("/api/v1/series") for r in fake.requests)
    fake.answer("/api/v1/label/__name__/values", "oops", status=503)
    assert source.metrics() == []
    assert "HTTP 503" in source.last_error


def test_a_server_that_cannot_list_its_services_is_said_once_by_whoever_reports_it(fake, caplog):
    """The source keeps why in ``last_error`` and logs nothing itself: an investigation's neighbourhood says it in
    the log, once; a caller collecting the failures to report them (`schedule add`'s check) gets them instead."""
    from agent.graph.toolkit import Toolkit

    fake.answer("/api/v1/label/service/values", "oops", status=503)
    source = PrometheusMetricSource(fake.url)
    with caplog.at_level("WARNING"):
        assert source.services() == [] and "HTTP 503" in source.last_error
        assert caplog.records == []
        toolkit = Toolkit(library=None, reasoner=None, metrics=source)
        failures: dict[str, str] = {}
        assert toolkit.data_services(failures=failures) == []
        assert failures == {"prometheus": source.last_error} and caplog.records == []
        assert toolkit.data_services() == []
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("agent.graph.toolkit", "WARNING", f"prometheus: cannot list services: {source.last_error}")]


# --- selector builder -------------------------------------------------------------------------


def test_selector_exact_glob_and_absent():
    built = selector("http_*", {"service": "ranking", "pod": "web-?", "zone": ""})
    assert built == '{__name__=~"http_.*", service="ranking", pod=~"web-.", zone=""}'
    assert selector("*", {}) == '{__name__=~".+"}'


def test_selector_plain_name_and_exact_labels():
    assert selector("up", {"service": "ranking"}) == '{__name__="up", service="ranking"}'
    assert selector("up", {"version": ""}) == '{__name__="up", version=""}'


def test_selector_globs_use_name_regex_and_label_regex():
    built = selector("*latency*", {"service": "rank*", "zone": 'a"b'})
    assert built == '{__name__=~".*latency.*", service=~"rank.*", zone="a\\"b"}'


def test_selector_keeps_a_hostile_metric_name_inside_its_string():
    assert selector("up) or vector(1", {}) == '{__name__="up) or vector(1"}'



def test_regex_selector_quotes_each_regex_and_checks_each_label_name():
    assert regex_selector({"a": ".+", "b": 'x"y\\'}) == '{a=~".+", b=~"x\\"y\\\\"}'
    with pytest.raises(ValueError, match="not a valid label name: 'k8s.app'"):
        regex_selector({"k8s.app": ".+"})
    with pytest.raises(ValueError, match="not a valid label name"):  # matched whole: $ passes a final newline
        regex_selector({"app\n": ".+"})
    with pytest.raises(ValueError, match="at least one matcher"):
        regex_selector({})


# --- calls named by labels --------------------------------------------------------------------

OWN_CALLEE = next(c for c in CONVENTIONS if c.name == "service/callee")


def vector(*labels: dict) -> dict:
    return {"status": "success", "data": {"resultType": "vector",
                                          "result": [{"metric": m, "value": [2000, "1"]} for m in labels]}}


def test_calls_asks_for_the_pairs_under_the_servers_service_label(fake):
    fake.answer("/api/v1/query", vector({"app": "b", "callee": "c"}, {"app": "a", "callee": "b"}, {"app": "a"}))
    result = PrometheusMetricSource(fake.url, service_label="app").calls(OWN_CALLEE, 1000.0, 2000.0)
    assert result.status == "ok" and result.data == [("a", "b"), ("b", "c")]  # sorted; one without a callee left out
    expr = _params(fake.requests[-1])["query"][0]
    assert expr == 'group by (app, callee) (last_over_time({app=~".+", callee=~".+", caller=~""}[1000001ms]))'
    assert _params(fake.requests[-1])["time"] == ["2000"]


def test_calls_quote_a_utf8_label_name_as_prometheus_3_reads_it(fake):
    fake.answer("/api/v1/query", vector({"service.name": "a", "peer.service": "b"}))
    dotted = next(c for c in CONVENTIONS if c.caller == "service.name")
    result = PrometheusMetricSource(fake.url).calls(dotted, 1000.0, 2000.0)
    assert result.status == "ok" and result.data == [("a", "b")]
    expr = _params(fake.requests[-1])["query"][0]
    assert expr.startswith('group by ("service.name", "peer.service") (last_over_time({"service.name"=~".+", ')


def test_calls_that_cannot_be_asked_or_read_are_failed_results(fake):
    bad_label = PrometheusMetricSource(fake.url, service_label="k8s\napp").calls(OWN_CALLEE, 1000.0, 2000.0)
    assert bad_label.status == "error" and "not a valid label name: 'k8s\\napp'" in bad_label.error
    backwards = PrometheusMetricSource(fake.url).calls(OWN_CALLEE, 2000.0, 1000.0)
    assert backwards.status == "error" and "end is before its start" in backwards.error
    fake.answer("/api/v1/query", matrix())
    not_a_vector = PrometheusMetricSource(fake.url).calls(OWN_CALLEE, 1000.0, 2000.0)
    assert not_a_vector.status == "error" and "expected a vector, got 'matrix'" in not_a_vector.error


@pytest.mark.parametrize(
    ("value", "escaped"),
    [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"), ("plain-value", "plain-value")],
)
def test_escape_string(value, escaped):
    assert escape_string(value) == escaped
    assert quote(value) == '"' + escaped + '"'


@pytest.mark.parametrize("value", ['x"} or vector(1) #', "a\\", "line\nbreak", "tab\tbell\x07"])
def test_quote_keeps_every_value_inside_its_string(value):
    quoted = quote(value)
    assert quoted.startswith('"') and quoted.endswith('"')
    inner = quoted[1:-1]
    assert re.fullmatch(r'(?:[^"\\\x00-\x1f]|\\.)*', inner), inner
    assert json.loads('"' + inner.replace("\\x07", "\\u0007") + '"') == value


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("rank*", ["ranking", "rank"], ["xranking"]),
        ("a.b?", ["a.bc"], ["axbc", "a.b"]),
        ("svc-[0-2]", ["svc-1"], ["svc-3", "svc--"]),
        ("svc-[!ab]", ["svc-c"], ["svc-a"]),
        ("x[]y", ["x[]y"], ["xy"]),
        ("(a|b)+", ["(a|b)+"], ["a", "aa"]),
        ('we"ird}*', ['we"ird} or'], ["weird"]),
    ],
)
def test_glob_to_re2_agrees_with_fnmatch(pattern, yes, no):
    regex = re.compile(glob_to_re2(pattern))
    for text in yes:
        assert fnmatch.fnmatchcase(text, pattern)
        assert regex.fullmatch(text), (pattern, text)
    for text in no:
        assert not fnmatch.fnmatchcase(text, pattern)
        assert not regex.fullmatch(text), (pattern, text)


@pytest.mark.parametrize(
    "glob",
    ["*latency*", "request_?atency", "cpu_[ab]*", "disk_[!x]", "a.b+c(d)", "x[]y]z", "no_glob"],
)
def test_glob_to_re2_matches_exactly_what_fnmatch_matches(glob):
    regex = re.compile(glob_to_re2(glob))
    samples = [
        "request_latency_p99_seconds",
        "latency",
        "request_xatency",
        "cpu_a",
        "cpu_bz",
        "cpu_c",
        "disk_y",
        "disk_x",
        "a.b+c(d)",
        "aXb+c(d)",
        "x]z",
        "xyz",
        "no_glob",
        "",
    ]
    for sample in samples:
        assert bool(regex.fullmatch(sample)) == fnmatch.fnmatchcase(sample, glob), (glob, sample)


@pytest.mark.parametrize(
    ("name", "matchers"),
    [("", {}), ("up", {"bad-name": "x"}), ("up", {'service"} or x{a': "b"}), ("up", {"__name__": "y"})],
)
def test_selector_refuses_bad_names(name, matchers):
    with pytest.raises(ValueError):
        selector(name, matchers)


def test_an_answer_too_large_for_the_limits_is_refused_while_it_downloads(fake):
    from agent.sources.base import QueryLimits

    values = [[1000 + i, "1"] for i in range(2000)]  # ~30 KB of JSON
    fake.answer("/api/v1/query_range", matrix({"metric": {"__name__": "up"}, "values": values}))
    small = PrometheusMetricSource(fake.url, limits=QueryLimits(max_series=1, max_points=10))
    result = small.query(query())
    assert result.status == "error" and result.data == []
    assert f"larger than {QueryLimits(1, 10).max_bytes} bytes" in result.error
    assert "BIANQUE_MAX_QUERY_POINTS" in result.error
    roomy = PrometheusMetricSource(fake.url, limits=QueryLimits(max_series=1, max_points=5000))
    assert roomy.query(query()).status == "ok"


def test_a_server_naming_services_by_another_label(fake):
    """BIANQUE_SERVICE_LABEL=app: a Skill's service matcher is asked as ``app``, answers carry ``service`` too,
    and the services listed are the values of ``app``."""
    fake.answer("/api/v1/query_range", matrix(
        {"metric": {"__name__": "latency", "app": "checkout", "pod": "p-1"}, "values": [[1000, "0.2"]]}))
    fake.answer("/api/v1/label/app/values", {"status": "success", "data": ["checkout", "cart"]})
    source = PrometheusMetricSource(fake.url, service_label="app")
    result = source.query(query("latency", matchers={"service": "checkout"}))
    assert result.status == "ok", result.error
    expr = urllib.parse.parse_qs(urllib.parse.urlsplit(fake.requests[0]).query)["query"][0]
    assert 'app="checkout"' in expr and "service" not in expr
    assert result.data[0].service == "checkout" and result.data[0].labels["app"] == "checkout"
    assert source.services() == ["cart", "checkout"]
    source.services(1000.0, 2000.0)  # services with series in the investigation's window only
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(fake.requests[-1]).query)
    assert (params["start"], params["end"]) == (["1000"], ["2000"])


def test_only_the_call_conventions_whose_labels_the_server_has_are_asked(fake):
    """One ``/api/v1/labels`` request tells which conventions can name a call; the others cost no query. When the
    server cannot list its label names, every convention is asked."""
    from agent.graph.nodes.gather import _askable
    from agent.graph.toolkit import Toolkit

    fake.answer("/api/v1/labels", {"status": "success",
                                   "data": ["__name__", "service", "source_workload", "destination_workload"]})
    source = PrometheusMetricSource(fake.url)
    toolkit = Toolkit(library=None, reasoner=None, metrics=source)  # type: ignore[arg-type]
    assert source.label_names(1000.0, 2000.0) == {"__name__", "service", "source_workload", "destination_workload"}
    assert [c.name for c in _askable(toolkit, 1000.0, 2000.0)] == [
        "source_workload/destination_workload"]
    labels_asked = _params(next(r for r in fake.requests if r.startswith("/api/v1/labels")))
    assert (labels_asked["start"], labels_asked["end"]) == (["1000"], ["2000"])
    fake.answer("/api/v1/labels", "boom", status=500)
    assert source.label_names(1000.0, 2000.0) is None
    classic = [c for c in CONVENTIONS if "." not in c.caller + c.callee]  # dotted ones only where listed
    assert _askable(toolkit, 1000.0, 2000.0) == classic and len(classic) < len(CONVENTIONS)


def test_a_query_the_investigation_gave_up_on_ends_by_itself_instead_of_running_on(fake):
    """An investigation stops waiting for its sources at its deadline (BIANQUE_GATHER_DEADLINE_S); a call still
    running had gone on in the background (up to 8 threads a round) until the server answered or the source's own
    timeout passed, here 30 s. Its requests are now bounded by what was left, so it ends about then."""
    from agent.graph.deadline import GatherDeadline, ask

    fake.answer("/api/v1/query", {"status": "success", "data": {"resultType": "matrix", "result": []}}, delay=20.0)
    fake.answer("/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": []}},
                delay=20.0)
    source = PrometheusMetricSource(fake.url, timeout=30.0)
    ended, out = threading.Event(), {}

    def call() -> object:
        try:
            out["result"] = source.query(query("latency", step=60.0))
        finally:
            ended.set()
        return out["result"]

    deadline = GatherDeadline(0.5)
    answers = ask({"latency": call}, 30.0, deadline)
    assert ended.wait(10.0), "the call given up on ran on in the background"  # the server answers only after 20 s
    # the raw read timed out as the wait ended, and its fallback was not asked: said as a call given up on is
    assert out["result"].error == f"{fake.url}/api/v1/query_range: {deadline.cut}"
    # given up on as before, or its own answer when it ended just before the wait did
    assert answers["latency"] in (deadline.cut, out["result"])
    assert len(fake.requests) == 1  # the fallback read was not asked once no time was left


def test_a_query_outside_an_investigations_deadline_waits_its_own_timeout(fake):
    fake.answer("/api/v1/query", {"status": "success", "data": {"resultType": "matrix", "result": []}}, delay=5.0)
    fake.answer("/api/v1/query_range", {"status": "success", "data": {"resultType": "matrix", "result": []}},
                delay=5.0)
    result = PrometheusMetricSource(fake.url, timeout=0.3).query(query("latency", step=60.0))
    assert result.error == f"{fake.url}/api/v1/query_range: no answer within 0.3s"
