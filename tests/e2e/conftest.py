"""Real servers on loopback for end-to-end tests: Prometheus (backfilled), Alertmanager, PostgreSQL.

Each server runs from the system binaries (``scripts/install-system-deps.sh`` installs them) in a
temp dir of its own and is stopped at the end of the session; a killed session's servers die with it
or are stopped by the next session (:mod:`tests.server_lifetime`). A missing binary skips the test,
except under ``CI=true`` where it fails: CI must run every test.

Fixtures for other e2e tests:
- ``prometheus_series`` / ``prometheus_url``: a Prometheus holding the default test series;
  ``start_prometheus(series)`` starts another one holding any series.
- ``start_alertmanager(webhook_url)``: an Alertmanager whose one receiver posts to that URL;
  ``webhook_recorder`` is a loopback receiver collecting the bodies; ``alertmanager_url`` wires both.
- ``system_binary(name)``: a binary's path, or skip (fail under ``CI=true``).
- ``postgres_server`` / ``postgres_url``: one PostgreSQL cluster and database for the session;
  ``postgres_db_url``: a fresh database for one test, dropped after it.
- ``local_llm``: llama.cpp's server with the bundled small model (``scripts/install-llm.sh``);
  ``local_llm_settings``: Settings pointing at it, with answers capped for speed.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from agent.series import Series, make_series
from tests.e2e.servers import (
    Daemon,
    PostgresServer,
    free_port,
    require_binary,
    unavailable,
    wait_ready,
    wait_until,
)
from tests.fakes.receiver import Receiver
from tests.server_lifetime import forget, record


@pytest.fixture(scope="session")
def system_binary() -> Callable[..., str]:
    """``system_binary(name)``: a binary's path, skipping (failing under ``CI=true``) when missing."""
    return require_binary


# --- Prometheus -----------------------------------------------------------------------------


def _om_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_openmetrics(series: Sequence[Series]) -> str:
    """OpenMetrics text for ``promtool tsdb create-blocks-from openmetrics`` (one family per metric)."""
    lines: list[str] = []
    for metric in sorted({s.metric for s in series}):
        # a ..._total series is a counter family (OpenMetrics names the family without the suffix)
        family, kind = (metric.removesuffix("_total"), "counter") if metric.endswith("_total") else (metric, "gauge")
        lines.append(f"# TYPE {family} {kind}")
        for one in (s for s in series if s.metric == metric):
            labels = ",".join(f'{k}="{_om_value(str(v))}"' for k, v in sorted(one.labels.items()))
            for t, v in zip(one.timestamps, one.values, strict=True):
                lines.append(f"{metric}{{{labels}}} {float(v)!r} {float(t):.3f}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


CALL_LABELS = [
    {"metric": "istio_requests_total", "service": "gateway", "reporter": "source", "source_workload": "gateway",
     "destination_workload": "ranking"},
    {"metric": "istio_requests_total", "service": "gateway", "reporter": "destination", "source_workload": "unknown",
     "destination_workload": "gateway"},
    {"metric": "calls_total", "service_name": "ranking", "peer_service": "retrieval", "span_kind": "SPAN_KIND_CLIENT"},
    {"metric": "calls_total", "service_name": "retrieval", "peer_service": "gateway", "span_kind": "SPAN_KIND_SERVER"},
    {"metric": "pool_connections", "service": "ranking", "client": "ranking", "server": "db-host-3"},
]


def default_series(t0: float) -> list[Series]:
    """The series the session Prometheus holds: 3 h of 1-minute samples from ``t0``."""
    ts = t0 + 60.0 * np.arange(180)
    out: list[Series] = []
    for service, base in (("ranking", 0.12), ("retrieval", 0.05), ("gateway", 0.2)):
        for instance in (0, 1):
            for metric, scale in (("request_latency_p99_seconds", 1.0), ("request_latency_p50_seconds", 0.3)):
                values = base * scale * (1 + 0.01 * instance) + 0.0001 * np.arange(180)
                labels = {"service": service, "instance": f"{service}-{instance}", "version": "v1.0.0"}
                out.append(make_series(metric, labels, list(zip(ts, values, strict=True))))
        out.append(make_series("requests_per_second", {"service": service}, [(t, 100.0) for t in ts]))
    # A label value full of PromQL syntax: exact matching must find it, injection must not escape.
    weird = {"service": 'we"ird} or vector(1) #\\svc'}
    out.append(make_series("request_error_ratio", weird, [(t, 0.5) for t in ts]))
    # Calls named by labels (``agent.call_labels``): gateway -> ranking (Istio), ranking -> retrieval (a client span);
    # a server span, a caller outside the mesh and a host name no call between services.
    for labels in CALL_LABELS:
        out.append(make_series(labels["metric"], {k: v for k, v in labels.items() if k != "metric"},
                               [(t, 100.0 + i) for i, t in enumerate(ts)]))
    return out


def _prometheus_has(url: str, series: Sequence[Series]) -> bool:
    first = series[0]
    params = {
        "query": 'count({__name__=~".+"})',
        "start": f"{first.timestamps[0]:.3f}",
        "end": f"{first.timestamps[-1]:.3f}",
        "step": "600",
    }
    body = httpx.get(f"{url}/api/v1/query_range", params=params, timeout=5).json()
    return body["status"] == "success" and bool(body["data"]["result"])


@pytest.fixture(scope="session")
def start_prometheus(tmp_path_factory) -> Iterator[Callable[..., str]]:
    """``start(series, scrape=()) -> base URL`` of a Prometheus backfilled with ``series`` that also scrapes the
    ``/metrics`` of each ``host:port`` in ``scrape`` every second (stopped at the end)."""
    daemons: list[Daemon] = []

    def start(series: Sequence[Series], scrape: Sequence[str] = ()) -> str:
        prometheus = require_binary("prometheus")
        promtool = require_binary("promtool")
        root = tmp_path_factory.mktemp("prometheus")
        (root / "input.om").write_text(to_openmetrics(series))
        jobs = (f"  - job_name: scraped\n    scrape_interval: 1s\n    static_configs:\n"
                f"      - targets: [{', '.join(map(repr, scrape))}]\n") if scrape else ""
        configs = f"scrape_configs:\n{jobs}" if scrape else "scrape_configs: []\n"
        (root / "prometheus.yml").write_text(f"global:\n  scrape_interval: 1m\n{configs}")
        build = subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(root / "input.om"),
                str(root / "data"),
            ],
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            pytest.fail(f"promtool backfill failed: {build.stderr or build.stdout}")
        url = f"http://127.0.0.1:{free_port()}"
        args = [
            prometheus,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address={url.removeprefix('http://')}",
        ]
        daemon = Daemon(args, root / "prometheus.log")
        daemons.append(daemon)
        wait_ready(url, "prometheus", daemon)
        if series:
            wait_until(lambda: _prometheus_has(url, series), "prometheus backfilled data", daemon.log, daemon.proc)
        return url

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture(scope="session")
def prometheus_series() -> list[Series]:
    """The series held by ``prometheus_url``: 3 h ending at least 1 h before now, hour-aligned."""
    t0 = math.floor(time.time() / 3600) * 3600 - 4 * 3600
    return default_series(float(t0))


@pytest.fixture(scope="session")
def prometheus_url(start_prometheus, prometheus_series) -> str:
    """Base URL of a Prometheus holding ``prometheus_series``."""
    return start_prometheus(prometheus_series)


# --- Alertmanager ---------------------------------------------------------------------------


class WebhookRecorder(Receiver):
    """A loopback HTTP server keeping every JSON body POSTed to it (started at once)."""

    def __init__(self) -> None:
        super().__init__(path="/webhook")
        self.start()

    def wait_for(self, alertname: str, timeout: float = 30.0) -> dict:
        """The next body holding an alert named ``alertname``; other bodies are dropped."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            body = self.next(left)
            if any(a.get("labels", {}).get("alertname") == alertname for a in body.get("alerts", [])):
                return body
        pytest.fail(f"no webhook call with alert {alertname} reached {self.url} within {timeout:g}s")


ALERTMANAGER_CONFIG = """\
route:
  receiver: bianque
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bianque
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


@pytest.fixture(scope="session")
def start_alertmanager(tmp_path_factory) -> Iterator[Callable[..., str]]:
    """``start(webhook_url, config=None) -> base URL`` of an Alertmanager posting to the webhook.

    ``config`` replaces the built-in configuration (one receiver, 1 s group wait) when given.
    """
    daemons: list[Daemon] = []

    def start(webhook_url: str, config: str | None = None) -> str:
        binary = require_binary("prometheus-alertmanager")
        root = tmp_path_factory.mktemp("alertmanager")
        text = config if config is not None else ALERTMANAGER_CONFIG.format(url=json.dumps(webhook_url))
        (root / "alertmanager.yml").write_text(text)
        url = f"http://127.0.0.1:{free_port()}"
        args = [
            binary,
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ]
        daemon = Daemon(args, root / "alertmanager.log")
        daemons.append(daemon)
        wait_ready(url, "alertmanager", daemon)
        return url

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture(scope="session")
def webhook_recorder() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()
    yield recorder
    recorder.close()


@pytest.fixture(scope="session")
def alertmanager_url(start_alertmanager, webhook_recorder) -> str:
    """An Alertmanager whose webhook posts to ``webhook_recorder``."""
    return start_alertmanager(webhook_recorder.url)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """``postgresql+psycopg://`` URL of a database shared by the session."""
    return postgres_server.create_database("bianque_e2e")


@pytest.fixture
def postgres_db_url(postgres_server) -> Iterator[str]:
    """A fresh, empty database for one test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


# --- the local model server -------------------------------------------------------------------

LLM_MAX_TOKENS = 384  # the 135M model writes ~30 tokens/s on 2 cores: keep every answer short
LLM_MAX_FINDINGS = 8  # and every prompt: a pack of 24 Findings is ~5k tokens, read at ~20-200 tokens/s


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """llama.cpp's OpenAI-compatible server with the bundled SmolLM2-135M on 127.0.0.1, for the session."""
    from agent.llm.local import LocalServer, LocalServerError, bundled_model, server_installed

    if not server_installed():
        unavailable("llama-cpp-python[server] is not installed (run scripts/install-llm.sh)")
    try:
        model = bundled_model()
    except LocalServerError as exc:
        unavailable(str(exc))
    server = LocalServer(model=model, context=8192, log_path=tmp_path_factory.mktemp("llm") / "server.log")
    try:
        server.start()
    except LocalServerError as exc:
        pytest.fail(str(exc))
    assert server.proc is not None
    record(server.proc.pid, server.command())  # it dies with us (LocalServer arms that); this is the backstop
    yield server
    server.stop()
    forget(server.proc.pid)


@pytest.fixture
def local_llm_settings(local_llm: Any, bianque_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings (and env) pointing at the local model server, prompts and answers kept small."""
    from agent.config import Settings, get_settings

    lean = {"BIANQUE_LLM_MAX_TOKENS": str(LLM_MAX_TOKENS), "BIANQUE_LLM_MAX_FINDINGS": str(LLM_MAX_FINDINGS),
            # one slot: a request that timed out keeps the server busy, so no retries, generous limits
            "BIANQUE_LLM_TIMEOUT_S": "600", "BIANQUE_LLM_MAX_RETRIES": "0",
            "BIANQUE_LLM_INVESTIGATION_TIMEOUT_S": "1200"}
    for key, value in {**local_llm.env(), **lean}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return Settings()
