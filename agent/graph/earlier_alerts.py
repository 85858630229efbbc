"""Other alerts that began in an alert's look-back: alerts come in bursts, and an earlier incident's tail may be there.

An RCA looks back ``RECENT_REFERENCE_GAP_S`` before the alert for where its incident began. When another alert
began in those minutes (another fingerprint, on any service, of another incident: an alert that joined this
alert's incident is the same incident), what deviated with it may belong to that incident:
the investigation says so in its notes, with the alert's name, service and how long before this one it began.
Only the alert store of a running service knows (``Memory.alerts_begun_between``); a bundle carries no history.
"""

from __future__ import annotations

from typing import Any

from agent.detectors.wording import untrusted
from agent.events import Event, Pattern
from agent.graph.reference import RECENT_REFERENCE_GAP_S


def earlier_alert_notes(event: Event, memory: Any) -> list[str]:
    """One note per other alert that began in the ``RECENT_REFERENCE_GAP_S`` before an RCA event (none for other
    patterns or without memory); a note saying so when the alert store cannot be read."""
    if event.pattern != Pattern.RCA or memory is None:
        return []
    own = event.alert.identity if event.alert is not None else None
    try:
        found = memory.alerts_begun_between(event.time - RECENT_REFERENCE_GAP_S, event.time)
        record = memory.get_alert(own) if own is not None and found else None
    except Exception as exc:  # the alert store must never stop an investigation
        return [f"could not read the alerts that began before this one ({type(exc).__name__}: {exc})"]
    incident = record.incident_id if record is not None else None
    return [
        f"another alert began {_minutes(event.time - alert.began)} before this one: {untrusted(alert.alertname)} on "
        f"{untrusted(alert.service) if alert.service else 'no service'}; what deviated with it in this alert's "
        "look-back may be that incident's"
        for alert in found if alert.fingerprint != own and (incident is None or alert.incident_id != incident)
    ]


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60.0)
    return "under a minute" if minutes < 1 else f"{minutes} min"
