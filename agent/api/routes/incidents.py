"""``/incidents``: alert groups from the webhook's dedup, and the case investigating each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.memory import IncidentRecord

router = APIRouter(
    prefix="/incidents", tags=["alerts"], dependencies=[Depends(require_token), Depends(text_only_request)]
)
State = Annotated[ServiceState, Depends(service)]


@router.get("", response_model=list[IncidentRecord])
def open_incidents(
    state: State, service_name: Annotated[str | None, Query(alias="service", max_length=200)] = None
) -> list[IncidentRecord]:
    """Open incidents (optionally one service's), most recently active first."""
    return state.memory.open_incidents(service_name)


@router.get("/{incident_id}", response_model=IncidentRecord)
def get_incident(incident_id: str, state: State) -> IncidentRecord:
    """One incident with its case id once the investigation has finished (404 if unknown)."""
    return state.memory.get_incident(incident_id)
