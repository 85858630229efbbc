"""Two ``bianque serve`` replicas on one real PostgreSQL share the investigation queue: an alert storm
posted to both (repeats and duplicates, concurrent calls) ends with exactly one case per incident."""

from __future__ import annotations

import importlib
import sys

import pytest

from agent.config import PROJECT_ROOT

pytestmark = pytest.mark.e2e
ALERTS = 200
SERVICES = 20


@pytest.fixture
def storm(monkeypatch):
    """benchmarks/webhook_storm.py: the replicas, the storm and the counts are the benchmark's own."""
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    module = importlib.import_module("webhook_storm")
    yield module
    sys.modules.pop("webhook_storm", None)


def test_two_replicas_investigate_every_incident_of_a_storm_exactly_once(storm, postgres_db_url, tmp_path):
    alerts = storm.storm_alerts(ALERTS, SERVICES)
    result = storm.run_storm(postgres_db_url, 2, alerts, tmp_path, batch=10, concurrency=8, drain_timeout=300)
    assert (result.calls, result.answered_200, result.alerts_rejected) == (20, 20, 0)
    assert result.incidents == SERVICES  # duplicates joined their service's incident, across replicas too
    assert result.cases_finished == SERVICES
    assert (result.incidents_without_one_case, result.queue_failed) == (0, 0)
