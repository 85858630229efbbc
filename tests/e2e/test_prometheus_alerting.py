"""The example Prometheus / Alertmanager configs are valid, their rules fire as documented, and a
real Alertmanager delivers alerts to a webhook in the shape Bian Que parses."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from agent.events import AlertmanagerWebhook, Pattern, event_from_alert
from agent.timeparse import to_rfc3339

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BIANQUE_WEBHOOK = "http://127.0.0.1:8765/webhook/alertmanager"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True)


def test_example_prometheus_config_and_rules_are_valid(system_binary):
    done = run(system_binary("promtool"), "check", "config", str(EXAMPLES / "prometheus/prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 rules found" in done.stdout + done.stderr  # serving.rules.yml
    assert "6 rules found" in done.stdout + done.stderr  # bianque.rules.yml


@pytest.mark.parametrize("rules", ["serving", "bianque"])
def test_example_rules_pass_their_unit_tests(system_binary, rules):
    done = run(system_binary("promtool"), "test", "rules", str(EXAMPLES / f"prometheus/rules/{rules}.rules.test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("labels", "receivers"), [
    (["component=bianque", "severity=critical", "alertname=BianQueDown"], "oncall-pager"),
    (["severity=critical", "alertname=RankingP99LatencyHigh", "service=ranking"], "bianque,oncall-pager"),
    (["severity=warning", "alertname=CacheHitRatioLow", "service=cache"], "bianque"),
])
def test_example_routes_send_alerts_on_bianque_itself_to_people_only(system_binary, labels, receivers):
    config = EXAMPLES / "alertmanager/alertmanager.yml"
    done = run(system_binary("amtool"), "config", "routes", "test", f"--config.file={config}", *labels)
    assert done.returncode == 0 and done.stdout.strip() == receivers, done.stdout + done.stderr


def test_example_alertmanager_config_is_valid_and_targets_bianque(system_binary):
    config = EXAMPLES / "alertmanager/alertmanager.yml"
    done = run(system_binary("amtool"), "check-config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert BIANQUE_WEBHOOK in config.read_text()


def post_alert(alertmanager: str, alertname: str, **labels: str) -> None:
    alert = {
        "labels": {"alertname": alertname, **labels},
        "annotations": {"summary": f"{alertname} fired"},
        "startsAt": to_rfc3339(time.time() - 60),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    response = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=10)
    assert response.status_code == 200, response.text


def test_example_config_routes_a_critical_alert_to_bianque(start_alertmanager, webhook_recorder):
    config = (EXAMPLES / "alertmanager/alertmanager.yml").read_text()
    assert BIANQUE_WEBHOOK in config and "group_wait: 10s" in config
    config = config.replace(BIANQUE_WEBHOOK, webhook_recorder.url).replace("group_wait: 10s", "group_wait: 1s")
    alertmanager = start_alertmanager(webhook_recorder.url, config)
    post_alert(alertmanager, "RankingP99LatencyHigh", service="ranking", severity="critical")
    body = AlertmanagerWebhook.model_validate(webhook_recorder.wait_for("RankingP99LatencyHigh"))
    assert body.receiver == "bianque"
    assert body.group_labels == {"alertname": "RankingP99LatencyHigh", "service": "ranking"}
    [alert] = body.alerts
    event = event_from_alert(alert)
    assert (event.pattern, event.service, alert.status) == (Pattern.RCA, "ranking", "firing")
    assert alert.annotations["summary"] == "RankingP99LatencyHigh fired"
    assert abs(event.time - (time.time() - 60)) < 300


def test_alertmanager_fixture_delivers_to_the_recorder(alertmanager_url, webhook_recorder):
    post_alert(alertmanager_url, "CacheHitRatioLow", service="cache", severity="warning")
    body = webhook_recorder.wait_for("CacheHitRatioLow")
    assert body["version"] == "4"
    assert body["commonLabels"]["service"] == "cache"
