"""Errors the memory API raises; messages name the thing that was asked for."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from agent.timeparse import to_rfc3339

if TYPE_CHECKING:
    from agent.memory.records import ScheduleRecord

_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class MemoryStoreError(Exception):
    """Base class of memory errors."""


class NotFoundError(MemoryStoreError, LookupError):
    """Something asked for by id or name is not stored."""


class CaseNotFoundError(NotFoundError):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"no case with id {case_id!r} (see `bianque cases list`)")
        self.case_id = case_id


class EventNotFoundError(NotFoundError):
    def __init__(self, event_id: str) -> None:
        super().__init__(f"no event with id {event_id!r}")
        self.event_id = event_id


class SkillVersionNotFoundError(NotFoundError):
    def __init__(self, name: str, version: int | None = None, hint: str = "") -> None:
        what = f"version {version} of Skill {name!r}" if version is not None else f"Skill {name!r}"
        super().__init__(f"no stored {what}" + (f": {hint}" if hint else ""))
        self.name = name
        self.version = version


class ScheduleNotFoundError(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"no schedule with job id {job_id!r}")
        self.job_id = job_id


class ScheduleExistsError(MemoryStoreError):
    """A schedule was to be created only (``save_schedule(create_only=True)``) and its job id is taken."""

    def __init__(self, existing: ScheduleRecord) -> None:
        super().__init__(f"schedule {existing.job_id!r} already exists (Skill {existing.skill}, cron "
                         f"{existing.cron!r}); not saved")
        self.job_id = existing.job_id
        self.existing = existing


class ScheduleBusyError(MemoryStoreError):
    """Another run of the schedule holds it (its lease has not run out)."""

    def __init__(self, job_id: str, holder: str | None, since: float | None, until: float | None = None) -> None:
        started = f"started {to_rfc3339(since)}" if since is not None else "started"
        lease = f"; its lease runs out at {to_rfc3339(until)} unless renewed" if until is not None else ""
        super().__init__(f"schedule {job_id!r} is already running ({started} by {holder}){lease}; two runs of one "
                         "schedule never overlap, so this one did not start")
        self.job_id = job_id
        self.holder = holder
        self.since = since
        self.until = until


class IncidentNotFoundError(NotFoundError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident with id {incident_id!r}")
        self.incident_id = incident_id


class QueueItemNotFoundError(NotFoundError):
    def __init__(self, queue_id: str) -> None:
        super().__init__(f"no queued investigation with id {queue_id!r} (see GET /queue)")
        self.queue_id = queue_id


class InvalidInputError(MemoryStoreError, ValueError):
    """An argument is not acceptable; the message names the field."""


class QueueStateError(InvalidInputError):
    """The queue item is not in a state that allows the operation (e.g. retrying one that did not fail)."""


class CaseStateError(MemoryStoreError):
    """The case is not in a state that allows the operation."""


def length_problem(value: str, limit: int) -> str | None:
    """Why ``value`` does not fit ``limit`` characters (a column's width: PostgreSQL would refuse it), or None."""
    return f"at most {limit} characters, got {len(value)}" if len(value) > limit else None


def check_length(field: str, value: str, limit: int) -> None:
    """InvalidInputError naming ``field`` when ``value`` is longer than ``limit`` (see ``length_problem``)."""
    problem = length_problem(value, limit)
    if problem:
        raise InvalidInputError(f"{field}: {problem}")


def storable_text(text: str, limit: int | None = None) -> str:
    """Untrusted text (an exception's message may quote a log line or a file) as any database stores it: control
    characters but newline, carriage return and tab made spaces, a lone surrogate ``?`` (PostgreSQL stores neither
    a NUL nor one), cut to ``limit`` characters (when given) with an ellipsis."""
    return cut_text(_UNSTORABLE.sub(" ", text).encode("utf-8", "replace").decode("utf-8"), limit)


def cut_text(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters (when given), its last one an ellipsis when cut."""
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
