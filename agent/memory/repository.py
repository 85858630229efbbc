"""The ``Memory`` facade: one object for every database access of the agent."""

from __future__ import annotations

from agent.memory.alerts import AlertStore
from agent.memory.cases import CaseStore
from agent.memory.corrections import CorrectionStore
from agent.memory.digests import DigestStore
from agent.memory.notices import NoticeStore
from agent.memory.queue import QueueStore
from agent.memory.schedules import ScheduleStore
from agent.memory.skill_versions import SkillVersionStore


class Memory(CaseStore, CorrectionStore, SkillVersionStore, AlertStore, QueueStore, ScheduleStore, NoticeStore,
             DigestStore):
    """Events, cases, corrections, Skill versions, alert dedup, the investigation queue, schedules, the news
    notifications told and the digest of alerts judged not needing attention.

    ``Memory(url)`` opens the database (default ``settings.resolved_database_url``) and migrates it
    to the current schema. Every method is one transaction and returns detached pydantic records.
    """
