"""``POST /webhook/alertmanager``: Alertmanager's webhook receiver (payload version 4)."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from agent.api.alerts import AlertIntake, WebhookBody, WebhookResponse, parse_alert
from agent.api.errors import RETRY_AFTER_S, problems_response
from agent.api.state import INTAKE_THREADS, OwnThreads, ServiceState, require_token_on_loop, service_on_loop

log = logging.getLogger(__name__)
router = APIRouter(tags=["alerts"], dependencies=[Depends(require_token_on_loop)])
INTAKE = OwnThreads(INTAKE_THREADS)  # alerts are taken in while slow synchronous requests hold the shared pool


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(status_code=503, detail=detail, headers={"Retry-After": RETRY_AFTER_S})


@router.post("/webhook/alertmanager", response_model=WebhookResponse)
async def alertmanager_webhook(
    body: WebhookBody, state: Annotated[ServiceState, Depends(service_on_loop)]
) -> WebhookResponse | JSONResponse:
    """Dedup each alert and queue an investigation per new incident; a bad alert is reported, the rest stored."""
    return await INTAKE.run(lambda: _take_in(body, state))


def _take_in(body: WebhookBody, state: ServiceState) -> WebhookResponse | JSONResponse:
    """The webhook's work (database reads and writes), in one of its own threads."""
    if len(body.alerts) > state.api.max_alerts:  # a 4xx is never retried: these alerts are lost, so it is logged
        log.warning("refused a webhook call of %d alerts, more than BIANQUE_API_MAX_ALERTS (%d): none of them is "
                    "stored or investigated; set the receiver's max_alerts in Alertmanager to %d or fewer",
                    len(body.alerts), state.api.max_alerts, state.api.max_alerts)
        raise HTTPException(
            status_code=413, detail=f"alerts: at most {state.api.max_alerts} per call, got {len(body.alerts)}"
        )
    if body.left_out:  # whatever becomes of the alerts sent, those left out are never seen here
        log.warning("Alertmanager left %d alert(s) of this group out (its max_alerts): they are not investigated",
                    body.left_out)
    parsed = [parse_alert(raw, i, state.settings.service_label) for i, raw in enumerate(body.alerts)]
    if parsed and all(alert is None for alert, _ in parsed):
        return problems_response([p.model_dump() for _, errors in parsed for p in errors])
    intake = AlertIntake(state.memory, state.workers.notify, state.settings.service_label)
    now = time.time()
    # only a call that would queue an investigation counts against the bound (docs/api.md); a database that does
    # not answer is a 503 (agent.api.errors) and Alertmanager sends the call again
    if state.memory.queue_outstanding() >= state.api.max_queued and intake.would_queue(parsed, now):
        raise _unavailable(
            f"investigation queue is full ({state.api.max_queued} unfinished, BIANQUE_API_MAX_QUEUED) and "
            "this call would queue another; nothing was recorded, retry later"
        )
    answer = intake.handle(parsed, now)
    return answer.model_copy(update={"truncated_by_sender": body.left_out})

