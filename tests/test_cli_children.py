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


def _cli_with_child(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A CLI process running a sleeping child through ``run_child``, and the child's PID."""
    pid_file = tmp_path / "child.pid"
    sleeper = (f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); "
               "time.sleep(600)")
    parent = subprocess.Popen(
        [sys.executable, "-c", "import sys; from agent.cli.children import run_child; "
                               f"sys.exit(run_child([sys.executable, '-c', {sleeper!r}]))"],
        cwd=PROJECT_ROOT)
    return parent, _started(pid_file)


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody has reaped yet counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_cli_stops_its_child(tmp_path, stop):
    parent, child = _cli_with_child(tmp_path)
    parent.send_signal(stop)
    assert parent.wait(timeout=BOUND_S) == 0
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running on its own
        os.kill(child, 0)


def test_the_childs_exit_code_is_passed_on():
    code = subprocess.call([sys.executable, "-c", "import sys; from agent.cli.children import run_child; "
                            "sys.exit(run_child([sys.executable, '-c', 'raise SystemExit(7)']))"], cwd=PROJECT_ROOT)
    assert code == 7



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_killing_the_cli_outright_stops_its_child_too(tmp_path):
    parent, child = _cli_with_child(tmp_path)
    parent.kill()  # SIGKILL: no handler of ours runs
    parent.wait(timeout=BOUND_S)
    deadline = time.monotonic() + BOUND_S
    while _running(child):
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the child outlived the killed CLI")
        time.sleep(0.05)
