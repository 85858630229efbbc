"""Memory: events, cases, corrections, Skill versions, schedules, alert dedup and the investigation queue, in SQL.

All database access of the agent goes through this package; start with ``Memory(url)``.
"""

from agent.memory.db import DatabaseMigrationError, DatabaseUnavailableError, DatabaseURLError, init_db
from agent.memory.errors import (
    CaseNotFoundError,
    CaseStateError,
    EventNotFoundError,
    IncidentNotFoundError,
    InvalidInputError,
    MemoryStoreError,
    NotFoundError,
    QueueItemNotFoundError,
    QueueStateError,
    ScheduleBusyError,
    ScheduleExistsError,
    ScheduleNotFoundError,
    SkillVersionNotFoundError,
)
from agent.memory.records import (
    AlertKind,
    AlertNotice,
    AlertObservation,
    AlertRecord,
    CaseRecord,
    CorrectionRecord,
    EventRecord,
    IncidentRecord,
    QueueItemRecord,
    QueueStats,
    ScheduleRecord,
    ScheduleRunRecord,
    SkillVersionRecord,
)
from agent.memory.repository import Memory

__all__ = [
    "AlertKind",
    "AlertNotice",
    "AlertObservation",
    "AlertRecord",
    "CaseNotFoundError",
    "CaseRecord",
    "CaseStateError",
    "CorrectionRecord",
    "DatabaseMigrationError",
    "DatabaseURLError",
    "DatabaseUnavailableError",
    "EventNotFoundError",
    "EventRecord",
    "IncidentNotFoundError",
    "IncidentRecord",
    "InvalidInputError",
    "Memory",
    "MemoryStoreError",
    "NotFoundError",
    "QueueItemNotFoundError",
    "QueueItemRecord",
    "QueueStateError",
    "QueueStats",
    "ScheduleBusyError",
    "ScheduleExistsError",
    "ScheduleNotFoundError",
    "ScheduleRecord",
    "ScheduleRunRecord",
    "SkillVersionNotFoundError",
    "SkillVersionRecord",
    "init_db",
]
