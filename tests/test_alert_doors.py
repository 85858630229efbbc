"""One alert, four doors, one reading.

An alert comes in by the Alertmanager webhook, an alert file (``bianque rca --alert``), an alert pasted into a question
(``POST /ask``, the chat) and ``POST /investigate`` (``event.alert``). Each door reads the same alert as the same event:
its service (``BIANQUE_SERVICE_LABEL``, else ``service``), its business, its time (``startsAt``, else the arrival) and
its name. Where the doors differ on purpose, docs/api.md ("One alert, four doors") says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.events import Event
from agent.inputs import InputError, events_from_alert_file
from agent.timeparse import to_epoch
from tests.test_api_support import T0, CountingInvestigator, wait_idle, webhook

Door = Callable[[TestClient, CountingInvestigator, dict[str, Any], Any], "Event | str"]
"""Feeds one alert through a door: the event investigated, or the door's refusal."""


def _answered(response: Any, investigator: CountingInvestigator) -> Event | str:
    """The one event investigated for an answer of 200, else the refusal (422) as text."""
    if response.status_code == 422:
        assert investigator.calls == []
        return response.text
    assert response.status_code == 200, response.text
    [(event, _skill, _source)] = investigator.calls
    return event


def _post(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    """``body`` posted as ASCII JSON, as a sender writes it: a lone surrogate goes as the escape ``\\ud800``."""
    return client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})


def by_webhook(client: TestClient, investigator: CountingInvestigator, alert: dict[str, Any], _tmp: Any) -> Event | str:
    answer = _post(client, "/webhook/alertmanager", webhook(alert))
    wait_idle(client)
    return _answered(answer, investigator)


def by_file(client: TestClient, _investigator: CountingInvestigator, alert: dict[str, Any], tmp: Any) -> Event | str:
    path = tmp / "alert.json"
    path.write_text(json.dumps(webhook(alert)))
    try:
        [event] = events_from_alert_file(path, time.time(), client.app.state.bianque.settings.service_label)
    except InputError as exc:
        return str(exc)
    return event


def by_paste(client: TestClient, investigator: CountingInvestigator, alert: dict[str, Any], _tmp: Any) -> Event | str:
    return _answered(_post(client, "/ask", {"question": json.dumps(webhook(alert))}), investigator)


def by_investigate(client: TestClient, investigator: CountingInvestigator, alert: dict[str, Any],
                   _tmp: Any) -> Event | str:
    return _answered(_post(client, "/investigate", {"event": {"pattern": "rca", "alert": alert}}), investigator)


DOORS = {"webhook": by_webhook, "file": by_file, "paste": by_paste, "investigate": by_investigate}
ALERT = {"status": "firing", "labels": {"alertname": "CheckoutErrors", "app": "checkout", "business": "shop",
                                        "severity": "page"},
         "annotations": {"summary": "checkout 5xx above 2%"}, "startsAt": T0, "fingerprint": "fp-checkout"}


def reading(event: Event | str) -> tuple[Any, ...]:
    assert isinstance(event, Event), event
    return event.pattern.value, event.service, event.business, event.time, event.alert.name if event.alert else None


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_every_door_reads_one_alert_as_one_event(app_label_client, investigator, tmp_path, door: Door):
    """The service from the configured label (``app``), the business label, ``startsAt`` as the time, the name:
    POST /investigate had read neither the configured label (an event without ``service`` was investigated about no
    service) nor the business label, and took the request's arrival as the time of an alert that says when it fired."""
    event = door(app_label_client, investigator, ALERT, tmp_path)
    assert reading(event) == ("rca", "checkout", "shop", to_epoch(T0), "CheckoutErrors")


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
def test_every_door_reads_an_alert_without_start_as_arriving_now(app_label_client, investigator, tmp_path,
                                                                  door: Door):
    alert = {key: value for key, value in ALERT.items() if key != "startsAt"}
    before = time.time()
    event = door(app_label_client, investigator, alert, tmp_path)
    assert reading(event)[1:3] == ("checkout", "shop")
    assert before <= reading(event)[3] <= time.time()


REFUSED = {
    "service label too long": ({"labels": {"app": "c" * 201}}, "labels.app: longer than 200 characters"),
    "control character in the service label": ({"labels": {"app": "check\nout"}},
                                               "labels.app: contains the control character U+000A"),
    "service label too long beside the configured one": ({"labels": {"service": "s" * 201}},
                                                         "labels.service: longer than 200 characters"),
    "blank name": ({"labels": {"alertname": " "}}, "labels.alertname: required"),
    "blank service label": ({"labels": {"app": "   "}}, "labels.app: blank"),
    "blank service label, the configured one empty": ({"labels": {"app": "", "service": " \u00a0"}},
                                                      "labels.service: blank"),
    "unknown status": ({"status": "pending"}, "status: must be firing or resolved"),
    "NUL in an annotation": ({"annotations": {"summary": "a\x00b"}}, "annotations.summary: "),
    "unpaired surrogate in a label": ({"labels": {"team": "a\ud800b"}}, "labels.team: "),
    "unpaired surrogate in a label's name": ({"labels": {"te\udc00am": "a"}}, "surrogate"),
}


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
@pytest.mark.parametrize("change, refused", REFUSED.values(), ids=REFUSED.keys())
def test_every_door_refuses_the_alerts_the_webhook_refuses_naming_the_field(app_label_client, investigator, tmp_path,
                                                                            door: Door, change, refused):
    """POST /investigate took a service label (``app``) of 201 characters, more than the memory stores, a blank name
    and an unknown status; an alert file and a pasted alert took a blank name, an unknown status and an unpaired
    surrogate (JSON's ``"\\ud800"``), which no database stores; the webhook, an alert file and a pasted alert took a
    ``service`` label of 201 characters beside the configured one (the label read when the configured one is absent)."""
    alert = {**ALERT, **change, "labels": {**ALERT["labels"], **change.get("labels", {})}}
    refusal = door(app_label_client, investigator, alert, tmp_path)
    assert isinstance(refusal, str), reading(refusal)
    assert refused in refusal


PADDED = {"configured label": {"app": " checkout "}, "service label": {"app": "", "service": "\u00a0checkout  "}}


@pytest.mark.parametrize("door", DOORS.values(), ids=DOORS.keys())
@pytest.mark.parametrize("labels", PADDED.values(), ids=PADDED.keys())
def test_every_door_reads_a_padded_service_label_trimmed(app_label_client, investigator, tmp_path, door: Door,
                                                         labels):
    """Blanks around a service label are no part of the name, as in a bundle's metrics.csv and a correction: the
    investigation had looked for the metrics of ``" checkout "`` and found none, ``Event.services`` naming it twice."""
    event = door(app_label_client, investigator, {**ALERT, "labels": {**ALERT["labels"], **labels}}, tmp_path)
    assert reading(event)[1] == "checkout"
    assert isinstance(event, Event) and event.services == ["checkout"]


def test_the_doors_taking_a_webhook_body_read_only_its_alerts(app_label_client, investigator, tmp_path):
    """The webhook reads a body's ``alerts`` only; an alert file and a pasted alert refused the same body for its
    envelope (``version: Input should be a valid string`` for ``"version": 4``, a number in ``commonLabels``, a null
    ``groupLabels``), which nothing reads."""
    body = {**webhook(ALERT), "version": 4, "commonLabels": {"port": 8080}, "groupLabels": None}
    path = tmp_path / "hook.json"
    path.write_text(json.dumps(body))
    [from_file] = events_from_alert_file(path, time.time(), "app")
    pasted = _post(app_label_client, "/ask", {"question": json.dumps(body)})
    hooked = _post(app_label_client, "/webhook/alertmanager", body)
    wait_idle(app_label_client)
    assert (pasted.status_code, hooked.status_code) == (200, 200), (pasted.text, hooked.text)
    [(from_paste, _, _), (from_webhook, _, _)] = investigator.calls
    assert reading(from_file) == reading(from_paste) == reading(from_webhook)


def test_post_investigate_reads_an_empty_service_or_business_as_unsaid(app_label_client, investigator):
    """An empty ``service`` or ``business`` says nothing, as an empty label does (``events.alert_service``): the alert's
    are read; they had stood, the configured label unread."""
    event = {"pattern": "rca", "service": "", "business": "", "alert": ALERT}
    assert _post(app_label_client, "/investigate", {"event": event}).status_code == 200
    [(read, _, _)] = investigator.calls
    assert reading(read) == ("rca", "checkout", "shop", to_epoch(T0), "CheckoutErrors")
