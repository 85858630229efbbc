"""Skill selection: scope and trigger match, similarity ranking, optional LLM pick, generic fallback."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.events import Event
from agent.skills.schema import Skill

Similarity = Callable[[str, Sequence[str]], list[float]]
"""Scores the event text against each Skill description (0..1, higher is closer)."""


@dataclass
class Candidate:
    """A Skill that fits the event, with how well."""

    skill: Skill
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Selection:
    """The chosen Skill, why, and what else was considered."""

    skill: Skill
    reason: str
    method: str  # rules | similarity | llm | generic | override
    candidates: list[Candidate] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)
    """Specific Skills whose scope covers the event but whose triggers it did not hit, each with why."""


MAX_PASSED_OVER = 3  # Skills named in a reason as covering the event but not triggered by it


def alert_matches(name: str, pattern: str) -> bool:
    """Whether an alert name matches a trigger glob: in any case when the glob is written in lower case
    (``order*`` matches ``OrderServiceLatencyHigh``; alert names are CamelCase by convention), exactly when it has
    a capital letter (``*GC*`` does not match ``ConfigChange``), as smart case in an editor's search."""
    if pattern == pattern.lower():
        return fnmatch.fnmatchcase(name.lower(), pattern)
    return fnmatch.fnmatchcase(name, pattern)


def _scope_fit(skill: Skill, event: Event) -> tuple[float, str | None, str] | None:
    """(weight, the service covered or None, the scope pattern) when a Skill's scope covers the event, else None."""
    if skill.scope.business and event.business and skill.scope.business != event.business:
        return None
    services = event.services
    patterns = skill.scope.services
    if not services:
        if all(p == "*" for p in patterns) or (skill.scope.business and skill.scope.business == event.business):
            return (0.0, None, "")
        return None
    for rank, service in enumerate(services):
        for pattern in patterns:
            if fnmatch.fnmatchcase(service, pattern):
                exact = pattern == service
                return ((1.0 if exact else 0.5 if pattern != "*" else 0.0) / (1 + rank), service, pattern)
    return None


def scope_match(skill: Skill, event: Event) -> tuple[float, str] | None:
    """How specifically a Skill's scope covers the event; None when it does not.

    An event that names no service is covered by a Skill for any service (``*``), or by one scoped to the
    event's business; a Skill scoped to named services would be a guess about a system it may not know.
    """
    fit = _scope_fit(skill, event)
    if fit is None:
        return None
    weight, service, pattern = fit
    return (weight, f"scope {pattern!r} covers {service}" if service is not None else "no service in event")


def trigger_match(skill: Skill, event: Event) -> tuple[float, str] | None:
    """How well the event hits the Skill's triggers; None when the Skill has triggers and none hit."""
    trig = skill.triggers
    has_triggers = bool(trig.alerts or trig.labels or trig.change_types or trig.keywords)
    hits: list[tuple[float, str]] = []
    if event.alert:
        if event.alert.name and any(alert_matches(event.alert.name, p) for p in trig.alerts):
            exact = event.alert.name in trig.alerts
            hits.append((1.0 if exact else 0.6, f"alert {event.alert.name} matches"))
        for key, pattern in trig.labels.items():
            if fnmatch.fnmatchcase(event.alert.labels.get(key, ""), pattern):
                hits.append((0.3, f"label {key}={event.alert.labels.get(key)}"))
    if event.change and event.change.type in trig.change_types:
        hits.append((0.6, f"change type {event.change.type}"))
    text = event.describe().lower()
    words = set(re.findall(r"[a-z0-9_\-]+", text))
    keyword_hits = [k for k in trig.keywords if k.lower() in words or k.lower() in text]
    if keyword_hits:
        hits.append((0.2 * len(keyword_hits), f"keywords {keyword_hits}"))
    if not hits:
        if not has_triggers:
            return (0.0, "has no triggers")
        return None if event.alert or event.change else (0.0, "no triggers hit")
    return (sum(h[0] for h in hits), "; ".join(h[1] for h in hits))


def describe_triggers(skill: Skill) -> str:
    """A Skill's triggers in a few words, three of a kind at most: ``alerts: order*; keywords: latency, p99 +2``."""
    trig = skill.triggers
    parts = [
        ("alerts", _first(trig.alerts)),
        ("labels", _first([f"{k}={v}" for k, v in trig.labels.items()])),
        ("change types", _first(trig.change_types)),
        ("keywords", _first(trig.keywords)),
    ]
    return "; ".join(f"{kind}: {said}" for kind, said in parts if said)


def _first(items: Sequence[str], count: int = 3) -> str:
    return ", ".join(items[:count]) + (f" +{len(items) - count}" if len(items) > count else "")


def passed_over(skills: Sequence[Skill], event: Event) -> list[str]:
    """The specific Skills of the event's pattern whose scope covers it but none of whose triggers hit it, each
    with why (``order-rca covers orders but none of its triggers matched (alerts: order*)``)."""
    said = []
    for skill in sorted(skills, key=lambda s: s.name):
        if skill.pattern != event.pattern or skill.generic or (fit := _scope_fit(skill, event)) is None:
            continue
        if trigger_match(skill, event) is None:
            covered = f"covers {fit[1]}" if fit[1] is not None else "covers this event"
            said.append(f"{skill.name} {covered} but none of its triggers matched ({describe_triggers(skill)})")
    return said


def passed_over_reason(skills: Sequence[Skill], event: Event) -> str:
    """``; passed over: ...`` naming at most :data:`MAX_PASSED_OVER` of :func:`passed_over`, else empty."""
    said = passed_over(skills, event)
    if not said:
        return ""
    more = f"; and {len(said) - MAX_PASSED_OVER} more Skill(s)" if len(said) > MAX_PASSED_OVER else ""
    what = f"the alert {event.alert.name}" if event.alert and event.alert.name else f"this {event.pattern.value} event"
    return f"; passed over for {what}: " + "; ".join(said[:MAX_PASSED_OVER]) + more


def _token_similarity(text: str, docs: Sequence[str]) -> list[float]:
    query = set(re.findall(r"[a-z0-9]+", text.lower()))
    scores = []
    for doc in docs:
        words = set(re.findall(r"[a-z0-9]+", doc.lower()))
        scores.append(len(query & words) / (len(query | words) or 1))
    return scores


def rank_candidates(skills: Sequence[Skill], event: Event, similarity: Similarity | None = None) -> list[Candidate]:
    """Non-generic Skills of the event's pattern that fit scope and triggers, best first."""
    fitting: list[Candidate] = []
    for skill in skills:
        if skill.pattern != event.pattern or skill.generic:
            continue
        scope = scope_match(skill, event)
        trigger = trigger_match(skill, event) if scope else None
        if scope is None or trigger is None:
            continue
        fitting.append(Candidate(skill, scope[0] + trigger[0], [scope[1], trigger[1]]))
    if fitting:
        sims = (similarity or _token_similarity)(event.describe(), [c.skill.description for c in fitting])
        for cand, sim in zip(fitting, sims, strict=True):
            cand.score += 0.5 * float(sim)
            cand.reasons.append(f"description similarity {sim:.2f}")
    return sorted(fitting, key=lambda c: (-c.score, c.skill.name))


def select_skill(
    skills: Sequence[Skill],
    event: Event,
    similarity: Similarity | None = None,
    chooser: Callable[[Event, list[Candidate]], tuple[str, str] | None] | None = None,
    override: str | None = None,
) -> Selection:
    """Pick the Skill for an event; ``chooser`` (an LLM) may pick among the top three."""
    by_name = {s.name: s for s in skills}
    if override:
        if override not in by_name:
            raise KeyError(f"no Skill named {override!r}; known: {sorted(by_name)}")
        return Selection(by_name[override], "chosen by the caller", "override")
    ranked = rank_candidates(skills, event, similarity)
    if ranked and chooser is not None:
        picked = chooser(event, ranked[:3])
        if picked and picked[0] in {c.skill.name for c in ranked[:3]}:
            return Selection(by_name[picked[0]], picked[1], "llm", ranked)
    if ranked:
        best = ranked[0]
        return Selection(best.skill, "; ".join(best.reasons), "rules", ranked)
    generic = [s for s in skills if s.generic and s.pattern == event.pattern]
    if not generic:
        raise LookupError(f"no Skill fits this {event.pattern.value} event and no generic Skill exists"
                          f"{passed_over_reason(skills, event)}")
    reason = "no specific Skill fits; using the generic Skill" + passed_over_reason(skills, event)
    return Selection(generic[0], reason, "generic", ranked, passed_over(skills, event))
