"""Which process runs a checkpointed investigation, so a live run is never taken for an interrupted one.

Every checkpoint carries its writer as ``owner`` metadata (``host:pid``). A case left ``running`` is
interrupted only when no live process owns its thread: on this host the process id is checked; a
process on another host cannot be checked from here and counts as stopped (documented in
``bianque cases resume``). Process ids are reused, so a long-dead owner may look alive after a
reboot: the check errs towards leaving a case alone.
"""

from __future__ import annotations

import os
import socket
from typing import Any

OWNER_KEY = "owner"


def process_owner() -> str:
    """This process as an owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def thread_config(thread_id: str) -> dict[str, Any]:
    """The graph config of one checkpoint thread, its checkpoints marked as written by this process."""
    return {"configurable": {"thread_id": thread_id}, "metadata": {OWNER_KEY: process_owner()}}


def checkpoint_owner(checkpoint: Any | None) -> str | None:
    """The owner recorded with a checkpoint (``latest_checkpoint``'s answer), or None (none recorded)."""
    owner = (checkpoint.metadata or {}).get(OWNER_KEY) if checkpoint is not None else None
    return owner if isinstance(owner, str) else None


def owner_alive(owner: str | None) -> bool:
    """True when ``owner`` is another process of this host that is still running."""
    if not owner or ":" not in owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, run by another user
        return True
    return True


def owner_gone(owner: str | None) -> bool:
    """True when ``owner`` (``host:pid``) is a process of this host, not this one, that is no longer running. A
    process of another host cannot be checked from here: never gone (a lease or a person decides)."""
    if not owner or ":" not in owner:
        return False
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    return not owner_alive(owner)
