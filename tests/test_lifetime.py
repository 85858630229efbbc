"""A child started with ``die_with_parent`` is signalled when its parent is killed (agent/lifetime.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from agent.config import PROJECT_ROOT
from tests.server_lifetime import running, start_time

BOUND_S = 60.0  # not a measurement: how long to wait before calling the test hung
# A parent that starts a sleeping child (in a session of its own, as the test servers are), says its PID, waits.
PARENT = ("import subprocess, sys, time; from agent.lifetime import die_with_parent; "
          "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True, "
          "preexec_fn=die_with_parent() if sys.argv[1] == 'armed' else None); "
          "print(c.pid, flush=True); time.sleep(600)")


def _child_of_killed_parent(mode: str) -> tuple[int, int]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    started = start_time(child)
    assert started is not None
    parent.kill()
    parent.wait(timeout=BOUND_S)
    return child, started


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_when_its_parent_is_killed():
    child, started = _child_of_killed_parent("armed")
    deadline = time.monotonic() + BOUND_S
    while running(child, started) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child, started)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_without_it_the_child_would_run_on():  # what the test above would see without die_with_parent
    child, started = _child_of_killed_parent("plain")
    try:
        assert running(child, started)
    finally:
        os.kill(child, signal.SIGKILL)

