"""Session start stops the test servers a killed run left behind, and only those (tests/server_lifetime.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT
from tests.server_lifetime import REGISTRY_ENV, reap_stale, record, registry_dir, running, start_time

BOUND_S = 60.0  # not a measurement: how long to wait before calling the test hung
SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]
# A run that starts a server (in a session of its own, so not dying with it), records it, and exits.
LEFT_BEHIND = ("import subprocess, sys; from pathlib import Path; from tests.server_lifetime import record; "
               "p = subprocess.Popen(sys.argv[2:], start_new_session=True, stdout=subprocess.DEVNULL, "
               "stderr=subprocess.DEVNULL); "
               "record(p.pid, sys.argv[2:], cleanup=Path(sys.argv[1])); print(p.pid)")


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry"))
    return registry_dir()


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(SLEEPER)
    yield proc
    proc.kill()
    proc.wait()


def _left_behind(cleanup: Path) -> tuple[int, int]:
    """A server, and its record, from a run that has exited: (pid, start time)."""
    done = subprocess.run([sys.executable, "-c", LEFT_BEHIND, str(cleanup), *SLEEPER], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=True, timeout=BOUND_S)
    pid = int(done.stdout)
    started = start_time(pid)
    assert started is not None
    return pid, started


def _gone(pid: int, started: int) -> bool:
    deadline = time.monotonic() + BOUND_S
    while running(pid, started) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid, started)


def test_a_server_whose_run_is_gone_is_stopped_with_its_temp_dir(registry, tmp_path):
    cleanup = tmp_path / "server-root"
    cleanup.mkdir()
    pid, started = _left_behind(cleanup)
    assert running(pid, started)  # the exited run left it running

    reaped = reap_stale()

    assert [r.pid for r in reaped] == [pid]
    assert _gone(pid, started)
    assert not cleanup.exists() and not list(registry.glob("*.json"))


def test_a_live_runs_server_is_left_alone(registry, sleeper):
    record(sleeper.pid, SLEEPER)  # recorded by this process, which runs

    assert reap_stale() == []
    assert sleeper.poll() is None and len(list(registry.glob("*.json"))) == 1


def test_a_reused_pid_is_not_killed(registry, sleeper, tmp_path):
    cleanup = tmp_path / "server-root"
    cleanup.mkdir()
    pid, started = _left_behind(cleanup)
    path = registry / f"{pid}.json"
    stale = json.loads(path.read_text())
    path.unlink()
    # The dead run's record, but its PID now names another process (ours, started at another time).
    (registry / f"{sleeper.pid}.json").write_text(json.dumps({**stale, "pid": sleeper.pid, "started": started - 1}))
    try:
        assert [r.pid for r in reap_stale()] == [sleeper.pid]
        assert sleeper.poll() is None  # not the recorded process: not signalled
        assert not cleanup.exists() and not list(registry.glob("*.json"))
    finally:
        if running(pid, started):  # the left-behind server this test did not reap
            os.kill(pid, signal.SIGKILL)


def test_session_start_reaps(registry, tmp_path):
    cleanup = tmp_path / "server-root"
    cleanup.mkdir()
    pid, started = _left_behind(cleanup)

    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only",
                           "tests/test_timeparse.py"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=BOUND_S)

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"stopped a server left by a killed test run: pid {pid}" in done.stdout
    assert _gone(pid, started) and not cleanup.exists()


def test_unreadable_records_are_left_alone(registry):
    registry.mkdir(parents=True)
    (registry / "1.json").write_text("{not json")
    (registry / "2.json").write_text(json.dumps({"pid": 2}))

    assert reap_stale() == []
    assert sorted(p.name for p in registry.glob("*.json")) == ["1.json", "2.json"]
