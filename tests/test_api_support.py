"""Helpers shared by the API tests: an app over a temp home with a deterministic investigator."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from agent.api.app import create_app
from agent.api.dryrun import DryRunInvestigator
from agent.api.settings import ApiSettings
from agent.config import get_settings
from agent.events import Event
from agent.investigate import InvestigationResult
from agent.memory import Memory

T0 = "2024-05-01T10:00:00Z"


class CountingInvestigator(DryRunInvestigator):
    """The dry-run investigator, remembering every call; ``gate`` (if set) holds calls until released."""

    def __init__(self, memory: Memory, gate: threading.Event | None = None, fail: bool = False) -> None:
        super().__init__(memory)
        self.calls: list[tuple[Event, str | None, str]] = []
        self.threads: list[str | None] = []
        self.gate = gate
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(
        self, event: Event, *, skill: str | None = None, source: str = "api", thread_id: str | None = None
    ) -> InvestigationResult:
        with self._lock:
            self.calls.append((event, skill, source))
            self.threads.append(thread_id)
        if self.gate is not None:
            assert self.gate.wait(30), "test gate never released"
        if self.fail:
            raise RuntimeError("investigation exploded")
        return super().__call__(event, skill=skill, source=source, thread_id=thread_id)


FAST_QUEUE = {"poll_s": 0.05, "retry_backoff_s": 0.0, "lease_s": 30.0}
"""Test settings of the queue workers: look often, retry at once."""


def make_client(memory: Memory, investigator: Any, **api: Any) -> TestClient:
    """A TestClient (use as a context manager) for an app with these API settings (fast queue by default)."""
    settings = ApiSettings(**{"token": None, **FAST_QUEUE, **api})
    app = create_app(get_settings(), investigator, memory=memory, api=settings)
    return TestClient(app, raise_server_exceptions=False)


def wait_idle(client: TestClient, timeout: float = 30.0) -> None:
    """Wait (bounded) until the client's app has no queued investigation pending or running."""
    memory = client.app.state.bianque.memory
    deadline = time.monotonic() + timeout
    while memory.queue_outstanding():
        assert time.monotonic() < deadline, f"queued investigations did not finish: {memory.queue_stats()}"
        time.sleep(0.02)


def alert(
    name: str = "HighLatency",
    service: str | None = "ranking",
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: str | None = T0,
    **labels: str,
) -> dict[str, Any]:
    """One alert of an Alertmanager v4 webhook body (``starts_at`` None: without ``startsAt``)."""
    body: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": name, **({"service": service} if service else {}), **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts_at,
        "endsAt": "2024-05-01T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
    }
    if fingerprint is not None:
        body["fingerprint"] = fingerprint
    if starts_at is None:
        del body["startsAt"]
    return body


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager v4 webhook body holding ``alerts``."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "bianque",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": list(alerts),
    }
