"""Alertmanager webhook handling: check each alert on its own, dedup it, queue new incidents' investigations.

Each alert is stored in its own transaction (alert, incident and queued investigation together), so
one bad alert is reported for itself and never costs the others. Alerts are stored in the body's order,
except that a resolved copy of an episode is stored after the call's firing copies of that episode:
whatever their order in the body, the episode ends resolved.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.api.errors import problems
from agent.api.text import text_problem
from agent.events import Alert, alert_service, event_from_alert
from agent.inputs import checks
from agent.inputs.checks import alert_texts, location_path
from agent.memory import AlertKind, AlertNotice, AlertObservation, Memory
from agent.memory.db import database_wide, first_line_said
from agent.names import MAX_NAME_CHARS  # also the fingerprint column's
from agent.timeparse import to_rfc3339

log = logging.getLogger(__name__)
Action = Literal["queued", "acknowledged", "recorded", "ignored", "rejected"]


class WebhookBody(BaseModel):
    """The envelope of Alertmanager's webhook (version 4); the alerts are checked one by one."""

    model_config = ConfigDict(extra="allow")

    alerts: list[Any] = Field(description="Alertmanager alerts; each is accepted or rejected on its own.")
    truncated_alerts: Any = Field(default=0, alias="truncatedAlerts",
                                  description="Alerts of the group Alertmanager left out (its max_alerts).")


    @property
    def left_out(self) -> int:
        """How many alerts the sender says it left out: ``truncatedAlerts`` when it is a count, else 0 (a bad
        count must not cost the alerts that were sent: a 4xx answer is never retried)."""
        value = self.truncated_alerts
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class Problem(BaseModel):
    field: str
    message: str


class AlertOutcome(BaseModel):
    """What the service did with one alert of a webhook call."""

    index: int = Field(description="Position of the alert in the call's `alerts`.")
    fingerprint: str | None = None
    alertname: str | None = None
    service: str | None = None
    status: str | None = None
    kind: AlertKind | None = Field(default=None,
                                   description="new, repeat, duplicate, resolved or stale (docs/api.md).")
    action: Action
    incident_id: str | None = None
    case_id: str | None = Field(default=None, description="The case that investigated the incident, once finished.")
    queue_id: str | None = Field(default=None, description="The incident's queued investigation (GET /queue/{id}).")
    queue_status: str | None = Field(default=None, description="pending, running, done or failed.")
    message: str
    errors: list[Problem] = Field(default_factory=list, description="Why a rejected alert was not stored.")


class WebhookResponse(BaseModel):
    """The answer to Alertmanager (and to anyone reading the service's logs)."""

    received: int
    accepted: int = Field(description="Alerts stored.")
    rejected: int = Field(description="Alerts not stored; see their `errors`.")
    investigations_queued: int = Field(description="Investigations this call queued (new incidents, retries).")
    alerts: list[AlertOutcome]
    truncated_by_sender: int = Field(default=0, description="Alerts of the group the sender left out (Alertmanager's "
                                                            "max_alerts): never seen here.")


def alert_problems(alert: Alert, service_label: str = "service") -> list[Problem]:
    """What makes a parsed alert unusable: text that is not text, an over-long text (the sizes ``POST /investigate``
    checks too, ``inputs.checks.MAX_LABEL_CHARS``), a fingerprint longer than its column, then what every door
    refuses (``inputs.checks.alert_problems``: status, name, service label), each field named once (a NUL is said to be
    no text)."""
    found = [Problem(field=location_path(loc), message=problem) for loc, value, most in alert_texts(alert)
             if (problem := text_problem(value) or (f"longer than {most} characters" if len(value) > most else None))]
    shared = checks.alert_problems(alert, service_label)
    if len(alert.fingerprint or "") > MAX_NAME_CHARS:
        shared.append((("fingerprint",), f"longer than {MAX_NAME_CHARS} characters"))
    named = {p.field for p in found}
    return found + [Problem(field=location_path(loc), message=message)
                    for loc, message in shared if location_path(loc) not in named]


def parse_alert(raw: Any, index: int, service_label: str = "service") -> tuple[Alert | None, list[Problem]]:
    """One alert of the body, or the problems (field paths from the body root) that reject it."""
    try:
        alert = Alert.model_validate(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("alerts", index, *e["loc"])} for e in exc.errors()]
        return None, [Problem(**p) for p in problems(errors)]
    found = alert_problems(alert, service_label)
    if found:
        return None, [Problem(field=f"alerts[{index}].{p.field}", message=p.message) for p in found]
    return alert, []


def _episode(alert: Alert) -> tuple[str, float | None]:
    return alert.identity, alert.starts_at


def storing_order(alerts: Sequence[Alert | None]) -> list[int]:
    """Indices of ``alerts`` in the order to store them: the body's, except that a resolved copy of an
    episode (fingerprint and ``startsAt``) comes right after the call's last firing copy of it."""
    last_firing = {_episode(a): i for i, a in enumerate(alerts) if a is not None and a.status == "firing"}
    held: defaultdict[tuple[str, float | None], list[int]] = defaultdict(list)
    order: list[int] = []
    for i, alert in enumerate(alerts):
        episode = _episode(alert) if alert is not None else None
        if alert is not None and alert.status == "resolved" and last_firing.get(episode, -1) > i:
            held[episode].append(i)
            continue
        order.append(i)
        if episode is not None and last_firing.get(episode) == i:
            order.extend(held.pop(episode, []))
    return order


def _stale_message(seen: AlertObservation, status: str, copy_starts_at: float | None) -> str:
    """Which episode the late copy belongs to (its ``startsAt``) and, when older, the one recorded."""
    recorded = to_rfc3339(seen.starts_at) if seen.starts_at is not None else "?"
    started = to_rfc3339(copy_starts_at) if copy_starts_at is not None else "?"
    older = f", older than the one recorded (started {recorded})" if started != recorded else ""
    if status == "resolved":  # a late resolution of an earlier episode
        return (f"stale: the resolution of the episode started {started}, older than the one recorded (started "
                f"{recorded}, incident {seen.incident_id or '-'}); nothing changes")
    head = f"stale: a firing copy of the episode started {started}{older}, whose resolution is already recorded"
    where = f"incident {seen.incident_id}" if seen.incident_id else "it was never seen firing"
    return f"{head} ({where}); no new incident, nothing queued"


def _message(seen: AlertObservation, status: str = "firing", starts_at: float | None = None) -> str:
    service = seen.service or "(no service label)"
    queued = f"investigation queued (queue item {seen.queue_id})"
    if seen.kind is AlertKind.NEW:
        return f"new incident; {queued}"
    if seen.kind is AlertKind.STALE:
        return _stale_message(seen, status, starts_at)
    if seen.kind is AlertKind.RESOLVED:
        if seen.incident_id is None:
            return "resolved; this alert was never seen firing"
        if seen.incident_resolved:
            return f"resolved; incident {seen.incident_id} is resolved (no alert of it still fires)"
        return f"resolved; incident {seen.incident_id} stays open (other alerts of it still fire)"
    if seen.kind is AlertKind.REPEAT:
        head = f"repeat notification #{seen.count} of an alert of incident {seen.incident_id}"
    else:
        head = f"{service} already has an open incident ({seen.incident_id}); the alert joined it"
    if seen.queued:
        return f"{head}; it had no finished investigation, so one was queued again (queue item {seen.queue_id})"
    if seen.case_id:
        return f"{head}; investigated by case {seen.case_id}"
    return f"{head}; its investigation is {seen.queue_status} (queue item {seen.queue_id})"


def _action(seen: AlertObservation) -> Action:
    if seen.kind is AlertKind.RESOLVED:
        return "recorded"
    if seen.kind is AlertKind.STALE:
        return "ignored"
    return "queued" if seen.queued else "acknowledged"


class AlertIntake:
    """Stores webhook alerts through memory (dedup and queue in one transaction each); ``notify`` wakes workers."""

    def __init__(self, memory: Memory, notify: Callable[[], None] = lambda: None,
                 service_label: str = "service") -> None:
        self.memory = memory
        self.notify = notify
        self.service_label = service_label

    def would_queue(self, parsed: list[tuple[Alert | None, list[Problem]]], now: float) -> bool:
        """Whether ``handle`` would queue an investigation for these alerts (a new incident, or one queued
        again); nothing is stored. Repeats, duplicates, resolutions and stale copies queue none."""
        alerts = [alert for alert, _ in parsed]
        notices: list[AlertNotice] = []
        for alert in (alerts[i] for i in storing_order(alerts)):
            if alert is None:
                continue
            try:
                notices.append(self._notice(alert, now))
            except ValueError:  # e.g. a service name no event takes: ``handle`` rejects it, it queues nothing
                continue
        return self.memory.would_queue(notices)

    def handle(self, parsed: list[tuple[Alert | None, list[Problem]]], now: float) -> WebhookResponse:
        """Store every good alert (see ``storing_order``), report every bad one (outcomes in the body's order);
        a lost database propagates."""
        by_index: dict[int, AlertOutcome] = {}
        for i in storing_order([alert for alert, _ in parsed]):
            alert, errors = parsed[i]
            by_index[i] = self._one(alert, now, i) if alert is not None else self._rejected(i, errors)
        outcomes = [by_index[i] for i in range(len(parsed))]
        queued = sum(1 for o in outcomes if o.action == "queued")
        if queued:
            self.notify()
        rejected = sum(1 for o in outcomes if o.action == "rejected")
        return WebhookResponse(
            received=len(outcomes),
            accepted=len(outcomes) - rejected,
            rejected=rejected,
            investigations_queued=queued,
            alerts=outcomes,
        )

    @staticmethod
    def _rejected(index: int, errors: list[Problem], alert: Alert | None = None) -> AlertOutcome:
        return AlertOutcome(
            index=index,
            fingerprint=alert.identity if alert else None,
            alertname=alert.name if alert else None,
            action="rejected",
            message="rejected, not stored: " + "; ".join(f"{p.field}: {p.message}" for p in errors),
            errors=errors,
        )

    def _notice(self, alert: Alert, now: float) -> AlertNotice:
        """What memory observes of one alert (a resolution is seen at its ``endsAt``)."""
        return AlertNotice(
            fingerprint=alert.identity, alertname=alert.name,
            service=alert_service(alert, self.service_label), status=alert.status,
            ts=alert.ends_at if alert.status == "resolved" and alert.ends_at else now,
            event=event_from_alert(alert, now, self.service_label), source="webhook", starts_at=alert.starts_at,
        )

    def _one(self, alert: Alert, now: float, index: int) -> AlertOutcome:
        fingerprint = alert.identity
        service = alert_service(alert, self.service_label)
        try:
            seen = self.memory.observe_alert_queued(self._notice(alert, now))
        except Exception as exc:
            if database_wide(exc):  # gone (503) or its schema not current (500): Alertmanager sends the call again
                raise
            # this alert only (e.g. a value the database refuses)
            log.exception("alert %d (%s) could not be stored", index, fingerprint)
            problem = Problem(field=f"alerts[{index}]",
                              message=f"could not be stored: {type(exc).__name__}: {first_line_said(exc)}")
            return self._rejected(index, [problem], alert)
        return AlertOutcome(
            index=index,
            fingerprint=fingerprint,
            alertname=alert.name,
            service=service,
            status=alert.status,
            kind=seen.kind,
            action=_action(seen),
            incident_id=seen.incident_id,
            case_id=seen.case_id,
            queue_id=seen.queue_id,
            queue_status=seen.queue_status,
            message=_message(seen, alert.status, alert.starts_at),
        )

