"""Child processes that do not outlive their parent, even when the parent is killed (SIGKILL, OOM).

On Linux the child asks the kernel for a signal when its parent goes (``prctl(PR_SET_PDEATHSIG)``),
set between fork and exec through ``subprocess.Popen(preexec_fn=die_with_parent())``. Elsewhere this
is a no-op. The signal fires when the *thread* that forked the child exits, not only the process:
start long-lived children from the main thread (or a thread that lives as long as they should).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved once in the parent: the child, between fork and exec, must not import or load anything.
_PRCTL = _load_prctl()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when this process (the forking thread) exits.

    None where the kernel cannot do it (not Linux): pass it to ``Popen`` as is. Runs after ``Popen``'s
    ``user=``/``group=`` switch, so the setting survives it (a credential change clears it). When the
    parent is already gone by the time the child gets here, the child sends itself ``sig`` at once.
    """
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: no signal will come
            os.kill(os.getpid(), sig)

    return arm
