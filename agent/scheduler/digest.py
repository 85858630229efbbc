"""The scheduler's digest job: at each tick of ``BIANQUE_NOTIFY_DIGEST`` post the alerts judged not needing attention
since the last digest (:mod:`agent.notify.digest`), once across the replicas sharing the database."""

from __future__ import annotations

import logging
import time

from agent.memory import Memory
from agent.notify import notifier_for
from agent.notify.digest import DIGEST, post_digest, take_digest
from agent.scheduler.jobs import CLAIMANT, TICK_LOOKBACK_S, configured_settings, failure_reason
from agent.scheduler.specs import last_tick

log = logging.getLogger(__name__)
DIGEST_JOB = "notify-digest"


def scheduled_digest(now: float | None = None) -> bool:
    """The digest job: claim the tick it runs for (another replica that claimed it posts it), then post what the
    digest lists up to that tick, if anything; True when it posted one. Never raises: a failure is a log line, and
    what it would have listed is listed by the next digest."""
    settings = configured_settings()
    if not settings.notify_digest:
        return False
    tick = last_tick(settings.notify_digest, time.time() if now is None else now, lookback=TICK_LOOKBACK_S)
    if tick is None:
        return False
    try:
        with Memory(settings.resolved_database_url) as memory:
            if not memory.claim_digest(DIGEST, tick, CLAIMANT):
                log.info("the digest due at %s was taken by another replica", tick)
                return False
            digest = take_digest(memory, tick)
            if digest is None:
                log.info("the digest up to %s was taken by another run", tick)
                return False
            delivery = post_digest(memory, notifier_for(settings), digest, settings.notify_digest_max)
    except Exception as exc:  # noqa: BLE001 - the database away: the next digest lists these too
        log.warning("digest not posted: %s", failure_reason(exc))
        return False
    if delivery is None:
        log.info("digest: no alert judged not needing attention since the last one; nothing posted")
        return False
    if delivery.delivered:
        log.info("digest posted: %d alert(s) judged not needing attention", len(digest.alerts))
    return delivery.delivered
