"""CLI error messages are plain text: brackets in them are printed, not read as rich markup."""

from __future__ import annotations

import io

import pytest
import typer
from rich.console import Console

from agent.cli import common


def test_fail_prints_brackets_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=out, width=200, color_system=None))
    message = "install llama-cpp-python[server]; alerts[3].labels: [bold]not markup[/bold]"
    with pytest.raises(typer.Exit) as exited:
        common.fail(message, code=3)
    assert exited.value.exit_code == 3
    assert out.getvalue().strip() == f"error: {message}"
