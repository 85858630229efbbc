"""When a change under judgement began, and which minutes are its evidence (BUNDLE.md, "What `time` means")."""

from __future__ import annotations

from collections.abc import Mapping

from agent.events import ChangeEvent, Event
from agent.series import ChangeRecord
from agent.skills.schema import Window
from agent.skills.templates import escape_glob
from agent.sources.base import ChangeRequest, ChangeSource

DEFAULT_RELEASE_OBSERVATION_S = 1800.0  # a Skill without ``window.after`` observes a change this long
CHANGE_LOOKUP_S = 86400.0  # a change's own line is looked for this far either side of the event time


def change_start(event: Event, changes: ChangeSource | None = None) -> float:
    """When the event's change began: ``change.started`` (or ``change.ts``), else the ``ts`` of the
    change line with its id in ``changes`` (a bundle's changes.jsonl or the change store), else ``time``."""
    change = event.change
    if change is None:
        return event.time
    if change.began is not None:
        return change.began
    logged = logged_start(change, event.time, changes)
    return logged if logged is not None else event.time


def logged_start(change: ChangeEvent, around: float, changes: ChangeSource | None) -> float | None:
    """The ``ts`` of the earliest change record with ``change.id`` within a day of ``around``, if any."""
    record = logged_change(change, around, changes)
    return record.ts if record is not None else None


def logged_change(change: ChangeEvent, around: float, changes: ChangeSource | None) -> ChangeRecord | None:
    """The earliest change record with ``change.id`` within a day of ``around``, if any."""
    if changes is None or not change.id:
        return None
    request = ChangeRequest(
        services=(escape_glob(change.service),) if change.service else (),
        start=around - CHANGE_LOOKUP_S, end=around + CHANGE_LOOKUP_S, types=(),
    )
    found = [record for record in changes.query(request).data if record.id == change.id]
    return min(found, key=lambda record: record.ts) if found else None


def with_logged_details(event: Event, changes: ChangeSource | None) -> Event:
    """``event`` with what its change leaves unsaid (service, type, canary and baseline selectors, version,
    description, and when it began, as ``change_start`` would look it up) taken from the change's own line (its
    ``id`` in ``changes``): an event may name a change by id alone, and a canary's selectors are then on that
    line. What the event says wins. One query of ``changes``: ``change_start`` of the result asks none."""
    change = event.change
    if change is None:
        return event
    record = logged_change(change, event.time, changes)
    if record is None:
        return event
    filled = {name: value for name, value in (
        ("service", record.service), ("canary", dict(record.canary) if record.canary else None),
        ("baseline", dict(record.baseline) if record.baseline else None), ("version", record.version),
        ("description", record.description),
    ) if value and not getattr(change, name)}
    if not change.type_said:
        filled["type"] = record.type
    if change.began is None:
        filled["started"] = record.ts
    if not filled:
        return event
    return event.model_copy(update={"change": change.model_copy(update=filled)})


def evidence_window(window: Mapping[str, float]) -> dict[str, float] | None:
    """A release judgement's evidence as the investigation's ``window`` holds it (``release_window``): from when the
    change began (``start``) to the end of what was observed (``end``); None before the window is known."""
    if "anchor" not in window or "end" not in window:
        return None
    return {"start": window["anchor"], "end": window["end"]}


def release_window(window: Window, time: float, started: float) -> tuple[float, float, float]:
    """(start, end, anchor) of a release judgement: the reference is ``window.lookback`` before the
    change's start (the anchor); the evidence runs from the start up to ``time``, or, when the start is
    not before ``time`` (a bundle written at the moment of the change), over ``window.after`` from it."""
    after = window.after or DEFAULT_RELEASE_OBSERVATION_S
    end = time if started < time else started + after
    return started - window.lookback, end, started
