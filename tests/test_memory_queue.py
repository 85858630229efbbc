"""The durable investigation queue on SQLite: recorded with the incident, claimed once, leased,
retried with backoff, failed when attempts run out, taken again when its worker died."""

from __future__ import annotations

import threading

import pytest

from agent.events import Event
from agent.memory import AlertNotice, Memory, QueueItemNotFoundError, QueueStateError
from agent.memory.models import QueueRow
from agent.memory.queue import MAX_ERROR_CHARS

T = 1_800_000_000.0


def event(service: str = "ranking") -> Event:
    return Event.model_validate({"pattern": "rca", "time": T, "service": service})


def notice(fingerprint: str = "fp-1", service: str = "ranking", status: str = "firing", ts: float = T,
           starts_at: float | None = None) -> AlertNotice:
    return AlertNotice(fingerprint=fingerprint, alertname="HighLatency", service=service, status=status, ts=ts,
                       event=event(service), starts_at=starts_at)


def fire(memory: Memory, fingerprint: str = "fp-1", service: str = "ranking", status: str = "firing"):
    return memory.observe_alert_queued(notice(fingerprint, service, status))


def finished_case(memory: Memory) -> str:
    stored = memory.record_event(event(), source="webhook")
    case = memory.start_case(stored.id, "s")
    return memory.finish_case(case.id, [], {"pattern": "rca", "summary": "ok"}, "report", "offline").id


def test_a_new_incident_and_its_investigation_are_recorded_together(memory):
    seen = fire(memory)
    assert (seen.kind.value, seen.queued, seen.queue_status) == ("new", True, "pending")
    item = memory.get_queued(seen.queue_id)
    assert (item.incident_id, item.status, item.attempts, item.source) == (seen.incident_id, "pending", 0, "webhook")
    assert item.event == event() and item.thread_id.startswith(f"queue-{item.id}-")
    repeat = fire(memory)
    assert (repeat.kind.value, repeat.queued, repeat.queue_id) == ("repeat", False, seen.queue_id)
    duplicate = fire(memory, "fp-2")
    assert (duplicate.kind.value, duplicate.queued, duplicate.queue_id) == ("duplicate", False, seen.queue_id)
    resolved = fire(memory, "fp-1", status="resolved")
    assert resolved.queue_id is None
    assert memory.queue_stats().pending == memory.queue_outstanding() == 1


def test_a_failed_store_leaves_neither_incident_nor_item(memory, monkeypatch):
    import agent.memory.queue as queue

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(queue, "_ensure_queued", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        fire(memory)
    assert memory.open_incidents() == [] and memory.list_queued() == []


def test_one_worker_gets_an_item_and_the_oldest_first(memory):
    first, second = fire(memory, "a", "s1"), fire(memory, "b", "s2")
    got = memory.claim_queued("w1", lease_s=60, max_attempts=3)
    assert (got.id, got.status, got.attempts, got.claimed_by) == (first.queue_id, "running", 1, "w1")
    assert memory.claim_queued("w2", lease_s=60, max_attempts=3).id == second.queue_id
    assert memory.claim_queued("w3", lease_s=60, max_attempts=3) is None


def test_concurrent_claims_from_several_connections_take_each_item_once(memory, bianque_home):
    for i in range(30):
        fire(memory, f"fp-{i}", f"svc-{i}")
    taken: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        with Memory() as own:  # its own engine, as another process would have
            while (item := own.claim_queued(name, lease_s=60, max_attempts=3)) is not None:
                with lock:
                    taken.append((item.id, name))

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [item_id for item_id, _ in taken]
    assert len(ids) == len(set(ids)) == 30


def test_a_failure_waits_its_backoff_then_is_retried(memory):
    fire(memory)
    item = memory.claim_queued("w1", lease_s=60, max_attempts=3, now=T)
    failed = memory.fail_queued(item.id, "w1", "ValueError: boom", retry_in=60)
    assert (failed.status, failed.last_error, failed.claimed_by) == ("pending", "ValueError: boom", None)
    assert memory.claim_queued("w1", lease_s=60, max_attempts=3) is None  # not before its backoff
    again = memory.claim_queued("w2", lease_s=60, max_attempts=3, now=failed.not_before + 1)
    assert (again.id, again.attempts, again.claimed_by) == (item.id, 2, "w2")
    final = memory.fail_queued(item.id, "w2", "ValueError: boom again", retry_in=None)
    assert (final.status, final.finished_at is not None) == ("failed", True)
    assert memory.claim_queued("w3", lease_s=60, max_attempts=3, now=T + 10_000) is None
    assert [i.id for i in memory.list_queued("failed")] == [item.id]


def test_a_stale_lease_is_taken_again_and_the_old_worker_cannot_finish(memory):
    seen = fire(memory)
    item = memory.claim_queued("dead", lease_s=10, max_attempts=3, now=T)
    assert memory.claim_queued("w2", lease_s=10, max_attempts=3, now=T + 5) is None  # lease still good
    taken = memory.claim_queued("w2", lease_s=10, max_attempts=3, now=T + 11)
    assert (taken.id, taken.claimed_by, taken.attempts) == (item.id, "w2", 2)
    case_id = finished_case(memory)
    assert memory.finish_queued(item.id, "dead", case_id) is None
    assert memory.fail_queued(item.id, "dead", "late", retry_in=0) is None
    done = memory.finish_queued(item.id, "w2", case_id)
    assert (done.status, done.case_id) == ("done", case_id)
    assert memory.get_incident(seen.incident_id).case_id == case_id  # linked in the same transaction


def test_an_item_abandoned_on_its_last_attempt_is_failed_not_run_again(memory):
    fire(memory)
    item = memory.claim_queued("dead", lease_s=10, max_attempts=1, now=T)
    assert memory.claim_queued("w2", lease_s=10, max_attempts=1, now=T + 11) is None
    failed = memory.get_queued(item.id)
    assert failed.status == "failed" and "worker dead stopped or crashed" in failed.last_error


def test_renewing_keeps_the_lease_and_reports_lost_ones(memory):
    fire(memory, "a", "s1")
    fire(memory, "b", "s2")
    mine = memory.claim_queued("w1", lease_s=10, max_attempts=3)
    other = memory.claim_queued("w2", lease_s=10, max_attempts=3)
    assert memory.renew_leases("w1", [mine.id, other.id], lease_s=100) == [other.id]
    assert memory.get_queued(mine.id).lease_until > mine.lease_until + 50


def test_release_claims_puts_a_dead_workers_items_back(memory):
    fire(memory, "a", "s1")
    fire(memory, "b", "s2")
    memory.claim_queued("dead", lease_s=600, max_attempts=3)
    memory.claim_queued("alive", lease_s=600, max_attempts=3)
    assert memory.queue_claimants() == ["alive", "dead"]
    assert memory.release_claims(["dead"]) == 1
    assert memory.claim_queued("w3", lease_s=600, max_attempts=3).claimed_by == "w3"
    assert memory.queue_claimants() == ["alive", "w3"]


def test_a_repeat_requeues_a_failed_investigation_and_an_old_incident_without_item(memory):
    seen = fire(memory)
    item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
    memory.fail_queued(item.id, "w1", "boom", retry_in=None)
    again = fire(memory)
    assert (again.queued, again.queue_id, again.queue_status) == (True, item.id, "pending")
    assert memory.get_queued(item.id).attempts == 0
    with memory._write() as session:  # an incident from before the queue existed
        session.delete(session.get(QueueRow, item.id))
    restored = fire(memory)
    assert restored.queued and restored.queue_id != item.id
    assert memory.get_queued(restored.queue_id).incident_id == seen.incident_id


def test_retry_by_hand_only_for_failed_items(memory):
    fire(memory)
    item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
    with pytest.raises(QueueStateError, match="is running; only a failed one can be retried"):
        memory.retry_queued(item.id)
    memory.fail_queued(item.id, "w1", "boom", retry_in=None)
    assert memory.retry_queued(item.id).status == "pending"
    with pytest.raises(QueueItemNotFoundError):
        memory.retry_queued("nope")


def test_stats_count_each_state(memory):
    for i in range(3):
        fire(memory, f"fp-{i}", f"svc-{i}")
    item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
    memory.fail_queued(item.id, "w1", "boom", retry_in=None)
    memory.claim_queued("w1", lease_s=60, max_attempts=1)
    stats = memory.queue_stats()
    assert (stats.pending, stats.running, stats.done, stats.failed, stats.outstanding) == (1, 1, 0, 1, 2)
    assert stats.oldest_pending_at is not None


def test_a_stale_firing_copy_queues_nothing_even_when_the_investigation_failed(memory):
    check_stale_copy_and_refire(memory)


def check_stale_copy_and_refire(memory: Memory) -> None:
    """A firing copy of a resolved episode (same startsAt) opens and queues nothing, not even for an incident
    whose investigation failed; a re-fire (newer startsAt) opens and queues a new incident. Also run on PostgreSQL."""
    def send(status: str, ts: float, starts_at: float):
        return memory.observe_alert_queued(notice("fp-1", "ranking", status, ts, starts_at))

    seen = send("firing", T, T - 60)
    item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
    memory.fail_queued(item.id, "w1", "ValueError: boom", retry_in=None)
    send("resolved", T + 60, T - 60)
    stale = send("firing", T + 90, T - 60)  # a late copy of the resolved episode
    assert (stale.kind.value, stale.incident_id, stale.queued, stale.queue_id) == (
        "stale", seen.incident_id, False, None
    )
    assert memory.get_queued(item.id).status == "failed" and memory.queue_outstanding() == 0
    refire = send("firing", T + 900, T + 800)
    assert (refire.kind.value, refire.queued) == ("new", True) and memory.queue_outstanding() == 1


def test_a_failures_message_is_stored_as_text_any_database_takes(memory):
    check_failure_message_stored(memory)


def check_failure_message_stored(memory: Memory) -> None:
    """An investigation's error quotes untrusted text (a log line, a file): a NUL, a lone surrogate and other control
    characters are stored as spaces and "?", newlines kept, bounded. Also run on PostgreSQL, which refuses a NUL."""
    fire(memory)
    item = memory.claim_queued("w1", lease_s=60, max_attempts=3, now=T)
    failed = memory.fail_queued(item.id, "w1", "ValueError: bad line\x00\x07 \ud800\nnext" + "x" * 5000, retry_in=60)
    stored = memory.get_queued(item.id).last_error
    assert stored == failed.last_error and stored.startswith("ValueError: bad line   ?\nnextxxx")
    assert len(stored) == MAX_ERROR_CHARS and stored.endswith("x…")


def test_would_queue_rehearses_in_order_and_writes_nothing(memory):
    check_would_queue(memory)


def check_would_queue(memory: Memory) -> None:
    """``would_queue`` is True only for notifications that would queue an investigation, taken in order (a
    resolution first can turn a later duplicate into a new incident), and leaves memory as it was. Also run on
    PostgreSQL."""
    fired = memory.observe_alert_queued(notice("fp-1", "ranking", starts_at=T - 60))
    item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
    memory.finish_queued(item.id, "w1", finished_case(memory))
    memory.observe_alert_queued(notice("fp-3", "search", starts_at=T - 60))  # queued, pending
    memory.observe_alert_queued(notice("fp-1", "ranking", "resolved", T + 60, starts_at=T - 60))
    before = (memory.list_queued(), memory.open_incidents())

    stale = notice("fp-1", "ranking", ts=T + 90, starts_at=T - 60)  # a late copy of the resolved episode
    assert not memory.would_queue([stale, stale, notice("fp-3", "search"), notice("fp-4", "search")])
    assert memory.would_queue([notice("fp-2", "cache")])  # a new incident
    assert memory.would_queue([notice("fp-3", "search", "resolved", T + 60), notice("fp-4", "search")])
    assert memory.would_queue([notice("", "cache"), notice("fp-2", "cache")])  # a bad one counts for nothing
    assert not memory.would_queue([notice("", "cache")]) and not memory.would_queue([])
    assert (memory.list_queued(), memory.open_incidents()) == before
    assert memory.observe_alert_queued(notice("fp-2", "cache")).kind.value == "new"  # not rehearsed as stored
    assert memory.get_incident(fired.incident_id).status == "resolved"
