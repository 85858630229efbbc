"""``GET /healthz``: the process answers, the database answers, and how busy the workers are."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from agent.api.state import ServiceState, service

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: Annotated[ServiceState, Depends(service)]) -> JSONResponse:
    """200 when the database answers, 503 (with the reason) when it does not."""
    pool = state.pool
    body: dict[str, object] = {
        "status": "ok",
        "database": state.memory.url,
        "investigations": {
            "in_flight": pool.in_flight,
            "capacity": pool.capacity,
            "completed": pool.completed,
            "failed": pool.failed,
        },
    }
    try:
        state.memory.list_cases(limit=1)
    except Exception as exc:  # any database failure makes the service unhealthy
        body.update(status="unavailable", detail=f"database: {type(exc).__name__}: {exc}")
        return JSONResponse(status_code=503, content=body)
    return JSONResponse(content=body)
