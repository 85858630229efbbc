"""The memory schema: SQLAlchemy 2 typed declarative models.

Times are Unix seconds (float), like everywhere else in Bian Que. JSON columns hold the
``model_dump(mode="json")`` of the pydantic contract types (Event, Finding, Verdict, EvidencePack).
Changing a model means writing a migration in ``agent/memory/migrations/versions/``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CASE_STATUSES = ("running", "done", "failed")
QUEUE_STATUSES = ("pending", "running", "done", "failed")


def new_id() -> str:
    """A short random id (12 hex digits) for events, cases and incidents."""
    return uuid.uuid4().hex[:12]


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, float: Float}


class EventRow(Base):
    """One event Bian Que was handed (alert, change, inspection request, question)."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    pattern: Mapped[str] = mapped_column(String(32), index=True)
    time: Mapped[float]
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    payload: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(32), default="cli")
    received_at: Mapped[float] = mapped_column(default=now)


class CaseRow(Base):
    """One investigation of an event by one Skill, and its answer."""

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    skill: Mapped[str | None] = mapped_column(String(64), index=True)
    skill_version: Mapped[int | None]
    selection_reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    findings: Mapped[list[Any]] = mapped_column(default=list)
    evidence: Mapped[dict[str, Any] | None]
    verdict: Mapped[dict[str, Any] | None]
    report: Mapped[str | None] = mapped_column(Text)
    reasoner: Mapped[str | None] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    bundle_path: Mapped[str | None] = mapped_column(Text)
    gathered: Mapped[dict[str, Any] | None]
    thread_id: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[float] = mapped_column(default=now, index=True)
    finished_at: Mapped[float | None]

    event: Mapped[EventRow] = relationship(lazy="joined", innerjoin=True)
    corrections: Mapped[list[CorrectionRow]] = relationship(
        back_populates="case", order_by="CorrectionRow.id", cascade="all, delete-orphan", lazy="selectin"
    )


class CorrectionRow(Base):
    """An engineer's judgement of a case; stored beside the verdict, never over it."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    correct: Mapped[bool] = mapped_column(Boolean)
    root_cause_service: Mapped[str | None] = mapped_column(String(200))
    root_cause_fault: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(16))
    needs_attention: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    no_index: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The engineer kept the case out of experience (``correct --no-index``): when the case's latest correction
    says so, it is not indexed and neither distillation nor the ranking's lessons use it."""
    created_at: Mapped[float] = mapped_column(default=now)

    case: Mapped[CaseRow] = relationship(back_populates="corrections")


class SkillVersionRow(Base):
    """One stored version of a Skill's YAML; at most one version per name is active."""

    __tablename__ = "skill_versions"
    __table_args__ = (
        UniqueConstraint("name", "version"),
        Index(
            "uq_skill_versions_one_active",
            "name",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    yaml_text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(default=now)


class ScheduleRow(Base):
    """A scheduled inspection: which Skill runs when, over which services."""

    __tablename__ = "schedules"

    job_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    skill: Mapped[str] = mapped_column(String(64), index=True)
    cron: Mapped[str] = mapped_column(String(200))
    services: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run: Mapped[float | None]
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_case_id: Mapped[str | None] = mapped_column(String(32))
    last_reason: Mapped[str | None] = mapped_column(String(500))
    """Why the last run failed or was skipped (one line, bounded: see ``schedules.run_reason``); None otherwise."""
    claimed_tick: Mapped[float | None]
    """The newest scheduled run time some process claimed (replicas run each tick once)."""
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    running_by: Mapped[str | None] = mapped_column(String(200))
    """The run holding the schedule now (one at a time, across processes); None when none does."""
    running_since: Mapped[float | None]
    running_until: Mapped[float | None]
    """When that run's lease ends unless renewed: a claim older than this was left by a stopped process."""
    created_at: Mapped[float] = mapped_column(default=now)
    updated_at: Mapped[float] = mapped_column(default=now)


RUN_TRIGGERS = ("scheduled", "manual")


class ScheduleRunRow(Base):
    """One run of a schedule (its history, newest ``schedules.MAX_RUNS_KEPT`` kept per schedule); removed with it."""

    __tablename__ = "schedule_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("schedules.job_id", ondelete="CASCADE"), index=True)
    started_at: Mapped[float | None]
    """When the run started; None for the last run a schedule had when this table was added (migration 0007)."""
    finished_at: Mapped[float]
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    case_id: Mapped[str | None] = mapped_column(String(32))
    trigger: Mapped[str | None] = mapped_column(String(16))
    """``scheduled`` (the scheduler's job) or ``manual`` (``schedule run``, ``run_inspection``); None when unknown
    (the last run a schedule had when this table was added)."""
    holder: Mapped[str | None] = mapped_column(String(200))
    """The run claim (``host:pid:token``) of a run recorded as it started (status ``running`` until it finishes);
    None for a run recorded only once it ended (a skipped one, or one from before migration 0008)."""


class IncidentRow(Base):
    """A group of alerts judged to be one problem; its first investigation is the linked case."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    first_seen: Mapped[float]
    last_seen: Mapped[float]
    alert_count: Mapped[int] = mapped_column(Integer, default=1)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    resolved_at: Mapped[float | None]


class AlertRow(Base):
    """The dedup state of one alert fingerprint (one Alertmanager alert identity)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(200), unique=True)
    alertname: Mapped[str] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[float]
    last_seen: Mapped[float]
    count: Mapped[int] = mapped_column(Integer, default=1)
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    starts_at: Mapped[float | None]
    """The episode's ``startsAt`` (Alertmanager keeps it for one episode); None when the sender gave none."""

    incident: Mapped[IncidentRow | None] = relationship()


class QueueRow(Base):
    """A queued investigation: recorded with its incident, taken by one worker under a lease.

    ``pending`` rows wait until ``not_before``; a ``running`` row whose ``lease_until`` passed was left
    by a crashed or stopped worker and is taken again; ``failed`` after ``attempts`` ran out.
    """

    __tablename__ = "investigation_queue"
    __table_args__ = (Index("ix_investigation_queue_status_not_before", "status", "not_before"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    incident_id: Mapped[str | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    event: Mapped[dict[str, Any]]
    source: Mapped[str] = mapped_column(String(32), default="webhook")
    skill: Mapped[str | None] = mapped_column(String(64))
    thread_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(default=now)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[float | None]
    lease_until: Mapped[float | None]
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(default=now, index=True)
    updated_at: Mapped[float] = mapped_column(default=now)
    finished_at: Mapped[float | None]


class NoticeHoldRow(Base):
    """The last news of one origin (a schedule, an alert's incident) told by a notification: the same news again
    within the repeat interval is held back, in every process sharing the database and across restarts."""

    __tablename__ = "notice_holds"

    origin_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The SHA-256 of the origin (its text may be longer than a key should be)."""
    origin: Mapped[str] = mapped_column(Text)
    signature_key: Mapped[str] = mapped_column(String(64))
    """The SHA-256 of the news's signature (``Notice.signature``)."""
    told_at: Mapped[float] = mapped_column(index=True)


class NoticeDigestRow(Base):
    """A digest of notifications (the alerts judged not needing attention): which tick of its cron some process
    claimed (replicas post each once), and up to when what it lists was delivered."""

    __tablename__ = "notice_digests"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_tick: Mapped[float | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    told_until: Mapped[float | None]
    """The end of the last period delivered (or found empty): the next digest lists what came after."""
