"""A bundle's alert is read as the four alert doors read one (tests/test_alert_doors.py): the service from the
configured label (``BIANQUE_SERVICE_LABEL``, else ``service``) where event.yaml names none, its business label where
it names none; a bundle that names its service keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.bundles.errors import InvalidBundleError
from agent.bundles.reader import load_bundle
from agent.config import get_settings
from agent.events import Alert, Event, Pattern

LABELS = "{alertname: CheckoutErrors, app: checkout, service: kube-svc-7, business: shop}"


def bundle(tmp_path: Path, event_yaml: str) -> Path:
    root = tmp_path / "case"
    root.mkdir()
    (root / "event.yaml").write_text(event_yaml)
    return root


@pytest.fixture
def app_label(monkeypatch):
    monkeypatch.setenv("BIANQUE_SERVICE_LABEL", "app")
    get_settings.cache_clear()


def test_a_bundle_naming_no_service_reads_its_alert_by_the_configured_label(tmp_path, app_label):
    """The ``service`` label (here a Kubernetes Service's name) had been read whatever the setting said: the
    investigation looked at ``kube-svc-7``, not ``checkout``."""
    event = load_bundle(bundle(tmp_path, f"pattern: rca\ntime: 100\nalert:\n  labels: {LABELS}\n")).event
    assert (event.service, event.business, event.services) == ("checkout", "shop", ["checkout"])


def test_without_the_configured_label_a_bundle_reads_the_service_label(tmp_path, app_label):
    event = load_bundle(bundle(tmp_path, "pattern: rca\ntime: 100\nalert:\n  labels: {alertname: A, service: cart}\n"))
    assert event.event.service == "cart"


def test_a_bundle_naming_its_service_keeps_it(tmp_path, app_label):
    event = load_bundle(bundle(tmp_path, f"pattern: rca\ntime: 100\nservice: payments\nbusiness: pay\n"
                                         f"alert:\n  labels: {LABELS}\n")).event
    assert (event.service, event.business, event.services) == ("payments", "pay", ["payments"])


@pytest.mark.parametrize("value, said", [('"check\\nout"', "control character U+000A"), ('"  "', "blank"),
                                         (f'"{"c" * 201}"', "longer than 200 characters")])
def test_a_configured_label_that_is_no_service_name_is_refused_naming_its_line(tmp_path, app_label, value, said):
    path = bundle(tmp_path, f"pattern: rca\ntime: 100\nalert:\n  labels:\n    alertname: A\n    app: {value}\n")
    with pytest.raises(InvalidBundleError) as refused:
        load_bundle(path)
    assert "event.yaml:6: alert.labels.app: " in str(refused.value) and said in str(refused.value)


def test_an_event_naming_its_service_adds_no_service_label_of_its_alert():
    """``Event.services`` had added the alert's ``service`` label beside the event's service, whatever label the
    doors read the service from (with ``app`` configured: a Kubernetes Service's name as a second target)."""
    alert = Alert(labels={"alertname": "CheckoutErrors", "app": "checkout", "service": "kube-svc-7"})
    assert Event(pattern=Pattern.RCA, time=0, service="checkout", alert=alert).services == ["checkout"]
    assert Event(pattern=Pattern.RCA, time=0, alert=alert).services == ["kube-svc-7"]  # read at no door: its label
