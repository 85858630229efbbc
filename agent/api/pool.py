"""A bounded pool for background investigations: a few workers, a short queue, never unbounded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class InvestigationPool:
    """Runs submitted work on ``workers`` threads; refuses work beyond ``workers + max_pending``."""

    def __init__(self, workers: int = 2, max_pending: int = 32) -> None:
        if workers < 1 or max_pending < 0:
            raise ValueError(f"workers must be >= 1 and max_pending >= 0, got {workers}, {max_pending}")
        self.capacity = workers + max_pending
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bianque-investigation")
        self._idle = threading.Condition()
        self._in_flight = 0
        self.completed = 0
        self.failed = 0

    @property
    def in_flight(self) -> int:
        """Work running or waiting."""
        with self._idle:
            return self._in_flight

    def free_slots(self) -> int:
        """How much more work would be accepted right now."""
        with self._idle:
            return self.capacity - self._in_flight

    def submit(self, work: Callable[..., Any], *args: Any, name: str = "") -> bool:
        """Queue ``work(*args)``; False (nothing queued) when the pool is full or shut down."""
        with self._idle:
            if self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
        try:
            self._executor.submit(self._run, work, args, name)
        except RuntimeError:  # shut down
            self._done(failed=True)
            return False
        return True

    def _run(self, work: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        failed = False
        try:
            work(*args)
        except Exception:
            failed = True
            log.exception("background investigation %s failed", name or work)
        finally:
            self._done(failed)

    def _done(self, failed: bool) -> None:
        with self._idle:
            self._in_flight -= 1
            if failed:
                self.failed += 1
            else:
                self.completed += 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is running or waiting; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def shutdown(self, wait: bool = True, cancel_pending: bool = False) -> None:
        """Stop accepting work; ``cancel_pending`` drops what has not started, ``wait`` waits for the rest."""
        self._executor.shutdown(wait=wait, cancel_futures=cancel_pending)
