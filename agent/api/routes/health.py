"""``GET /healthz``: the process answers, the database answers, and how the investigation queue stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from agent.api.errors import database_failure
from agent.api.state import HEALTH_THREADS, OwnThreads, ServiceState, service_on_loop

router = APIRouter(tags=["health"])
PROBE = OwnThreads(HEALTH_THREADS)  # a liveness probe answers while slow synchronous requests hold the shared pool


@router.get("/healthz")
async def healthz(state: Annotated[ServiceState, Depends(service_on_loop)]) -> JSONResponse:
    """200 when the database answers, 503 (with the reason) when it does not."""
    return await PROBE.run(lambda: _health(state))


def _health(state: ServiceState) -> JSONResponse:
    """The health answer (a database read), in one of the probe's own threads."""
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
            "problem": workers.problem,
        },
        "notifications": workers.notifier.status(),
    }
    try:
        stats = state.memory.queue_stats()
    except Exception as exc:  # any database failure makes the service unhealthy
        detail = database_failure(state.memory.engine.url, exc)  # it does not answer, or its schema is not current
        body.update(status="unavailable", detail=detail or f"database: {type(exc).__name__}: {exc}")
        return JSONResponse(status_code=503, content=body)
    body["queue"] = {**stats.model_dump(), "bound": state.api.max_queued}
    return JSONResponse(content=body)
