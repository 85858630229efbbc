"""``POST /changes``: record a deploy, config push, flag flip or canary in the live change store."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from agent.api.errors import RETRY_AFTER_S
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.events import ChangeEvent
from agent.inputs import change_record, ignored_change_keys
from agent.memory.db import did_not_answer

router = APIRouter(prefix="/changes", tags=["changes"],
                   dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


@router.post("", status_code=201)
def record_change(body: ChangeEvent, state: State) -> dict[str, Any]:
    """Store one change (replacing one of the same id) where live investigations read changes
    (``BIANQUE_OBSERVABILITY_URL``), as ``bianque changes add`` does; 422 naming the field it lacks; ``notes`` names
    each key of the body no field reads (a misspelt ``started``: the change is recorded as begun now); 503 with
    Retry-After when the store is locked or does not answer."""
    from agent.sources.sqlstore import ObservabilityStore, StoreError

    record = change_record(body, "body", time.time())
    store = ObservabilityStore(state.settings.resolved_observability_url)
    try:
        store.ingest_changes([record])
    except StoreError as exc:  # locked or unreachable: 503, worth the CD step's retry; else a 500 saying what failed
        gone = exc.__cause__ is not None and did_not_answer(exc.__cause__)
        raise HTTPException(503 if gone else 500, detail=str(exc),
                            headers={"Retry-After": RETRY_AFTER_S} if gone else None) from exc
    finally:
        store.engine.dispose()  # a store a request: its connection closed now, not when the collector finds it
    return {"id": record.id, "service": record.service, "type": record.type, "ts": record.ts,
            "version": record.version, "notes": [f"body.{message}" for message in ignored_change_keys(body)]}
