"""Shared fixtures: every test gets its own BIANQUE_HOME; ``memory`` and ``knowledge`` open the stores in it.

``investigator`` and ``client`` serve the API tests (helpers in :mod:`tests.test_api_support`). Heavy
modules are imported inside the fixtures, so a test that needs none of them does not pay for them.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

import pytest

from agent.config import get_settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from agent.knowledge.store import KnowledgeStore
    from agent.memory import Memory
    from tests.test_api_support import CountingInvestigator


@pytest.fixture(autouse=True)
def bianque_home(tmp_path, monkeypatch):
    """Point all state at a temp dir and reset cached settings."""
    home = tmp_path / "bianque-home"
    monkeypatch.setenv("BIANQUE_HOME", str(home))
    for var in ("BIANQUE_LLM_BASE_URL", "BIANQUE_PROMETHEUS_URL", "BIANQUE_DATABASE_URL", "BIANQUE_CHROMA_URL",
                "BIANQUE_OBSERVABILITY_URL", "BIANQUE_NOTIFY_URL", "BIANQUE_REGRESSION_ROOTS",
                "BIANQUE_API_REGRESSION_ROOTS"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    jobs = sys.modules.get("agent.scheduler.jobs")
    if jobs is not None:  # a test that failed with a scheduler started had left its settings to the next test
        jobs.configure(None, None)


@pytest.fixture
def demo_system(tmp_path, monkeypatch):
    """The live sources know the simulated serving system's services (a topology file of them), as on the demo
    system: the built-in Skills' schedules, scoped to those services, are then synced enabled."""
    import yaml

    from agent.sim.system import TOPOLOGY

    topology = tmp_path / "demo-topology.yaml"
    topology.write_text(yaml.safe_dump({"services": {name: {"depends_on": deps} for name, deps in TOPOLOGY.items()}}))
    monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(topology))
    get_settings.cache_clear()
    return topology


@pytest.fixture
def memory(bianque_home) -> Iterator[Memory]:
    """The memory database in this test's BIANQUE_HOME, open for the test."""
    from agent.memory import Memory

    with Memory() as store:
        yield store


@pytest.fixture
def knowledge(bianque_home) -> KnowledgeStore:
    """The knowledge store in this test's BIANQUE_HOME."""
    from agent.knowledge.store import KnowledgeStore

    return KnowledgeStore(get_settings())


@pytest.fixture
def in_tmp_path(tmp_path, monkeypatch) -> None:
    """The test runs in ``tmp_path``, so that a bundle made there is given by a relative path as a user gives it (its
    messages name it as given: ``my-case/event.yaml:3``)."""
    monkeypatch.chdir(tmp_path)


@contextmanager
def _as_terminal() -> Iterator[io.StringIO]:
    from rich.console import Console

    from agent.cli import common

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(common, "console", Console(file=out, force_terminal=True, width=80, color_system=None))
        yield out


@pytest.fixture
def terminal() -> Callable[[], AbstractContextManager[io.StringIO]]:
    """``with terminal() as out:`` the CLI's tables (printed through ``agent.cli.common.print_table``) go to ``out``
    as to an 80-column terminal; typer's CliRunner is no terminal."""
    return _as_terminal


@pytest.fixture
def fresh_resources() -> Iterator[None]:
    """Streamlit's cached resources dropped before and after the test: the UI caches its memory and knowledge handles
    per database URL and home, which change from test to test. The AppTest modules use it (``pytestmark``)."""
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def investigator(memory) -> CountingInvestigator:
    """The API's deterministic dry-run investigator over ``memory``, recording its calls."""
    from tests.test_api_support import CountingInvestigator

    return CountingInvestigator(memory)


@pytest.fixture
def client(memory, investigator) -> Iterator[TestClient]:
    """A started TestClient for the API app over ``memory`` and ``investigator`` (no token)."""
    from tests.test_api_support import make_client

    with make_client(memory, investigator) as test_client:
        yield test_client


@pytest.fixture
def app_label_client(memory, investigator, monkeypatch) -> Iterator[TestClient]:
    """A started TestClient like ``client``, of a service configured with BIANQUE_SERVICE_LABEL=app."""
    from tests.test_api_support import make_client

    monkeypatch.setenv("BIANQUE_SERVICE_LABEL", "app")
    get_settings.cache_clear()
    try:
        with make_client(memory, investigator) as app_client:
            yield app_client
    finally:
        monkeypatch.delenv("BIANQUE_SERVICE_LABEL")
        get_settings.cache_clear()


pytest_plugins = ["tests.fakes.openai_server", "tests.server_lifetime"]
