"""Test servers die with the pytest run that started them: killed with SIGTERM its finalisers stop them,
killed with SIGKILL the kernel does (and the next session removes what is left, like their temp dirs).

Each case runs one test of ``lifetime_target.py`` in a pytest of its own, kills that pytest once the
server is up, and watches the server's PIDs go (polled, bounded; nothing is timed).
"""

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
from tests.e2e.lifetime_target import OUT_ENV
from tests.e2e.servers import PG_BIN, require_binary
from tests.server_lifetime import REGISTRY_ENV, running, start_time

pytestmark = pytest.mark.e2e

TARGET = Path(__file__).with_name("lifetime_target.py")
BOUND_S = 120.0  # not a measurement: how long to wait before calling the run hung
BINARIES = {"alertmanager": ("prometheus-alertmanager", None), "postgres": ("postgres", PG_BIN / "postgres")}


def _pytest(args: list[str], tmp_path: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, OUT_ENV: str(tmp_path / "servers.json"), REGISTRY_ENV: str(tmp_path / "registry")}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path / 'inner'}", *args],
        cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def _reported(out: Path, inner: subprocess.Popen, log: Path) -> dict:
    """What the inner test reports once its server is up (fails with its output when it ends first)."""
    deadline = time.monotonic() + BOUND_S
    while not out.is_file():
        if inner.poll() is not None or time.monotonic() > deadline:
            inner.kill()
            pytest.fail(f"the inner run never reported its server:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    return json.loads(out.read_text())


def _assert_gone(processes: dict[int, int], log: Path) -> None:
    deadline = time.monotonic() + BOUND_S
    while alive := [pid for pid, started in processes.items() if running(pid, started)]:
        if time.monotonic() > deadline:
            for pid in alive:  # do not leave them behind ourselves
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"servers {alive} outlived the killed pytest:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
@pytest.mark.parametrize("server", sorted(BINARIES))
def test_servers_do_not_outlive_a_killed_pytest(tmp_path, server, kill):
    require_binary(*BINARIES[server])
    log = tmp_path / "inner.log"
    inner = _pytest([f"{TARGET}::test_holds_{server}"], tmp_path, log)
    report = _reported(tmp_path / "servers.json", inner, log)
    processes = {pid: start_time(pid) for pid in report["pids"]}
    assert report["pids"] and None not in processes.values(), report
    dirs = [Path(d) for d in report["dirs"]]

    inner.send_signal(kill)
    code = inner.wait(timeout=BOUND_S)
    _assert_gone(processes, log)
    if kill == signal.SIGTERM:  # an interrupted session, finalised: temp dirs removed, records dropped
        assert code == pytest.ExitCode.INTERRUPTED, log.read_text(errors="replace")
    else:  # nothing finalised: the next session removes what the killed one left
        assert code == -signal.SIGKILL
        assert _pytest(["--collect-only", str(TARGET)], tmp_path, log).wait(timeout=BOUND_S) == 0
    assert not [d for d in dirs if d.exists()]
    assert not list((tmp_path / "registry").glob("*.json"))
