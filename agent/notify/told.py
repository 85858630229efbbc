"""What a notifier has told, per origin: the memory that holds back a repeat of the same news.

:class:`StoredNews` keeps it in the project's database (``notice_holds``), shared by the replicas of ``serve`` and kept
over a restart; a database that cannot be used makes it post every news (said once in the log, and once when it
answers again) rather than drop one, and is asked again at most once a minute meanwhile (each try may wait for the
connect timeout). :class:`LocalNews` keeps it in the process (a notifier without a database).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from agent.memory.db import database_problem, describe_database

if TYPE_CHECKING:
    from agent.memory import Memory

log = logging.getLogger(__name__)
RETRY_S = 60.0
"""While the database of news told cannot be used, how long notifications go without asking it again."""


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
    """News told, in the database at ``url`` (opened at first use); when it cannot be used, every news is posted, and
    the database is tried again ``retry_s`` after it failed (by ``clock``), not for every notification."""

    def __init__(self, url: str, *, retry_s: float = RETRY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.retry_s = retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: Memory | None = None
        self.problem: str | None = None  # why the database cannot be used now (said once), None while it can
        self._next_try = 0.0  # while it cannot: when to ask it again

    def claim(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        if not self._due():
            return True  # posted, as when the database fails
        try:
            claimed = self._open().claim_news(origin, signature, now, repeat_s)
        except Exception as exc:  # noqa: BLE001 - a notification is never dropped for want of this memory
            self._failed(exc)
            return True
        self._answered()
        return claimed

    def forget(self, origin: str, signature: str | None = None, told_at: float | None = None) -> None:
        if not self._due():
            return
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

    def _due(self) -> bool:
        """Whether to ask the database now: while it answers, always; once it failed, one caller per ``retry_s``."""
        with self._lock:
            if self.problem is None:
                return True
            now = self._clock()
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_s
            return True

    def _failed(self, exc: BaseException) -> None:
        said = database_problem(self.url, exc) or f"{type(exc).__name__}: {exc}"
        with self._lock:
            first, self.problem = self.problem is None, said
            self._next_try = self._clock() + self.retry_s
        if first:
            log.warning("the memory of news told cannot be used (%s): every notification is posted, repeats "
                        "included, until it answers again (asked every %g s)", said, self.retry_s)

    def _answered(self) -> None:
        with self._lock:
            before, self.problem = self.problem, None
        if before is not None:
            log.warning("the memory of news told (database %s) answers again: repeats are held back again",
                        describe_database(self.url))
