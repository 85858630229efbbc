"""What a notifier has told, per origin: the memory that holds back a repeat of the same news.

:class:`StoredNews` keeps it in the project's database (``notice_holds``), shared by the replicas of ``serve`` and kept
over a restart; a database that cannot be used makes it post every news (said once in the log, and once when it
answers again) rather than drop one. :class:`LocalNews` keeps it in the process (a notifier without a database).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol

from agent.memory.db import database_problem, describe_database

if TYPE_CHECKING:
    from agent.memory import Memory

log = logging.getLogger(__name__)


class NewsMemory(Protocol):
    """Claims news as told and forgets it; ``problem`` says why it cannot now (every news is then posted)."""

    problem: str | None

    def claim(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        """True when ``signature`` is news of ``origin`` to post (remembered as told at ``now``), False for a repeat
        told less than ``repeat_s`` ago."""
        ...

    def forget(self, origin: str, signature: str | None = None, told_at: float | None = None) -> None:
        """Forget what ``origin`` told: anything, or only ``signature`` claimed at ``told_at``."""
        ...


class LocalNews:
    """News told, in this process's memory."""

    problem: str | None = None  # it always can

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._told: dict[str, tuple[str, float]] = {}  # origin -> (signature, when)

    def claim(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        with self._lock:
            told = self._told.get(origin)
            if told is not None and told[0] == signature and now - told[1] < repeat_s:
                return False
            self._told[origin] = (signature, now)
            return True

    def forget(self, origin: str, signature: str | None = None, told_at: float | None = None) -> None:
        with self._lock:
            told = self._told.get(origin)
            if told is not None and signature in (None, told[0]) and told_at in (None, told[1]):
                del self._told[origin]


class StoredNews:
    """News told, in the database at ``url`` (opened at first use); when it cannot be used, every news is posted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._memory: Memory | None = None
        self.problem: str | None = None  # why the database cannot be used now (said once), None while it can

    def claim(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        try:
            claimed = self._open().claim_news(origin, signature, now, repeat_s)
        except Exception as exc:  # noqa: BLE001 - a notification is never dropped for want of this memory
            self._failed(exc)
            return True
        self._answered()
        return claimed

    def forget(self, origin: str, signature: str | None = None, told_at: float | None = None) -> None:
        try:
            self._open().forget_news(origin, signature, told_at)
        except Exception as exc:  # noqa: BLE001 - at worst the next news is held back as a repeat
            self._failed(exc)
            return
        self._answered()

    def close(self) -> None:
        with self._lock:
            memory, self._memory = self._memory, None
        if memory is not None:
            memory.close()

    def _open(self) -> Memory:
        with self._lock:
            if self._memory is None:
                from agent.memory import Memory

                self._memory = Memory(self.url)
            return self._memory

    def _failed(self, exc: BaseException) -> None:
        said = database_problem(self.url, exc) or f"{type(exc).__name__}: {exc}"
        with self._lock:
            first, self.problem = self.problem is None, said
        if first:
            log.warning("the memory of news told cannot be used (%s): every notification is posted, repeats "
                        "included, until it answers again", said)

    def _answered(self) -> None:
        with self._lock:
            before, self.problem = self.problem, None
        if before is not None:
            log.warning("the memory of news told (database %s) answers again: repeats are held back again",
                        describe_database(self.url))
