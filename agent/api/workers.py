"""Worker threads of ``bianque serve``: take queued investigations from the database and run them.

Every process runs a few workers; any number of processes may share one database (see
:mod:`agent.memory.queue` for how an item goes to exactly one worker). A heartbeat renews the
leases of the items this process runs. At start, items held by a dead process of this host are
released at once; items of a dead process elsewhere are taken when their lease runs out.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from agent.api.investigator import Investigator
from agent.graph.owner import owner_gone, process_owner
from agent.memory import Memory, QueueItemRecord
from agent.memory.db import database_problem, failure_reason, first_line_said
from agent.notify import Notifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerPolicy:
    """How workers take, hold and retry queued investigations (from :class:`ApiSettings`)."""

    workers: int = 2
    lease_s: float = 120.0
    poll_s: float = 2.0
    max_attempts: int = 3
    backoff_s: float = 30.0
    backoff_max_s: float = 900.0

    def retry_in(self, attempts: int) -> float | None:
        """Seconds before the next try after ``attempts`` failed ones; None when they are used up."""
        if attempts >= self.max_attempts:
            return None
        return min(self.backoff_s * 2 ** (attempts - 1), self.backoff_max_s)


def worker_identity() -> str:
    """``host:pid:token``: which process holds an item (the token tells a restarted pid apart)."""
    return f"{process_owner()}:{uuid.uuid4().hex[:8]}"


def is_dead_here(claimant: str, me: str) -> bool:
    """True when ``claimant`` (``host:pid:token``) was a process of this host that is gone (another host: unknown,
    False); ``me`` is this process's claimant (the same host and pid with another token: an earlier life of this
    pid, e.g. pid 1 in a restarted container). The schedules' claims are judged alike (``owner_gone``)."""
    owner, _, token = claimant.rpartition(":")
    my_owner, _, my_token = me.rpartition(":")
    if not owner or not my_owner:
        return False
    if owner == my_owner:
        return token != my_token
    return owner_gone(owner)


class QueueWorkers:
    """``policy.workers`` threads running queued investigations through ``investigator``."""

    def __init__(self, memory: Memory, investigator: Investigator, policy: WorkerPolicy,
                 notifier: Notifier | None = None) -> None:
        self.memory = memory
        self.investigator = investigator
        self.policy = policy
        self.notifier = notifier or Notifier(None)  # told of each finished investigation and each given up
        self.identity = worker_identity()
        self.completed = 0
        self.failed_attempts = 0
        self.problem: str | None = None  # why queued work cannot be taken now (logged once, when it starts)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> int:
        """Items this process is investigating now."""
        with self._lock:
            return len(self._held)

    @property
    def up(self) -> bool:
        """Started, every thread alive, and taking queued work (no ``problem``)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and self.problem is None

    def start(self) -> None:
        """Release this host's dead workers' items, then start the workers and the lease heartbeat."""
        try:
            dead = [c for c in self.memory.queue_claimants() if is_dead_here(c, self.identity)]
            released = self.memory.release_claims(dead)
            if released:
                log.warning("took up %d investigation(s) left running by a stopped process", released)
        except Exception:
            log.exception("could not check for investigations left by a stopped process")
        self._threads = [
            threading.Thread(target=self._work, name=f"bianque-worker-{i}", daemon=True)
            for i in range(self.policy.workers)
        ]
        self._threads.append(threading.Thread(target=self._heartbeat, name="bianque-lease", daemon=True))
        for thread in self._threads:
            thread.start()

    def notify(self) -> None:
        """Wake idle workers now (new work was queued by this process)."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Take no more work; wait up to ``timeout`` s for running investigations.

        One still running after that keeps its row ``running``: its lease is no longer renewed, so
        another replica (or this one, restarted) takes it up and resumes it from its checkpoint.
        """
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._take()
            if item is None:
                self._wake.wait(self.policy.poll_s)
                self._wake.clear()
                continue
            self._run(item)

    def _take(self) -> QueueItemRecord | None:
        """The next due item for this process, or None: none is due, or taking one failed (a database that does not
        answer, or whose schema is not current: every poll meets it again). A failure is logged when it starts or
        changes (one line naming the database for a database's failure), its end once; ``problem`` holds it
        meanwhile (``GET /healthz`` shows it)."""
        try:
            item = self.memory.claim_queued(
                self.identity, lease_s=self.policy.lease_s, max_attempts=self.policy.max_attempts
            )
        except Exception as exc:
            said = database_problem(self.memory.engine.url, exc)
            with self._lock:
                before, self.problem = self.problem, said or f"{type(exc).__name__}: {first_line_said(exc)}"
            if self.problem == before:
                return None
            retry = f"trying again every {self.policy.poll_s:g} s, said again only if it changes"
            if said is None:
                log.exception("cannot take queued work; %s", retry, exc_info=exc)
            else:
                log.error("cannot take queued work: %s; %s", said, retry)
            return None
        with self._lock:
            before, self.problem = self.problem, None
        if before is not None:
            log.warning("taking queued work again (it failed: %s)", before)
        return item

    def _run(self, item: QueueItemRecord) -> None:
        with self._lock:
            self._held.add(item.id)
        try:
            self._investigate(item)
        except Exception as exc:  # the database failed while recording the outcome: the lease runs out, it is retried
            log.warning("could not record the outcome of queued investigation %s (retried once its lease runs out): "
                        "%s", item.id, failure_reason(exc))
            log.debug("the failure in full", exc_info=exc)
        finally:
            with self._lock:
                self._held.discard(item.id)

    def _investigate(self, item: QueueItemRecord) -> None:
        try:
            result = self.investigator(item.event, skill=item.skill, source=item.source, thread_id=item.thread_id)
            if not result.case_id:
                raise RuntimeError("the investigation finished without storing a case")
        except Exception as exc:
            retry_in = self.policy.retry_in(item.attempts)
            why = failure_reason(exc)  # a database's error: its first line, never the statement or its values
            with self._lock:
                self.failed_attempts += 1
            log.warning(
                "queued investigation %s (incident %s) failed on attempt %d: %s; %s",
                item.id, item.incident_id, item.attempts, why,
                "giving up" if retry_in is None else f"retrying in {retry_in:.0f} s",
            )
            self.memory.fail_queued(item.id, self.identity, why, retry_in=retry_in)
            if retry_in is None:
                self.notifier.failure(_origin(item), f"{why} (after {item.attempts} attempts)")
            return
        if self.memory.finish_queued(item.id, self.identity, result.case_id) is None:
            log.warning("queued investigation %s finished after its lease was lost (case %s)", item.id, result.case_id)
            return
        with self._lock:
            self.completed += 1
        log.info("incident %s investigated: case %s (queue item %s)", item.incident_id, result.case_id, item.id)
        self.notifier.result(result, item.event, _origin(item))

    def _heartbeat(self) -> None:
        interval = self.policy.lease_s / 4
        while not self._stop.wait(interval):
            with self._lock:
                held = sorted(self._held)
            try:
                lost = self.memory.renew_leases(self.identity, held, self.policy.lease_s)
            except Exception:
                log.exception("could not renew the leases of running investigations")
                continue
            for queue_id in lost:
                log.warning("lost the lease of queued investigation %s (another worker may take it)", queue_id)


def _origin(item: QueueItemRecord) -> str:
    """What a queued investigation's notification says started it."""
    return f"alert investigation (incident {item.incident_id})" if item.incident_id else \
        f"queued investigation {item.id}"
