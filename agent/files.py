"""Files Bian Que writes for people (Skills, the regression registry): replaced atomically, never half-written; and
the lock files by which processes sharing a home take turns (:func:`file_lock`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no lock (Windows)
    fcntl = None  # type: ignore[assignment]

LOCKING = fcntl is not None  # whether file_lock holds anything

FALLBACK_UMASK = 0o022  # the usual one, when the process's own cannot be read


def replace_file(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` atomically (a temporary file renamed over it); OSError when it cannot, the
    temporary file removed whatever stopped the write (an error, Ctrl-C).

    The file keeps the permissions it had (a new one gets what an editor would write, 0666 less the umask), not
    the owner-only mode of the temporary file: a Skill directory may be read by a team or by a service's own user.
    """
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~process_umask()
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            os.fchmod(handle.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def process_umask() -> int:
    """The process's umask, read without changing it (``/proc/self/status``, Linux); ``FALLBACK_UMASK`` elsewhere.
    (``os.umask`` can only be read by setting it, which races with other threads writing files.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return FALLBACK_UMASK


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created when missing) while in the block: one process, or thread (each
    opens the file anew), at a time. Yields whether it is held: not when ``wait`` is False and another holds it.
    Without ``fcntl`` (not POSIX) nothing is held and it yields True. OSError when the file cannot be opened."""
    if fcntl is None:
        yield True
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
