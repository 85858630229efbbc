"""Alertmanager webhook handling: dedup every alert, investigate only new problems, in the background."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.api.investigator import Investigator
from agent.events import Alert, AlertmanagerWebhook, Event, event_from_alert
from agent.memory import AlertKind, AlertObservation, Memory

log = logging.getLogger(__name__)
ALERT_STATUSES = ("firing", "resolved")
Action = Literal["investigating", "acknowledged", "recorded", "not_investigated"]


class AlertOutcome(BaseModel):
    """What the service did with one alert of a webhook call."""

    fingerprint: str
    alertname: str
    service: str | None = None
    status: str
    kind: AlertKind = Field(description="new, repeat, duplicate or resolved (see docs/api.md).")
    action: Action
    incident_id: str | None = None
    case_id: str | None = Field(default=None, description="The case investigating the incident, once known.")
    message: str


class WebhookResponse(BaseModel):
    """The answer to Alertmanager (and to anyone reading the service's logs)."""

    received: int
    investigations_started: int
    alerts: list[AlertOutcome]


def alert_fingerprint(alert: Alert) -> str:
    """Alertmanager's fingerprint, or a stable hash of the labels when the sender gave none."""
    if alert.fingerprint:
        return alert.fingerprint
    canonical = json.dumps(sorted(alert.labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def status_problems(webhook: AlertmanagerWebhook) -> list[dict[str, Any]]:
    """Pydantic-style errors (``loc``, ``msg``) for alerts whose status is neither firing nor resolved."""
    return [
        {"loc": ("alerts", i, "status"), "msg": f"must be firing or resolved, got {alert.status!r}"}
        for i, alert in enumerate(webhook.alerts)
        if alert.status not in ALERT_STATUSES
    ]


def _message(observation: AlertObservation) -> str:
    service = observation.service or "(no service label)"
    if observation.kind is AlertKind.REPEAT:
        return (
            f"repeat notification #{observation.count} of an alert already being handled "
            f"(incident {observation.incident_id}); no new investigation"
        )
    if observation.kind is AlertKind.DUPLICATE:
        return (
            f"{service} already has an open incident ({observation.incident_id}); "
            "the alert joined it, no new investigation"
        )
    if observation.incident_id is None:
        return "resolved; this alert was never seen firing"
    if observation.incident_resolved:
        return f"resolved; incident {observation.incident_id} is resolved (no alert of it still fires)"
    return f"resolved; incident {observation.incident_id} stays open (other alerts of it still fire)"


class AlertIntake:
    """Classifies webhook alerts through memory and starts investigations through ``start``.

    ``start(work, *args) -> bool`` queues background work (False when it cannot be queued).
    """

    def __init__(self, memory: Memory, investigator: Investigator, start: Callable[..., bool]) -> None:
        self.memory = memory
        self.investigator = investigator
        self.start = start

    def handle(self, webhook: AlertmanagerWebhook, now: float) -> WebhookResponse:
        """Observe every alert (in order) and start one investigation per new incident."""
        outcomes = [self._one(alert, now) for alert in webhook.alerts]
        started = sum(1 for o in outcomes if o.action == "investigating")
        return WebhookResponse(received=len(outcomes), investigations_started=started, alerts=outcomes)

    def _one(self, alert: Alert, now: float) -> AlertOutcome:
        fingerprint = alert_fingerprint(alert)
        service = alert.labels.get("service")
        ts = alert.ends_at if alert.status == "resolved" and alert.ends_at else now
        observation = self.memory.observe_alert(fingerprint, alert.name, service, alert.status, ts)
        outcome = AlertOutcome(
            fingerprint=fingerprint,
            alertname=alert.name,
            service=service,
            status=alert.status,
            kind=observation.kind,
            action="recorded" if observation.kind is AlertKind.RESOLVED else "acknowledged",
            incident_id=observation.incident_id,
            case_id=observation.case_id,
            message=_message(observation),
        )
        if not observation.needs_investigation:
            return outcome
        event = event_from_alert(alert, now)
        if self.start(self.investigate, event, observation.incident_id, name=f"alert {alert.name} {fingerprint}"):
            return outcome.model_copy(
                update={"action": "investigating", "message": "new incident; investigation started in the background"}
            )
        return outcome.model_copy(
            update={
                "action": "not_investigated",
                "message": "new incident, but the investigation queue is full; it was not investigated",
            }
        )

    def investigate(self, event: Event, incident_id: str | None) -> None:
        """Background work: investigate a new incident, then link its case so duplicates point at it."""
        result = self.investigator(event, skill=None, source="webhook")
        if incident_id and result.case_id:
            self.memory.link_incident_case(incident_id, result.case_id)
        log.info("incident %s investigated: case %s", incident_id, result.case_id)
