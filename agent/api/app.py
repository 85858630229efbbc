"""The HTTP service: ``create_app()`` builds it (run with ``uvicorn --factory agent.api.app:create_app``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from agent.api.auth import TokenMiddleware
from agent.api.errors import install_error_handlers
from agent.api.investigator import Investigator, LiveInvestigator
from agent.api.jobs import BackgroundJobs
from agent.api.limits import BodyLimitMiddleware
from agent.api.routes import (
    cases,
    changes,
    health,
    incidents,
    investigations,
    metrics,
    queue,
    refinements,
    regression,
    schedules,
    skills,
    webhook,
)
from agent.api.settings import ApiSettings
from agent.api.state import ServiceState, require_token
from agent.api.workers import QueueWorkers, WorkerPolicy
from agent.config import Settings, get_settings
from agent.memory import Memory
from agent.notify import notifier_for
from agent.notify.delivery import flush_all
from agent.version import __version__

log = logging.getLogger("uvicorn.error")  # shown by uvicorn next to its own lines


def create_app(
    settings: Settings | None = None,
    investigator: Investigator | None = None,
    *,
    api: ApiSettings | None = None,
    memory: Memory | None = None,
    knowledge: Any = None,
    with_scheduler: bool = False,
) -> FastAPI:
    """The FastAPI app; ``investigator`` defaults to live sources, ``with_scheduler`` also runs inspections.

    ``knowledge`` is the store corrected cases are indexed into; by default the live investigator's
    (opened on first use), none with an injected investigator. Nothing is built at import time:
    every app owns its memory, queue workers (started with the app) and (optionally) scheduler.
    """
    settings = settings or get_settings()
    api = api or ApiSettings()
    owns_memory = memory is None
    memory = memory if memory is not None else Memory(settings.resolved_database_url)
    if investigator is None:
        investigator = LiveInvestigator(settings)
        opener = investigator.knowledge if knowledge is None else (lambda: knowledge)
    else:
        opener = None if knowledge is None else (lambda: knowledge)
    state = ServiceState(
        settings=settings,
        api=api,
        memory=memory,
        investigator=investigator,
        workers=QueueWorkers(memory, investigator, worker_policy(api), notifier_for(settings)),
        knowledge=opener,
        jobs=BackgroundJobs(api.job_workers, api.max_jobs),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.workers.start()
        scheduler = _start_scheduler(state) if with_scheduler else None
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            state.workers.stop(timeout=api.stop_grace_s)
            flush_all(api.stop_grace_s)  # what the workers and the scheduler queued for a receiver that may be slow
            state.jobs.stop(timeout=api.stop_grace_s)
            close = getattr(state.investigator, "close", None)
            if callable(close):
                close()
            if owns_memory:
                state.memory.close()

    protected = api.token is not None  # then the docs need the token too: they map every endpoint
    app = FastAPI(
        title="Bian Que",
        summary="Release interception, proactive inspection and alert root-cause analysis.",
        version=__version__,
        lifespan=lifespan,
        **({"docs_url": None, "redoc_url": None, "openapi_url": None} if protected else {}),
    )
    app.state.bianque = state
    if protected:
        _protected_docs(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=api.max_body_bytes)
    if api.token is not None:  # added last, so it runs first: no body is read for a caller without the token
        app.add_middleware(TokenMiddleware, token=api.token)
    install_error_handlers(app)
    for module in (health, metrics, webhook, queue, investigations, cases, refinements, incidents, regression, skills,
                   schedules, changes):
        app.include_router(module.router)
    return app


def worker_policy(api: ApiSettings) -> WorkerPolicy:
    """The queue workers' policy from the service settings."""
    return WorkerPolicy(
        workers=api.workers,
        lease_s=api.lease_s,
        poll_s=api.poll_s,
        max_attempts=api.max_attempts,
        backoff_s=api.retry_backoff_s,
        backoff_max_s=api.retry_backoff_max_s,
    )


def _protected_docs(app: FastAPI) -> None:
    """``/openapi.json`` and ``/docs`` behind the bearer token."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_token)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_token)])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Bian Que API")


def _start_scheduler(state: ServiceState):
    """Run scheduled inspections in this process, through the app's investigator."""
    from agent.scheduler.jobs import configure
    from agent.scheduler.overview import disabled_note
    from agent.scheduler.service import start_scheduler

    configure(state.settings, state.investigator)
    scheduler = start_scheduler(state.settings)
    log.info("scheduler started with %d job(s)", len(scheduler.inspection_jobs()))
    report = scheduler.sync_report
    for problem in report.problems if report else []:
        log.warning("skipped %s", problem)
    for note in report.disabled if report else []:
        log.warning("%s", note)
    disabled = [] if report and report.disabled else [s.job_id for s in state.memory.list_schedules() if not s.enabled]
    if note := disabled_note(disabled):  # not said again when the sync just said why they are
        log.info("%s", note)
    return scheduler
