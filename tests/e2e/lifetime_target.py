"""Run only by tests/e2e/test_server_lifetime.py, each test in a pytest of its own that it then kills.

Not collected otherwise (the name does not start with ``test_``). Each test starts one server through
the session fixtures, reports it to ``$BIANQUE_LIFETIME_OUT`` (the PIDs to watch and the temp dirs the
finalisers should remove) and waits to be killed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

OUT_ENV = "BIANQUE_LIFETIME_OUT"
HOLD_S = 3600.0  # longer than anyone waits: the test ends by being killed


def children() -> list[int]:
    """The PIDs of this process's children, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def hold(pids: list[int], dirs: list[Path]) -> None:
    """Report the servers, then wait until killed."""
    out = Path(os.environ[OUT_ENV])
    partial = out.with_suffix(".tmp")
    partial.write_text(json.dumps({"pids": pids, "dirs": [str(d) for d in dirs]}))
    partial.replace(out)
    time.sleep(HOLD_S)


def test_holds_alertmanager(start_alertmanager):
    start_alertmanager("http://127.0.0.1:9/webhook")
    hold(children(), [])


def test_holds_postgres(postgres_server):
    postmaster = int((postgres_server.data / "postmaster.pid").read_text().split()[0])
    hold([postmaster], [postgres_server.root])
