"""``GET /healthz``: the process answers, the database answers, and how the investigation queue stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from agent.api.errors import database_gone
from agent.api.state import ServiceState, service
from agent.memory import DatabaseUnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: Annotated[ServiceState, Depends(service)]) -> JSONResponse:
    """200 when the database answers, 503 (with the reason) when it does not."""
    workers = state.workers
    body: dict[str, object] = {
        "status": "ok",
        "database": state.memory.url,
        "workers": {
            "identity": workers.identity,
            "threads": workers.policy.workers,
            "running": workers.running,
            "completed": workers.completed,
            "failed_attempts": workers.failed_attempts,
        },
    }
    try:
        stats = state.memory.queue_stats()
    except Exception as exc:  # any database failure makes the service unhealthy
        gone = isinstance(exc, OperationalError | DatabaseUnavailableError)  # it does not answer: which one and why
        body.update(status="unavailable", detail=database_gone(state.memory.engine.url, exc) if gone
                    else f"database: {type(exc).__name__}: {exc}")
        return JSONResponse(status_code=503, content=body)
    body["queue"] = {**stats.model_dump(), "bound": state.api.max_queued}
    return JSONResponse(content=body)
