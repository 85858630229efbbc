"""``/queue``: the durable investigation queue (webhook incidents), and retrying a failed item."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.memory import QueueItemRecord, QueueStats

router = APIRouter(prefix="/queue", tags=["alerts"], dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


@router.get("", response_model=list[QueueItemRecord])
def list_queue(
    state: State,
    status: Literal["pending", "running", "done", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[QueueItemRecord]:
    """Queued investigations, newest first (``?status=failed`` for those that ran out of attempts)."""
    return state.memory.list_queued(status, limit)


@router.get("/stats", response_model=QueueStats)
def queue_stats(state: State) -> QueueStats:
    """How many items are pending, running, done and failed."""
    return state.memory.queue_stats()


@router.get("/{queue_id}", response_model=QueueItemRecord)
def get_queue_item(queue_id: str, state: State) -> QueueItemRecord:
    """One queued investigation: status, attempts, last error, its case once done (404 if unknown)."""
    return state.memory.get_queued(queue_id)


@router.post("/{queue_id}/retry", response_model=QueueItemRecord)
def retry_queue_item(queue_id: str, state: State) -> QueueItemRecord:
    """Queue a failed investigation again with fresh attempts (422 unless it failed)."""
    item = state.memory.retry_queued(queue_id)
    state.workers.notify()
    return item
