"""The events Bian Que is handed: alerts, changes, inspection requests and questions."""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent.names import name_problem
from agent.series import DEFAULT_CHANGE_TYPE, diff_text
from agent.timeparse import parse_duration, to_epoch, written

NAME_LABELS = ("service", "alertname")


def scalars_as_text(mapping: dict[Any, Any]) -> dict[str, Any]:
    """Label-like values as text: numbers written out, booleans as JSON and YAML write them (``true``, the value a
    label holds, not Python's ``True``); anything else (null, a list, a mapping) is left for the ``dict[str, str]``
    check, which then names the label (``labels.service``) rather than store ``"None"``."""
    return {str(k): _scalar_text(v) for k, v in mapping.items()}


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str | int | float) else value


def _checked_name(value: str | None) -> str | None:
    """``value`` unchanged when it is a usable name; ValueError naming the control character otherwise."""
    if value is not None:
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
    return value


class Pattern(StrEnum):
    """The three operation patterns one agent serves."""

    RCA = "rca"
    RELEASE_INTERCEPTION = "release_interception"
    INSPECTION = "inspection"

    @property
    def with_article(self) -> str:
        """The name after its indefinite article, for messages: "an rca", "a release_interception", "an inspection"."""
        return ("a " if self is Pattern.RELEASE_INTERCEPTION else "an ") + self.value


class Alert(BaseModel):
    """One Alertmanager alert (the objects inside a webhook's ``alerts`` list)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    status: str = "firing"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: float | None = Field(default=None, alias="startsAt")
    ends_at: float | None = Field(default=None, alias="endsAt")
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = None

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        if value in (None, "", "0001-01-01T00:00:00Z"):
            return None
        return to_epoch(value)

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of names to values")
        return scalars_as_text(value)

    @field_validator("labels")
    @classmethod
    def _name_labels(cls, value: dict[str, str]) -> dict[str, str]:
        """``service`` and ``alertname`` hold no control character; a refusal names the label (``labels.service``)."""
        refused = [InitErrorDetails(type=PydanticCustomError("value_error", problem), loc=(key,), input=value[key])
                   for key in NAME_LABELS if key in value and (problem := name_problem(value[key]))]
        if refused:  # pydantic puts these errors under the field's own location: labels.<key>
            raise ValidationError.from_exception_data("labels", refused)
        return value

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def identity(self) -> str:
        """Alertmanager's fingerprint, or a stable hash of the labels when the sender gave none."""
        if self.fingerprint:
            return self.fingerprint
        canonical = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AlertmanagerWebhook(BaseModel):
    """The body Alertmanager POSTs to a webhook receiver (version 4)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str = "4"
    status: str = "firing"
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    alerts: list[Alert]


class ChangeEvent(BaseModel):
    """A deploy, config push, flag flip, canary start or rollback."""

    model_config = ConfigDict(extra="allow")

    id: str = ""
    type: str = DEFAULT_CHANGE_TYPE
    service: str = ""
    ts: float | None = None
    started: float | None = None
    version: str | None = None
    description: str = ""
    author: str | None = None
    canary: dict[str, str] | None = None
    baseline: dict[str, str] | None = None
    diff: str | None = None

    @field_validator("ts", "started", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float | None:
        return None if value is None else to_epoch(value)

    @field_validator("service")
    @classmethod
    def _service_name(cls, value: str) -> str:
        return _checked_name(value) or ""

    @model_validator(mode="before")
    @classmethod
    def _unnamed_type(cls, data: Any) -> Any:
        """No type (null, empty, blank) is left unsaid, as a missing type is: the default one, and a change named by
        id takes the type of its own line (``timing.with_logged_details``)."""
        named = data.get("type", DEFAULT_CHANGE_TYPE) if isinstance(data, dict) else DEFAULT_CHANGE_TYPE
        if named is None or isinstance(named, str) and not named.strip():
            return {key: value for key, value in data.items() if key != "type"}
        return data

    @property
    def type_said(self) -> bool:
        """Whether the change names its type (else it is the default one, ``DEFAULT_CHANGE_TYPE``)."""
        return "type" in self.model_fields_set

    @field_validator("diff", mode="before")
    @classmethod
    def _diff_text(cls, value: Any) -> Any:
        return diff_text(value)

    @property
    def began(self) -> float | None:
        """When the change began, if it says: ``started``, else ``ts`` (its older spelling)."""
        return self.started if self.started is not None else self.ts

    @field_validator("canary", "baseline", mode="before")
    @classmethod
    def _selector(cls, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of label names to values")
        return scalars_as_text(value)


class InspectionScope(BaseModel):
    """What a proactive inspection looks at."""

    model_config = ConfigDict(extra="allow")

    services: list[str] = Field(default_factory=list)
    window: float | None = Field(default=None, description="How far back to look; unset: the chosen Skill's look-back.")

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        """A duration longer than none (``0`` was read as unset: the Skill's look-back, silently); unset (None): the
        look-back of the Skill chosen for the inspection (it had been 2 h whatever the Skill, chosen after the scope
        was built)."""
        if value is None:
            return None
        seconds = parse_duration(value)
        if seconds == 0:
            raise ValueError(f"must be longer than 0, e.g. 2h (got {written(value)})")
        return seconds

    @field_validator("services")
    @classmethod
    def _service_names(cls, value: list[str]) -> list[str]:
        for name in value:
            _checked_name(name)
        return value


class Event(BaseModel):
    """One thing to investigate, normalised: the ``event.yaml`` of a case bundle."""

    model_config = ConfigDict(extra="allow")

    pattern: Pattern
    time: float
    service: str | None = None
    alert: Alert | None = None
    change: ChangeEvent | None = None
    scope: InspectionScope | None = None
    question: str | None = None
    business: str | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _epoch(cls, value: Any) -> float:
        return to_epoch(value)

    @field_validator("service")
    @classmethod
    def _service_name(cls, value: str | None) -> str | None:
        return _checked_name(value)

    @property
    def services(self) -> list[str]:
        """Every service the event names, the main one first: its ``service`` (every door taking an alert, a
        bundle's event.yaml too, fills it from the alert's configured label when the event names none), else its
        alert's ``service`` label (an event read at no door); then its change's and its scope's."""
        found: list[str] = []
        for name in (
            self.service or (alert_service(self.alert) if self.alert else None),
            self.change.service if self.change else None,
            *(self.scope.services if self.scope else []),
        ):
            if name and name not in found:
                found.append(name)
        return found

    @property
    def primary_service(self) -> str | None:
        services = self.services
        return services[0] if services else None

    def describe(self) -> str:
        """One line for logs, selection and prompts: the pattern, then what the event is about."""
        return " | ".join([self.pattern.value, *self._about()])

    def about(self) -> str:
        """What the event is about on one line (the alert, the change, the services, the question; empty when it
        names none), as :meth:`describe` says it after the pattern: a report's title."""
        return " | ".join(self._about())

    def _about(self) -> list[str]:
        parts: list[str] = []
        if self.alert:
            parts.append(f"alert {self.alert.name} ({self.alert.status})")
            summary = self.alert.annotations.get("summary")
            if summary:
                parts.append(summary)
        if self.change:
            parts.append(f"{self.change.type} {self.change.id} {self.change.version or ''}".strip())
            if self.change.description:
                parts.append(self.change.description)
        if self.services:
            parts.append("services: " + ", ".join(self.services))
        if self.question:
            parts.append(self.question)
        return [" ".join(part.split()) for part in parts]  # one line: an annotation's line breaks folded


def alert_service(alert: Alert, service_label: str = "service") -> str | None:
    """The service an alert is about: its ``service_label`` label, else its ``service`` label, without the blanks
    around it (no part of a name, as in a bundle's metrics.csv or a correction); None when blank (every door refuses a
    blank one: ``inputs.checks.service_label_problem``)."""
    return alert.labels.get(alert_service_label(alert, service_label), "").strip() or None


def alert_service_label(alert: Alert, service_label: str = "service") -> str:
    """The label ``alert_service`` reads: ``service_label`` when the alert has it (not empty), else ``service``;
    for messages naming the field a bad service came from."""
    return service_label if alert.labels.get(service_label) else "service"


ALERT_STATUSES = ("firing", "resolved")


BUSINESS_LABEL = "business"  # the alert label naming its business module, which Skills' ``scope.business`` selects by


def event_from_alert(alert: Alert, now: float | None = None, service_label: str = "service") -> Event:
    """An RCA event for one Alertmanager alert (its service read from ``service_label``, see ``alert_service``; its
    business from its ``business`` label; its time its ``startsAt``, else ``now``)."""
    time = alert.starts_at if alert.starts_at is not None else now
    if time is None:
        raise ValueError("alert has no startsAt and no time was given")
    return Event(pattern=Pattern.RCA, time=time, service=alert_service(alert, service_label), alert=alert,
                 business=alert.labels.get(BUSINESS_LABEL) or None)


def read_alert_of(event: Event, service_label: str = "service", time_said: bool = True) -> Event:
    """``event`` (an RCA event holding an alert, ``POST /investigate``'s) with what it leaves unsaid read off its alert
    as :func:`event_from_alert` reads an alert at every other door: its service, its business and, when
    ``time_said`` is false, its time (``startsAt``; else the event's time, the request's arrival). What the event
    says itself (not empty) stands."""
    if event.pattern is not Pattern.RCA or event.alert is None:
        return event
    read = event_from_alert(event.alert, event.time, service_label)
    unsaid = {"service": not event.service, "business": not event.business, "time": not time_said}  # "" says nothing
    update = {field: getattr(read, field) for field, left in unsaid.items() if left}
    return event.model_copy(update=update)


def event_from_change(change: ChangeEvent, now: float | None = None) -> Event:
    """A release-interception event for one change, judged ``now`` (else at the change's start).

    ``time`` is when the judgement is asked, the end of what may be observed (BUNDLE.md); the
    change's own ``started``/``ts`` says when it began.
    """
    time = now if now is not None else change.began
    if time is None:
        raise ValueError("change has no started/ts and no time was given")
    return Event(pattern=Pattern.RELEASE_INTERCEPTION, time=time, service=change.service, change=change)
