"""Stopping the CLI stops the process it runs in the foreground (``bianque ui``, ``bianque llm serve -- CMD``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT

BOUND_S = 60.0  # not a measurement: how long to wait before calling the test hung


def _started(pid_file: Path) -> int:
    """The child's PID once it has written it (polled, bounded)."""
    deadline = time.monotonic() + BOUND_S
    while not pid_file.is_file() or not pid_file.read_text():
        if time.monotonic() > deadline:
            pytest.fail("the child never started")
        time.sleep(0.05)
    return int(pid_file.read_text())


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_cli_stops_its_child(tmp_path, stop):
    pid_file = tmp_path / "child.pid"
    sleeper = (f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); "
               "time.sleep(600)")
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys; from agent.cli.children import run_child; "
                               f"sys.exit(run_child([sys.executable, '-c', {sleeper!r}]))"],
        cwd=PROJECT_ROOT)
    child = _started(pid_file)
    parent.send_signal(stop)
    assert parent.wait(timeout=BOUND_S) == 0
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running on its own
        os.kill(child, 0)


def test_the_childs_exit_code_is_passed_on():
    code = subprocess.call([sys.executable, "-c", "import sys; from agent.cli.children import run_child; "
                            "sys.exit(run_child([sys.executable, '-c', 'raise SystemExit(7)']))"], cwd=PROJECT_ROOT)
    assert code == 7

