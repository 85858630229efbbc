"""POST /webhook/alertmanager: a stale firing copy of a resolved episode (same startsAt) opens nothing,
a re-fire (newer startsAt) does, and firing and resolved copies of one episode in one call end resolved."""

from __future__ import annotations

import pytest

from agent.api.alerts import storing_order
from agent.events import Alert
from tests.test_api_support import alert, wait_idle
from tests.test_api_webhook import post

LATER = "2024-05-01T11:00:00Z"


def test_a_firing_copy_after_the_episodes_resolution_is_stale(client, investigator):
    fired = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    wait_idle(client)
    post(client, alert(status="resolved", fingerprint="fp-1"))
    body = post(client, alert(fingerprint="fp-1"))  # Alertmanager re-delivers the firing notification
    wait_idle(client)
    [late] = body["alerts"]
    assert (late["kind"], late["action"], late["incident_id"], late["queue_id"]) == (
        "stale", "ignored", fired["incident_id"], None
    )
    assert "2024-05-01T10:00:00Z" in late["message"] and "no new incident, nothing queued" in late["message"]
    assert body["investigations_queued"] == 0 and body["accepted"] == 1
    assert client.get("/incidents").json() == []
    assert client.get(f"/incidents/{fired['incident_id']}").json()["status"] == "resolved"
    assert len(investigator.calls) == 1


def test_a_refire_with_a_newer_starts_at_is_a_new_incident(client, investigator):
    fired = post(client, alert(fingerprint="fp-1"))["alerts"][0]
    post(client, alert(status="resolved", fingerprint="fp-1"))
    again = post(client, alert(fingerprint="fp-1", starts_at=LATER))["alerts"][0]
    wait_idle(client)
    assert (again["kind"], again["action"]) == ("new", "queued")
    assert again["incident_id"] != fired["incident_id"]
    assert [i["id"] for i in client.get("/incidents").json()] == [again["incident_id"]]
    assert len(investigator.calls) == 2
    late = post(client, alert(status="resolved", fingerprint="fp-1"))["alerts"][0]  # the first episode's, again
    assert (late["kind"], late["action"]) == ("stale", "ignored")
    assert "older than the one recorded" in late["message"]
    assert [i["id"] for i in client.get("/incidents").json()] == [again["incident_id"]]  # still open


def test_without_starts_at_a_firing_copy_after_resolution_is_new_as_before(client, investigator):
    post(client, alert(fingerprint="fp-1", starts_at=None))
    post(client, alert(status="resolved", fingerprint="fp-1", starts_at=None))
    again = post(client, alert(fingerprint="fp-1", starts_at=None))["alerts"][0]
    wait_idle(client)
    assert (again["kind"], again["action"]) == ("new", "queued")
    assert len(investigator.calls) == 2


@pytest.mark.parametrize("starts_at", ["2024-05-01T10:00:00Z", None], ids=["startsAt", "no-startsAt"])
@pytest.mark.parametrize("resolved_first", [True, False], ids=["resolved-first", "firing-first"])
def test_firing_and_resolved_copies_in_one_call_end_resolved(client, investigator, resolved_first, starts_at):
    copies = [alert(fingerprint="fp-1", starts_at=starts_at), alert(status="resolved", fingerprint="fp-1",
                                                                    starts_at=starts_at)]
    body = post(client, *(copies[::-1] if resolved_first else copies))
    wait_idle(client)
    assert [a["status"] for a in body["alerts"]] == (["resolved", "firing"] if resolved_first
                                                     else ["firing", "resolved"])  # answered in the body's order
    kinds = {a["status"]: a["kind"] for a in body["alerts"]}
    assert kinds == {"firing": "new", "resolved": "resolved"}
    assert body["investigations_queued"] == 1 and len(investigator.calls) == 1
    assert client.get("/incidents").json() == []


def test_both_copies_in_one_call_after_the_resolution_queue_nothing(client, investigator):
    post(client, alert(fingerprint="fp-1"))
    post(client, alert(status="resolved", fingerprint="fp-1"))
    wait_idle(client)
    body = post(client, alert(status="resolved", fingerprint="fp-1"), alert(fingerprint="fp-1"))
    assert [(a["kind"], a["action"]) for a in body["alerts"]] == [("resolved", "recorded"), ("stale", "ignored")]
    assert body["investigations_queued"] == 0 and len(investigator.calls) == 1
    assert client.get("/incidents").json() == []


def test_a_resolved_copy_is_stored_after_its_episodes_firing_copies_only():
    a_resolved, a_firing = (Alert.model_validate(alert("A", status=s, fingerprint="a")) for s in ("resolved", "firing"))
    b_firing = Alert.model_validate(alert("B", fingerprint="b"))
    a_refire = Alert.model_validate(alert("A", fingerprint="a", starts_at=LATER))
    assert storing_order([a_resolved, b_firing, a_firing, None, a_firing]) == [1, 2, 3, 4, 0]
    assert storing_order([a_resolved, a_refire]) == [0, 1]  # another episode: the body's order
    assert storing_order([a_firing, a_resolved, b_firing]) == [0, 1, 2]


def test_a_stale_copys_message_names_its_own_episode_and_the_recorded_one(client, investigator):
    """The start a stale answer gives first is the late copy's; the recorded episode's comes after."""
    post(client, alert(fingerprint="fp-1"))
    post(client, alert(status="resolved", fingerprint="fp-1"))
    post(client, alert(fingerprint="fp-1", starts_at=LATER))
    late = post(client, alert(status="resolved", fingerprint="fp-1"))["alerts"][0]  # the 10:00 episode's, again
    assert late["kind"] == "stale"
    assert "episode started 2024-05-01T10:00:00Z, older than the one recorded (started 2024-05-01T11:00:00Z" in (
        late["message"])
    post(client, alert(status="resolved", fingerprint="fp-1", starts_at=LATER))
    older = post(client, alert(fingerprint="fp-1"))["alerts"][0]  # a firing copy of the 10:00 episode
    assert older["kind"] == "stale"
    assert older["message"].startswith("stale: a firing copy of the episode started 2024-05-01T10:00:00Z, older than "
                                       "the one recorded (started 2024-05-01T11:00:00Z), whose resolution"), (
        older["message"])
    wait_idle(client)
