"""Read alert and change files given on the command line or posted to the API, with clear errors; what any event taken
in must be is checked by :mod:`agent.inputs.checks`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from agent.events import (
    Alert,
    AlertmanagerWebhook,
    ChangeEvent,
    Event,
    event_from_alert,
    event_from_change,
)
from agent.inputs.checks import alert_problems, location_path, unstorable_texts
from agent.names import MAX_NAME_CHARS
from agent.series import CHANGE_TYPES, ChangeRecord
from agent.yaml_limits import YAMLLimitError, check_yaml_bounds


class InputError(ValueError):
    """A file or request body that cannot be used, with where and why."""


def validation_message(problem: Mapping[str, Any]) -> str:
    """One pydantic problem's message in the validator's own words (without pydantic's "Value error, ")."""
    return str(problem.get("msg", "invalid")).removeprefix("Value error, ")


def describe_validation(error: ValidationError, origin: str) -> str:
    """``origin: field.path: message`` for every problem."""
    lines = []
    for problem in error.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in problem["loc"]).replace(".[", "[")
        lines.append(f"{origin}: {loc or '(root)'}: {validation_message(problem)}")
    return "\n".join(lines)


def read_structured(path: Path) -> Any:
    """JSON or YAML file contents."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    except RecursionError as exc:  # ``[[[…]]]`` deeper than the parser goes
        raise InputError(f"{path}: JSON nested too deeply to read") from exc
    try:
        check_yaml_bounds(text)
        return YAML(typ="safe").load(text)
    except YAMLLimitError as exc:
        raise InputError(f"{path}: {exc}") from exc
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(f"{where}: not valid JSON or YAML: {getattr(exc, 'problem', exc)}") from exc


def _validate(model: type[BaseModel], data: Any, origin: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe_validation(exc, origin)) from exc


def alerts_from_data(data: Any, origin: str) -> list[Alert]:
    """Alerts from an Alertmanager webhook body (its ``alerts``: the rest of it is read by nothing, and not checked, as
    the webhook checks none of it), a list of alerts, or one alert object."""
    if isinstance(data, dict) and "alerts" in data:
        return _validate(AlertmanagerWebhook, {"alerts": data["alerts"]}, origin).alerts
    if isinstance(data, list):
        return [_validate(Alert, item, f"{origin}[{i}]") for i, item in enumerate(data)]
    if isinstance(data, dict):
        return [_validate(Alert, data, origin)]
    raise InputError(f"{origin}: expected an Alertmanager webhook body, an alert or a list of alerts")


def events_from_alert_file(path: Path, now: float, service_label: str = "service") -> list[Event]:
    """One RCA event per alert in the file (:func:`events_from_alert_data`)."""
    return events_from_alert_data(read_structured(path), str(path), now, service_label)


def events_from_alert_data(data: Any, origin: str, now: float, service_label: str = "service") -> list[Event]:
    """One RCA event per alert in ``data`` (:func:`alerts_from_data`; errors name ``origin``); every alert must name
    its rule (``labels.alertname``) and say it is firing or resolved (``inputs.checks.alert_problems``); the service is
    read from ``service_label`` (``events.alert_service``); data holding no alert is refused (nothing to investigate
    is a mistake to say, not a silent success)."""
    alerts = alerts_from_data(data, origin)
    if not alerts:
        raise InputError(f"{origin}: alerts: holds no alerts (an Alertmanager webhook body with its alerts, an alert "
                         "or a list of alerts)")
    for i, alert in enumerate(alerts):
        where = f"{origin}[{i}]" if len(alerts) > 1 else origin
        found = alert_problems(alert, service_label)  # what every door refuses: status, name, service label
        if found:
            raise InputError("\n".join(f"{where}: {location_path(loc)}: {message}" for loc, message in found))
    events = [event_from_alert(alert, now, service_label) for alert in alerts]
    for i, event in enumerate(events):
        _storable(event, "alert", f"{origin}[{i}]" if len(alerts) > 1 else origin)
    return events


def event_from_change_file(path: Path, now: float) -> Event:
    """A release-interception event from a change file."""
    change = _validate(ChangeEvent, read_structured(path), str(path))
    _fits(change.service, str(path), "service")
    event = event_from_change(change, now)
    _storable(event, "change", str(path))
    return event


def _storable(event: Event, part: str, where: str) -> None:
    """InputError naming ``where`` and the field (of the file: ``part`` of the event) holding text that is not text (a
    NUL character, an unpaired surrogate: ``inputs.checks.unstorable_texts``), which the memory cannot store."""
    for loc, problem in unstorable_texts(event):
        if loc[:1] == (part,):
            raise InputError(f"{where}: {location_path(loc[1:])}: {problem} (the memory cannot store it)")


def _fits(name: str, where: str, field: str) -> None:
    """InputError naming ``where`` and ``field`` when ``name`` is longer than the memory stores (MAX_NAME_CHARS)."""
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"{where}: {field}: longer than {MAX_NAME_CHARS} characters (the memory stores no longer a "
                         "name)")


def change_record_from_file(path: Path, now: float, ignored: list[str] | None = None) -> ChangeRecord:
    """A change file (as ``intercept --change`` reads it) as the record the live change store keeps
    (:func:`change_record`); the keys it ignores are added to ``ignored`` when given (:func:`ignored_change_keys`)."""
    change = _validate(ChangeEvent, read_structured(path), str(path))
    if ignored is not None:
        ignored += [f"{path}: {message}" for message in ignored_change_keys(change)]
    return change_record(change, str(path), now)


def ignored_change_keys(change: ChangeEvent) -> list[str]:
    """``key: unknown key ignored (did you mean 'started'?)`` for each key of ``change`` that no field reads: the change
    is recorded without it, so a misspelt ``started`` records it as begun now."""
    fields = list(ChangeEvent.model_fields)
    ignored = []
    for key in change.model_extra or {}:
        near = difflib.get_close_matches(str(key), fields, 1, 0.75)
        ignored.append(f"{key}: unknown key ignored{f' (did you mean {near[0]!r}?)' if near else ''}")
    return ignored


def change_record(change: ChangeEvent, where: str, now: float) -> ChangeRecord:
    """The record the live change store keeps of ``change`` (from ``where``, as errors name it): it needs the ``id``
    the store keeps it by and its ``service``; it began at ``started`` (or ``ts``), else ``now``; its ``type`` is one
    a Skill's triggers can name."""
    for field in ("id", "service"):
        if not getattr(change, field).strip():  # blank: the store refuses it as it writes (a traceback, a 500)
            raise InputError(f"{where}: {field}: required to record a change (the store keeps it by its id, for its "
                             "service)")
        _fits(getattr(change, field), where, field)
    if change.type not in CHANGE_TYPES:
        raise InputError(f"{where}: type: {change.type!r} is none of {', '.join(CHANGE_TYPES)}")
    began = change.began if change.began is not None else now
    _storable(event_from_change(change, now), "change", where)
    return ChangeRecord(ts=began, service=change.service, type=change.type, id=change.id,
                        description=change.description, version=change.version, author=change.author,
                        canary=change.canary, baseline=change.baseline, diff=change.diff)
