"""Shared fixtures: every test gets its own BIANQUE_HOME."""

from __future__ import annotations

import pytest

from agent.config import get_settings


@pytest.fixture(autouse=True)
def bianque_home(tmp_path, monkeypatch):
    """Point all state at a temp dir and reset cached settings."""
    home = tmp_path / "bianque-home"
    monkeypatch.setenv("BIANQUE_HOME", str(home))
    for var in ("BIANQUE_LLM_BASE_URL", "BIANQUE_PROMETHEUS_URL", "BIANQUE_DATABASE_URL", "BIANQUE_CHROMA_URL"):
        monkeypatch.delenv(var, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()

pytest_plugins = ["tests.fakes.openai_server"]
