"""Debug hooks around graph nodes, off unless their environment variable is set.

``BIANQUE_GRAPH_TRACE=<file>`` appends ``<pid> <node>`` to the file as each node starts (which nodes a
run executed, e.g. to check a resumed run did not redo finished ones). ``BIANQUE_GRAPH_HOLD=<node>``
makes that node wait forever when it starts, after tracing it, so a test can kill the process at a
known point mid-investigation.
"""

from __future__ import annotations

import os
import time

TRACE_ENV = "BIANQUE_GRAPH_TRACE"
HOLD_ENV = "BIANQUE_GRAPH_HOLD"


def node_starting(name: str) -> None:
    """Trace and hold ``name`` as the environment asks (a no-op without either variable)."""
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {name}\n")
    if os.environ.get(HOLD_ENV) == name:
        while True:
            time.sleep(3600)
