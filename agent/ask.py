"""Free-text questions: route to a pattern and services, investigate, answer with evidence."""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel

from agent.asked import Listing, asked_listings, asks_for_listing, changes_asked
from agent.bundles.event_file import change_problem
from agent.config import Settings
from agent.events import Alert, ChangeEvent, Event, InspectionScope, Pattern
from agent.graph.nodes.report import literal
from agent.graph.timing import CHANGE_LOOKUP_S, logged_start
from agent.inputs import InputError, events_from_alert_data
from agent.investigate import InvestigationResult, investigate_checkpointed
from agent.sources.base import ChangeSource
from agent.timeparse import to_short_utc

MAX_QUESTION_CHARS = 4000  # the HTTP API's and the chat box's limit
TYPO_CUTOFF = 0.8  # difflib's ratio from which a word no service has is read as the service it is close to
RELEASE_WORDS = ("release", "deploy", "deployment", "canary", "rollout", "roll out", "ship", "config push", "rollback")
INSPECTION_WORDS = ("inspect", "inspection", "health", "healthy", "check", "anything wrong", "about to", "trend",
                    "saturat", "capacity", "leak", "disk")
RCA_WORDS = ("why", "alert", "slow", "error", "fail", "down", "root cause", "latency", "timeout", "fired")


class Route(BaseModel):
    """Where a question goes."""

    pattern: Pattern
    services: list[str]
    reason: str


class Answer(BaseModel):
    """A routed, investigated answer; ``listed``: what it asked to see of the live stores (:mod:`agent.asked`)."""

    question: str
    route: Route
    text: str
    result: InvestigationResult
    listed: list[Listing] = []


def answer_text(route: Route, skill: str, report: str, listed: list[Listing]) -> str:
    """The answer as markdown: the route, what the question asked to see listed, the report."""
    text = f"_Routed to **{route.pattern.value}** ({route.reason}); Skill `{skill}`._\n\n"
    for listing in listed:
        text += f"**{literal(listing.title)}**\n\n" + "".join(f"- {literal(line)}\n" for line in listing.said())
        text += "\n"
    return text + report


def _count(text: str, words: Iterable[str]) -> int:
    return sum(1 for w in words if w in text)


def _misspelt(text: str, known: list[str]) -> list[tuple[str, str]]:
    """(word, service) for each word of ``text`` that is no service but close to one (a typo under stress:
    'gatway'), in the order of the text; a word holding a service's name ('ad-serving-v2') is another name, and one
    shorter than 4 letters is never taken for a service."""
    by_lower = {name.lower(): name for name in known}
    found: list[tuple[str, str]] = []
    for word in re.findall(r"[\w-]{4,}", text):
        close = difflib.get_close_matches(word, by_lower, n=1, cutoff=TYPO_CUTOFF)
        if close and close[0] in word:  # another name built on it ('ad-serving-v2'), not a typo of it
            continue
        if close and by_lower[close[0]] not in {name for _, name in found}:
            found.append((word, by_lower[close[0]]))
    return found


def route_question(question: str, known_services: Iterable[str]) -> Route:
    """Deterministic routing: pattern by vocabulary, services by name (longest names first); when it names none, a
    word close to a service's name is read as that service, and the reason says so."""
    text = question.lower()
    known = sorted(set(known_services), key=len, reverse=True)
    services = []
    for name in known:
        if re.search(rf"(?<![\w-]){re.escape(name.lower())}(?![\w-])", text) and name not in services:
            services.append(name)
    typos = [] if services else _misspelt(text, known)
    services += [name for _, name in typos]
    scores = {
        Pattern.RELEASE_INTERCEPTION: _count(text, RELEASE_WORDS) * 1.1,
        Pattern.INSPECTION: float(_count(text, INSPECTION_WORDS)),
        Pattern.RCA: float(_count(text, RCA_WORDS)),
    }
    pattern = max(scores, key=lambda p: (scores[p], p == Pattern.RCA))
    if scores[pattern] == 0:
        pattern = Pattern.INSPECTION
        reason = "no pattern words: running a health inspection"
    else:
        reason = f"{pattern.value} vocabulary ({scores[pattern]:.0f} hits)"
    reason += "".join(f"; '{word}' read as service '{name}' (no service of that name)" for word, name in typos)
    return Route(pattern=pattern, services=services, reason=reason)


def latest_change(service: str, now: float, changes: ChangeSource) -> ChangeEvent | None:
    """The newest change of ``service`` the change store logged in the day before ``now``, as the change the release
    gate judges (named by its id: the gate reads when it began off its line); None when it logged none or failed."""
    logged = changes.query(changes_asked([service], now, CHANGE_LOOKUP_S)).data
    if not logged:
        return None
    newest = max(logged, key=lambda record: record.ts)
    return ChangeEvent(id=newest.id, type=newest.type, service=newest.service, version=newest.version,
                       description=newest.description, author=newest.author)


def judged_change(route: Route, changes: ChangeSource, now: float) -> tuple[Route, ChangeEvent | None]:
    """For a question routed to the release gate naming a service, that service's latest logged change, and the route
    saying which change it judges; else the route as it was and None."""
    if route.pattern != Pattern.RELEASE_INTERCEPTION or not route.services:
        return route, None
    change = latest_change(route.services[0], now, changes)
    if change is None:
        return route, None
    began = time.strftime("%H:%M UTC", time.gmtime(logged_start(change, now, changes) or now))
    what = f"{change.type} {change.id}" + (f" ({change.description})" if change.description else "")
    reason = f"{route.reason}; judging the latest change of {change.service} in the change store: {what} at {began}"
    return route.model_copy(update={"reason": reason}), change


def event_for_question(route: Route, question: str, now: float | None = None,
                       change: ChangeEvent | None = None) -> Event:
    """An event that asks the question about the routed services, now. A question routed to the release gate judges
    ``change`` (:func:`judged_change`); without one it is refused (``InputError``): the gate judges a named change
    (``event_file.change_problem``), and would judge whatever the service did."""
    now = time.time() if now is None else now
    service = change.service if change is not None else route.services[0] if route.services else None
    scope = InspectionScope(services=route.services) if route.pattern == Pattern.INSPECTION else None
    event = Event(pattern=route.pattern, time=now, service=service, scope=scope, question=question,
                  change=change if route.pattern == Pattern.RELEASE_INTERCEPTION else None)
    problem = change_problem(event, "the question")
    if problem is not None:
        named = (f"the change store logged no change of {route.services[0]} in the day before" if route.services
                 else "the question names no service (its latest change in the change store would be judged)")
        raise InputError(f"the question was routed to the release gate ({route.reason}), which judges a change, and "
                         f"{named} (change: {problem}): judge the change with `bianque intercept --change FILE` or "
                         "POST /investigate")
    return event


def pasted_alert(question: str, now: float, service_label: str = "service") -> tuple[Route, Event] | None:
    """A question that is an alert pasted whole (JSON: an Alertmanager webhook body, an alert or a list of alerts):
    its first firing alert's RCA event, from its labels and ``startsAt`` as the webhook reads it, and a route saying
    so; None for a question in words. JSON holding alerts that do not validate, or a webhook body holding none
    (``{"alerts": []}``), is an ``InputError`` naming the field."""
    text = question.strip()
    if not text.startswith(("{", "[")):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    items = data.get("alerts") if isinstance(data, dict) and "alerts" in data else data
    if items == [] and data is not items:  # a webhook body sending none: no question in words either
        raise InputError("the pasted alert: alerts: holds no alerts (paste an Alertmanager webhook body with its "
                         "alerts, an alert or a list of alerts)")
    items = items if isinstance(items, list) else [items]
    if not items or not all(isinstance(item, dict) and "labels" in item for item in items):
        return None  # JSON, but not alerts: a question in words after all
    events = events_from_alert_data(data, "the pasted alert", now, service_label)
    event = next((e for e in events if e.alert and e.alert.status != "resolved"), events[0])
    alert = event.alert or Alert()  # every event of an alert holds it
    began = f" since {to_short_utc(event.time)} UTC" if alert.starts_at is not None else ""
    others = f"; {len(events) - 1} more alert(s) in it: send the body to the webhook for each" * (len(events) > 1)
    reason = f"a pasted alert: {alert.name} ({alert.status}{began}){others}"
    return Route(pattern=Pattern.RCA, services=[event.service] if event.service else [], reason=reason), event


def live_question(question: str, settings: Settings,
                  now: float | None = None) -> tuple[Route, Event, list[Listing]]:
    """The route, the event and the listings asked for (:func:`agent.asked.asked_listings`) of a question over the
    live sources: an alert pasted whole (:func:`pasted_alert`), else services the sources know
    (:func:`agent.runtime.known_services`) and a release question's change the change store logged."""
    from agent.runtime import known_services
    from agent.sources.sqlstore import SqlChangeSource, SqlLogSource

    now = time.time() if now is None else now
    if (pasted := pasted_alert(question, now, settings.service_label)) is not None:
        return *pasted, []
    changes = SqlChangeSource(settings.resolved_observability_url)
    route = route_question(question, known_services(settings))
    route, change = judged_change(route, changes, now)
    if route.pattern == Pattern.RELEASE_INTERCEPTION and change is None and asks_for_listing(question):
        # 'what was deployed in the last hour?': no change to judge, but what it asks can be listed
        route = Route(pattern=Pattern.INSPECTION, services=route.services,
                      reason=f"{route.reason}; no change named to judge: listing what was asked and inspecting")
    event = event_for_question(route, question, now, change)
    logs = SqlLogSource(settings.resolved_observability_url)
    # a change the gate judges is named in the route: a list of the span's changes beside it would only confuse
    return route, event, asked_listings(question, route.services, now, None if change else changes, logs)


def answer_question(question: str, settings: Settings, *, bundle: Path | None = None, source: str = "cli",
                    progress: Callable[[int, int, str], None] | None = None,
                    on_step: Callable[[int, int, str], None] | None = None, thread_id: str | None = None) -> Answer:
    """Route, investigate (bundle or live sources) and answer; the chat UI calls this too. ``progress`` is told
    of the handbook being embedded when this is the knowledge store's first use, ``on_step`` of each step of the
    investigation as it starts (:func:`agent.investigate.investigate`); ``thread_id`` names its checkpoint thread,
    by which its case is found (``Memory.case_of_thread``)."""
    from agent.graph.nodes.select_skill import check_override
    from agent.runtime import investigation_toolkit, load_skills

    if not question.strip():
        raise ValueError("the question is empty")
    # a bad bundle, or a live question the release gate would get, fails before the knowledge store is opened
    # (and maybe embedded)
    loaded, listed = None, []
    if bundle is not None:
        from agent.bundles.reader import load_bundle

        loaded = load_bundle(bundle)
        event = loaded.event.model_copy(update={"question": question})
        route = Route(pattern=event.pattern, services=event.services, reason="the bundle's event")
    else:
        route, event, listed = live_question(question, settings)
    check_override(None, load_skills(settings), event)  # no Skill for it: said before a failed case is stored
    toolkit = investigation_toolkit(settings, loaded, progress=progress)
    bundle_path = str(Path(bundle).resolve()) if bundle is not None else None
    result = investigate_checkpointed(event, toolkit, settings, source=source, bundle_path=bundle_path,
                                      on_step=on_step, thread_id=thread_id)
    text = answer_text(route, result.skill["name"], result.report, listed)
    return Answer(question=question, route=route, text=text, result=result, listed=listed)
