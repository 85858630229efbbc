"""The HTTP API besides the webhook: health, investigate, ask, cases, corrections, Skills, auth, errors."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from agent.api.app import create_app
from agent.api.settings import ApiSettings
from agent.config import get_settings
from agent.events import Event
from agent.memory import InvalidInputError
from agent.memory.corrections import NAME_MAX_CHARS
from agent.timeparse import to_epoch
from tests.test_api_support import T0, CountingInvestigator, alert, make_client, webhook

RCA_EVENT = {
    "pattern": "rca",
    "time": T0,
    "service": "ranking",
    "alert": {"labels": {"alertname": "HighLatency", "service": "ranking"}, "startsAt": T0},
}


def investigate(client, event=RCA_EVENT, **extra):
    response = client.post("/investigate", json={"event": event, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_healthz_reports_the_database_and_the_workers(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"].startswith("sqlite:///")
    assert body["queue"] == {"pending": 0, "running": 0, "done": 0, "failed": 0, "oldest_pending_at": None,
                             "bound": 10_000}
    workers = body["workers"]
    assert (workers["threads"], workers["running"], workers["completed"], workers["failed_attempts"]) == (2, 0, 0, 0)


def test_investigate_answers_with_verdict_report_and_case(client, investigator):
    body = investigate(client, skill="search-latency-rca")
    [(event, skill, source)] = investigator.calls
    assert (event.alert.name, skill, source) == ("HighLatency", "search-latency-rca", "api")
    assert body["verdict"]["pattern"] == "rca" and body["report"].startswith("# Dry run")
    case = client.get(f"/cases/{body['case_id']}").json()
    assert (case["status"], case["skill"], case["event"]["service"]) == ("done", "search-latency-rca", "ranking")


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"event": {**RCA_EVENT, "pattern": "triage"}}, 422, "event.pattern: Input should be"),
        ({"event": {**RCA_EVENT, "time": "soon"}}, 422, "event.time: "),
        ({"event": {**RCA_EVENT, "alert": {"labels": "x"}}}, 422, "event.alert.labels: "),
        ({"event": RCA_EVENT, "bogus": 1}, 422, "bogus: Extra inputs are not permitted"),
        (
            {"event": {"pattern": "release_interception", "time": T0,
                       "change": {"id": "d1", "service": "ranking", "canary": {"version": None}}}},
            422,
            "event.change.canary.version: Input should be a valid string",  # was the selector version="None"
        ),
        ({}, 422, "event: Field required"),
        ({"event": RCA_EVENT, "skill": "no-such-skill"}, 422, "skill: no Skill named 'no-such-skill'"),
        (
            {"event": RCA_EVENT, "skill": "disk-inspection"},
            422,
            "skill: Skill 'disk-inspection' is for inspection events; this is an rca event",
        ),
    ],
)
def test_investigate_rejects_bad_requests_naming_the_field(client, investigator, body, status, detail):
    response = client.post("/investigate", json=body)
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert investigator.calls == []


def test_investigate_without_a_skill_for_the_event_is_refused_storing_no_case(tmp_path, monkeypatch, client,
                                                                              investigator):
    (tmp_path / "my-skills").mkdir()
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(tmp_path / "my-skills")]))
    get_settings.cache_clear()
    client.app.state.bianque.settings = get_settings()
    for path, body, field in (("/investigate", {"event": RCA_EVENT}, "event"),
                              ("/ask", {"question": "why is ranking slow?"}, "question")):
        response = client.post(path, json=body)
        assert response.status_code == 422, response.text
        [problem] = response.json()["errors"]
        assert problem["field"] == field and "no generic Skill for rca" in problem["message"]
        assert "BIANQUE_SKILLS_DIRS" in problem["message"]
    assert investigator.calls == []


RELEASE_EVENT = {"pattern": "release_interception", "time": T0, "change": {"id": "d1", "service": "ranking"}}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({**RELEASE_EVENT, "change": None}, "required for a release_interception event"),
        ({"pattern": "release_interception", "time": T0, "service": "ranking"}, "required for a release_interception"),
        ({"pattern": "release_interception", "time": T0, "chnage": RELEASE_EVENT["change"]},
         "the body has 'chnage': did you mean 'change'?"),
        ({**RELEASE_EVENT, "change": {"version": "v2"}}, "names no change: give its service"),
        ({**RELEASE_EVENT, "change": {"idd": "d1"}}, "'idd' is no field of a change: did you mean 'id'?"),
    ],
)
def test_a_release_gate_request_without_its_change_is_refused(client, investigator, event, message):
    """Without a change the gate judged whatever the event's service did: on a bad canary's data it answered pass."""
    response = client.post("/investigate", json={"event": event})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == "event.change" and message in problem["message"]
    assert investigator.calls == [] and client.get("/cases").json() == []


def test_an_event_without_time_is_judged_as_of_now_or_when_its_alert_fired(client, investigator):
    """Without ``time`` an event is judged as of the request's arrival; an RCA event whose alert says when it fired
    (``startsAt``) as of then, as the webhook, an alert file and a pasted alert read it (tests/test_alert_doors.py)."""
    before = time.time()
    untimed = {k: v for k, v in RCA_EVENT.items() if k != "time"}
    investigate(client, {**untimed, "alert": {"labels": RCA_EVENT["alert"]["labels"]}})
    investigate(client, untimed)
    [(unstarted, _, _), (started, _, _)] = investigator.calls
    assert before <= unstarted.time <= time.time()
    assert started.time == to_epoch(T0)
    refused = client.post("/investigate", json={"event": {**RCA_EVENT, "time": None}})  # null is no absence
    assert refused.status_code == 422 and "event.time" in refused.text


@pytest.mark.parametrize(("event", "field", "message"), [
    ({**RCA_EVENT, "time": "9999-12-31T23:59:59Z"}, "event.time", "after the year 2500"),  # a case left running
    ({"pattern": "inspection", "scope": {"services": ["ranking"], "window": 1e30}}, "event.scope.window",
     "longer than ten years"),  # a 500: timestamp out of range
])
def test_a_time_or_window_no_data_can_have_is_refused_naming_its_field(client, investigator, event, field, message):
    response = client.post("/investigate", json={"event": event})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == field and message in problem["message"]
    assert investigator.calls == [] and client.get("/cases").json() == []


def test_keys_the_event_does_not_read_are_answered_in_the_notes(client, investigator):
    body = investigate(client, {**RCA_EVENT, "servce": "search", "scope": {"services": ["a"], "windw": "1h"}})
    assert body["notes"][:2] == ["event.servce: unknown key ignored (did you mean 'service'?)",
                                 "event.scope.windw: unknown key ignored (did you mean 'window'?)"]
    assert not any(n.startswith("event.") for n in investigate(client)["notes"])


def test_a_failing_investigation_is_a_json_500(memory):
    with make_client(memory, CountingInvestigator(memory, fail=True)) as client:
        response = client.post("/investigate", json={"event": RCA_EVENT})
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error: RuntimeError: investigation exploded"}


def test_ask_routes_the_question_and_investigates_it(client, investigator, bianque_home, monkeypatch):
    topology = bianque_home / "topology.yaml"
    bianque_home.mkdir(parents=True, exist_ok=True)
    topology.write_text("services:\n  gateway: {depends_on: [ranking]}\n  ranking: {depends_on: []}\n")
    client.app.state.bianque.settings = get_settings().model_copy(update={"topology_file": topology})
    response = client.post("/ask", json={"question": "Why is ranking slow?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["route"]["pattern"], body["route"]["services"]) == ("rca", ["ranking"])
    assert body["text"].startswith("_Routed to **rca**")
    [(event, _, source)] = investigator.calls
    assert (event.question, event.service, source) == ("Why is ranking slow?", "ranking", "api")


def test_ask_without_a_topology_file_routes_to_a_service_the_log_store_knows(client, investigator, bianque_home):
    from tests.test_ask_routing import _store_lines_of

    _store_lines_of(["gateway", "ranking"])
    response = client.post("/ask", json={"question": "Why is ranking slow?"})
    assert response.status_code == 200, response.text
    assert response.json()["route"]["services"] == ["ranking"]
    [(event, _, _)] = investigator.calls
    assert event.service == "ranking"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"question": ""}, "question: String should have at least 1 character"),
        ({"question": "   "}, "question: empty"),
        ({"q": "why"}, "question: Field required"),
    ],
)
def test_ask_rejects_empty_questions(client, investigator, body, detail):
    response = client.post("/ask", json=body)
    assert response.status_code == 422 and detail in response.json()["detail"]
    assert investigator.calls == []


def test_a_question_routed_to_the_release_gate_is_refused_as_a_release_naming_no_change_is(client, investigator):
    """The gate judges a named change; a question names none, and the gate judged whatever the service did."""
    response = client.post("/ask", json={"question": "is the ranking canary safe to roll out?"})
    assert response.status_code == 422 and "change: required for a release_interception event" in response.text
    assert "the question names no service (its latest change in the change store would be judged)" in response.text
    assert investigator.calls == []


def test_a_release_question_naming_a_service_judges_its_latest_logged_change(client, investigator, bianque_home):
    """'should we roll back the ranking deploy?' in an incident: the change store's newest change of ranking (named by
    its id) is judged, and the route says which; it was refused, sending the engineer to write a change file."""
    from tests.test_ask_routing import store_changes

    now = time.time()
    store_changes([("deploy-1", "ranking", now - 7200), ("deploy-2", "ranking", now - 1800), ("deploy-3", "gateway",
                   now - 600)])
    response = client.post("/ask", json={"question": "should we roll back the ranking deploy?"})
    assert response.status_code == 200, response.text
    assert "judging the latest change of ranking in the change store: deploy deploy-2" in response.json()["route"][
        "reason"]
    [(event, _, _)] = investigator.calls
    assert (event.pattern, event.service, event.change.id, event.change.service) == (
        "release_interception", "ranking", "deploy-2", "ranking")
    assert response.json()["listed"] == []  # the judged change is named: no 'changes in the last hour: none' beside it


def test_a_release_question_about_a_service_with_no_logged_change_is_refused_saying_so(client, investigator,
                                                                                      bianque_home):
    from tests.test_ask_routing import store_changes

    store_changes([("deploy-0", "ranking", time.time() - 3 * 86400), ("deploy-3", "gateway", time.time() - 600)])
    response = client.post("/ask", json={"question": "is the ranking canary safe to roll out?"})
    assert response.status_code == 422
    assert "the change store logged no change of ranking in the day before" in response.json()["detail"]
    assert investigator.calls == []


def test_a_question_asking_what_changed_is_answered_with_the_logged_changes(client, investigator, bianque_home):
    from tests.test_ask_routing import store_changes

    store_changes([("deploy-7", "ranking", time.time() - 900)])
    body = client.post("/ask", json={"question": "what changed in the last hour?"}).json()
    [listing] = body["listed"]
    assert listing["lines"][0].endswith("ranking: deploy deploy-7 (roll out ranking)")
    assert "**Changes logged in the last 60m (every service)**\n\n- " in body["text"]


def test_a_question_asking_what_was_deployed_lists_the_deploys_instead_of_being_refused(client, investigator,
                                                                                       bianque_home):
    """'what was deployed in the last hour?' went to the release gate, which names no change for it: refused, sending
    the engineer to write a change file. It lists the logged changes and inspects."""
    from tests.test_ask_routing import store_changes

    store_changes([("deploy-7", "ranking", time.time() - 900)])
    response = client.post("/ask", json={"question": "what was deployed in the last hour?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"]["pattern"] == "inspection"
    assert body["route"]["reason"].endswith("no change named to judge: listing what was asked and inspecting")
    assert body["listed"][0]["lines"][0].endswith("ranking: deploy deploy-7 (roll out ranking)")
    [(event, _, _)] = investigator.calls
    assert event.pattern == "inspection"


def test_an_alert_pasted_as_the_question_is_investigated_from_its_labels_and_start(client, investigator):
    pasted = json.dumps({"alerts": [{"labels": {"alertname": "HighLatency", "service": "ranking"},
                                     "startsAt": "2026-03-02T10:14:00Z"}]})
    response = client.post("/ask", json={"question": pasted})
    assert response.status_code == 200, response.text
    assert response.json()["route"]["reason"].startswith("a pasted alert: HighLatency (firing since 03-02 10:14 UTC)")
    [(event, _, _)] = investigator.calls
    assert (event.alert.name, event.service, event.time) == ("HighLatency", "ranking", 1772446440.0)
    refused = client.post("/ask", json={"question": '{"alerts": [{"labels": {"service": "ranking"}}]}'})
    assert refused.status_code == 422 and "the pasted alert: labels.alertname: required" in refused.json()["detail"]


def test_cases_are_listed_newest_first_and_filtered(client):
    first = investigate(client)["case_id"]
    inspection = {"pattern": "inspection", "time": T0, "scope": {"services": ["cache"]}}
    second = investigate(client, inspection)["case_id"]
    listed = client.get("/cases").json()
    assert [c["id"] for c in listed] == [second, first]
    assert listed[1]["summary"].startswith("dry run") and listed[1]["service"] == "ranking"
    assert [c["id"] for c in client.get("/cases", params={"pattern": "rca"}).json()] == [first]
    assert [c["id"] for c in client.get("/cases", params={"limit": 1}).json()] == [second]
    assert client.get("/cases", params={"status": "failed"}).json() == []


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": 0}, "query.limit: "),
        ({"pattern": "guess"}, "query.pattern: "),
        ({"status": "lost"}, "query.status: "),
    ],
)
def test_case_listing_rejects_bad_filters(client, params, detail):
    response = client.get("/cases", params=params)
    assert response.status_code == 422 and detail in response.json()["detail"]


def test_unknown_case_is_404(client):
    response = client.get("/cases/nope")
    assert response.status_code == 404 and "'nope'" in response.json()["detail"]


def test_corrections_are_stored_with_the_case(client):
    case_id = investigate(client)["case_id"]
    correction = {
        "correct": False,
        "root_cause_service": "feature-store",
        "root_cause_fault": "slow_dependency",
        "needs_attention": True,
        "note": "it was the feature store",
        "author": "oncall",
    }
    response = client.post(f"/cases/{case_id}/corrections", json=correction)
    assert response.status_code == 201, response.text
    stored = response.json()["correction"]
    assert (stored["case_id"], stored["root_cause_service"], stored["author"]) == (case_id, "feature-store", "oncall")
    assert response.json()["repeated"] is False
    case = client.get(f"/cases/{case_id}").json()
    assert [c["note"] for c in case["corrections"]] == ["it was the feature store"]
    assert client.get("/cases").json()[0]["corrections"] == 1
    again = client.post(f"/cases/{case_id}/corrections", json=correction)  # a client retrying after a timeout
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert again.json()["correction"]["id"] == stored["id"] and client.get("/cases").json()[0]["corrections"] == 1
    assert stored["no_index"] is False
    kept_out = client.post(f"/cases/{case_id}/corrections", json={**correction, "index": False})
    assert kept_out.status_code == 201 and kept_out.json()["correction"]["no_index"] is True  # stored: not a repeat
    assert [c["no_index"] for c in client.get(f"/cases/{case_id}").json()["corrections"]] == [False, True]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"correct": "yes"}, "correct: Input should be a valid boolean"),
        ({"correct": False, "decision": "maybe"}, "decision: Input should be 'pass', 'hold' or 'block'"),
        ({"correct": False, "root_cause_fault": "oom"}, "root_cause_fault: give root_cause_service too"),
        ({"correct": False}, "a wrong answer needs the truth: give root_cause_service and root_cause_fault"),
        ({"correct": False, "root_cause_service": "feature\nstore", "root_cause_fault": "slow_dependency"},
         "root_cause_service: contains the control character U+000A"),  # was stored as the truth
        ({"correct": True, "rating": 5}, "rating: Extra inputs are not permitted"),
    ],
)
def test_bad_corrections_are_rejected_naming_the_field(client, body, detail):
    case_id = investigate(client)["case_id"]
    response = client.post(f"/cases/{case_id}/corrections", json=body)
    assert response.status_code == 422 and detail in response.json()["detail"]
    assert "--" not in response.json()["detail"]  # the API's field names, not the CLI's flags
    assert client.get(f"/cases/{case_id}").json()["corrections"] == []


@pytest.mark.parametrize("field", ["root_cause_service", "root_cause_fault", "author"])
def test_a_correction_name_is_measured_as_memory_stores_it(client, memory, field):
    """Blanks around a name are not stored, so they do not count: the API takes what the CLI takes, and refuses
    what memory refuses in the same words, naming the field."""
    case_id = investigate(client)["case_id"]
    names = {"root_cause_service": "feature-store", "root_cause_fault": "slow_dependency"}
    body = {"correct": False, **names}
    padded = client.post(f"/cases/{case_id}/corrections", json={**body, field: "  " + "f" * NAME_MAX_CHARS + " "})
    assert padded.status_code == 201, padded.text
    assert padded.json()["correction"][field] == "f" * NAME_MAX_CHARS
    too_long = client.post(f"/cases/{case_id}/corrections", json={**body, field: "f" * (NAME_MAX_CHARS + 1)})
    message = f"at most {NAME_MAX_CHARS} characters, got {NAME_MAX_CHARS + 1}"
    assert too_long.status_code == 422 and too_long.json()["errors"] == [{"field": field, "message": message}]
    with pytest.raises(InvalidInputError) as memory_says:
        memory.add_correction(case_id, False, **{**names, field: "f" * (NAME_MAX_CHARS + 1)})
    assert str(memory_says.value) == f"{field}: {message}" and f"{field}: {message}" in too_long.json()["detail"]
    assert len(client.get(f"/cases/{case_id}").json()["corrections"]) == 1


def test_a_likely_typo_of_a_service_the_case_mentions_is_refused_unless_given_as_is(client):
    case = investigate(client)
    service = RCA_EVENT["service"]
    typo = service[:-1]  # a letter short: close to the alerted service's name, and mentioned nowhere itself
    body = {"correct": False, "root_cause_service": typo, "root_cause_fault": "memory_leak"}
    refused = client.post(f"/cases/{case['case_id']}/corrections", json=body)
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "root_cause_service"
    assert error["message"].endswith(f"did you mean {service!r}? Give that name, or as_given: true to store it as "
                                     "given (a cause outside the case's data)")
    assert client.get(f"/cases/{case['case_id']}").json()["corrections"] == []
    stored = client.post(f"/cases/{case['case_id']}/corrections", json={**body, "as_given": True})
    assert stored.status_code == 201, stored.text
    assert stored.json()["correction"]["root_cause_service"] == typo
    assert any(note.endswith("stored as given") for note in stored.json()["notes"])


def test_a_correction_must_fit_the_case_pattern(client):
    case_id = investigate(client, RELEASE_EVENT)["case_id"]
    wrong_kind = client.post(f"/cases/{case_id}/corrections", json={"correct": False, "root_cause_service": "cache"})
    assert wrong_kind.status_code == 422 and "is a release_interception case" in wrong_kind.json()["detail"]
    response = client.post(f"/cases/{case_id}/corrections", json={"correct": False, "decision": "block"})
    assert response.status_code == 201, response.text
    assert (response.json()["truth"], response.json()["indexed"]) == ("decision block", [])


def test_correcting_an_unknown_case_is_404(client):
    response = client.post("/cases/nope/corrections", json={"correct": True})
    assert response.status_code == 404 and "'nope'" in response.json()["detail"]


def test_skills_are_listed_with_schedules_and_broken_files(client, bianque_home):
    user_skills = bianque_home / "skills"
    user_skills.mkdir(parents=True)
    (user_skills / "broken.yaml").write_text("name: broken\nversion: one\n")
    body = client.get("/skills").json()
    by_name = {s["name"]: s for s in body["skills"]}
    assert by_name["disk-inspection"]["schedule"] == "0 */2 * * *"
    assert by_name["disk-inspection"]["pattern"] == "inspection" and by_name["generic-rca"]["schedule"] is None
    assert "broken" not in by_name
    assert any(e["file"].endswith("broken.yaml") and e["line"] for e in body["errors"])
    detail = client.get("/skills/broken").json()["detail"]  # named with why it is not there
    assert detail.startswith("no Skill named 'broken' (its file did not load: ") and "broken.yaml:" in detail


def test_one_skill_with_definition_and_yaml(client):
    body = client.get("/skills/disk-inspection").json()
    assert body["definition"]["schedule"] == "0 */2 * * *"
    assert "name: disk-inspection" in body["yaml"] and "# every two hours" in body["yaml"]
    missing = client.get("/skills/nope")
    assert missing.status_code == 404 and missing.json()["detail"] == "no Skill named 'nope' (see GET /skills)"


def test_a_token_is_required_when_configured_except_for_healthz(memory, investigator):
    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token="s3cret"))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            response = client.get("/cases", headers=headers)
            assert response.status_code == 401 and "bearer token" in response.json()["detail"]
        assert client.post("/webhook/alertmanager", json={"alerts": []}).status_code == 401
        assert client.get("/cases", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        for path in ("/docs", "/openapi.json"):  # the docs map every endpoint: they need the token too
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        non_ascii = client.get("/cases", headers={"Authorization": "Bearer s3cr\u00e9t".encode()})
        assert non_ascii.status_code == 401  # compared as bytes, never a 500


def test_with_a_token_healthz_tells_a_caller_without_it_only_what_a_probe_needs(memory, investigator):
    """Unauthenticated, /healthz named the database's host and user, the workers' host:pid and problems and where
    notifications go: with a token set those are for its holders; a probe learns status and up/down only."""
    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token="s3cret"))
    with TestClient(app) as client:
        wait_until(lambda: app.state.bianque.workers.up)
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            brief = client.get("/healthz", headers=headers)
            assert (brief.status_code, brief.json()) == (200, {"status": "ok", "database": "up", "workers": "up"})
        full = client.get("/healthz", headers={"Authorization": "Bearer s3cret"}).json()
        assert full["database"] == memory.url and full["workers"]["identity"] and "queue" in full
        _alter_by_hand(memory, "DROP TABLE investigation_queue")
        down = client.get("/healthz")
        assert (down.status_code, down.json()["status"], down.json()["database"]) == (503, "unavailable", "down")
        assert set(down.json()) == {"status", "database", "workers"}  # no detail: it names the database
        assert "no such table" in client.get("/healthz", headers={"Authorization": "Bearer s3cret"}).json()["detail"]


def wait_until(condition, tries: int = 500) -> None:
    """Poll ``condition`` (no time asserted: a count of short sleeps)."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition never held")


def test_with_a_token_every_route_but_healthz_answers_401_before_reading_the_body(memory, investigator):
    """Every route the app serves (listed from its OpenAPI map, not by hand) answers an unauthenticated call 401, also
    when its body is no JSON, nested too deeply or over the size limit: those had answered 400/422/413 first, the body
    read and parsed for anyone."""
    import re

    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token="s3cret", max_body_bytes=2048))
    routes = [(method.upper(), re.sub(r"\{[^}]+\}", "x", path)) for path, operations in app.openapi()["paths"].items()
              for method in operations]
    assert len(routes) > 20 and ("GET", "/healthz") in routes
    bodies = (b"{bad", b"[" * 100_000 + b"]" * 100_000, b'{"alerts": []}', b"x" * 5000)
    with TestClient(app) as client:
        for method, path in [*routes, ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/nope")]:
            if path == "/healthz":
                continue
            for body in bodies:
                answer = client.request(method, path, content=body, headers={"content-type": "application/json"})
                assert answer.status_code == 401, (method, path, body[:10], answer.text)
                assert answer.headers["www-authenticate"] == "Bearer" and "bearer token" in answer.json()["detail"]
        assert client.get("/healthz").status_code == 200


def test_an_empty_token_is_refused_not_accepted():
    with pytest.raises(ValidationError, match="set but empty"):
        ApiSettings(token="  ")


def test_a_non_ascii_token_works(memory, investigator):
    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token="s\u00e9same"))
    with TestClient(app) as client:
        good = {"Authorization": "Bearer s\u00e9same".encode()}
        assert client.get("/cases", headers=good).status_code == 200
        assert client.get("/cases", headers={"Authorization": "Bearer sesame"}).status_code == 401


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nope").json() == {"detail": "Not Found"}
    assert client.get("/investigate").status_code == 405


def _raw(body: dict) -> dict:
    """Keywords posting ``body`` as ASCII JSON: a lone surrogate goes as the escape ``\\ud800`` (not valid text)."""
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/investigate", {"event": {**RCA_EVENT, "question": "why\u0000"}}, "event.question"),
        ("/investigate", {"event": {**RCA_EVENT, "alert": {"labels": {"alertname": "A"},
                                                          "annotations": {"summary": "a\ud800"}}}},
         "event.alert.annotations.summary"),
        ("/investigate", {"event": {**RCA_EVENT, "runbook": ["ok", "x\u0000"]}}, "event.runbook[1]"),
        ("/ask", {"question": "why is ranking slow\u0000"}, "question"),
        ("CASE/corrections", {"correct": False, "root_cause_service": "cache", "root_cause_fault": "disk_full",
                              "note": "a\u0000b"}, "note"),
        ("CASE/corrections", {"correct": True, "author": "\ud800"}, "author"),
    ],
)
def test_text_that_is_not_text_is_refused_naming_the_field_before_anything_is_stored(
    client, investigator, path, body, field
):
    """NUL and lone surrogates: PostgreSQL refuses them (a 500 after the case was started), SQLite the latter."""
    case_id = investigate(client)["case_id"]
    investigator.calls.clear()
    response = client.post(path.replace("CASE", f"/cases/{case_id}"), **_raw(body))
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == field and problem["message"].startswith("is not valid text")
    assert investigator.calls == []
    assert [c["id"] for c in client.get("/cases").json()] == [case_id]
    assert client.get(f"/cases/{case_id}").json()["corrections"] == []


@pytest.mark.parametrize(("event", "field"), [
    ({**RCA_EVENT, "service": "s" * 201}, "event.service"),
    ({"pattern": "inspection", "time": T0, "scope": {"services": ["ok", "x" * 201]}}, "event.scope.services[1]"),
    ({"pattern": "release_interception", "time": T0, "change": {"service": "c" * 201, "type": "deploy"}},
     "event.change.service"),
    ({**RCA_EVENT, "service": None, "alert": {"labels": {"alertname": "A", "service": "a" * 201}}},
     "event.alert.labels.service"),
])
def test_a_service_name_longer_than_memory_holds_is_refused_naming_the_field(client, memory, investigator, event,
                                                                            field):
    """PostgreSQL's events.service holds 200 characters: a longer name answered 500 after the request was taken (the
    webhook refused it already); refused naming the field, nothing investigated or stored. A case stored before
    with a longer name (SQLite took it) is still listed: the bound is on what comes in, not on what is read back."""
    response = client.post("/investigate", json={"event": event})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == field and problem["message"] == "longer than 200 characters"
    assert investigator.calls == [] and client.get("/cases").json() == []
    stored = memory.record_event(Event.model_validate(event))  # as SQLite took it before
    memory.start_case(stored.id, skill="s")
    assert client.get("/cases").status_code == 200


def _alert_event(**alert) -> dict:
    """An RCA event whose alert is ``alert``."""
    return {**RCA_EVENT, "alert": alert}


@pytest.mark.parametrize(("event", "field", "message"), [
    (_alert_event(labels={"alertname": "A", "team": "t" * 4097}), "event.alert.labels.team", "longer than 4096"),
    (_alert_event(labels={"alertname": "A", "t" * 4097: "x"}), f"event.alert.labels.{'t' * 4097!r}",
     "longer than 4096"),
    (_alert_event(annotations={"description": "d" * 16_385}), "event.alert.annotations.description",
     "longer than 16384"),
    (_alert_event(generatorURL="http://p/" + "g" * 4096), "event.alert.generatorURL", "longer than 4096"),
])
def test_an_alert_text_longer_than_the_webhook_takes_is_refused_by_investigate_too(client, investigator, event, field,
                                                                                  message):
    """One rule for both: only the 1 MiB body bounded ``event.alert`` here, so a 900 KB label refused by the webhook
    was stored through POST /investigate."""
    response = client.post("/investigate", json={"event": event})
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == field and problem["message"] == f"{message} characters"
    assert investigator.calls == [] and client.get("/cases").json() == []


def test_an_alert_at_the_webhooks_bounds_is_investigated(client, investigator):
    at_bound = _alert_event(labels={"alertname": "A", "service": "a", "team": "t" * 4096},
                            annotations={"description": "d" * 16_384})
    assert client.post("/investigate", json={"event": at_bound}).status_code == 200
    assert len(investigator.calls) == 1


@pytest.mark.parametrize(("url", "field"), [
    ("/cases/ab%00cd", "path.case_id"), ("/cases?service=rank%00ing", "query.service"),
    ("/skills/disk%00", "path.name"),
    ("/incidents/ab%00cd", "path.incident_id"), ("/queue/ab%00cd", "path.queue_id"),
])
def test_a_path_or_query_parameter_that_is_not_text_is_refused_naming_it(client, url, field):
    """PostgreSQL refuses a NUL in a lookup (a 500): refused before anything is asked of the database."""
    response = client.get(url)
    assert response.status_code == 422, response.text
    [problem] = response.json()["errors"]
    assert problem["field"] == field and problem["message"].startswith("is not valid text")


def test_a_database_gone_mid_run_answers_503_naming_it_and_why_not_a_500():
    """Every request that reaches memory answers 503 with Retry-After and the reason, like the webhook did."""
    from agent.memory import Memory
    from agent.memory.db import make_engine
    from tests.test_cli_errors import unreachable_postgres_url

    url, port = unreachable_postgres_url()
    gone = Memory(engine=make_engine(url))  # opened while the server answered; now nothing listens there
    client = TestClient(create_app(get_settings(), CountingInvestigator(gone), memory=gone),
                        raise_server_exceptions=False)  # no lifespan: no queue worker polls the dead database
    expected = (f"database unavailable: 'memory' on 127.0.0.1:{port} (user bianque): connection refused: nothing "
                "listens there; retry later")
    for answer in (client.get("/cases"), client.get("/cases/c1"), client.post("/webhook/alertmanager",
                                                                               json=webhook(alert()))):
        assert (answer.status_code, answer.json(), answer.headers["retry-after"]) == (503, {"detail": expected},
                                                                                      "30")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["detail"] == expected
    assert "s3cr3tpw" not in health.text


def _alter_by_hand(memory, statement: str) -> None:
    """Change the SQLite file under ``memory`` behind its back, as a hand-made schema change or a restore does."""
    with sqlite3.connect(memory.engine.url.database) as raw:
        raw.execute(statement)


@pytest.mark.parametrize(("statement", "call", "said"), [
    ("DROP TABLE alerts", lambda client: client.post("/webhook/alertmanager", json=webhook(alert())),
     "no such table: alerts"),
    ("ALTER TABLE cases DROP COLUMN bundle_path", lambda client: client.get("/cases"),
     "no such column: cases.bundle_path"),
])
def test_a_schema_that_is_not_current_answers_500_naming_it_not_503_retry_later(memory, investigator, statement,
                                                                                call, said):
    """SQLite reports a missing table as an OperationalError, like a database it cannot reach: it answered 503 "retry
    later", and Alertmanager would retry a call that fails the same way every time."""
    client = TestClient(create_app(get_settings(), investigator, memory=memory), raise_server_exceptions=False)
    _alter_by_hand(memory, statement)
    answer = call(client)
    assert answer.status_code == 500 and "retry-after" not in answer.headers, answer.text
    assert answer.json() == {"detail": f"database schema is not current: {memory.engine.url.database}: {said}; "
                                       "`python -m agent.memory.migrate upgrade` brings it to this version's schema "
                                       "(it does not restore a table or column removed by hand)"}


def test_health_names_a_schema_that_is_not_current(memory, investigator):
    client = TestClient(create_app(get_settings(), investigator, memory=memory), raise_server_exceptions=False)
    _alter_by_hand(memory, "DROP TABLE investigation_queue")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert health.json()["detail"].startswith(
        f"database schema is not current: {memory.engine.url.database}: no such table: investigation_queue; ")


def test_a_locked_database_answers_503_retry_later(tmp_path, monkeypatch, investigator):
    """A write that waited out the busy timeout: SQLite could not be used for a while, so the call is worth sending
    again."""
    from agent.memory import Memory

    monkeypatch.setattr("agent.memory.db.SQLITE_BUSY_TIMEOUT_S", 0.05)  # read at each connection
    path = tmp_path / "locked.db"
    with Memory(f"sqlite:///{path}") as locked, sqlite3.connect(path, isolation_level=None) as holder:
        client = TestClient(create_app(get_settings(), investigator, memory=locked), raise_server_exceptions=False)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        answer = client.post("/webhook/alertmanager", json=webhook(alert()))
        holder.execute("ROLLBACK")
    assert (answer.status_code, answer.headers.get("retry-after")) == (503, "30"), answer.text
    assert answer.json() == {"detail": f"database unavailable: {path}: database is locked; retry later"}


def test_a_read_only_database_answers_500_naming_it_on_one_line_not_the_sql(tmp_path, investigator):
    """Neither gone nor a schema problem: it was "internal error: OperationalError: …" quoting the INSERT and the
    alert's values, where `bianque` commands say `database … failed: attempt to write a readonly database`."""
    from sqlalchemy import create_engine

    from agent.memory import Memory

    path = tmp_path / "read-only.db"
    Memory(f"sqlite:///{path}").close()
    with Memory(engine=create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")) as read_only:
        client = TestClient(create_app(get_settings(), investigator, memory=read_only), raise_server_exceptions=False)
        answer = client.post("/webhook/alertmanager", json=webhook(alert()))
        where = read_only.engine.url.database
    assert answer.status_code == 500 and "retry-after" not in answer.headers, answer.text
    assert answer.json() == {"detail": f"database {where} failed: attempt to write a readonly database"}


def test_a_row_the_database_refuses_answers_500_with_its_first_line_never_the_sql_or_its_values(memory,
                                                                                                 investigator):
    """PostgreSQL refuses a value too long for its column (a DataError): the 500 quoted the INSERT and the request's
    values after "internal error: DataError: …"; the traceback stays in the service's log."""
    from sqlalchemy.exc import DataError

    def refused(*_args, **_kwargs):
        raise DataError("INSERT INTO events (service) VALUES (%(service)s)", {"service": "given-value"},
                        Exception("value too long for type character varying(200)\nCONTEXT: ..."))

    client = TestClient(create_app(get_settings(), investigator, memory=memory), raise_server_exceptions=False)
    memory.list_cases = refused
    answer = client.get("/cases")
    assert answer.status_code == 500, answer.text
    assert answer.json() == {"detail": "internal error: DataError: value too long for type character varying(200)"}


def test_a_record_a_store_failure_left_is_removed_by_sending_the_correction_again(memory, investigator, knowledge):
    """What ``bianque knowledge forget-case`` does, the API does with the same correction sent again; the note of a
    store that could not be opened said to run that command, which a client of the service may have no shell for."""
    from agent.knowledge.store import KnowledgeStoreError

    def unusable():
        raise KnowledgeStoreError("cannot open the knowledge store at /x/chroma: file is not a database")

    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token=None), knowledge=knowledge)
    with TestClient(app) as client:
        case_id = investigate(client)["case_id"]
        correction = {"correct": False, "root_cause_service": "feature-store", "root_cause_fault": "slow_dependency"}
        client.post(f"/cases/{case_id}/corrections", json=correction)  # indexed
        opener, app.state.bianque.knowledge = app.state.bianque.knowledge, unusable
        kept_out = client.post(f"/cases/{case_id}/corrections", json={**correction, "index": False})
        assert kept_out.status_code == 201 and kept_out.json()["removed"] == [], kept_out.text
        assert kept_out.json()["notes"][-1].endswith(
            "file is not a database); remove it with this correction sent again (a repeat: nothing new is stored, "
            f"the removal is tried again), or `bianque knowledge forget-case {case_id}`")
        app.state.bianque.knowledge = opener
        again = client.post(f"/cases/{case_id}/corrections", json={**correction, "index": False})
    assert again.status_code == 200 and again.json()["repeated"], again.text
    assert again.json()["removed"] == [f"case-{case_id}"] and knowledge.get("cases", f"case-{case_id}") is None
    assert len(memory.get_case(case_id).corrections) == 2


def test_a_correction_keeping_a_case_out_removes_its_record_from_the_knowledge_store(memory, investigator,
                                                                                     knowledge):
    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token=None), knowledge=knowledge)
    with TestClient(app) as client:
        case_id = investigate(client)["case_id"]
        correction = {"correct": False, "root_cause_service": "feature-store", "root_cause_fault": "slow_dependency"}
        indexed = client.post(f"/cases/{case_id}/corrections", json=correction).json()
        assert indexed["indexed"][0] == f"case-{case_id}" and indexed["removed"] == []
        kept_out = client.post(f"/cases/{case_id}/corrections", json={**correction, "index": False})
        assert kept_out.status_code == 201, kept_out.text
        assert kept_out.json()["removed"] == [f"case-{case_id}"], kept_out.json()
    assert knowledge.get("cases", f"case-{case_id}") is None
