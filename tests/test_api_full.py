"""The service end to end with the real graph: an Alertmanager alert from a curated scenario bundle is
deduplicated, investigated in the background by ``agent.investigate`` and stored as a finished case."""

from __future__ import annotations

import pytest

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from tests.test_api_support import make_client, wait_idle, webhook

SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture
def bundle():
    if not SCENARIO.is_dir():
        pytest.fail(f"curated scenario missing: {SCENARIO}")
    return load_bundle(SCENARIO)


def test_webhook_alert_is_investigated_by_the_real_graph(memory, bundle):
    toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)
    calls = []

    def investigator(event, *, skill=None, source="api", thread_id=None):
        result = investigate(event, toolkit, skill=skill, source=source, bundle_path=str(SCENARIO), thread_id=thread_id)
        calls.append(result)
        return result

    alert = bundle.event.alert.model_dump(mode="json", by_alias=True)
    with make_client(memory, investigator) as client:
        first = client.post("/webhook/alertmanager", json=webhook(alert)).json()["alerts"][0]
        repeat = client.post("/webhook/alertmanager", json=webhook(alert)).json()["alerts"][0]
        wait_idle(client)
        assert (first["action"], repeat["kind"], len(calls)) == ("queued", "repeat", 1)
        case_id = client.get(f"/incidents/{first['incident_id']}").json()["case_id"]
        case = client.get(f"/cases/{case_id}").json()
    assert case["status"] == "done", case.get("error")
    assert case["event"]["alert"]["labels"]["alertname"] == bundle.event.alert.name
    assert case["report"] == calls[0].report and calls[0].skill["name"].endswith("-rca")
    verdict = case["verdict"]
    assert verdict["pattern"] == "rca" and verdict["needs_attention"] is not None
    finding_ids = {f["id"] for f in case["findings"]}
    cited = set(verdict["evidence"]) | {i for cause in verdict["root_causes"] for i in cause["evidence"]}
    assert cited and cited <= finding_ids  # the verdict rests on findings it was shown


def test_an_alert_names_the_other_alert_that_began_in_its_look_back(memory, bundle):
    toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)

    def investigator(event, *, skill=None, source="api", thread_id=None):
        return investigate(event, toolkit, skill=skill, source=source, bundle_path=str(SCENARIO), thread_id=thread_id)

    alert = bundle.event.alert.model_dump(mode="json", by_alias=True)
    earlier = {**alert, "labels": {**alert["labels"], "alertname": "CheckoutErrors", "service": "checkout"},
               "startsAt": bundle.event.time - 480}
    earlier.pop("fingerprint", None)
    with make_client(memory, investigator) as client:
        first = client.post("/webhook/alertmanager", json=webhook(earlier)).json()["alerts"][0]
        second = client.post("/webhook/alertmanager", json=webhook(alert)).json()["alerts"][0]
        wait_idle(client)
        reports = {}
        for name, outcome in (("earlier", first), ("alerted", second)):
            case_id = client.get(f"/incidents/{outcome['incident_id']}").json()["case_id"]
            reports[name] = client.get(f"/cases/{case_id}").json()
    assert all(case["status"] == "done" for case in reports.values())
    assert ('another alert began 8 min before this one: "CheckoutErrors" on "checkout"'
            in reports["alerted"]["report"])
    assert "another alert began" not in reports["earlier"]["report"]  # nothing began before it
