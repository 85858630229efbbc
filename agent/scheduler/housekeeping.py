"""The scheduler's housekeeping of the live cases' kept data: every ``PRUNE_EVERY_S`` (and once at its start) the
data of this database's old uncorrected cases goes (:mod:`agent.bundles.case_data`), however few live runs come."""

from __future__ import annotations

import logging

from agent.bundles.case_data import prune_when_due
from agent.memory import Memory
from agent.scheduler.jobs import configured_settings, failure_reason

log = logging.getLogger(__name__)
PRUNE_JOB = "prune-case-data"


def scheduled_prune() -> list[str] | None:
    """The prune job: the case ids whose data it removed; None when none is kept, a process (this one or another
    sharing the home) pruned within the interval, or it failed (a log line, never raised: the next run tries
    again)."""
    settings = configured_settings()
    kept = settings.case_data
    if kept is None:
        return None
    try:
        with Memory(settings.resolved_database_url) as memory:
            removed = prune_when_due(kept, memory.prunable_among, store=memory.url)
    except Exception as exc:  # noqa: BLE001 - the database or the folder away for a moment
        log.warning("old cases' data in %s not pruned: %s", kept.root, failure_reason(exc))
        return None
    if removed:
        log.info("removed the kept data of %d old uncorrected case(s) from %s", len(removed), kept.root)
    return removed
