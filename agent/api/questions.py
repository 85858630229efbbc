"""Free-text questions over live sources, through the service's investigator."""

from __future__ import annotations

from agent.api.errors import invalid_request
from agent.api.investigator import Investigator
from agent.ask import Answer, answer_text, live_question
from agent.config import Settings
from agent.graph.nodes.select_skill import check_override
from agent.inputs import InputError
from agent.runtime import load_skills


def answer(question: str, settings: Settings, investigator: Investigator, now: float | None = None) -> Answer:
    """Route the question to a pattern and services, investigate it, and answer with the report (a 422 naming
    ``question`` when it is blank or routed to the release gate, which judges a change a question cannot name)."""
    if not question.strip():
        raise invalid_request((("body", "question"), "empty"))
    try:
        route, event, listed = live_question(question, settings, now)
    except InputError as exc:
        raise invalid_request((("body", "question"), str(exc))) from None
    try:  # no Skill for it (a library without a generic Skill): refused, as /investigate does, storing no case
        check_override(None, load_skills(settings), event)
    except LookupError as exc:
        raise invalid_request((("body", "question"), str(exc))) from None
    result = investigator(event, skill=None, source="api")
    text = answer_text(route, result.skill.get("name", "?"), result.report, listed)
    return Answer(question=question, route=route, text=text, result=result, listed=listed)
