"""Read and check ``event.yaml``."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path

from pydantic import ValidationError

from agent.bundles.errors import BundleError, BundleWarning, ErrorLog
from agent.bundles.yaml_lines import line_of, load_yaml, meant_hint, report_validation, to_plain, warn_unknown_keys
from agent.config import get_settings
from agent.events import ChangeEvent, Event, InspectionScope, Pattern, alert_service_label, read_alert_of
from agent.inputs.checks import alert_problems, location_path, overlong_names, unstorable_texts
from agent.names import MAX_NAME_CHARS
from agent.series import CHANGE_TYPES

PATTERNS = ", ".join(p.value for p in Pattern)
NESTED = {"scope": InspectionScope, "change": ChangeEvent}  # the alert is left out: alerting tools add their own keys
NAMING_FIELDS = ("service", "id")  # a change names one of them, else the gate has nothing to judge
PART_OF = {Pattern.INSPECTION.value: "scope", Pattern.RELEASE_INTERCEPTION.value: "change"}


def misspelt(root: dict, field: str, known: Collection[str] = tuple(Event.model_fields)) -> str | None:
    """A key of ``root`` that is not one of ``known`` (the event's fields) but looks like ``field`` (``patern``), if
    any."""
    unknown = [str(k) for k in root if str(k) not in known]
    close = difflib.get_close_matches(field, unknown, n=1, cutoff=0.75)
    return close[0] if close else None


def read_event(path: Path, label: str, warnings: list[BundleWarning] | None = None,
               service_label: str | None = None) -> tuple[Event | None, list[BundleError]]:
    """The event of ``path`` (shown as ``label`` in errors), or None and why not; the keys it ignores are added to
    ``warnings`` when given. An alert's service and business are read as every alert door reads them
    (:func:`read_alert_of`; the service from ``service_label``, default ``BIANQUE_SERVICE_LABEL``) where the event
    names none."""
    log = ErrorLog(label)
    if not path.is_file():
        log.add("missing (every case bundle needs an event.yaml)")
        return None, log.result()
    ok, root = load_yaml(path, log)
    if not ok:
        return None, log.result()
    if not isinstance(root, dict):
        log.add("must be a mapping with at least pattern and time")
        return None, log.result()
    named = set(Event.model_fields)  # and the keys an error below names as misspelt
    for field in ("pattern", "time"):
        if field not in root:
            near = misspelt(root, field)
            hint = f" (line {line_of(root, [near])} has {near!r}: did you mean {field!r}?)" if near else ""
            log.add(f"required{hint}", line_of(root, [near]) if near else None, field)
            if near:
                named.add(near)
    pattern = root.get("pattern")
    if pattern is not None and (not isinstance(pattern, str) or pattern not in {p.value for p in Pattern}):
        log.add(f"must be one of {PATTERNS}", line_of(root, ["pattern"]), "pattern")
    _warn_ignored(log, root, named)
    if warnings is not None:
        warnings += log.warnings
    reported = ("pattern",) + (() if "time" in root else ("time",))  # reported above
    try:
        event = Event.model_validate(to_plain(root))
    except ValidationError as exc:
        report_validation(log, root, exc, skip=reported)
        return None, log.result()
    problem = change_problem(event, "event.yaml")  # a release bundle names its change, as intercept and the API ask
    if problem is not None:
        typed = misspelt_change_key(event.change)
        log.add(problem, line_of(root, ["change", typed[0]] if typed else ["change"]), "change")
    for loc in overlong_names(event):
        log.add(f"longer than {MAX_NAME_CHARS} characters (the memory stores no longer a name)", line_of(root, loc),
                location_path(loc))
    for loc, problem in unstorable_texts(event):
        log.add(f"{problem} (the memory cannot store it)", line_of(root, loc), location_path(loc))
    event = _alert_read(event, root, log, get_settings().service_label if service_label is None else service_label)
    return (None, log.result()) if log else (event, [])


def _alert_read(event: Event, root: dict, log: ErrorLog, service_label: str) -> Event:
    """``event`` with the service and business its alert names where the event names none (``read_alert_of``); the
    event unchanged, and why in ``log`` (once: a ``service`` label too long is said already), when the label its
    service would be read from is no service name (a control character, blanks, too long), as the alert doors
    refuse it."""
    if event.pattern is not Pattern.RCA or event.alert is None:
        return event
    read = ("labels", alert_service_label(event.alert, service_label))
    found = [(loc, problem) for loc, problem in alert_problems(event.alert, service_label) if loc == read]
    if found and not event.service:
        for loc, problem in found:
            said = BundleError(log.file, problem, line_of(root, ["alert", *loc]), location_path(("alert", *loc)))
            if said not in log.errors:
                log.add(said.message, said.line, said.field)
        return event
    return read_alert_of(event, service_label)


def change_problem(event: Event, holder: str) -> str | None:
    """Why ``event`` cannot be put to the release gate, if it cannot: a release judgement names its change; without
    one (left out, null, misspelt ``chnage``, or naming neither a service nor an id) the gate would judge whatever the
    event's service did and could answer pass. ``holder`` names what holds the event (``the body``, a file)."""
    if event.pattern is not Pattern.RELEASE_INTERCEPTION:
        return None
    change = event.change
    if change is None:
        near = misspelt(event.model_extra or {}, "change")
        hint = f" ({holder} has {near!r}: did you mean 'change'?)" if near else ""
        return f"required for a release_interception event: the change under judgement (service, id, started){hint}"
    if not (change.service or change.id):
        typed = misspelt_change_key(change)
        hint = f"; {typed[0]!r} is no field of a change: did you mean {typed[1]!r}?" if typed else ""
        return f"names no change: give its service (and its id, when the change store logs it){hint}"
    return None


def misspelt_change_key(change: ChangeEvent | None) -> tuple[str, str] | None:
    """A key of ``change`` that no field reads but that looks like a field naming the change (``servce``), and that
    field, if any: why a change may name neither its service nor its id."""
    extra = change.model_extra if change is not None else None
    return next(((near, field) for field in NAMING_FIELDS if (near := misspelt(extra or {}, field, ()))), None)


def ignored_keys(event: Event) -> list[str]:
    """``field: unknown key ignored (did you mean …?)`` for each key of an event (its scope and change included)
    that no field reads, as ``read_event`` warns of them in a bundle: for events that arrive as JSON."""
    log = ErrorLog("event")
    root = event.model_dump(mode="json", exclude_unset=True)
    _warn_ignored(log, root, set(Event.model_fields))
    return [f"event.{w.field}: {w.message}" for w in log.warnings]


def _warn_ignored(log: ErrorLog, root: dict, known: set[str]) -> None:
    """Warn on the keys of the event (other than ``known``), its scope and its change that no field reads; a
    top-level key that belongs in the pattern's scope or change (``window:``) is named there."""
    part = PART_OF.get(str(root.get("pattern")))
    moved = {name: f"{part}.{name}" for name in NESTED[part].model_fields} if part else {}
    warn_unknown_keys(log, root, (), known, elsewhere=moved)
    for part, model in NESTED.items():
        if part in root:
            warn_unknown_keys(log, root, (part,), model.model_fields)
    change = root.get("change")
    given = change.get("type") if isinstance(change, dict) else None
    if isinstance(given, str) and given.strip() and given not in CHANGE_TYPES:
        log.warn(f"unknown change type {given!r}{meant_hint(given, CHANGE_TYPES)}: a Skill's triggers name "
                 f"{', '.join(CHANGE_TYPES)}, so those listing change types do not match it",
                 line_of(root, ("change", "type")), "change.type")
