"""CLI error messages are plain text: brackets in them are printed, not read as rich markup."""

from __future__ import annotations

import io
import subprocess
import sys

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


def test_sigusr1_prints_every_threads_stack_and_the_process_goes_on() -> None:
    code = (
        "import os, signal, threading, time\n"
        "from agent.cli.app import dump_stacks_on_sigusr1\n"
        "dump_stacks_on_sigusr1()\n"
        "def parked_worker():\n"
        "    time.sleep(30)\n"
        "threading.Thread(target=parked_worker, daemon=True).start()\n"
        "time.sleep(0.2)\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "print('still running')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"
    assert "parked_worker" in done.stderr and "Current thread" in done.stderr
