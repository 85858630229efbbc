"""Every 422 has docs/api.md's shape: a ``detail`` and an ``errors`` list naming each field as precisely as the
request allows, whether pydantic refused the body or a route, memory or the evolution step refused it afterwards."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_api_support import T0, alert, wait_idle, webhook

RCA_EVENT = {"pattern": "rca", "time": T0, "service": "ranking"}
Request = tuple[str, str, dict[str, Any] | None]  # method, url, JSON body


def _case(client: TestClient) -> str:
    response = client.post("/investigate", json={"event": RCA_EVENT})
    assert response.status_code == 200, response.text
    return response.json()["case_id"]


def _finished_queue_item(client: TestClient) -> str:
    answer = client.post("/webhook/alertmanager", json=webhook(alert(fingerprint="fp-done")))
    assert answer.status_code == 200, answer.text
    wait_idle(client)
    return answer.json()["alerts"][0]["queue_id"]


def _running_job(client: TestClient, release: threading.Event) -> str:
    """A refinement job that holds its worker until ``release`` is set (pending or running meanwhile)."""
    jobs = client.app.state.bianque.jobs
    job = jobs.submit("refinement", {"case_id": "c1", "skill": "s1"}, lambda _progress: release.wait(30))
    return job.id


REFUSALS: dict[str, tuple[Callable[[TestClient, threading.Event], Request], str, str]] = {
    "unknown Skill": (lambda c, _r: ("POST", "/investigate", {"event": RCA_EVENT, "skill": "no-such-skill"}),
                      "skill", "no Skill named 'no-such-skill'"),
    "blank question": (lambda c, _r: ("POST", "/ask", {"question": "   "}), "question", "empty"),
    "question routed to the gate": (lambda c, _r: ("POST", "/ask", {"question": "is the ranking canary safe?"}),
                                    "question", "the question was routed to the release gate"),
    "control character in a correction's service": (
        lambda c, _r: ("POST", f"/cases/{_case(c)}/corrections",
                       {"correct": False, "root_cause_service": "feature\nstore", "root_cause_fault": "oom"}),
        "root_cause_service", "contains the control character U+000A"),
    "correction naming no field": (lambda c, _r: ("POST", f"/cases/{_case(c)}/corrections", {"correct": False}),
                                   "body", "a wrong answer needs the truth"),
    "control character in the service label": (
        lambda c, _r: ("POST", "/webhook/alertmanager", webhook(alert(service="check\nout"))),
        "alerts[0].labels.service", "contains the control character U+000A"),
    "control character in the alertname": (
        lambda c, _r: ("POST", "/webhook/alertmanager", webhook(alert(name="High\x1bLatency"))),
        "alerts[0].labels.alertname", "contains the control character U+001B"),
    "regression directory that cannot join": (
        lambda c, _r: ("POST", "/skills/regression", {"directory": "/no/such/bundles"}),
        "directory", "/no/such/bundles: not under a directory the server may read"),
    "retry of a queue item that did not fail": (
        lambda c, _r: ("POST", f"/queue/{_finished_queue_item(c)}/retry", None),
        "path.queue_id", "only a failed one can be retried"),
    "refinement of a case not corrected": (lambda c, _r: ("POST", f"/cases/{_case(c)}/refinements", {}),
                                           "path.case_id", "has no correction"),
    "apply of an unfinished refinement": (lambda c, r: ("POST", f"/refinements/{_running_job(c, r)}/apply", None),
                                          "path.job_id", "cannot be applied: it is still"),
}


@pytest.mark.parametrize(("make", "field", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_every_422_lists_its_errors_naming_the_field(client, make, field, message) -> None:
    release = threading.Event()
    try:
        method, url, body = make(client, release)
        response = client.request(method, url, json=body)
    finally:
        release.set()
    assert response.status_code == 422, response.text
    answer = response.json()
    [problem] = answer["errors"]
    assert problem["field"] == field and message in problem["message"], problem
    assert answer["detail"] == f"invalid request: {field}: {problem['message']}"
