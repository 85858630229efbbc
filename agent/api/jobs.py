"""Background jobs of ``bianque serve``: library work too long for a request (a Skill refinement replays for
tens of seconds) runs on worker threads, and the client polls the job for its progress and result.

Like the investigation queue (:mod:`agent.api.workers`), a bounded number of threads takes the work and a
full backlog is refused (503) instead of growing. Unlike the queue, a job lives in the process that runs
it: it proposes and writes nothing to the database until it is applied, so a restart forgets it (the
client asks again), and with several replicas the client polls the replica that answered the POST.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.memory import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)
JobStatus = Literal["pending", "running", "done", "failed"]
Work = Callable[[Callable[[Any], None]], Any]
"""A job's work: called with a progress callback, returns the job's result."""


class JobNotFoundError(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job with id {job_id!r} in this process (jobs are kept until the service restarts, "
                         "the newest finished ones only)")
        self.job_id = job_id


class JobStateError(InvalidInputError):
    """A job that cannot be acted on (yet): still running, or failed."""


class JobsBusyError(RuntimeError):
    """The backlog of unfinished jobs is at its bound: nothing was queued."""


@dataclass
class Job:
    """One unit of background work: its status, last progress, and result or error."""

    id: str
    kind: str
    subject: dict[str, Any]
    work: Work = field(repr=False)
    status: JobStatus = "pending"
    progress: Any = None
    result: Any = None
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None


class BackgroundJobs:
    """``workers`` daemon threads running submitted jobs in order; at most ``max_outstanding`` unfinished
    jobs, and the ``keep`` newest finished ones remembered."""

    def __init__(self, workers: int = 1, max_outstanding: int = 8, keep: int = 100) -> None:
        self.workers = workers
        self.max_outstanding = max_outstanding
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    @property
    def outstanding(self) -> int:
        """Jobs pending or running."""
        with self._lock:
            return self._unfinished()

    def _unfinished(self) -> int:
        """Jobs pending or running (the caller holds the lock)."""
        return sum(1 for j in self._jobs.values() if j.status in ("pending", "running"))

    def submit(self, kind: str, subject: dict[str, Any], work: Work) -> Job:
        """Queue ``work`` (JobsBusyError when ``max_outstanding`` are unfinished); workers start on first use."""
        job = Job(uuid.uuid4().hex, kind, subject, work)
        with self._lock:
            if self._stopped:
                raise JobsBusyError("the service is stopping: no job is taken")
            unfinished = self._unfinished()
            if unfinished >= self.max_outstanding:
                raise JobsBusyError(f"{unfinished} jobs are unfinished, the bound (BIANQUE_API_MAX_JOBS); "
                                    "nothing was queued, retry later")
            self._jobs[job.id] = job
            self._forget_old()
            if not self._threads:
                self._threads = [threading.Thread(target=self._work, name=f"bianque-job-{i}", daemon=True)
                                 for i in range(self.workers)]
                for thread in self._threads:
                    thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job:
        """One job (JobNotFoundError when unknown or forgotten)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def stop(self, timeout: float = 30.0) -> None:
        """Take no more jobs, fail the pending ones, and wait up to ``timeout`` s for the running ones."""
        with self._lock:
            self._stopped = True
            for job in self._jobs.values():
                if job.status == "pending":
                    self._finish(job, "failed", error="the service stopped before the job ran")
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.finished_at is not None), key=lambda j: j.finished_at)
        for job in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job.id]

    @staticmethod
    def _finish(job: Job, status: JobStatus, *, result: Any = None, error: str | None = None) -> None:
        job.result, job.error, job.finished_at = result, error, time.time()
        job.status = status  # last: a poller that sees "done" sees the result

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(job)

    def _claim(self, job: Job) -> bool:
        """Pending → running under the lock stop() fails pending jobs under; False when it is not pending."""
        with self._lock:
            if job.status != "pending":
                return False
            job.started_at, job.status = time.time(), "running"
            return True

    def _run(self, job: Job) -> None:
        if not self._claim(job):  # failed by stop(): never run
            return
        try:
            result = job.work(lambda step: setattr(job, "progress", step))
        except Exception as exc:  # the job fails, the worker goes on
            log.warning("%s job %s failed: %s: %s", job.kind, job.id, type(exc).__name__, exc, exc_info=exc)
            self._finish(job, "failed", error=_message(exc))
        else:
            self._finish(job, "done", result=result)


def _message(exc: Exception) -> str:
    """An error for the client: expected failures as they are, anything else with its type."""
    if isinstance(exc, (LookupError, ValueError)):
        return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    return f"{type(exc).__name__}: {exc}"
