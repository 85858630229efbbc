"""``POST /investigate`` and ``POST /ask``: synchronous investigations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from agent.api.errors import invalid_request
from agent.api.questions import answer
from agent.api.schemas import AskRequest, InvestigateRequest
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.ask import Answer
from agent.bundles.event_file import change_problem, ignored_keys
from agent.events import Event
from agent.graph.nodes.select_skill import check_override
from agent.inputs.checks import alert_problems
from agent.investigate import InvestigationResult
from agent.runtime import load_skills

router = APIRouter(tags=["investigations"], dependencies=[Depends(require_token), Depends(text_only_request)])


@router.post("/investigate", response_model=InvestigationResult)
def investigate_event(
    body: InvestigateRequest, state: Annotated[ServiceState, Depends(service)]
) -> InvestigationResult:
    """Investigate one event now and answer with the verdict, the report and the case id."""
    _check_release(body.event)
    _check_alert(body.event, state.settings.service_label)
    event = body.event_read(state.settings.service_label)
    try:  # the check the CLI and the select_skill node make: a bad name, or no Skill for the event, stores no case
        check_override(body.skill, load_skills(state.settings), event)
    except LookupError as exc:
        raise invalid_request((("body", "skill" if body.skill is not None else "event"), str(exc))) from None
    result = state.investigator(event, skill=body.skill, source="api")
    ignored = ignored_keys(body.event)  # a misspelt key is answered, not silently dropped
    return result.model_copy(update={"notes": [*ignored, *result.notes]}) if ignored else result


def _check_release(event: Event) -> None:
    """A release judgement names its change (``event_file.change_problem``): 422 on ``event.change`` when not."""
    problem = change_problem(event, "the body")
    if problem is not None:
        raise invalid_request((("body", "event", "change"), problem))


def _check_alert(event: Event, service_label: str) -> None:
    """The event's alert is one every door takes (``inputs.checks.alert_problems``: firing or resolved, named, its
    service labels, ``BIANQUE_SERVICE_LABEL``'s and ``service``, names without control characters and no longer than
    the memory stores): else 422 naming each field (``event.alert.labels.app``), as the webhook refuses such an
    alert."""
    found = alert_problems(event.alert, service_label) if event.alert is not None else []
    if found:
        raise invalid_request(*((("body", "event", "alert", *loc), message) for loc, message in found))


@router.post("/ask", response_model=Answer)
def ask(body: AskRequest, state: Annotated[ServiceState, Depends(service)]) -> Answer:
    """Answer a free-text question: routed to a pattern and services, investigated over live sources."""
    return answer(body.question, state.settings, state.investigator)
