"""Our app served by uvicorn on a free loopback port, for real servers (Alertmanager, Prometheus) to talk to."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn

from agent.api.app import create_app
from agent.api.settings import ApiSettings
from agent.config import get_settings
from agent.memory import Memory
from tests.e2e.servers import free_port
from tests.test_api_support import CountingInvestigator

WAIT_S = 60.0


@dataclass
class Served:
    url: str
    memory: Memory
    investigator: CountingInvestigator


def poll(check: Callable[[], bool], what: str) -> None:
    """Wait (bounded) until ``check`` holds; fail naming what never happened."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {WAIT_S:g}s")


@contextmanager
def serving() -> Iterator[Served]:
    """Our app, with a deterministic investigator, served by uvicorn on a free loopback port until the block ends."""
    with Memory() as memory:
        investigator = CountingInvestigator(memory)
        app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token=None))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        poll(lambda: server.started, "uvicorn did not start")
        try:
            yield Served(f"http://127.0.0.1:{server.config.port}", memory, investigator)
        finally:
            server.should_exit = True
            thread.join(timeout=30)
