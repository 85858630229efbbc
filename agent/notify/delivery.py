"""Posting notifications: one JSON body per result to ``BIANQUE_NOTIFY_URL``, retried when the receiver or the
network fails, never raising into the work that produced it (a notification that cannot be delivered is a warning
line and a count in ``GET /healthz``; the result itself is stored either way).

A chat webhook's URL holds its secret in the path, so logs and health name only its scheme and host.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import httpx

from agent.notify.message import FormName, Notice, failure_notice, result_notice

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.events import Event
    from agent.investigate import InvestigationResult

log = logging.getLogger(__name__)
ATTEMPTS = 3  # posts of one notification at most
BACKOFF_S = 1.0  # wait before the second post, doubled before each further one
REPEAT_S = 4 * 3600.0  # the same news of one origin is not posted again sooner (as Alertmanager's repeat_interval)
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
                 clock: Callable[[], float] = time.time, ui_url: str | None = None) -> None:
        self.ui_url = ui_url
        self.url, self.on, self.form, self.timeout_s, self.repeat_s = url, on, form, timeout_s, repeat_s
        self.attempts, self.backoff_s, self._sleep, self._clock = max(1, attempts), backoff_s, sleep, clock
        self._lock = threading.Lock()
        self._told: dict[str, tuple[str, float]] = {}  # origin -> (signature, when) of the last news delivered
        self.repeats = 0
        self.sent = 0
        self.failed = 0
        self.problem: str | None = None  # why the last notification was not delivered (None after one was)
        self.posting = 0  # notifications being posted now (a stopping scheduler waits for them)

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        """The notifier ``settings`` describe (no URL: one that sends nothing)."""
        url = settings.notify_url.get_secret_value() if settings.notify_url is not None else None
        return cls(url, on=settings.notify_on, form=settings.notify_format, timeout_s=settings.notify_timeout_s,
                   repeat_s=settings.notify_repeat_s, ui_url=settings.ui_url)

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
                    "repeats_held": self.repeats, "problem": self.problem}

    def wants(self, notice: Notice) -> bool:
        """Whether ``notice`` is to be posted: a URL is set, and it needs attention or everything is wanted."""
        return self.configured and (self.on == "all" or notice.attention)

    def notify(self, notice: Notice) -> Delivery | None:
        """Post ``notice`` when it is wanted and no repeat (None when not); never raises. A repeat is the same
        signature from the same origin as the last one delivered, within ``repeat_s``; news that needs no attention
        ends it (the next trouble is news again)."""
        origin = str(notice.data.get("origin", ""))
        if not notice.attention:
            with self._lock:
                self._told.pop(origin, None)
        if not self.wants(notice):
            return None
        if self._repeat(origin, notice.signature):
            log.info("notification held back: the same news of %s was delivered less than %g s ago", origin,
                     self.repeat_s)
            return None
        delivery = self.send(notice)
        if delivery.delivered and notice.signature:
            with self._lock:
                self._told[origin] = (notice.signature, self._clock())
        return delivery

    def _repeat(self, origin: str, signature: str) -> bool:
        with self._lock:
            told = self._told.get(origin)
            repeat = bool(signature) and told is not None and told[0] == signature and \
                self._clock() - told[1] < self.repeat_s
            self.repeats += repeat
        return repeat

    def result(self, result: InvestigationResult, event: Event, origin: str) -> Delivery | None:
        """Notify of a finished investigation when it is wanted; never raises (the result is stored already)."""
        if not self.configured:
            return None
        try:
            notice = result_notice(result, event, origin, self.ui_url)
        except Exception:  # noqa: BLE001 - a notice that cannot be made must not fail the work it reports
            log.exception("could not make the notification of %s (case %s)", origin, result.case_id)
            return None
        return self.notify(notice)

    def failure(self, origin: str, reason: str) -> Delivery | None:
        """Notify that background work failed for good (always wanted when a URL is set)."""
        return self.notify(failure_notice(origin, reason)) if self.configured else None

    def send(self, notice: Notice, *, warn: bool = True) -> Delivery:
        """Post ``notice`` now, retrying a network failure or a status the receiver may recover from (408, 429,
        5xx) with a doubling wait; counted, and (``warn``) a warning naming the receiver when it is not
        delivered."""
        if not self.url:
            return Delivery(False, 0, "no notification URL is set (BIANQUE_NOTIFY_URL)")
        with self._lock:
            self.posting += 1
        try:
            return self._send(notice, warn)
        finally:
            with self._lock:
                self.posting -= 1

    @property
    def longest_post_s(self) -> float:
        """How long posting one notification may take at most: every attempt's timeout and the waits between."""
        return self.attempts * self.timeout_s + sum(self.backoff_s * 2 ** i for i in range(self.attempts - 1))

    def _send(self, notice: Notice, warn: bool) -> Delivery:
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

    def _post(self, body: dict[str, Any]) -> tuple[bool, str | None]:
        """One post: (worth retrying, problem or None when delivered)."""
        assert self.url is not None
        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout_s, follow_redirects=False)
        except httpx.HTTPError as exc:
            message = str(exc).replace(self.url, self.where or "") or type(exc).__name__
            return True, f"{type(exc).__name__}: {message}"
        except Exception as exc:  # noqa: BLE001 - a URL httpx refuses (InvalidURL, an IDNA host): never raise, no retry
            message = str(exc).replace(self.url, self.where or "") or type(exc).__name__
            return False, f"{type(exc).__name__}: {message}"
        if response.is_success:
            return False, None
        answer = " ".join(response.text.split())[:200]
        return response.status_code in RETRIED_STATUSES, f"HTTP {response.status_code}{f': {answer}' if answer else ''}"


_notifiers: dict[tuple[str | None, str, str, float, float, str | None], Notifier] = {}
_notifiers_lock = threading.Lock()


def posting_now() -> tuple[int, float]:
    """Notifications this process's notifiers are posting now, and how long the slowest may take at most (0, 0.0:
    none): what a stopping scheduler waits for."""
    with _notifiers_lock:
        notifiers = [n for n in _notifiers.values() if n.posting]
    return sum(n.posting for n in notifiers), max((n.longest_post_s for n in notifiers), default=0.0)


def notifier_for(settings: Settings) -> Notifier:
    """This process's notifier for ``settings`` (one per URL and options, so the queue's workers and the scheduler
    of one ``serve`` count their deliveries together)."""
    fresh = Notifier.from_settings(settings)
    key = (fresh.url, fresh.on, fresh.form, fresh.timeout_s, fresh.repeat_s, fresh.ui_url)
    with _notifiers_lock:
        return _notifiers.setdefault(key, fresh)
