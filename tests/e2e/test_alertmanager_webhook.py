"""A real Alertmanager posting to Bian Que served by uvicorn on loopback: dedup, investigation, resolution."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from agent.memory import Memory
from agent.timeparse import to_rfc3339
from tests.e2e.served import Served, poll, serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(bianque_home) -> Iterator[Served]:
    with serving() as app:
        yield app


def push(alertmanager: str, alertname: str, service: str, resolved: bool = False) -> None:
    """Hand an alert to Alertmanager the way Prometheus does (ended in the past = resolved)."""
    now = time.time()
    alert = {
        "labels": {"alertname": alertname, "service": service, "severity": "warning"},
        "annotations": {"summary": f"{alertname} on {service}"},
        "startsAt": to_rfc3339(now - 120),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    if resolved:
        alert["endsAt"] = to_rfc3339(now - 1)
    response = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert response.status_code == 200, response.text


def open_incident(memory: Memory, service: str):
    incidents = memory.open_incidents(service)
    return incidents[0] if incidents else None


def test_alertmanager_alerts_are_deduplicated_investigated_and_resolved(served, start_alertmanager):
    alertmanager = start_alertmanager(f"{served.url}/webhook/alertmanager")
    push(alertmanager, "RankingLatencyHigh", "ranking")
    poll(lambda: len(served.investigator.calls) == 1, "no investigation started for the first alert")
    [(event, _, source)] = served.investigator.calls
    assert (event.alert.name, event.service, source) == ("RankingLatencyHigh", "ranking", "webhook")
    poll(
        lambda: (i := open_incident(served.memory, "ranking")) is not None and i.case_id is not None,
        "the incident never got its case",
    )
    case = httpx.get(f"{served.url}/cases/{open_incident(served.memory, 'ranking').case_id}", timeout=10).json()
    assert case["event"]["alert"]["labels"]["alertname"] == "RankingLatencyHigh"

    push(alertmanager, "RankingErrorsHigh", "ranking")  # another group, same service: a duplicate
    poll(lambda: open_incident(served.memory, "ranking").alert_count >= 2, "the second alert never arrived")
    assert len(served.investigator.calls) == 1

    push(alertmanager, "RankingLatencyHigh", "ranking", resolved=True)
    push(alertmanager, "RankingErrorsHigh", "ranking", resolved=True)
    poll(lambda: open_incident(served.memory, "ranking") is None, "the incident was never resolved")
    assert len(served.investigator.calls) == 1
    health = httpx.get(f"{served.url}/healthz", timeout=10).json()
    assert health["workers"]["completed"] == 1 and health["workers"]["failed_attempts"] == 0
    assert (health["queue"]["done"], health["queue"]["failed"]) == (1, 0)
