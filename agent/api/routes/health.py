"""``GET /healthz``: the process answers, the database answers, and how the investigation queue stands.

With ``BIANQUE_API_TOKEN`` set, a caller without the token (a load balancer, a liveness probe) learns only the status
and whether the database and the workers are up; where they are and what failed need the token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from agent.api.auth import authorized
from agent.api.errors import database_failure
from agent.api.state import HEALTH_THREADS, OwnThreads, ServiceState, service_on_loop

router = APIRouter(tags=["health"])
PROBE = OwnThreads(HEALTH_THREADS)  # a liveness probe answers while slow synchronous requests hold the shared pool


@router.get("/healthz")
async def healthz(request: Request, state: Annotated[ServiceState, Depends(service_on_loop)]) -> JSONResponse:
    """200 when the database answers, 503 (with the reason, to a caller with the token) when it does not."""
    token = state.api.token
    detailed = token is None or authorized(request.headers.get("authorization", ""), token)
    return await PROBE.run(lambda: _health(state, detailed))


def _health(state: ServiceState, detailed: bool) -> JSONResponse:
    """The health answer (a database read), in one of the probe's own threads; ``detailed``: the caller may see
    where the database, the workers and the notifications are and what failed."""
    workers = state.workers
    try:
        stats = state.memory.queue_stats()
    except Exception as exc:  # any database failure makes the service unhealthy
        detail = database_failure(state.memory.engine.url, exc)  # it does not answer, or its schema is not current
        if not detailed:
            return JSONResponse(status_code=503, content=_brief("unavailable", False, workers.up))
        body = _details(state)
        body.update(status="unavailable", detail=detail or f"database: {type(exc).__name__}: {exc}")
        return JSONResponse(status_code=503, content=body)
    if not detailed:
        return JSONResponse(content=_brief("ok", True, workers.up))
    body = _details(state)
    body["queue"] = {**stats.model_dump(), "bound": state.api.max_queued}
    return JSONResponse(content=body)


def _brief(status: str, database: bool, workers: bool) -> dict[str, object]:
    """What a caller without the token is told: no location, identity or error text."""
    return {"status": status, "database": "up" if database else "down", "workers": "up" if workers else "down"}


def _details(state: ServiceState) -> dict[str, object]:
    """Where the database is, this process's workers and its notifications (the token's holders only)."""
    workers = state.workers
    return {
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
