"""Repeats held back by the news told kept in the database: over a restart, across replicas, and without it."""

from __future__ import annotations

import logging
import socket
import threading

from agent.config import get_settings
from agent.notify import Notifier
from agent.notify.told import StoredNews
from tests.fakes.receiver import receiving
from tests.fixtures.graph.world import inspection_event
from tests.test_notify import DISK, ORIGIN, inspection, result


def replica(url: str, database: str, **options) -> Notifier:
    """A notifier as one process has it: its own connections to the shared database."""
    return Notifier(url, repeat_s=3600, told=StoredNews(database), **options)


def post(notifier: Notifier, *items) -> bool:
    return notifier.result(result(inspection(*items)), inspection_event(), ORIGIN)


def test_the_news_told_outlives_a_restart_and_a_healthy_run_ends_it_for_every_replica(tmp_path):
    database = f"sqlite:///{tmp_path / 'memory.db'}"
    with receiving() as receiver:
        before = replica(receiver.url, database)
        assert post(before, DISK) and before.flush(30)
        restarted, other = replica(receiver.url, database), replica(receiver.url, database)
        assert not post(restarted, DISK) and not post(other, DISK)  # the same news: held back by both
        assert restarted.status()["repeats_held"] == 1
        assert not post(other)  # healthy, told by one replica: the trouble is over for all
        assert post(restarted, DISK) and restarted.flush(30)
    assert len(receiver.posts) == 2 and restarted.status()["repeats_problem"] is None


def test_news_whose_post_failed_is_not_remembered_as_told(tmp_path):
    database = f"sqlite:///{tmp_path / 'memory.db'}"
    with receiving([404]) as receiver:
        refused = replica(receiver.url, database, sleep=lambda _: None)
        assert post(refused, DISK) and refused.flush(30) and refused.status()["failed"] == 1
        restarted = replica(receiver.url, database)
        assert post(restarted, DISK) and restarted.flush(30)  # posted by the next process: it was never delivered
        assert post(refused, DISK.model_copy(update={"severity": "critical"})) and refused.flush(30)
    assert len(receiver.posts) == 3


def test_two_replicas_posting_the_same_news_at_once_post_it_once(tmp_path):
    check_replicas_post_once(f"sqlite:///{tmp_path / 'memory.db'}")


def check_replicas_post_once(database: str, replicas: int = 2) -> None:
    """``replicas`` notifiers, each with its own connections to ``database``, post the same news at the same moment:
    one posts it. Also run on PostgreSQL."""
    with receiving() as receiver:
        notifiers = [replica(receiver.url, database) for _ in range(replicas)]
        start, queued = threading.Barrier(replicas), []

        def run(notifier: Notifier) -> None:
            start.wait()
            queued.append(post(notifier, DISK))

        threads = [threading.Thread(target=run, args=(notifier,)) for notifier in notifiers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(notifier.flush(30) for notifier in notifiers)
    assert sorted(queued) == [False] * (replicas - 1) + [True] and len(receiver.posts) == 1


def test_a_database_that_cannot_be_used_posts_every_news_and_says_so_once(caplog):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    database = f"postgresql+psycopg://bianque:s3cret@127.0.0.1:{port}/memory?connect_timeout=2"
    with receiving() as receiver, caplog.at_level(logging.WARNING):
        notifier = replica(receiver.url, database)
        assert post(notifier, DISK) and post(notifier, DISK) and notifier.flush(30)
    assert len(receiver.posts) == 2 and "connection refused" in notifier.status()["repeats_problem"]
    said = [r.getMessage() for r in caplog.records if "memory of news told" in r.getMessage()]
    assert len(said) == 1 and f"127.0.0.1:{port}" in said[0] and "connection refused" in said[0]
    assert "s3cret" not in caplog.text


def test_the_process_notifier_keeps_the_news_told_in_the_settings_database(bianque_home, monkeypatch):
    from agent.notify import notifier_for

    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hooks/secret-part")
    get_settings.cache_clear()
    told = notifier_for(get_settings()).told
    assert isinstance(told, StoredNews) and told.url == get_settings().resolved_database_url


def test_news_dropped_while_too_many_wait_is_not_remembered_as_told(tmp_path, monkeypatch):
    monkeypatch.setattr("agent.notify.delivery.WAITING_MAX", 1)
    taken, answer = threading.Event(), threading.Event()

    def slow_post(body):
        taken.set()
        answer.wait(30)
        return False, None

    notifier = replica("http://127.0.0.1:9/hooks/secret-part", f"sqlite:///{tmp_path / 'memory.db'}")
    notifier._post = slow_post  # a receiver that answers only when told
    send = lambda origin: notifier.result(result(inspection(DISK)), inspection_event(), origin)  # noqa: E731
    assert send("schedule a") and taken.wait(30)  # being posted
    assert send("schedule b")  # waiting: the queue is full
    assert not send("schedule c")  # dropped
    answer.set()
    assert notifier.flush(30) and notifier.status()["failed"] == 1
    assert send("schedule c") and not send("schedule a")  # the dropped news is news again; the posted one is not
    assert notifier.flush(30)


class FakeNewsDatabase:
    """The news told as a database holds it, one claim at a time (a repeat is refused)."""

    def __init__(self) -> None:
        self.told: set[tuple[str, str]] = set()

    def claim_news(self, origin: str, signature: str, now: float, repeat_s: float) -> bool:
        fresh = (origin, signature) not in self.told
        self.told.add((origin, signature))
        return fresh

    def forget_news(self, origin: str, signature: str | None, told_at: float | None) -> None:
        self.told.discard((origin, signature))


class FlakyNews(StoredNews):
    """News told in a database that is down while ``down``; counts how often it is asked (each try of a server that is
    down may wait for its connect timeout, 10 s on PostgreSQL)."""

    def __init__(self, clock) -> None:
        super().__init__("postgresql+psycopg://bianque@db.invalid/memory", clock=clock)
        self.down, self.asked, self.database = True, 0, FakeNewsDatabase()

    def _open(self):
        self.asked += 1
        if self.down:
            raise ConnectionRefusedError("connection refused")
        return self.database


def test_a_database_that_cannot_be_used_is_asked_again_once_a_minute_not_for_every_notification():
    """Every notification opened it again while it was down, each waiting up to PostgreSQL's connect timeout."""
    now = [1000.0]
    news = FlakyNews(lambda: now[0])
    assert all(news.claim("o", "same", 0.0, 3600) for _ in range(5))  # posted, repeats included, as before
    news.forget("o", "same", 0.0)
    assert news.asked == 1 and "connection refused" in news.problem
    now[0] += 59.0
    assert news.claim("o", "same", 0.0, 3600) and news.asked == 1
    now[0] += 1.0
    assert news.claim("o", "same", 0.0, 3600) and news.asked == 2  # a minute on: asked again, still down
    assert news.claim("o", "same", 0.0, 3600) and news.asked == 2
    news.down = False
    now[0] += 60.0
    assert news.claim("o", "same", 0.0, 3600) and news.problem is None and news.asked == 3  # it answers again
    assert not news.claim("o", "same", 0.0, 3600) and news.asked == 4  # asked every time: the repeat held back
