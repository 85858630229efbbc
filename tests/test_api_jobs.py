"""The background job pool: a job failed by stop() is never run, whenever stop() comes."""

from __future__ import annotations

import threading

from agent.api.jobs import BackgroundJobs


def test_a_job_failed_by_stop_after_a_worker_took_it_is_not_run() -> None:
    jobs = BackgroundJobs(workers=1)
    gate, ran = threading.Event(), []
    jobs.submit("test", {}, lambda _progress: gate.wait(60))  # holds the only worker (or is failed by stop)
    late = jobs.submit("test", {}, lambda _progress: ran.append("late"))
    try:
        jobs.stop(timeout=0)  # fails the pending job ...
        assert late.status == "failed"
        jobs._run(late)  # ... that a worker had already taken off the queue and seen pending: the racy order
        assert (late.status, late.error, ran) == ("failed", "the service stopped before the job ran", [])
    finally:
        gate.set()
        jobs.stop()
    assert ran == [] and late.started_at is None
