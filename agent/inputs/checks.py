"""What an event taken in must be, checked where events come in (the webhook, ``POST /investigate``, an alert or
change file, an alert pasted into a question, a bundle's event.yaml): names the memory stores, text that is text,
alerts every door takes; and where a problem is (``Location``), for the message naming the field."""

from __future__ import annotations

from typing import Any

from agent.events import ALERT_STATUSES, NAME_LABELS, Alert, Event, alert_service, alert_service_label
from agent.names import MAX_NAME_CHARS, name_problem, shown, text_problem

Location = tuple[str | int, ...]


def service_label_problem(alert: Alert, service_label: str = "service") -> tuple[Location, str] | None:
    """Where and why the label an alert's service is read from (:func:`alert_service_label`) is no service name: it
    holds a control character (``(("labels", "app"), "contains the control character U+000A …")``) or only blanks
    (a padded one is read trimmed, :func:`alert_service`); None when it is a name. The model checks ``service`` and
    ``alertname`` itself, not a configured label: every door taking alerts (the webhook, an alert file, a pasted
    alert, ``POST /investigate``) checks that one with this."""
    label = alert_service_label(alert, service_label)
    given = alert.labels.get(label, "")
    blank = "blank: a service label names the service (leave it out when the alert is about none)"
    problem = name_problem(given) or (blank if given and alert_service(alert, service_label) is None else None)
    return (("labels", label), problem) if problem else None


def alert_problems(alert: Alert, service_label: str = "service") -> list[tuple[Location, str]]:
    """Where and why ``alert`` is no alert to investigate, as every door taking alerts reads it (the webhook, an alert
    file, an alert pasted into a question, ``POST /investigate``): a status other than firing or resolved, no name
    (``alertname``), a service label (:func:`alert_service_label`) holding a control character, a name or service
    label (the read one, and ``service``, which an alert without the configured label is read by) longer than the
    memory stores (:data:`MAX_NAME_CHARS`). The model checks ``service`` and ``alertname`` for control characters
    itself."""
    found: list[tuple[Location, str]] = []
    if alert.status not in ALERT_STATUSES:
        found.append((("status",), f"must be firing or resolved, got {alert.status!r}"))
    if not alert.name.strip():
        extra = sorted(alert.model_extra or {})
        unknown = f"; unknown field(s) {', '.join(map(repr, extra))}" if extra else ""
        found.append((("labels", "alertname"), f"required (an Alertmanager alert names its rule){unknown}"))
    if (named := service_label_problem(alert, service_label)) is not None:
        found.append(named)
    too_long = f"longer than {MAX_NAME_CHARS} characters (the memory stores no longer a name)"
    for key in dict.fromkeys((*NAME_LABELS, alert_service_label(alert, service_label))):
        if len(alert.labels.get(key, "")) > MAX_NAME_CHARS:
            found.append((("labels", key), too_long))
    return found


MAX_LABEL_CHARS = 4096
"""The longest label name or value, annotation name, fingerprint or ``generatorURL`` an alert may carry: the memory
stores them whole in the event's JSON, so only this bounds them below a request's body limit (Prometheus' own limit is
off by default). Checked wherever alerts come in over HTTP (the webhook, ``POST /investigate``)."""
MAX_ANNOTATION_CHARS = 16_384
"""The longest annotation value (a description or runbook text is longer than a label)."""


def alert_texts(alert: Alert) -> list[tuple[Location, str, int]]:
    """Each text of ``alert``: where it is (a label's name at ``("labels", "'team'")``, its value at
    ``("labels", "team")``), its value and the most characters it may hold."""
    texts: list[tuple[Location, str, int]] = []
    for group in ("labels", "annotations"):
        for name, value in getattr(alert, group).items():
            texts.append(((group, repr(name)), name, MAX_LABEL_CHARS))
            texts.append(((group, name), value, MAX_ANNOTATION_CHARS if group == "annotations" else MAX_LABEL_CHARS))
    texts += [((field,), value, MAX_LABEL_CHARS)
              for field, value in (("fingerprint", alert.fingerprint), ("generatorURL", alert.generator_url)) if value]
    return texts


def overlong_alert_texts(alert: Alert) -> list[tuple[Location, int]]:
    """Where ``alert`` holds a text longer than it may (:func:`alert_texts`), and that most."""
    return [(loc, most) for loc, value, most in alert_texts(alert) if len(value) > most]


def overlong_names(event: Event) -> list[Location]:
    """Where ``event`` names a service or an alert longer than :data:`MAX_NAME_CHARS` (``("scope", "services", 1)``):
    the memory stores those names, and PostgreSQL refuses a longer one. Checked where events come in."""
    named: list[tuple[Location, str | None]] = [(("service",), event.service)]
    named += [(("alert", "labels", key), event.alert.labels.get(key) if event.alert else None) for key in NAME_LABELS]
    named.append((("change", "service"), event.change.service if event.change else None))
    named += [(("scope", "services", i), name) for i, name in enumerate(event.scope.services if event.scope else [])]
    return [loc for loc, name in named if name and len(name) > MAX_NAME_CHARS]


def unstorable_texts(event: Event) -> list[tuple[Location, str]]:
    """Where ``event`` holds text that is not text (``names.text_problem``: a NUL character, e.g. an annotation
    written ``"\\0"`` in YAML, or an unpaired surrogate, ``"\\ud800"`` in JSON), in a key or a text anywhere, and
    what: the memory stores the event, and PostgreSQL refuses a NUL, no database takes a surrogate. Checked where
    events come in."""
    found: list[tuple[Location, str]] = []

    def walk(value: Any, loc: Location) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key, (*loc, shown(str(key))))
                walk(item, (*loc, shown(str(key))))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*loc, index))
        elif isinstance(value, str) and (problem := text_problem(value)) and all(loc != at for at, _ in found):
            found.append((loc, problem))

    walk(event.model_dump(by_alias=True, exclude_none=True), ())  # JSON mode would write a bad key's surrogate as "?"
    return found


def location_path(loc: Location) -> str:
    """``("scope", "services", 1)`` as ``scope.services[1]``."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")

