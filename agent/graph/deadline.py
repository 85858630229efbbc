"""One investigation's bound on waiting for its sources (``BIANQUE_GATHER_DEADLINE_S``), and the timed runner every
question to a source goes through."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from agent.sources.base import answer_by

MAX_WORKERS = 8
VARIABLE = "BIANQUE_GATHER_DEADLINE_S"
_NOT_STARTED = object()  # what a call's thread returns when it would have begun after its wait ended


class DeadlineReason(str):
    """Why a call brought nothing when the investigation's deadline, not the source, was the cause: a plain ``str``
    to callers that treat every reason alike, told apart by those that say so."""


class GatherDeadline:
    """Seconds one investigation may spend waiting for its sources, summed over its questions (triage's, then each
    phase of gather's, one after the other): each waits at most what is left, and once none is left no question
    is asked. Time between them (the Skill choice, the analysis) does not count. Each run of the graph has its own
    (``Toolkit.for_investigation``)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.spent_s = 0.0
        self._lock = threading.Lock()

    def left(self, keep_s: float = 0.0) -> float:
        """Seconds still to be spent waiting, less ``keep_s`` kept for later questions (0 once none is left)."""
        with self._lock:
            return max(0.0, self.limit_s - self.spent_s - keep_s)

    def spend(self, seconds: float) -> None:
        with self._lock:
            self.spent_s += seconds

    def _said(self, what: str) -> DeadlineReason:
        return DeadlineReason(what.format(f"the investigation's {self.limit_s:g} s for gathering ({VARIABLE})"))

    @property
    def cut(self) -> DeadlineReason:
        """Why a call that was asked brought nothing: the deadline came first."""
        return self._said("not answered within {}")

    @property
    def skipped(self) -> DeadlineReason:
        """Why a call was never asked: the deadline had passed."""
        return self._said("not asked: {} had passed")

    @property
    def kept(self) -> DeadlineReason:
        """Why a question asked before the Skill's own data brought nothing: the rest of the deadline is theirs."""
        return self._said("not read: the rest of {} is kept for the Skill's own data")


def ask(calls: Mapping[str, Callable[[], Any]], timeout: float, deadline: GatherDeadline,
        keep_s: float = 0.0) -> dict[str, Any]:
    """Run ``calls`` in parallel; each entry becomes its result or why there is none, a ``str`` (the exception,
    ``timed out after …``, or one of ``deadline``'s :class:`DeadlineReason`).

    The calls get ``timeout`` per round of ``MAX_WORKERS``, but no more than what is left of ``deadline`` less
    ``keep_s`` (kept for the questions that matter most, asked later); one still running then is given up on and
    never waited for, so a hung source cannot hold up the investigation. Each call runs under
    :func:`agent.sources.base.answer_by` that moment, so a source that bounds its requests by it (the PromQL source,
    the SQL log and change store, an embeddings endpoint) ends its call then too, its thread not left running in the
    background. None starts once the wait has ended, nor at all once nothing is left.
    """
    left = deadline.left(keep_s)
    over = deadline.kept if keep_s > 0 else None
    if not calls or left <= 0:
        return {key: over or deadline.skipped for key in calls}
    budget = timeout * max(1, math.ceil(len(calls) / MAX_WORKERS))
    by_deadline = left < budget
    started = time.monotonic()
    ends = started + min(budget, left)
    late = (over or deadline.cut) if by_deadline else f"timed out after {timeout:g}s"

    def unless_over(fn: Callable[[], Any]) -> Any:
        if time.monotonic() >= ends:
            return _NOT_STARTED
        with answer_by(ends, late):  # a call that ends itself then says what a call given up on says
            return fn()

    pool = ThreadPoolExecutor(max_workers=MAX_WORKERS)
    futures = {key: pool.submit(unless_over, fn) for key, fn in calls.items()}
    try:
        done, _ = wait(futures.values(), timeout=ends - started)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        deadline.spend(time.monotonic() - started)
    out: dict[str, Any] = {}
    for key, future in futures.items():
        if future not in done:
            out[key] = late
            continue
        try:
            result = future.result()
        except Exception as exc:  # a source must never crash the investigation
            result = f"{type(exc).__name__}: {exc}"
        out[key] = result if result is not _NOT_STARTED else (over or deadline.skipped) if by_deadline else late
    return out
