"""``POST /changes``: record a deploy, config push, flag flip or canary in the live change store."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.events import ChangeEvent
from agent.inputs import change_record, ignored_change_keys

router = APIRouter(prefix="/changes", tags=["changes"],
                   dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


@router.post("", status_code=201)
def record_change(body: ChangeEvent, state: State) -> dict[str, Any]:
    """Store one change (replacing one of the same id) where live investigations read changes
    (``BIANQUE_OBSERVABILITY_URL``), as ``bianque changes add`` does; 422 naming the field it lacks; ``notes`` names
    each key of the body no field reads (a misspelt ``started``: the change is recorded as begun now)."""
    from agent.sources.sqlstore import ObservabilityStore

    record = change_record(body, "body", time.time())
    store = ObservabilityStore(state.settings.resolved_observability_url)
    try:
        store.ingest_changes([record])
    finally:
        store.engine.dispose()  # a store a request: its connection closed now, not when the collector finds it
    return {"id": record.id, "service": record.service, "type": record.type, "ts": record.ts,
            "version": record.version, "notes": [f"body.{message}" for message in ignored_change_keys(body)]}
