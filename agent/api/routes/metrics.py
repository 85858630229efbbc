"""``GET /metrics``: the service's state for Prometheus to scrape (agent.api.metrics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agent.api.state import ServiceState, require_token, service

router = APIRouter(tags=["health"], dependencies=[Depends(require_token)])


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(state: Annotated[ServiceState, Depends(service)]) -> Response:
    """The queue, cases, schedules and this process's workers and notifications, in Prometheus' text format
    (docs/api.md, "Metrics"); needs the token when one is set, as every endpoint but /healthz."""
    return Response(generate_latest(state.metrics), media_type=CONTENT_TYPE_LATEST)
