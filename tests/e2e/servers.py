"""Starting real servers for the end-to-end fixtures (tests/e2e/conftest.py): binaries, ports, readiness.

Every server runs as a :class:`Daemon`: it dies with this process even when pytest is killed, and is
recorded so that the next session stops it should that fail (:mod:`tests.server_lifetime`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from agent.lifetime import die_with_parent
from agent.llm.local import stop_process
from tests.server_lifetime import forget, record

PG_BIN = Path(os.environ.get("BIANQUE_PG_BIN", "/usr/lib/postgresql/15/bin"))
READY_TIMEOUT_S = 60.0


# --- helpers ------------------------------------------------------------------------------


def unavailable(message: str) -> NoReturn:
    """Skip the test because a real server is not installed; under ``CI=true`` fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_binary(name: str, path: Path | None = None) -> str:
    """The binary's path; skip the test when it is missing (fail under ``CI=true``)."""
    found = str(path) if path and path.exists() else shutil.which(name)
    if not found:
        unavailable(f"{name} is not installed (run scripts/install-system-deps.sh as root)")
    return found


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until(check: Callable[[], bool], what: str, log: Path, proc: subprocess.Popen | None = None) -> None:
    """Poll ``check`` until it holds; fail with the server's log when it never does."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: process exited with {proc.returncode}\n{_tail(log)}")
        try:
            if check():
                return
        except (httpx.HTTPError, OSError, ValueError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{what}: not ready after {READY_TIMEOUT_S:g}s\n{_tail(log)}")


def as_user(user: str | None) -> dict[str, Any]:
    """``subprocess`` keywords running the child as ``user`` (and only its group); none for None."""
    return {"user": user, "group": user, "extra_groups": []} if user else {}


class Daemon:
    """A server process writing to a log file, stopped by :meth:`stop` (with ``stop_signal``, then SIGKILL).

    It dies with this process even when pytest is killed, gets its own session (a Ctrl-C reaches
    pytest, whose finalisers stop it, not the server first) and is recorded for the next session to
    stop should both fail; ``cleanup`` is a directory that session removes after it.
    """

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        *,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        cleanup: Path | None = None,
    ) -> None:
        self.log = log
        self.stop_signal = stop_signal
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            list(args), stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(stop_signal), **as_user(user),
        )  # fmt: skip
        record(self.proc.pid, args, stop_signal, cleanup)

    def stop(self) -> None:
        stop_process(self.proc, sig=self.stop_signal)
        forget(self.proc.pid)
        self._log_file.close()


def wait_ready(url: str, what: str, daemon: Daemon) -> None:
    """Wait until a Prometheus-family server at ``url`` answers ``/-/ready`` with 200."""
    wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, what, daemon.log, daemon.proc)


# --- PostgreSQL -----------------------------------------------------------------------------


class PostgresServer:
    """A throw-away PostgreSQL cluster in a temp dir, listening on 127.0.0.1 (trust auth).

    The postmaster runs in the foreground as a :class:`Daemon` (not through ``pg_ctl``, which would
    detach it from us), stopped with SIGINT: PostgreSQL's fast shutdown, which does not wait for
    clients to disconnect.
    """

    def __init__(self) -> None:
        self.initdb = require_binary("initdb", PG_BIN / "initdb")
        self.postgres = require_binary("postgres", PG_BIN / "postgres")
        # The server refuses to run as root: then initdb and the server run as the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="bianque-pg-"))
        if self.user:
            shutil.chown(self.root, user=self.user, group=self.user)
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self.daemon: Daemon | None = None

    def _initdb(self) -> None:
        args = [self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                "--locale=C.UTF-8"]  # fmt: skip
        done = subprocess.run(args, capture_output=True, text=True, cwd=self.root, **as_user(self.user))
        if done.returncode != 0:
            pytest.fail(f"initdb failed: {done.stderr or done.stdout}")

    def _ready(self) -> bool:
        """True when the postmaster.pid of our server says it accepts connections (as ``pg_ctl -w`` reads it)."""
        lines = (self.data / "postmaster.pid").read_text().splitlines()
        return self.daemon is not None and len(lines) >= 8 and lines[0] == str(self.daemon.proc.pid) \
            and lines[7].strip() == "ready"

    def start(self) -> None:
        self._initdb()
        args = [self.postgres, "-D", str(self.data), "-c", "listen_addresses=127.0.0.1", "-p", str(self.port),
                "-k", str(self.root), "-c", "fsync=off"]  # fmt: skip
        self.daemon = Daemon(args, self.log, user=self.user, stop_signal=signal.SIGINT, cleanup=self.root)
        wait_until(self._ready, "postgres", self.log, self.daemon.proc)

    def stop(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def password_role(self, name: str, password: str) -> None:
        """A login role that must give ``password`` over TCP (every other role is trusted)."""
        self._admin(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {name} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())  # the first match rules
        self._admin("SELECT pg_reload_conf()")

    def create_database(self, name: str | None = None) -> str:
        """Create a database (a unique name by default) and return its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
