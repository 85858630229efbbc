"""POST /webhook/alertmanager: validation, dedup (new / repeat / duplicate / resolved), limits."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.test_api_support import T0, CountingInvestigator, alert, make_client, wait_idle, webhook


def post(client, *alerts):
    response = client.post("/webhook/alertmanager", json=webhook(*alerts))
    assert response.status_code == 200, response.text
    return response.json()


def test_new_alert_is_queued_investigated_and_its_case_linked(client, investigator, memory):
    body = post(client, alert(fingerprint="fp-1"))
    assert (body["received"], body["accepted"], body["rejected"], body["investigations_queued"]) == (1, 1, 0, 1)
    [outcome] = body["alerts"]
    assert (outcome["kind"], outcome["action"], outcome["service"]) == ("new", "queued", "ranking")
    assert outcome["queue_id"] and f"queue item {outcome['queue_id']}" in outcome["message"]
    wait_idle(client)
    [(event, skill, source)] = investigator.calls
    assert (event.pattern.value, event.alert.name, skill, source) == ("rca", "HighLatency", None, "webhook")
    item = client.get(f"/queue/{outcome['queue_id']}").json()
    assert (item["status"], item["attempts"], item["incident_id"]) == ("done", 1, outcome["incident_id"])
    assert investigator.threads == [item["thread_id"]]  # the checkpoint thread is the queue item's
    incident = client.get(f"/incidents/{outcome['incident_id']}").json()
    assert incident["case_id"] == item["case_id"]
    case = client.get(f"/cases/{incident['case_id']}").json()
    assert case["event"]["alert"]["labels"]["alertname"] == "HighLatency"


def test_the_same_alert_twice_is_investigated_once(client, investigator):
    first = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    second = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    assert (second["kind"], second["action"]) == ("repeat", "acknowledged")
    assert f"investigated by case {second['case_id']}" in second["message"]
    assert second["incident_id"] == first["incident_id"]
    assert second["case_id"] is not None  # points at the first investigation's case
    assert len(investigator.calls) == 1


def test_another_alert_on_a_service_with_an_open_incident_is_a_duplicate(client, investigator):
    first = post(client, alert("HighLatency", fingerprint="fp-1"))["alerts"][0]
    second = post(client, alert("ErrorRate", fingerprint="fp-2"))["alerts"][0]
    other_service = post(client, alert("ErrorRate", service="cache", fingerprint="fp-3"))["alerts"][0]
    wait_idle(client)
    assert (second["kind"], second["action"], second["incident_id"], second["queue_id"]) == (
        "duplicate",
        "acknowledged",
        first["incident_id"],
        first["queue_id"],
    )
    assert "ranking already has an open incident" in second["message"]
    assert (other_service["kind"], other_service["action"]) == ("new", "queued")
    assert sorted(e.service for e, _, _ in investigator.calls) == ["cache", "ranking"]


def test_alerts_of_one_call_are_deduplicated_against_each_other(client, investigator):
    body = post(client, alert("A", fingerprint="fp-1"), alert("B", fingerprint="fp-2"), alert("C", service="cache"))
    wait_idle(client)
    assert [a["kind"] for a in body["alerts"]] == ["new", "duplicate", "new"]
    assert body["investigations_queued"] == 2 and len(investigator.calls) == 2


def test_resolved_alerts_are_recorded_and_resolve_the_incident(client, investigator):
    fired = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    resolved = post(client, alert(status="resolved", fingerprint="fp-1"))["alerts"][0]
    assert (resolved["kind"], resolved["action"]) == ("resolved", "recorded")
    assert f"incident {fired['incident_id']} is resolved" in resolved["message"]
    assert client.get(f"/incidents/{fired['incident_id']}").json()["status"] == "resolved"
    assert client.get("/incidents", params={"service": "ranking"}).json() == []
    resent = post(client, alert(status="resolved", fingerprint="fp-1"))["alerts"][0]  # Alertmanager retries the call
    assert (resent["kind"], resent["incident_id"]) == ("resolved", fired["incident_id"])
    assert f"incident {fired['incident_id']} is resolved" in resent["message"]  # was "stays open (other alerts ...)"
    again = post(client, alert(fingerprint="fp-1", starts_at="2024-05-01T11:00:00Z"))["alerts"][0]  # a re-fire
    wait_idle(client)
    assert (again["kind"], again["action"]) == ("new", "queued")
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
        (lambda b: b.update(alerts="all of them"), "alerts: "),
    ],
)
def test_invalid_envelopes_are_rejected_naming_the_field(client, investigator, mutate, field):
    body = webhook(alert("A", fingerprint="fp-1"), alert("B", fingerprint="fp-2"))
    mutate(body)
    response = client.post("/webhook/alertmanager", json=body)
    assert response.status_code == 422
    assert field in response.json()["detail"]
    assert investigator.calls == [] and client.get("/incidents").json() == []


BAD_ALERTS = [
    (lambda a: a.update(labels=["not", "a", "map"]), "alerts[1].labels", "must be a mapping"),
    (lambda a: a.update(startsAt="yesterday-ish"), "alerts[1].startsAt", "not a Unix or RFC 3339 timestamp"),
    # read back as a number it had become milliseconds: an event in 1978, or "could not be stored: ValidationError"
    (lambda a: a.update(startsAt="9999-12-31T23:59:59Z"), "alerts[1].startsAt", "after the year 2500"),
    (lambda a: a.update(startsAt="3000-01-01T00:00:00Z"), "alerts[1].startsAt", "after the year 2500"),
    (lambda a: a.update(status="pending"), "alerts[1].status", "must be firing or resolved"),
    (lambda a: a["labels"].pop("alertname"), "alerts[1].labels.alertname", "required"),
    (lambda a: a["labels"].update(service="cache\ud800"), "alerts[1].labels.service", "unpaired surrogate"),
    (lambda a: a["annotations"].update(summary="a\u0000b"), "alerts[1].annotations.summary", "NUL"),
    (lambda a: a["labels"].update(service="s" * 201), "alerts[1].labels.service", "longer than 200"),
    (lambda a: a.update(fingerprint="f" * 201), "alerts[1].fingerprint", "longer than 200"),
    # any other label or annotation was bounded by the body limit alone: a 900 KB label was stored
    (lambda a: a["labels"].update(team="t" * 4097), "alerts[1].labels.team", "longer than 4096 characters"),
    (lambda a: a["labels"].update({"t" * 4097: "x"}), f"alerts[1].labels.{'t' * 4097!r}", "longer than 4096"),
    (lambda a: a["annotations"].update(description="d" * 16_385), "alerts[1].annotations.description",
     "longer than 16384 characters"),
    (lambda a: a.update(generatorURL="http://p/" + "g" * 4096), "alerts[1].generatorURL", "longer than 4096"),
    # a label or annotation that is no text was stored as "None" or a Python repr (an incident of service "None")
    (lambda a: a["labels"].update(service=None), "alerts[1].labels.service", "valid string"),
    (lambda a: a["annotations"].update(runbook={"url": "x"}), "alerts[1].annotations.runbook", "valid string"),
]


def _raw_json(body: dict) -> bytes:
    """ASCII JSON: a lone surrogate goes as the escape ``\\ud800`` (valid JSON, not valid text)."""
    return json.dumps(body).encode()


@pytest.mark.parametrize(("mutate", "field", "message"), BAD_ALERTS)
def test_one_bad_alert_is_reported_and_the_others_are_stored_and_investigated(
    client, investigator, memory, mutate, field, message
):
    bad = alert("Bad", service="cache", fingerprint="fp-bad")
    mutate(bad)
    body = webhook(alert("A", service="ranking", fingerprint="fp-1"), bad, alert("C", service="search"))
    headers = {"content-type": "application/json"}
    response = client.post("/webhook/alertmanager", content=_raw_json(body), headers=headers)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["received"], answer["accepted"], answer["rejected"], answer["investigations_queued"]) == (3, 2, 1, 2)
    first, rejected, third = answer["alerts"]
    assert (rejected["index"], rejected["action"], rejected["queue_id"]) == (1, "rejected", None)
    assert [e["field"] for e in rejected["errors"]] == [field]
    assert message in rejected["errors"][0]["message"] and field in rejected["message"]
    assert "Value error" not in rejected["message"]  # the validator's words, not pydantic's wrapping
    assert (first["action"], third["action"]) == ("queued", "queued")
    wait_idle(client)
    assert sorted(e.service for e, _, _ in investigator.calls) == ["ranking", "search"]
    assert {i["service"] for i in client.get("/incidents").json()} == {"ranking", "search"}
    for outcome in (first, third):
        assert client.get(f"/incidents/{outcome['incident_id']}").json()["case_id"]


def test_a_call_whose_every_alert_is_bad_is_refused_naming_each(client, investigator):
    body = webhook(alert(status="pending"), {"labels": {"service": "x"}})
    response = client.post("/webhook/alertmanager", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "alerts[0].status: must be firing or resolved" in detail
    assert "alerts[1].labels.alertname: required" in detail
    assert investigator.calls == [] and client.get("/incidents").json() == []


def test_an_alert_with_a_huge_label_alone_is_refused_and_nothing_stored(client, investigator, memory):
    huge = alert(team="t" * 900_000)
    response = client.post("/webhook/alertmanager", json=webhook(huge))
    assert response.status_code == 422
    assert "alerts[0].labels.team: longer than 4096 characters" in response.json()["detail"]
    assert investigator.calls == [] and client.get("/incidents").json() == []
    assert memory.alerts_begun_between(0, 2e10) == []
    at_bound = alert(team="t" * 4096)
    at_bound["annotations"] = {"description": "d" * 16_384}
    assert client.post("/webhook/alertmanager", json=webhook(at_bound)).json()["accepted"] == 1


def test_malformed_json_is_rejected_with_where_it_broke(client):
    response = client.post(
        "/webhook/alertmanager", content=b'{"alerts": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON at character" in response.json()["detail"]


@pytest.mark.parametrize(("content", "message"), [
    (b'{"alerts": ["caf\xe9"]}', "is not valid text (utf-8): invalid continuation byte at byte 16"),
    (b"[" * 100_000 + b"]" * 100_000, "is JSON nested too deeply to read"),
])
def test_a_body_that_cannot_be_read_at_all_is_refused_saying_why(client, investigator, content, message):
    response = client.post("/webhook/alertmanager", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {"detail": f"invalid request: body: {message}",
                               "errors": [{"field": "body", "message": message}]}
    assert investigator.calls == [] and client.get("/incidents").json() == []


def test_only_fastapis_unparsed_body_error_is_reworded():
    """A 400 of a route's own, even one raised from a decoding error, keeps its detail."""
    from fastapi import FastAPI, HTTPException
    from fastapi.testclient import TestClient

    from agent.api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/own")
    def own() -> None:
        try:
            b"\xff".decode()
        except UnicodeDecodeError as exc:
            raise HTTPException(status_code=400, detail="the name is not text") from exc

    response = TestClient(app).get("/own")
    assert response.status_code == 400 and response.json() == {"detail": "the name is not text"}


def test_other_http_errors_keep_fastapis_answer(client):
    response = client.get("/no-such-route")
    assert response.status_code == 404 and response.json() == {"detail": "Not Found"}
    wrong_method = client.delete("/webhook/alertmanager")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


@pytest.mark.parametrize(("headers", "got"), [({"content-type": "text/plain"}, "text/plain"), ({}, "no content-type")])
def test_a_json_body_not_sent_as_json_is_refused_saying_so(client, investigator, headers, got):
    body = json.dumps(webhook(alert(fingerprint="fp-1")))
    response = client.post("/webhook/alertmanager", content=body, headers=headers)
    assert response.status_code == 415
    message = f"must be JSON sent with content-type: application/json (got {got})"
    assert response.json() == {"detail": f"invalid request: body: {message}",
                               "errors": [{"field": "body", "message": message}]}
    assert investigator.calls == [] and client.get("/incidents").json() == []
    not_an_object = client.post("/webhook/alertmanager", json="alerts")  # JSON, but not the envelope: as before
    assert not_an_object.status_code == 422 and "content-type" not in not_an_object.json()["detail"]


def test_too_many_alerts_in_one_call_are_refused_and_a_warning_names_them_and_the_limit(memory, investigator, caplog):
    with make_client(memory, investigator, max_alerts=2) as client, \
            caplog.at_level("WARNING", logger="agent.api.routes.webhook"):
        response = client.post("/webhook/alertmanager", json=webhook(alert("A"), alert("B"), alert("C")))
    assert response.status_code == 413
    assert response.json()["detail"] == "alerts: at most 2 per call, got 3"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("refused a webhook call of 3 alerts, more than BIANQUE_API_MAX_ALERTS (2)" in m
               and "max_alerts" in m for m in warned), warned


def test_a_queue_beyond_its_bound_answers_503_and_records_nothing(memory):
    gate = threading.Event()
    investigator = CountingInvestigator(memory, gate=gate)
    with make_client(memory, investigator, workers=1, max_queued=2) as client:
        first = client.post("/webhook/alertmanager", json=webhook(alert(service="ranking"), alert(service="cache")))
        assert [a["action"] for a in first.json()["alerts"]] == ["queued", "queued"]
        refused = client.post("/webhook/alertmanager", json=webhook(alert(service="search")))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
        assert "queue is full (2 unfinished" in refused.json()["detail"] and "retry later" in refused.json()["detail"]
        assert client.get("/incidents", params={"service": "search"}).json() == []
        resolved_only = client.post("/webhook/alertmanager", json=webhook(alert(status="resolved")))
        assert resolved_only.status_code == 200  # nothing to investigate: still accepted
        assert client.get("/healthz").json()["queue"]["bound"] == 2
        gate.set()
        wait_idle(client)
        again = client.post("/webhook/alertmanager", json=webhook(alert(service="search")))
        assert again.json()["alerts"][0]["action"] == "queued"
        wait_idle(client)
    assert sorted(e.service for e, _, _ in investigator.calls) == ["cache", "ranking", "search"]


def test_a_full_queue_still_takes_alerts_that_would_queue_nothing(memory):
    gate = threading.Event()
    gate.set()
    investigator = CountingInvestigator(memory, gate=gate)
    with make_client(memory, investigator, workers=1, max_queued=2) as client:
        post(client, alert(service="ranking", fingerprint="fp-1"))
        wait_idle(client)  # investigated
        gate.clear()
        post(client, alert(service="cache", fingerprint="fp-2"), alert(service="search", fingerprint="fp-3"))
        assert memory.queue_outstanding() == 2  # full
        repeats = post(client, alert(service="ranking", fingerprint="fp-1"), alert(service="cache", fingerprint="fp-2"),
                       alert("ErrorRate", service="search", fingerprint="fp-4"))
        assert [(a["kind"], a["action"]) for a in repeats["alerts"]] == [
            ("repeat", "acknowledged"), ("repeat", "acknowledged"), ("duplicate", "acknowledged")]
        post(client, alert(status="resolved", service="ranking", fingerprint="fp-1"))
        storm = post(client, *[alert(service="ranking", fingerprint="fp-1")] * 3)  # stale re-deliveries
        assert {(a["kind"], a["action"]) for a in storm["alerts"]} == {("stale", "ignored")}
        mixed = client.post("/webhook/alertmanager", json=webhook(alert(service="ranking", fingerprint="fp-1"),
                                                                  alert(service="web", fingerprint="fp-5")))
        assert mixed.status_code == 503 and "would queue another" in mixed.json()["detail"]
        assert client.get("/incidents", params={"service": "web"}).json() == []
        gate.set()
        wait_idle(client)
    assert sorted(e.service for e, _, _ in investigator.calls) == ["cache", "ranking", "search"]


def test_a_failing_investigation_is_retried_then_failed_visibly_and_queued_again_by_a_repeat(memory):
    investigator = CountingInvestigator(memory, fail=True)
    with make_client(memory, investigator, max_attempts=3) as client:
        outcome = client.post("/webhook/alertmanager", json=webhook(alert(fingerprint="fp-1"))).json()["alerts"][0]
        wait_idle(client)
        item = client.get(f"/queue/{outcome['queue_id']}").json()
        assert (item["status"], item["attempts"]) == ("failed", 3)
        assert item["last_error"] == "RuntimeError: investigation exploded"
        assert [i["id"] for i in client.get("/queue", params={"status": "failed"}).json()] == [item["id"]]
        incident = client.get(f"/incidents/{outcome['incident_id']}").json()
        assert (incident["status"], incident["case_id"]) == ("open", None)
        health = client.get("/healthz").json()
        assert health["queue"]["failed"] == 1 and health["workers"]["failed_attempts"] == 3
        assert len(investigator.calls) == 3 and len(set(investigator.threads)) == 1

        investigator.fail = False  # e.g. the data source is back; Alertmanager re-notifies
        repeat = client.post("/webhook/alertmanager", json=webhook(alert(fingerprint="fp-1"))).json()["alerts"][0]
        assert (repeat["kind"], repeat["action"], repeat["queue_id"]) == ("repeat", "queued", item["id"])
        assert "queued again" in repeat["message"]
        wait_idle(client)
        done = client.get(f"/queue/{item['id']}").json()
        assert done["status"] == "done"
        assert client.get(f"/incidents/{outcome['incident_id']}").json()["case_id"] == done["case_id"]


def test_a_failed_item_can_be_retried_by_hand_and_only_a_failed_one(memory):
    investigator = CountingInvestigator(memory, fail=True)
    with make_client(memory, investigator, max_attempts=1) as client:
        queue_id = client.post("/webhook/alertmanager", json=webhook(alert())).json()["alerts"][0]["queue_id"]
        wait_idle(client)
        investigator.fail = False
        retried = client.post(f"/queue/{queue_id}/retry")
        assert retried.status_code == 200 and retried.json()["attempts"] == 0
        wait_idle(client)
        assert client.get(f"/queue/{queue_id}").json()["status"] == "done"
        again = client.post(f"/queue/{queue_id}/retry")
        assert again.status_code == 422 and "only a failed one can be retried" in again.json()["detail"]
        assert client.get("/queue/nope").status_code == 404


def test_a_storm_in_one_call_is_investigated_completely(client, investigator):
    """The issue's reproduction: many new alerts in one call; every incident ends with its case."""
    alerts = [alert(f"A{i}", service=f"svc-{i}", fingerprint=f"fp-{i}") for i in range(150)]
    body = post(client, *alerts)
    assert body["investigations_queued"] == 150
    wait_idle(client, timeout=120)
    incidents = client.get("/incidents").json()
    assert len(incidents) == 150 and all(i["case_id"] for i in incidents)
    assert len(investigator.calls) == 150


def test_concurrent_calls_investigate_every_incident_exactly_once(client, investigator):
    def call(n: int) -> None:
        # 100 alerts on 40 services, two alert names each: repeats and duplicates across concurrent calls
        batch = []
        for k in range(5):
            service, name = f"svc-{(n * 5 + k) % 40}", f"A{(n + k) % 2}"
            batch.append(alert(name, service=service, fingerprint=f"fp-{service}-{name}"))
        response = client.post("/webhook/alertmanager", json=webhook(*batch))
        assert response.status_code == 200, response.text

    threads = [threading.Thread(target=call, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wait_idle(client, timeout=120)
    incidents = client.get("/incidents").json()
    assert len({i["service"] for i in incidents}) == len(incidents) == 40
    assert all(i["case_id"] for i in incidents)
    assert sorted(e.service for e, _, _ in investigator.calls) == sorted(i["service"] for i in incidents)


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


def test_the_business_label_is_the_events_business_and_selects_the_skill_scoped_to_it(client, investigator):
    post(client, alert(fingerprint="fp-biz", business="ads"), alert(name="Other", service="search", fingerprint="fp-2"))
    wait_idle(client)
    events = {event.service: event for event, _skill, _source in investigator.calls}
    assert (events["ranking"].business, events["search"].business) == ("ads", None)


def test_the_service_is_read_from_the_configured_label(app_label_client, investigator):
    body = post(app_label_client, alert(service=None, app="checkout", fingerprint="fp-app"))
    assert body["alerts"][0]["service"] == "checkout"
    wait_idle(app_label_client)
    long = app_label_client.post("/webhook/alertmanager", json=webhook(alert(service=None, app="a" * 201)))
    assert long.status_code == 422  # the label read as the service is checked, not `service`
    assert "alerts[0].labels.app: longer than 200" in long.json()["detail"]
    [(event, _skill, _source)] = investigator.calls
    assert event.service == "checkout"


@pytest.mark.parametrize("char", ["\n", "\x1b", "\x85"], ids=["newline", "escape", "C1 NEL"])
def test_a_control_character_in_the_configured_label_is_refused_up_front(app_label_client, investigator, char):
    good, bad = alert("A", service=None, app="search"), alert("B", service=None, app=f"check{char}out")
    answer = post(app_label_client, good, bad)
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    [problem] = answer["alerts"][1]["errors"]
    assert problem["field"] == "alerts[1].labels.app"
    assert f"contains the control character U+{ord(char):04X}" in problem["message"]
    alone = app_label_client.post("/webhook/alertmanager", json=webhook(bad))
    assert alone.status_code == 422 and "alerts[0].labels.app: contains the control character" in alone.json()["detail"]
    wait_idle(app_label_client)
    assert [i["service"] for i in app_label_client.get("/incidents").json()] == ["search"]
    assert [e.service for e, _, _ in investigator.calls] == ["search"]


@pytest.mark.parametrize("char", ["\n", "\x1b", "\x85"], ids=["newline", "escape", "C1 NEL"])
def test_post_investigate_refuses_the_alert_the_webhook_refuses_for_a_control_character(app_label_client,
                                                                                      investigator, char):
    """POST /investigate took an alert whose configured service label held a control character (only ``service`` and
    ``alertname`` were checked, by the model): the webhook refuses that alert, and so does it now, naming the label.
    Other labels and annotations take one at both doors."""
    event = {"pattern": "rca", "time": T0, "alert": {"labels": {"alertname": "A", "app": f"check{char}out"}}}
    response = app_label_client.post("/investigate", json={"event": event})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == "event.alert.labels.app"
    assert problem["message"].startswith(f"contains the control character U+{ord(char):04X}")
    assert investigator.calls == []
    other = {"labels": {"alertname": "A", "app": "checkout", "team": f"a{char}b"}, "annotations": {"summary": char}}
    assert app_label_client.post("/investigate", json={"event": {**event, "alert": other}}).status_code == 200
    assert post(app_label_client, {**other, "status": "firing", "startsAt": T0})["accepted"] == 1


def test_alerts_the_sender_left_out_are_reported_and_logged(client, caplog):
    body = webhook(alert(fingerprint="fp-1"))
    assert post(client, alert(fingerprint="fp-0"))["truncated_by_sender"] == 0
    with caplog.at_level("WARNING", logger="agent.api.routes.webhook"):
        answer = client.post("/webhook/alertmanager", json={**body, "truncatedAlerts": 7}).json()
    assert answer["truncated_by_sender"] == 7 and answer["accepted"] == 1
    assert any("left 7 alert(s) of this group out" in r.getMessage() for r in caplog.records)
    for odd in (-1, None, "7", 2.5):  # a bad count must not cost the alerts sent (a 4xx is never retried)
        lenient = client.post("/webhook/alertmanager", json={**body, "truncatedAlerts": odd})
        assert lenient.status_code == 200 and lenient.json()["truncated_by_sender"] == 0
    caplog.clear()
    with caplog.at_level("WARNING", logger="agent.api.routes.webhook"):  # every alert sent is bad: still logged
        rejected = client.post("/webhook/alertmanager", json={**webhook({"labels": {}}), "truncatedAlerts": 3})
    assert rejected.status_code == 422
    assert any("left 3 alert(s) of this group out" in r.getMessage() for r in caplog.records)


def test_an_alert_the_database_refuses_is_rejected_alone_naming_what_it_said_not_the_statement(client, memory,
                                                                                                monkeypatch):
    """A constraint one row breaks is that alert's problem: the others are stored and the call answers 200. The
    rejection quotes the database's first line, not the INSERT and its parameters SQLAlchemy appends."""
    from sqlalchemy.exc import IntegrityError

    store = memory.observe_alert_queued

    def refuse_the_disk_alert(notice):  # noqa: ANN001, ANN202
        if notice.alertname == "DiskFull":
            raise IntegrityError("INSERT INTO alerts (fingerprint) VALUES (?)", ("fp-secret",),
                                 Exception("CHECK constraint failed: alerts_count\nDETAIL: more"))
        return store(notice)

    monkeypatch.setattr(memory, "observe_alert_queued", refuse_the_disk_alert)
    body = post(client, alert(fingerprint="fp-1"), alert(name="DiskFull", fingerprint="fp-2"))
    assert (body["accepted"], body["rejected"]) == (1, 1)
    rejected = body["alerts"][1]
    assert rejected["errors"] == [{"field": "alerts[1]", "message": "could not be stored: IntegrityError: CHECK "
                                   "constraint failed: alerts_count"}]
    assert "INSERT" not in json.dumps(body) and "fp-secret" not in json.dumps(body)


def test_a_connection_pool_that_times_out_fails_the_call_with_a_503_not_each_alert(client, memory, monkeypatch):
    """Every pooled connection busy past the pool's timeout is SQLAlchemy's TimeoutError, no DBAPIError: each alert
    was rejected on its own and the call answered 200, so Alertmanager never sent them again."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    def busy(notice):  # noqa: ANN001, ANN202
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00")

    monkeypatch.setattr(memory, "observe_alert_queued", busy)
    answer = client.post("/webhook/alertmanager", json=webhook(alert(fingerprint="fp-1")))
    assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
    assert answer.json()["detail"].startswith("database unavailable: ") and "retry later" in answer.json()["detail"]



def test_the_webhook_and_health_answer_while_slow_requests_hold_every_shared_thread(memory):
    """Synchronous routes share Starlette's one thread pool: 42 /investigate calls on a hanging source had held the
    webhook 57 s and /healthz 58 s. Here the pool is one thread, held by an /investigate that waits."""
    import anyio

    from tests.test_api_endpoints import RCA_EVENT

    gate = threading.Event()
    slow = CountingInvestigator(memory, gate=gate)
    with make_client(memory, slow) as client:
        client.portal.call(lambda: setattr(anyio.to_thread.current_default_thread_limiter(), "total_tokens", 1))
        held = threading.Thread(target=lambda: client.post("/investigate", json={"event": RCA_EVENT}))
        held.start()
        try:
            for _ in range(1000):  # until the investigation holds the one shared thread
                if slow.calls:
                    break
                threading.Event().wait(0.01)
            assert slow.calls
            answers: dict[str, int] = {}
            calls = [threading.Thread(target=lambda: answers.update(health=client.get("/healthz").status_code)),
                     threading.Thread(target=lambda: answers.update(
                         webhook=client.post("/webhook/alertmanager", json=webhook(alert("A"))).status_code))]
            for call in calls:
                call.start()
            deadline = time.monotonic() + 10  # a liveness bound, not a speed measure: held, they wait for the gate
            for call in calls:
                call.join(max(0.0, deadline - time.monotonic()))
            assert answers == {"health": 200, "webhook": 200}  # answered while the shared thread is held
        finally:
            gate.set()
            held.join(60)
