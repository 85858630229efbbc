"""triage: normalise the event, decide which services are in question and the time window."""

from __future__ import annotations

from typing import Any

from agent.events import Event, Pattern
from agent.graph.call_graph import entry_points
from agent.graph.earlier_alerts import earlier_alert_notes
from agent.graph.plan import MAX_PEERS
from agent.graph.state import InvestigationState
from agent.graph.timing import change_start, with_logged_details
from agent.graph.toolkit import Toolkit

DAY_S = 86400.0


def _every_service(event: Event, toolkit: Toolkit, notes: list[str],
                   listed: list[dict[str, Any]]) -> tuple[list[str], str]:
    """What an inspection naming no service looks at: the topology's services, else (a system without a call
    graph: one read off its traces later would name only the services they connect) every service with data in
    the scope's window or the day before the inspection (at most ``MAX_PEERS``, the first by name), and where
    they came from (a note in ``notes`` when the sources did not list them in time; the listing in ``listed``)."""
    if toolkit.topology is not None:
        return toolkit.topology.services(), "in the topology"
    window = event.scope.window if event.scope is not None and event.scope.window else DAY_S
    found = toolkit.services_in(event.time - window, event.time, notes, listed=listed)
    where = "with data before the inspection"
    if len(found) > MAX_PEERS:
        where += f" (the first {MAX_PEERS} of {len(found)} by name: name them in the scope to choose)"
    return found[:MAX_PEERS], where


def _anchor(event: Event, toolkit: Toolkit, notes: list[str]) -> tuple[Event, float]:
    """The event with its change's logged details filled in and when that change began (releases; see
    ``timing.with_logged_details`` and ``timing.change_start``: one question to the change source, within the
    source timeout), else the event and its time."""
    if event.pattern != Pattern.RELEASE_INTERCEPTION:
        return event, event.time
    looked_up = toolkit.ask({"change": lambda: with_logged_details(event, toolkit.changes)})["change"]
    if isinstance(looked_up, str):  # a source must never crash the investigation
        notes.append(f"could not look up when the change began ({looked_up}); using the event time")
        return event, change_start(event)
    return looked_up, change_start(looked_up)  # the change's own line, when there is one, was read already


def triage(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Parse the event; pick target services (event's, else scope, else topology entry points). The notes start
    with what reading the input ignored (``toolkit.input_warnings``); an RCA's name the other alerts that began in
    its look-back (``earlier_alerts``)."""
    notes = list(toolkit.input_warnings)
    event, anchor = _anchor(Event.model_validate(state["event"]), toolkit, notes)
    targets = event.services
    listed: list[dict[str, Any]] = []
    if event.pattern == Pattern.INSPECTION and not targets:
        targets, where = _every_service(event, toolkit, notes, listed)
        if targets:
            notes.append(f"inspection scope names no services: inspecting every service {where}")
    if not targets:
        targets, started_from = entry_points(toolkit.topology)
        notes += started_from
    notes += earlier_alert_notes(event, toolkit.memory)
    return {
        "event": event.model_dump(mode="json", by_alias=True),
        "targets": targets,
        "window": {"anchor": anchor, "time": event.time},
        "notes": [*state.get("notes", []), *notes],
        **({"services_listed": listed} if listed else {}),
    }
