"""Experience about the alert itself: was it real the times an engineer checked?

An engineer who corrects a "no attention needed" verdict with the service at fault says that the alert
was real; one who confirms a verdict endorses its judgement of the alert. So every stored RCA case with
a known truth teaches one *alert lesson*: the alert's identity (its ``alertname`` and the alerted
services, never the Findings) and whether it needed attention (``Lesson.cause``).

When the Skill's rules find nothing that calls for attention, but at least ``MIN_ACTIONABLE`` of the
latest ``RECENT`` checked cases of the same alert needed attention and none of them was noise, the
offline verdict asks for attention and cites those cases. Only that way round: experience never
dismisses an alert, because a past firing that was noise says nothing certain about this one, while
dismissing a real alert is the worst error the agent can make. An alert with no ``alertname`` has no
identity and teaches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.events import Event
from agent.evidence import Lesson
from agent.memory.records import CaseRecord
from agent.memory.truth import Truth

ALERT_POSITION = "alert"  # Lesson.position of an alert lesson (service lessons sit at alerted/downN/upN/...)
MIN_ACTIONABLE = 2  # past cases of the alert that needed attention, with no noise among them
RECENT = 20  # only the alert's latest checked firings count (and travel in the evidence pack)


def alert_key(event: Event | None) -> str | None:
    """``alertname@service,…`` for an alert event; None when it has no alert name."""
    if event is None or event.alert is None:
        return None
    name = event.alert.labels.get("alertname", "").strip()
    if not name:
        return None
    return f"{name}@{','.join(sorted(event.services))}"


def alert_lesson(case: CaseRecord, truth: Truth) -> Lesson | None:
    """Whether the case's alert needed attention, by its truth (None when that is not known)."""
    pack = case.evidence
    if truth.pattern != "rca" or pack is None:
        return None
    key = alert_key(pack.event)
    actionable = truth.needs_attention if truth.needs_attention is not None else (True if truth.service else None)
    if key is None or actionable is None:
        return None
    return Lesson(case_id=case.id, position=ALERT_POSITION, alert=key, cause=actionable)


def same_alert(lessons: Sequence[Lesson], event: Event) -> list[Lesson]:
    """The alert lessons of ``event``'s alert: its last ``RECENT`` checked firings (``lessons`` run oldest first)."""
    key = alert_key(event)
    if key is None:
        return []
    return [lesson for lesson in lessons if lesson.alert == key][-RECENT:]


def actionable_before(lessons: Sequence[Lesson], event: Event) -> str | None:
    """Why the alert needs attention by its history (citing the cases), or None when its history says nothing."""
    history = same_alert(lessons, event)
    if any(not lesson.cause for lesson in history):
        return None
    cases = sorted({lesson.case_id for lesson in history})
    if len(cases) < MIN_ACTIONABLE:
        return None
    shown = ", ".join(cases[:5]) + (", …" if len(cases) > 5 else "")
    return (f"the rules found nothing that calls for attention, but this alert needed attention in all "
            f"{len(cases)} past case(s) an engineer checked ({shown})")
