"""What every request handler shares: settings, memory, the investigator, the queue workers and background jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request
from prometheus_client import CollectorRegistry

from agent.api.auth import UNAUTHORIZED, authorized
from agent.api.investigator import Investigator
from agent.api.jobs import BackgroundJobs
from agent.api.metrics import service_registry
from agent.api.settings import ApiSettings
from agent.api.workers import QueueWorkers
from agent.config import Settings
from agent.memory import Memory


@dataclass
class ServiceState:
    """The service's shared parts; one per app, kept on ``app.state.bianque``."""

    settings: Settings
    api: ApiSettings
    memory: Memory
    investigator: Investigator
    workers: QueueWorkers
    knowledge: Callable[[], Any] | None = None
    """Opens the knowledge store corrections index into (None: corrections are only stored)."""
    jobs: BackgroundJobs = field(default_factory=BackgroundJobs)
    """Long library work off the request threads (Skill refinements), polled by the client."""
    skill_writes: threading.Lock = field(default_factory=threading.Lock)
    """Held while a Skill version is saved (applied refinement, rollback): one write at a time per process."""
    metrics: CollectorRegistry = field(init=False)
    """What ``GET /metrics`` exports: the database's queue, cases and schedules, and this process's counters."""

    def __post_init__(self) -> None:
        self.metrics = service_registry(self.memory, self.workers)


def service(request: Request) -> ServiceState:
    """FastAPI dependency: the app's :class:`ServiceState`."""
    return request.app.state.bianque


def require_token(request: Request) -> None:
    """FastAPI dependency: when ``BIANQUE_API_TOKEN`` is set, demand it as a bearer token."""
    token = service(request).api.token
    if token is not None and not authorized(request.headers.get("authorization", ""), token):
        raise HTTPException(status_code=401, detail=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


# The webhook and the health check answer on the event loop, their blocking work in a few threads of their own:
# in Starlette's one pool of 40 (every sync route and dependency) 42 slow /investigate calls held them ~57 s.
INTAKE_THREADS = 4
HEALTH_THREADS = 2


class OwnThreads:
    """A small thread pool's worth of capacity for one kind of request, made on first use (on the event loop)."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self._limiter: Any = None
        self._loop: Any = None

    async def run(self, work: Callable[[], Any]) -> Any:
        """``work()`` in a worker thread, at most ``tokens`` at once, whatever else holds the shared pool."""
        import asyncio

        import anyio

        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a limiter waits on its own loop's primitives (a test client runs several loops)
            self._limiter, self._loop = anyio.CapacityLimiter(self.tokens), loop
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)


async def service_on_loop(request: Request) -> ServiceState:
    """:func:`service` as an async dependency: resolved on the event loop, not in the shared thread pool."""
    return service(request)


async def require_token_on_loop(request: Request) -> None:
    """:func:`require_token` as an async dependency (no I/O: it only compares the header)."""
    require_token(request)

