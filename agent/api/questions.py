"""Free-text questions over live sources, through the service's investigator."""

from __future__ import annotations

from agent.api.investigator import Investigator
from agent.ask import Answer, event_for_question, route_question
from agent.config import Settings
from agent.runtime import known_services


def answer(question: str, settings: Settings, investigator: Investigator, now: float | None = None) -> Answer:
    """Route the question to a pattern and services, investigate it, and answer with the report."""
    if not question.strip():
        raise ValueError("question: empty")
    route = route_question(question, known_services(settings))
    event = event_for_question(route, question, now)
    result = investigator(event, skill=None, source="api")
    skill = result.skill.get("name", "?")
    text = f"_Routed to **{route.pattern.value}** ({route.reason}); Skill `{skill}`._\n\n{result.report}"
    return Answer(question=question, route=route, text=text, result=result)
