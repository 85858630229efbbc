"""Alert and change files: accepted forms and precise errors."""

from __future__ import annotations

import json

import pytest

from agent.events import Pattern
from agent.inputs import InputError, event_from_change_file, events_from_alert_file


def test_alertmanager_webhook_gives_one_event_per_alert(tmp_path):
    body = {"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": {"alertname": "A", "service": "ranking"}, "startsAt": "2026-03-02T10:14:00Z"},
        {"status": "resolved", "labels": {"alertname": "B", "service": "cache"}, "startsAt": 1772446440},
    ]}
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps(body))
    events = events_from_alert_file(path, now=0)
    assert [e.alert.name for e in events] == ["A", "B"]
    assert events[0].pattern == Pattern.RCA and events[0].service == "ranking"


def test_bad_alert_names_the_file_and_field(tmp_path):
    path = tmp_path / "alert.yaml"
    path.write_text("alerts:\n  - labels: {alertname: A}\n    startsAt: not-a-time\n")
    with pytest.raises(InputError, match=r"alert.yaml: alerts\[0\].startsAt: not a Unix or RFC 3339 timestamp"):
        events_from_alert_file(path, now=0)


def test_a_control_character_in_the_configured_service_label_names_the_label(tmp_path):
    path = tmp_path / "alerts.json"
    alert = {"status": "firing", "labels": {"alertname": "A", "app": "cart\u0007"}, "startsAt": 0}
    path.write_text(json.dumps([{**alert, "labels": {"alertname": "A", "app": "cart"}}, alert]))
    with pytest.raises(InputError, match=r"alerts.json\[1\]: labels.app: contains the control character U\+0007"):
        events_from_alert_file(path, now=0, service_label="app")


def test_unparseable_file_names_the_line(tmp_path):
    path = tmp_path / "change.yaml"
    path.write_text("id: d1\ntype: [unclosed\n")
    with pytest.raises(InputError, match=r"change.yaml:\d+: not valid JSON or YAML"):
        event_from_change_file(path, now=0)


def test_a_file_nested_too_deeply_is_refused_naming_it_not_a_crash(tmp_path):
    path = tmp_path / "alert.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match=r"alert.json: JSON nested too deeply to read"):
        events_from_alert_file(path, now=0)


def test_a_name_longer_than_the_memory_holds_is_refused_naming_the_file_and_field(tmp_path):
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps({"labels": {"alertname": "A", "service": "s" * 201}, "startsAt": 0}))
    with pytest.raises(InputError, match=r"alerts.json: labels.service: longer than 200 characters"):
        events_from_alert_file(alerts, now=0)
    change = tmp_path / "change.yaml"
    change.write_text(f"id: d1\ntype: deploy\nservice: {'c' * 201}\n")
    with pytest.raises(InputError, match=r"change.yaml: service: longer than 200 characters"):
        event_from_change_file(change, now=0)


def test_a_nul_character_is_refused_naming_the_file_and_field(tmp_path):
    """PostgreSQL's JSON cannot hold a NUL: ``rca --alert`` stored the event and ended in the database's error; nor
    can any database hold an unpaired surrogate (YAML's ``"\\udc00"``)."""
    alerts = tmp_path / "alerts.json"
    alerts.write_text(json.dumps([{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B"},
                                                                   "annotations": {"summary": "x\u0000y"}}]))
    with pytest.raises(InputError, match=r"alerts.json\[1\]: annotations.summary: holds a NUL character"):
        events_from_alert_file(alerts, now=0)
    change = tmp_path / "change.yaml"
    change.write_text('id: d1\ntype: deploy\nservice: c\ndescription: "a \\0 b"\n')
    with pytest.raises(InputError, match=r"change.yaml: description: holds a NUL character"):
        event_from_change_file(change, now=0)
    change.write_text('id: d1\ntype: deploy\nservice: c\ndescription: "a \\udc00 b"\n')
    with pytest.raises(InputError, match=r"change.yaml: description: holds an unpaired surrogate at character 2"):
        event_from_change_file(change, now=0)


def test_change_file(tmp_path):
    path = tmp_path / "change.yaml"
    path.write_text("id: d1\ntype: canary\nservice: ranking\nts: 1700000000\ncanary: {version: v2}\n")
    event = event_from_change_file(path, now=0)
    assert event.pattern == Pattern.RELEASE_INTERCEPTION and event.change.canary == {"version": "v2"}


def test_an_alert_file_without_an_alert_is_refused_with_the_unknown_fields(tmp_path):
    path = tmp_path / "alert.json"
    path.write_text('{"foo": 1}')
    with pytest.raises(InputError, match=r"alert.json: labels.alertname: required .*unknown field\(s\) 'foo'"):
        events_from_alert_file(path, 0.0)
    path.write_text('[{"labels": {"alertname": "A", "service": "s"}}, {"labels": {"service": "s"}}]')
    with pytest.raises(InputError, match=r"alert.json\[1\]: labels.alertname: required"):
        events_from_alert_file(path, 0.0)


def test_the_service_is_read_from_the_configured_label(tmp_path):
    path = tmp_path / "alerts.json"
    path.write_text(json.dumps({"alerts": [
        {"labels": {"alertname": "HighLatency", "app": "checkout"}, "startsAt": "2026-03-02T10:14:00Z"},
        {"labels": {"alertname": "HighLatency", "service": "cart"}, "startsAt": "2026-03-02T10:14:00Z"},
    ]}))
    assert [e.service for e in events_from_alert_file(path, 0.0)] == [None, "cart"]
    assert [e.service for e in events_from_alert_file(path, 0.0, "app")] == ["checkout", "cart"]  # service: fallback


@pytest.mark.parametrize("body", [{"alerts": []}, []])
def test_an_alert_file_holding_no_alert_is_refused_naming_it(tmp_path, body):
    """Nothing to investigate is said (exit 2 in the CLI), not a silent success."""
    path = tmp_path / "none.json"
    path.write_text(json.dumps(body))
    with pytest.raises(InputError, match=r"none\.json: alerts: holds no alerts"):
        events_from_alert_file(path, 0.0)
