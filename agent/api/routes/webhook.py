"""``POST /webhook/alertmanager``: Alertmanager's webhook receiver (payload version 4)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from agent.api.alerts import AlertIntake, WebhookResponse, status_problems
from agent.api.errors import validation_response
from agent.api.state import ServiceState, require_token, service
from agent.events import AlertmanagerWebhook

router = APIRouter(tags=["alerts"], dependencies=[Depends(require_token)])


@router.post("/webhook/alertmanager", response_model=WebhookResponse)
def alertmanager_webhook(
    webhook: AlertmanagerWebhook, state: Annotated[ServiceState, Depends(service)]
) -> WebhookResponse | JSONResponse:
    """Dedup each alert; new incidents are investigated in the background, the rest acknowledged."""
    if len(webhook.alerts) > state.api.max_alerts:
        raise HTTPException(
            status_code=413, detail=f"alerts: at most {state.api.max_alerts} per call, got {len(webhook.alerts)}"
        )
    bad = status_problems(webhook)
    if bad:
        return validation_response(bad)
    if state.pool.free_slots() == 0 and any(a.status == "firing" for a in webhook.alerts):
        raise HTTPException(
            status_code=503,
            detail="investigation queue is full; nothing was recorded, retry later",
            headers={"Retry-After": "30"},
        )
    intake = AlertIntake(state.memory, state.investigator, state.pool.submit)
    return intake.handle(webhook, time.time())
