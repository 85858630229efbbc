"""Test servers do not outlive the pytest run that started them (a pytest plugin, loaded by tests/conftest.py).

Three layers, each catching what the one before misses:
- SIGTERM to pytest (a CI restart) raises KeyboardInterrupt as Ctrl-C does: pytest stops the session
  and runs every fixture finaliser, which stop the servers.
- Each server is started with :func:`agent.lifetime.die_with_parent`: when pytest dies without
  finalising (SIGKILL, OOM), the kernel signals the server.
- Each server is recorded here (:func:`record`, one JSON file per server in a private temp dir);
  at session start :func:`reap_stale` stops the servers, and removes the temp dirs, whose run is gone.
  A record names the process by PID *and* start time, and its run by the same pair, so neither a
  live run's servers nor a process that merely reuses a PID is ever touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

REGISTRY_ENV = "BIANQUE_TEST_SERVERS"  # where the records live; a test pointing it elsewhere is isolated
STOP_GRACE_S = 15.0  # a stale server asked to stop gets this long before it is killed
POLL_S = 0.05


def registry_dir() -> Path:
    """The directory of server records (``$BIANQUE_TEST_SERVERS``, else one per user in the temp dir)."""
    configured = os.environ.get(REGISTRY_ENV)
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"bianque-test-servers-{os.getuid()}"


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, starttime 22
    return None if fields[0] in ("Z", "X") else int(fields[19])


def running(pid: int, started: int) -> bool:
    """True while the process ``pid`` that started at ``started`` runs (a reused PID does not count)."""
    return start_time(pid) == started


@dataclass(frozen=True)
class ServerRecord:
    """One server started by a test run: which process, which run, how to stop it, what to remove."""

    pid: int
    started: int
    owner: int
    owner_started: int
    stop_signal: int
    argv: list[str]
    cleanup: str | None = None


def _path(pid: int) -> Path:
    return registry_dir() / f"{pid}.json"


def record(pid: int, argv: Sequence[str], stop_signal: int = signal.SIGTERM, cleanup: Path | None = None) -> None:
    """Note that this run started server ``pid`` (stopped with ``stop_signal``; ``cleanup`` removed after)."""
    started, owner_started = start_time(pid), start_time(os.getpid())
    if started is None or owner_started is None:  # no /proc, or it already exited: nothing to reap later
        return
    entry = ServerRecord(pid, started, os.getpid(), owner_started, int(stop_signal), [str(a) for a in argv],
                         str(cleanup) if cleanup else None)
    directory = registry_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = directory / f".{pid}.json.tmp"
    partial.write_text(json.dumps(asdict(entry)))
    partial.replace(_path(pid))  # atomic: a reaper never reads half a record


def forget(pid: int) -> None:
    """Drop the record of server ``pid`` (its fixture stopped it)."""
    _path(pid).unlink(missing_ok=True)


def _read(path: Path) -> ServerRecord | None:
    try:
        return ServerRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None  # not one of ours, or gone meanwhile: left alone


def _wait_gone(entry: ServerRecord, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while running(entry.pid, entry.started):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def _stop(entry: ServerRecord) -> None:
    for sig, grace in ((entry.stop_signal, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry.pid, sig)
        if _wait_gone(entry, grace):
            return


def reap_stale() -> list[ServerRecord]:
    """Stop the recorded servers whose run is gone, remove their temp dirs and records; returns them."""
    reaped: list[ServerRecord] = []
    for path in sorted(registry_dir().glob("*.json")):
        entry = _read(path)
        if entry is None or running(entry.owner, entry.owner_started):
            continue
        if running(entry.pid, entry.started):
            _stop(entry)
        if entry.cleanup:
            shutil.rmtree(entry.cleanup, ignore_errors=True)
        path.unlink(missing_ok=True)
        reaped.append(entry)
    return reaped


# --- the plugin -----------------------------------------------------------------------------------

_reaped: list[ServerRecord] = []


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def pytest_configure(config: pytest.Config) -> None:
    """Turn SIGTERM into KeyboardInterrupt (finalisers run), then stop servers left by killed runs."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))
    _reaped[:] = reap_stale()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"stopped a server left by a killed test run: pid {e.pid}, {' '.join(e.argv[:1])}" for e in _reaped]
