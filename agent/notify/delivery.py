"""Posting notifications: one JSON body per result to ``BIANQUE_NOTIFY_URL``, retried when the receiver or the
network fails, never raising into the work that produced it (a notification that cannot be delivered is a warning
line and a count in ``GET /healthz``; the result itself is stored either way).

Results are posted by one thread per notifier, in the order they came, so a receiver that is slow or does not
answer holds no scheduled run and no queue worker: their work ends when the result is stored.

A chat webhook's URL holds its secret in the path, so logs and health name only its scheme and host.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import httpx

from agent.notify.message import FormName, Notice, failure_notice, result_notice
from agent.notify.told import LocalNews, NewsMemory, StoredNews

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.events import Event
    from agent.investigate import InvestigationResult

log = logging.getLogger(__name__)
ATTEMPTS = 3  # posts of one notification at most
BACKOFF_S = 1.0  # wait before the second post, doubled before each further one
REPEAT_S = 4 * 3600.0  # the same news of one origin is not posted again sooner (as Alertmanager's repeat_interval)
STOP_GRACE_S = 30.0  # a stopping scheduler waits this long at most for the notifications it has not posted
WAITING_MAX = 200  # notifications waiting for the sender at most; more (a receiver down in a storm) are dropped
RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})  # the receiver may take it a moment later
NotifyOn = Literal["attention", "all"]


@dataclass(frozen=True)
class Delivery:
    """How posting one notification went."""

    delivered: bool
    attempts: int
    problem: str | None = None


class Notifier:
    """Posts notices to one webhook URL: those needing attention (``on="attention"``) or all of them."""

    def __init__(self, url: str | None, *, on: NotifyOn = "attention", form: FormName = "json",
                 timeout_s: float = 10.0, repeat_s: float = REPEAT_S, attempts: int = ATTEMPTS,
                 backoff_s: float = BACKOFF_S, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time, ui_url: str | None = None,
                 told: NewsMemory | None = None) -> None:
        self.ui_url = ui_url
        self.url, self.on, self.form, self.timeout_s, self.repeat_s = url, on, form, timeout_s, repeat_s
        self.attempts, self.backoff_s, self._sleep, self._clock = max(1, attempts), backoff_s, sleep, clock
        self._lock = threading.Lock()
        self.told: NewsMemory = told if told is not None else LocalNews()  # the news delivered or on its way
        self.repeats = 0
        self.sent = 0
        self.failed = 0
        self.problem: str | None = None  # why the last notification was not delivered (None after one was)
        self._waiting: queue.Queue[tuple[Notice, float | None]] = queue.Queue(maxsize=WAITING_MAX)  # and its claim
        self._sender: threading.Thread | None = None
        self._unsent = 0  # queued and not yet posted nor given up: what flush waits for
        self._drained = threading.Condition(self._lock)

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        """The notifier ``settings`` describe (no URL: one that sends nothing), holding back repeats by the news told
        kept in the settings' database (shared by the processes using it, kept over a restart)."""
        url = settings.notify_url.get_secret_value() if settings.notify_url is not None else None
        return cls(url, on=settings.notify_on, form=settings.notify_format, timeout_s=settings.notify_timeout_s,
                   repeat_s=settings.notify_repeat_s, ui_url=settings.ui_url,
                   told=StoredNews(settings.resolved_database_url))

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @property
    def where(self) -> str | None:
        """The receiver as logs may name it: scheme, host and port (the path of a chat webhook is its secret)."""
        if not self.url:
            return None
        url = urlparse(self.url)
        host = f"[{url.hostname}]" if url.hostname and ":" in url.hostname else url.hostname  # an IPv6 address
        return f"{url.scheme}://{host}{f':{url.port}' if url.port is not None else ''}/…"

    def describe(self) -> str:
        """Where notifications go, in a line (what `serve`, `schedule start` and the UI's sidebar say)."""
        if not self.configured:
            return "no notification URL (BIANQUE_NOTIFY_URL): background results are stored only"
        which = "every result" if self.on == "all" else "results needing attention"
        return f"{which} are posted to {self.where}"

    def status(self) -> dict[str, Any]:
        """What ``GET /healthz`` shows of notifications in this process."""
        with self._lock:
            return {"url": self.where, "on": self.on, "sent": self.sent, "failed": self.failed,
                    "repeats_held": self.repeats, "waiting": self._unsent, "problem": self.problem,
                    "repeats_problem": self.told.problem}

    def wants(self, notice: Notice) -> bool:
        """Whether ``notice`` is to be posted: a URL is set, and it needs attention or everything is wanted."""
        return self.configured and (self.on == "all" or notice.attention)

    def notify(self, notice: Notice) -> bool:
        """Queue ``notice`` for the sender thread when it is wanted and no repeat (True when queued); never raises
        nor waits for the receiver. A repeat is the same signature from the same origin as the last one delivered
        (or on its way), within ``repeat_s``, by any process sharing the database (:attr:`told`); news that needs
        no attention ends it (the next trouble is news again); a delivery that fails ends it too (the next run's
        news is posted)."""
        origin = notice.origin
        if not self.configured:
            return False
        if not notice.attention:
            self.told.forget(origin)
        if not self.wants(notice):
            return False
        news, claimed = self._claim(notice)
        if not news:
            log.info("notification held back: the same news of %s was delivered less than %g s ago", origin,
                     self.repeat_s)
            return False
        with self._lock:
            try:
                self._waiting.put_nowait((notice, claimed))
            except queue.Full:
                self.failed += 1
                self.problem = dropped = f"{self.where}: {WAITING_MAX} notifications waiting (the receiver is slow " \
                                         "or down); newer ones dropped"
            else:
                dropped = None
                self._unsent += 1
                if self._sender is None:
                    self._sender = threading.Thread(target=self._send_waiting, name="bianque-notify", daemon=True)
                    self._sender.start()
        if dropped is not None:
            self._unclaim(notice, claimed)
            log.warning("notification dropped: %s (%s)", dropped, notice.text.partition("\n")[0])
            return False
        return True

    def _claim(self, notice: Notice) -> tuple[bool, float | None]:
        """Whether ``notice`` is news (False: a repeat, counted), and when it was claimed as told (None: it has no
        signature, so it is never a repeat, or repeats are not held back)."""
        if not notice.signature or self.repeat_s <= 0:
            return True, None
        now = self._clock()
        if self.told.claim(notice.origin, notice.signature, now, self.repeat_s):
            return True, now
        with self._lock:
            self.repeats += 1
        return False, None

    def _unclaim(self, notice: Notice, claimed: float | None) -> None:
        """Forget the claim of ``notice`` made at ``claimed`` (it was not delivered: the same news is news again)."""
        if claimed is not None:
            self.told.forget(notice.origin, notice.signature, claimed)

    def _send_waiting(self) -> None:
        """The sender thread: post each queued notice in turn, for the life of the process."""
        while True:
            notice, claimed = self._waiting.get()
            try:
                delivered = self.send(notice).delivered
            except Exception:  # noqa: BLE001 - a bug here must not end the thread: later notices still go
                log.exception("posting a notification failed")
                delivered = False
            if not delivered:
                self._unclaim(notice, claimed)
            with self._lock:
                self._unsent -= 1
                self._drained.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued notice is posted or given up (at most ``timeout`` s): True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._unsent:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._drained.wait(left)
        return True

    @property
    def unsent(self) -> int:
        """Notices queued and not yet posted nor given up."""
        with self._lock:
            return self._unsent

    def result(self, result: InvestigationResult, event: Event, origin: str) -> bool:
        """Notify of a finished investigation when it is wanted (True: queued); never raises (the result is stored
        already)."""
        if not self.configured:
            return False
        try:
            notice = result_notice(result, event, origin, self.ui_url)
        except Exception:  # noqa: BLE001 - a notice that cannot be made must not fail the work it reports
            log.exception("could not make the notification of %s (case %s)", origin, result.case_id)
            return False
        return self.notify(notice)

    def failure(self, origin: str, reason: str) -> bool:
        """Notify that background work failed for good (always wanted when a URL is set; True: queued)."""
        return self.notify(failure_notice(origin, reason)) if self.configured else False

    def send(self, notice: Notice, *, warn: bool = True) -> Delivery:
        """Post ``notice`` now, retrying a network failure or a status the receiver may recover from (408, 429,
        5xx) with a doubling wait; counted, and (``warn``) a warning naming the receiver when it is not
        delivered."""
        if not self.url:
            return Delivery(False, 0, "no notification URL is set (BIANQUE_NOTIFY_URL)")
        body = notice.payload(self.form)
        problem = "not posted"
        attempt = 0
        for attempt in range(1, self.attempts + 1):
            retry, problem = self._post(body)
            if problem is None:
                with self._lock:
                    self.sent += 1
                    self.problem = None
                return Delivery(True, attempt)
            if not retry or attempt == self.attempts:
                break
            self._sleep(self.backoff_s * 2 ** (attempt - 1))
        said = f"{self.where}: {problem}"
        with self._lock:
            self.failed += 1
            self.problem = said
        if warn:
            log.warning("notification not delivered after %d attempt(s) to %s (%s)", attempt, said,
                        notice.text.partition("\n")[0])
        return Delivery(False, attempt, said)

    @property
    def longest_post_s(self) -> float:
        """How long posting one notification may take at most: every attempt's timeout and the waits between."""
        return self.attempts * self.timeout_s + sum(self.backoff_s * 2 ** i for i in range(self.attempts - 1))

    def _post(self, body: dict[str, Any]) -> tuple[bool, str | None]:
        """One post: (worth retrying, problem or None when delivered)."""
        assert self.url is not None
        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout_s, follow_redirects=False)
        except Exception as exc:  # noqa: BLE001 - never raise; a URL httpx refuses (InvalidURL, an IDNA host): no retry
            message = str(exc).replace(self.url, self.where or "") or type(exc).__name__
            return isinstance(exc, httpx.HTTPError), f"{type(exc).__name__}: {message}"
        if response.is_success:
            return False, None
        answer = " ".join(response.text.split())[:200]
        return response.status_code in RETRIED_STATUSES, f"HTTP {response.status_code}{f': {answer}' if answer else ''}"


_notifiers: dict[tuple[str | None, str, str, float, float, str | None, str], Notifier] = {}
_notifiers_lock = threading.Lock()


def unsent_now() -> tuple[int, float]:
    """Notifications this process's notifiers have not posted yet (queued or being posted), and how long posting
    them may take at most (0, 0.0: none): what a stopping process waits for."""
    with _notifiers_lock:
        notifiers = list(_notifiers.values())
    waiting = [(n.unsent, n.longest_post_s) for n in notifiers if n.unsent]
    return sum(count for count, _ in waiting), sum(count * longest for count, longest in waiting)


def flush_all(timeout: float) -> int:
    """Wait up to ``timeout`` s in all for this process's notifiers to post what they hold; the number left unsent
    (said in a warning: the process stops without them)."""
    deadline = time.monotonic() + timeout
    with _notifiers_lock:
        notifiers = list(_notifiers.values())
    for notifier in notifiers:
        notifier.flush(max(0.0, deadline - time.monotonic()))
    left = sum(n.unsent for n in notifiers)
    if left:
        log.warning("%d notification(s) not posted: the process stops before the receiver took them", left)
    return left


def notifier_for(settings: Settings) -> Notifier:
    """This process's notifier for ``settings`` (one per URL and options, so the queue's workers and the scheduler
    of one ``serve`` count their deliveries together)."""
    fresh = Notifier.from_settings(settings)
    key = (fresh.url, fresh.on, fresh.form, fresh.timeout_s, fresh.repeat_s, fresh.ui_url,
           settings.resolved_database_url)
    with _notifiers_lock:
        return _notifiers.setdefault(key, fresh)
