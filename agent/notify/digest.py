"""The digest of what was silenced: one notification listing the alerts ``bianque serve`` judged not needing attention
since the last digest (in ``attention`` mode none of them is posted, so a wrong "noise" verdict would reach no one).

Opt-in (``BIANQUE_NOTIFY_DIGEST``, a crontab): the scheduler posts it at each tick, once across replicas (the tick is
claimed in the database), and only when there is something to list; ``bianque notify digest`` posts it now and
``--dry-run`` shows it. Each run takes its period in the database before it posts (what was told up to its time), so a
manual run beside a scheduled one never lists the same alert twice; a digest not delivered gives its period back, and
the next one lists it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.notify.message import Notice, case_link, chat_text
from agent.timeparse import to_rfc3339

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from agent.config import Settings
    from agent.memory import Memory
    from agent.memory.records import QuietAlertRecord
    from agent.notify.delivery import Delivery, Notifier

DIGEST = "quiet-alerts"  # the digest's name in the database (notice_digests)
FIRST_S = 24 * 3600.0  # what the first digest ever covers: the day before it
VARIABLE = "BIANQUE_NOTIFY_DIGEST"


class DigestSettingError(ValueError):
    """``BIANQUE_NOTIFY_DIGEST`` is no crontab; the message names the variable, the field and why."""


def digest_trigger(settings: Settings) -> BaseTrigger | None:
    """When the digest is posted (None: no digest, or no notification URL to post it to); DigestSettingError naming
    the variable when its crontab cannot be read."""
    from agent.cron import cron_trigger

    if not settings.notify_digest or settings.notify_url is None:
        return None
    try:
        return cron_trigger(settings.notify_digest)
    except ValueError as exc:
        raise DigestSettingError(f"invalid setting: {VARIABLE}: {exc} (got {settings.notify_digest!r})") from None


@dataclass(frozen=True)
class Digest:
    """The alerts judged not needing attention whose case finished after ``since`` (None: ever) and by ``until``."""

    since: float | None
    until: float
    alerts: Sequence[QuietAlertRecord]

    def notice(self, ui_url: str | None, shown: int) -> Notice:
        """The notification: how many and since when first, then at most ``shown`` alerts (time, service, alert
        name, why no attention, the case), oldest first, and how many more; untrusted names escaped."""
        count = len(self.alerts)
        since = f"since {to_rfc3339(self.since)}" if self.since is not None else "so far"
        lines = [f"Bian Que · digest: {count} alert{'' if count == 1 else 's'} judged not needing attention {since} "
                 "(not posted one by one)"]
        for alert in self.alerts[:shown]:
            link = case_link(ui_url, alert.case_id)
            why = f": {chat_text(alert.reason, 80)}" if alert.reason else ""
            lines.append(f"- {to_rfc3339(alert.time)} {chat_text(alert.service or 'no service', 80)}: "
                         f"{chat_text(alert.alertname or 'unnamed alert', 80)}{why} · "
                         + (link or f"`bianque cases show {alert.case_id}`"))
        if count > shown:
            lines.append(f"… and {count - shown} more: `bianque cases list --pattern rca`")
        data = {"origin": "digest", "since": self.since, "until": self.until, "total": count,
                "alerts": [{**alert.model_dump(include={"case_id", "service", "alertname", "time", "reason"}),
                            "case_url": case_link(ui_url, alert.case_id)} for alert in self.alerts[:shown]]}
        return Notice(kind="digest", attention=False, text="\n".join(lines), data=data)


def pending_digest(memory: Memory, until: float) -> Digest:
    """What a digest posted at ``until`` lists: the alerts judged not needing attention since the last digest
    delivered (the first one ever: the ``FIRST_S`` before ``until``)."""
    told = memory.digest_told_until(DIGEST)
    since = told if told is not None else until - FIRST_S
    return Digest(since, until, memory.quiet_alerts(since, until))


def take_digest(memory: Memory, until: float) -> Digest | None:
    """The digest to post at ``until``, its period taken (``Memory.take_digest_period``): what was not told up to
    ``until`` (the first one ever: the ``FIRST_S`` before it); None when another run took it all."""
    since = memory.take_digest_period(DIGEST, until, FIRST_S)
    return Digest(since, until, memory.quiet_alerts(since, until)) if since is not None else None


def post_digest(memory: Memory, notifier: Notifier, digest: Digest, shown: int) -> Delivery | None:
    """Post ``digest`` (taken by :func:`take_digest`) now when it lists something (None when not: nothing is posted);
    one not delivered gives its period back to the next."""
    delivery = notifier.send(digest.notice(notifier.ui_url, shown)) if digest.alerts else None
    if delivery is not None and not delivery.delivered and digest.since is not None:
        memory.give_back_digest_period(DIGEST, digest.since)
    return delivery
