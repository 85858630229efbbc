"""POST /webhook/alertmanager: validation, dedup (new / repeat / duplicate / resolved), limits."""

from __future__ import annotations

import threading

import pytest

from tests.test_api_support import CountingInvestigator, alert, make_client, wait_idle, webhook


def post(client, *alerts):
    response = client.post("/webhook/alertmanager", json=webhook(*alerts))
    assert response.status_code == 200, response.text
    return response.json()


def test_new_alert_is_investigated_in_the_background_and_its_case_linked(client, investigator, memory):
    body = post(client, alert(fingerprint="fp-1"))
    assert (body["received"], body["investigations_started"]) == (1, 1)
    [outcome] = body["alerts"]
    assert (outcome["kind"], outcome["action"], outcome["service"]) == ("new", "investigating", "ranking")
    wait_idle(client)
    [(event, skill, source)] = investigator.calls
    assert (event.pattern.value, event.alert.name, skill, source) == ("rca", "HighLatency", None, "webhook")
    incident = client.get(f"/incidents/{outcome['incident_id']}").json()
    case = client.get(f"/cases/{incident['case_id']}").json()
    assert case["event"]["alert"]["labels"]["alertname"] == "HighLatency"


def test_the_same_alert_twice_is_investigated_once(client, investigator):
    first = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    second = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    assert (second["kind"], second["action"]) == ("repeat", "acknowledged")
    assert "no new investigation" in second["message"]
    assert second["incident_id"] == first["incident_id"]
    assert second["case_id"] is not None  # points at the first investigation's case
    assert len(investigator.calls) == 1


def test_another_alert_on_a_service_with_an_open_incident_is_a_duplicate(client, investigator):
    first = post(client, alert("HighLatency", fingerprint="fp-1"))["alerts"][0]
    second = post(client, alert("ErrorRate", fingerprint="fp-2"))["alerts"][0]
    other_service = post(client, alert("ErrorRate", service="cache", fingerprint="fp-3"))["alerts"][0]
    wait_idle(client)
    assert (second["kind"], second["action"], second["incident_id"]) == (
        "duplicate",
        "acknowledged",
        first["incident_id"],
    )
    assert "ranking already has an open incident" in second["message"]
    assert (other_service["kind"], other_service["action"]) == ("new", "investigating")
    assert sorted(e.service for e, _, _ in investigator.calls) == ["cache", "ranking"]


def test_alerts_of_one_call_are_deduplicated_against_each_other(client, investigator):
    body = post(client, alert("A", fingerprint="fp-1"), alert("B", fingerprint="fp-2"), alert("C", service="cache"))
    wait_idle(client)
    assert [a["kind"] for a in body["alerts"]] == ["new", "duplicate", "new"]
    assert body["investigations_started"] == 2 and len(investigator.calls) == 2


def test_resolved_alerts_are_recorded_and_resolve_the_incident(client, investigator):
    fired = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    resolved = post(client, alert(status="resolved", fingerprint="fp-1"))["alerts"][0]
    assert (resolved["kind"], resolved["action"]) == ("resolved", "recorded")
    assert f"incident {fired['incident_id']} is resolved" in resolved["message"]
    assert client.get(f"/incidents/{fired['incident_id']}").json()["status"] == "resolved"
    assert client.get("/incidents", params={"service": "ranking"}).json() == []
    again = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    assert (again["kind"], again["action"]) == ("new", "investigating")
    assert len(investigator.calls) == 2


def test_incident_stays_open_while_another_of_its_alerts_fires(client):
    post(client, alert("A", fingerprint="fp-1"), alert("B", fingerprint="fp-2"))
    outcome = post(client, alert("A", status="resolved", fingerprint="fp-1"))["alerts"][0]
    assert "stays open" in outcome["message"]


def test_resolved_alert_never_seen_firing_starts_nothing(client, investigator):
    outcome = post(client, alert(status="resolved", fingerprint="never"))["alerts"][0]
    assert (outcome["kind"], outcome["action"], outcome["incident_id"]) == ("resolved", "recorded", None)
    assert "never seen firing" in outcome["message"]
    assert investigator.calls == []


def test_alerts_without_fingerprint_are_identified_by_their_labels(client, investigator):
    first = post(client, alert(instance="ranking-0"))["alerts"][0]
    second = post(client, alert(instance="ranking-0"))["alerts"][0]
    wait_idle(client)
    assert first["fingerprint"] == second["fingerprint"] and len(first["fingerprint"]) == 16
    assert second["kind"] == "repeat" and len(investigator.calls) == 1


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.pop("alerts"), "alerts: Field required"),
        (lambda b: b["alerts"][1].update(labels=["not", "a", "map"]), "alerts[1].labels: "),
        (lambda b: b["alerts"][0].update(startsAt="yesterday-ish"), "alerts[0].startsAt: "),
        (lambda b: b["alerts"][1].update(status="pending"), "alerts[1].status: must be firing or resolved"),
        (lambda b: b.update(alerts="all of them"), "alerts: "),
    ],
)
def test_invalid_bodies_are_rejected_naming_the_field(client, investigator, mutate, field):
    body = webhook(alert("A", fingerprint="fp-1"), alert("B", fingerprint="fp-2"))
    mutate(body)
    response = client.post("/webhook/alertmanager", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert investigator.calls == [] and client.get("/incidents").json() == []


def test_malformed_json_is_rejected_with_where_it_broke(client):
    response = client.post(
        "/webhook/alertmanager", content=b'{"alerts": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON at character" in response.json()["detail"]


def test_too_many_alerts_in_one_call_are_refused(memory, investigator):
    with make_client(memory, investigator, max_alerts=2) as client:
        response = client.post("/webhook/alertmanager", json=webhook(alert("A"), alert("B"), alert("C")))
    assert response.status_code == 413
    assert response.json()["detail"] == "alerts: at most 2 per call, got 3"


def test_a_full_queue_answers_503_and_records_nothing(memory):
    gate = threading.Event()
    investigator = CountingInvestigator(memory, gate=gate)
    with make_client(memory, investigator, workers=1, max_pending=0) as client:
        first = client.post("/webhook/alertmanager", json=webhook(alert(service="ranking")))
        refused = client.post("/webhook/alertmanager", json=webhook(alert(service="cache")))
        assert first.json()["alerts"][0]["action"] == "investigating"
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
        assert "retry later" in refused.json()["detail"]
        assert client.get("/incidents", params={"service": "cache"}).json() == []
        resolved_only = client.post("/webhook/alertmanager", json=webhook(alert(status="resolved")))
        assert resolved_only.status_code == 200  # nothing to investigate: still accepted
        gate.set()
        wait_idle(client)


def test_a_failed_background_investigation_is_counted_and_leaves_the_incident_open(memory):
    investigator = CountingInvestigator(memory, fail=True)
    with make_client(memory, investigator) as client:
        outcome = client.post("/webhook/alertmanager", json=webhook(alert())).json()["alerts"][0]
        wait_idle(client)
        health = client.get("/healthz").json()
        incident = client.get(f"/incidents/{outcome['incident_id']}").json()
    assert health["investigations"]["failed"] == 1
    assert (incident["status"], incident["case_id"]) == ("open", None)


def test_oversized_bodies_are_refused_before_parsing(memory, investigator):
    big = webhook(*[alert(f"A{i}", fingerprint=f"fp-{i}") for i in range(40)])
    with make_client(memory, investigator, max_body_bytes=1024) as client:
        declared = client.post("/webhook/alertmanager", json=big)

        def chunks():
            yield b'{"alerts": ['
            for _ in range(100):
                yield b'{"labels": {"alertname": "x"}},'
            yield b"{}]}"

        chunked = client.post("/webhook/alertmanager", content=chunks(), headers={"content-type": "application/json"})
    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["detail"] == "request body too large: the limit is 1024 bytes"
    assert investigator.calls == []
