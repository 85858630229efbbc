"""Run a child process in the foreground so that stopping the CLI stops the child too."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence

from agent.lifetime import die_with_parent

STOP_WAIT_S = 10.0  # a child asked to stop gets this long before it is killed


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill PID``, a service manager stopping us) raise ``KeyboardInterrupt`` as Ctrl-C does."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_child(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` until it exits; Ctrl-C or SIGTERM to us stops it too (SIGTERM, then SIGKILL after
    ``STOP_WAIT_S``) instead of leaving it running on its own; a SIGKILL to us (no handler runs) stops it through
    the kernel (``lifetime.die_with_parent``). Returns its exit code (0 when we stopped it)."""
    stop_on_sigterm()
    child = subprocess.Popen(list(command), env=dict(env) if env is not None else None,
                             preexec_fn=die_with_parent())
    try:
        return child.wait()
    except KeyboardInterrupt:
        from agent.llm.local import stop_process  # httpx and all: only when there is a child to stop

        stop_process(child, grace_s=STOP_WAIT_S)
        return 0
