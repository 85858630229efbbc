"""The service's queue workers: backoff policy, taking up work a stopped process left, resuming an
interrupted investigation from its checkpoint; and scheduled ticks run once across processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from types import SimpleNamespace

from agent.api.dryrun import DryRunInvestigator
from agent.api.investigator import LiveInvestigator
from agent.api.workers import QueueWorkers, WorkerPolicy, is_dead_here
from agent.config import get_settings
from agent.memory import Memory
from agent.scheduler.specs import last_tick
from tests.fixtures.graph.world import FlakyReasoner, alert_event, make_toolkit, source_calls

FAST = WorkerPolicy(workers=2, lease_s=600, poll_s=0.05, max_attempts=3, backoff_s=0, backoff_max_s=0)


def drain(memory: Memory, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while memory.queue_outstanding():
        assert time.monotonic() < deadline, f"the queue did not drain: {memory.queue_stats()}"
        time.sleep(0.02)


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_backoff_doubles_up_to_its_cap_and_stops_at_the_last_attempt():
    policy = WorkerPolicy(max_attempts=5, backoff_s=30, backoff_max_s=100)
    assert [policy.retry_in(n) for n in (1, 2, 3, 4, 5)] == [30, 60, 100, 100, None]


def test_a_claimant_is_dead_only_when_it_was_a_gone_process_of_this_host():
    host = socket.gethostname()
    me = f"{host}:{os.getpid()}:aaaa"
    assert is_dead_here(f"{host}:{dead_pid()}:bbbb", me)
    assert is_dead_here(f"{host}:{os.getpid()}:bbbb", me)  # an earlier life of this very pid
    assert not is_dead_here(me, me)
    assert not is_dead_here(f"{host}:{os.getppid()}:bbbb", me)  # alive
    assert not is_dead_here(f"elsewhere:{dead_pid()}:bbbb", me)  # another host: only its lease tells
    assert not is_dead_here("garbage", me)


def test_work_left_running_by_a_dead_process_is_taken_up_at_start(memory):
    queued = [memory.enqueue(alert_event(service=f"svc-{i}"), source="webhook") for i in range(3)]
    claimant = f"{socket.gethostname()}:{dead_pid()}:gone"
    left = memory.claim_queued(claimant, lease_s=3600, max_attempts=3)  # its lease would last an hour
    investigator = DryRunInvestigator(memory)
    workers = QueueWorkers(memory, investigator, FAST)
    workers.start()
    try:
        drain(memory)
    finally:
        workers.stop()
    items = [memory.get_queued(q.id) for q in queued]
    assert all(i.status == "done" and i.case_id for i in items)
    assert next(i for i in items if i.id == left.id).attempts == 2
    assert workers.completed == 3


def test_an_investigation_still_running_at_stop_is_finished_after_a_restart(memory):
    item = memory.enqueue(alert_event(), source="webhook")
    release = threading.Event()
    started = threading.Event()
    dry_run = DryRunInvestigator(memory)
    calls: list[str] = []

    def investigator(event, *, skill=None, source="api", thread_id=None):
        calls.append(thread_id)
        if len(calls) == 1:  # the first life hangs until after it was stopped
            started.set()
            release.wait(30)
            raise RuntimeError("interrupted")
        return dry_run(event, skill=skill, source=source, thread_id=thread_id)

    first = QueueWorkers(memory, investigator, FAST)
    first.start()
    assert started.wait(30)
    first.stop(timeout=0.1)
    assert memory.get_queued(item.id).status == "running"  # left with its lease, not dropped
    second = QueueWorkers(memory, investigator, FAST)  # the restarted service: same host and pid
    second.start()
    try:
        drain(memory)
    finally:
        release.set()
        second.stop()
    done = memory.get_queued(item.id)
    assert (done.status, done.attempts, done.claimed_by) == ("done", 2, None)
    assert calls == [item.thread_id, item.thread_id]
    time.sleep(0.2)  # the first life now fails late: it no longer holds the item, nothing changes
    assert memory.get_queued(item.id).status == "done"


def test_a_crashed_queued_investigation_resumes_from_its_checkpoint(memory, monkeypatch):
    """Attempt 1 crashes in the reasoner after gathering; attempt 2 finishes from the checkpoint."""
    import agent.runtime as runtime

    toolkits = [make_toolkit(reasoner=FlakyReasoner(failures=1), memory=memory), make_toolkit(memory=memory)]
    monkeypatch.setattr(runtime, "open_knowledge", lambda settings: None)
    monkeypatch.setattr(runtime, "live_toolkit", lambda settings, knowledge=None, memory=None: toolkits.pop(0))
    crashed, resumed = toolkits
    item = memory.enqueue(alert_event(), source="webhook")
    investigator = LiveInvestigator(get_settings())
    workers = QueueWorkers(memory, investigator, FAST)
    workers.start()
    try:
        drain(memory)
    finally:
        workers.stop()
        investigator.close()
    done = memory.get_queued(item.id)
    assert (done.status, done.attempts) == ("done", 2)
    assert source_calls(crashed) > 0 and source_calls(resumed) == 0  # nothing gathered again
    case = memory.get_case(done.case_id)
    assert (case.status, case.thread_id, case.skill) == ("done", item.thread_id, "graph-api-rca")
    failed = [c for c in memory.list_cases() if c.status == "failed"]
    assert [c.thread_id for c in failed] == [item.thread_id]  # the crash stays on record


def test_last_tick_is_the_newest_cron_time_not_after_now():
    now = datetime(2026, 3, 2, 12, 34, 56, tzinfo=UTC).timestamp()
    assert last_tick("*/10 * * * *", now, lookback=1800) == datetime(2026, 3, 2, 12, 30, tzinfo=UTC).timestamp()
    assert last_tick("0 3 * * *", now, lookback=1800) is None


def test_two_processes_firing_the_same_tick_run_the_inspection_once(memory):
    memory.save_schedule("every-minute", "disk-check", "* * * * *")
    tick = last_tick("* * * * *", time.time(), lookback=120)
    assert memory.claim_schedule_tick("every-minute", tick, "host:1")
    assert not memory.claim_schedule_tick("every-minute", tick, "host:2")
    assert memory.claim_schedule_tick("every-minute", tick + 60, "host:2")  # the next tick is free again
    assert memory.get_schedule("every-minute").job_id == "every-minute"


def test_scheduled_inspection_skips_a_tick_another_process_ran(memory, monkeypatch):
    from agent.scheduler import jobs

    runs: list[str] = []

    def run_inspection(skill, services, job_id, trigger):
        runs.append(f"{job_id} ({trigger})")
        return SimpleNamespace(result=SimpleNamespace(case_id="c1"), event=None)

    monkeypatch.setattr(jobs, "run_inspection", run_inspection)
    monkeypatch.setattr(jobs, "last_tick", lambda cron, now, lookback: 1_800_000_000.0)  # both fire one tick
    memory.save_schedule("every-minute", "disk-check", "* * * * *")
    jobs.scheduled_inspection("every-minute")
    jobs.scheduled_inspection("every-minute")  # the other replica's scheduler, same tick
    assert runs == ["every-minute (scheduled)"]



def test_a_worker_meeting_a_schema_error_logs_it_once_and_health_keeps_reporting_it(memory, investigator, caplog,
                                                                                 monkeypatch):
    """The queue table dropped from the SQLite file under a running service: every poll meets "no such table"; it
    was logged with its traceback on every poll (twice a second per worker here), for ever."""
    import sqlite3

    from agent.memory.models import Base
    from tests.test_api_support import make_client

    polls = threading.Condition()
    count = [0]
    claim = memory.claim_queued

    def counted(*args, **kwargs):
        try:
            return claim(*args, **kwargs)
        finally:
            with polls:
                count[0] += 1
                polls.notify_all()

    def polled(times: int) -> None:
        """Wait (bounded) until the workers have polled ``times`` more times."""
        with polls:
            target = count[0] + times
            assert polls.wait_for(lambda: count[0] >= target, timeout=30), count[0]

    monkeypatch.setattr(memory, "claim_queued", counted)
    caplog.set_level("INFO", logger="agent.api.workers")
    with make_client(memory, investigator) as client:
        polled(2)
        with sqlite3.connect(memory.engine.url.database) as raw:
            raw.execute("DROP TABLE investigation_queue")
        polled(20)
        health = client.get("/healthz").json()
        Base.metadata.tables["investigation_queue"].create(memory.engine)  # back, as a restore would bring it
        polled(20)
        healthy = client.get("/healthz").json()
    said = (f"database schema is not current: {memory.engine.url.database}: no such table: investigation_queue; "
            "`python -m agent.memory.migrate upgrade` brings it")
    logged = [r for r in caplog.records if r.name == "agent.api.workers"]
    assert [r.levelname for r in logged] == ["ERROR", "WARNING"], [r.getMessage() for r in logged]
    failed, back = (r.getMessage() for r in logged)
    assert failed.startswith(f"cannot take queued work: {said}") and logged[0].exc_info is None
    assert back.startswith(f"taking queued work again (it failed: {said}")
    assert health["status"] == "unavailable" and health["detail"].startswith(said)
    assert health["workers"]["problem"].startswith(said)
    assert healthy["status"] == "ok" and healthy["workers"]["problem"] is None


def test_a_failure_to_take_work_that_is_no_database_problem_shows_its_first_line_not_the_statement(
        memory, investigator, monkeypatch):
    """``workers.problem`` of GET /healthz quoted the whole error: for SQLAlchemy's, the statement and its values."""
    import threading

    from sqlalchemy.exc import IntegrityError

    from tests.test_api_support import make_client

    tried = threading.Event()

    def refused(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        tried.set()
        raise IntegrityError("UPDATE investigation_queue SET claimed_by=?", ("host:1:secret-claim",),
                             Exception("CHECK constraint failed: claim\nDETAIL: more"))

    monkeypatch.setattr(memory, "claim_queued", refused)
    with make_client(memory, investigator) as client:
        assert tried.wait(timeout=30)
        problem = None
        for _ in range(300):  # the worker sets it right after the failed claim; bounded, no timing asserted
            problem = client.get("/healthz").json()["workers"]["problem"]
            if problem:
                break
            tried.wait(0.01)
    assert problem == "IntegrityError: CHECK constraint failed: claim"


def test_an_outcome_the_database_cannot_record_is_one_warning_line_not_a_traceback(memory, caplog, monkeypatch):
    """A database outage had filled the log with five chained tracebacks per queued item."""
    item = memory.enqueue(alert_event(), source="webhook")
    workers = QueueWorkers(memory, DryRunInvestigator(memory), FAST)

    def outage(_item):
        raise RuntimeError("connection to server at 127.0.0.1 port 15432 failed: Connection refused")

    monkeypatch.setattr(workers, "_investigate", outage)
    caplog.set_level("INFO", logger="agent.api.workers")
    workers._run(item)
    [record] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert record.getMessage() == (f"could not record the outcome of queued investigation {item.id} (retried once its "
                                   "lease runs out): RuntimeError: connection to server at 127.0.0.1 port 15432 "
                                   "failed: Connection refused")
    assert record.exc_info is None


def test_a_database_error_failing_a_queued_investigation_is_kept_as_its_first_line(memory, caplog):
    """The queue's ``last_error``, the log and the notification of a run given up had held the database's whole
    message: PostgreSQL's quotes the refused parameter, here alert text, which a chat notification would post."""
    import sqlite3

    from sqlalchemy.exc import DataError

    item = memory.enqueue(alert_event(), source="webhook")

    def investigator(event, *, skill=None, source="api", thread_id=None):  # noqa: ANN001, ANN202, ARG001
        raise DataError("INSERT INTO checkpoints VALUES (%(p)s)", {"p": "annotation: secret text"},
                        sqlite3.DataError("invalid byte sequence\nCONTEXT: unnamed portal parameter $5 = 'secret'"))

    workers = QueueWorkers(memory, investigator, WorkerPolicy(workers=1, lease_s=600, poll_s=0.05, max_attempts=1))
    workers.start()
    try:
        drain(memory)
    finally:
        workers.stop()
    failed = memory.get_queued(item.id)
    assert (failed.status, failed.last_error) == ("failed", "DataError: invalid byte sequence")
    said = " ".join(r.getMessage() for r in caplog.records if r.name == "agent.api.workers")
    assert "DataError: invalid byte sequence; giving up" in said and "secret" not in said
