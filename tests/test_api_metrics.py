"""``GET /metrics``: what Prometheus scrapes of the service, and that a database outage is a series, not an error."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from agent.api.app import create_app
from agent.api.dryrun import DryRunInvestigator
from agent.config import get_settings
from tests.test_api_support import alert, make_client, wait_idle, webhook


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_the_queue_the_cases_and_this_process_work(memory):
    with make_client(memory, DryRunInvestigator(memory)) as client:
        before = samples(client.get("/metrics").text)
        assert client.post("/webhook/alertmanager", json=webhook(alert())).status_code == 200
        wait_idle(client)
        answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=")
    after = samples(answer.text)
    assert before[("bianque_queue_items", (("status", "done"),))] == 0
    assert after[("bianque_queue_items", (("status", "done"),))] == 1
    assert after[("bianque_cases", (("pattern", "rca"), ("status", "done")))] == 1
    assert after[("bianque_worker_investigations_completed_total", ())] == 1
    assert after[("bianque_database_up", ())] == 1
    assert after[("bianque_notifications_total", (("outcome", "sent"),))] == 0
    assert ("process_resident_memory_bytes", ()) in after


def test_a_schedule_shows_whether_it_runs_when_it_last_ran_and_how(memory):
    memory.save_schedule("nightly", "disk-check", "0 2 * * *")
    memory.record_schedule_run("nightly", "could not judge", reason="no data", trigger="scheduled")
    with make_client(memory, DryRunInvestigator(memory)) as client:
        scraped = samples(client.get("/metrics").text)
    names = (("schedule", "nightly"), ("skill", "disk-check"))
    assert scraped[("bianque_schedule_enabled", names)] == 1
    assert scraped[("bianque_schedule_last_run_status", (*names, ("status", "could not judge")))] == 1
    assert scraped[("bianque_schedule_last_run_timestamp_seconds", names)] == memory.get_schedule("nightly").last_run


def test_metrics_need_the_token_when_one_is_set(memory):
    with make_client(memory, DryRunInvestigator(memory), token="s3cret") as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_a_database_that_does_not_answer_is_database_up_0_and_the_scrape_still_answers(caplog):
    from agent.memory import Memory
    from agent.memory.db import make_engine
    from tests.test_cli_errors import unreachable_postgres_url

    url, _ = unreachable_postgres_url()
    gone = Memory(engine=make_engine(url))
    client = TestClient(create_app(get_settings(), DryRunInvestigator(gone), memory=gone),
                        raise_server_exceptions=False)  # no lifespan: no queue worker polls the dead database
    with caplog.at_level(logging.WARNING):
        first, second = client.get("/metrics"), client.get("/metrics")
    assert first.status_code == 200
    scraped = samples(first.text)
    assert scraped[("bianque_database_up", ())] == 0
    assert not [key for key in scraped if key[0].startswith(("bianque_queue", "bianque_cases"))]
    assert scraped[("bianque_worker_running", ())] == 0  # this process's own series stay
    assert caplog.text.count("the database does not answer") == 1  # said once, not at every scrape
    assert samples(second.text)[("bianque_database_up", ())] == 0
