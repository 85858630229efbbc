"""What the memory API returns: plain pydantic records, never ORM objects bound to a session."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.events import Event
from agent.evidence import EvidencePack
from agent.findings import Finding
from agent.verdict import Verdict

CaseStatus = Literal["running", "done", "failed"]
QueueStatus = Literal["pending", "running", "done", "failed"]
RunTrigger = Literal["scheduled", "manual"]
RUNNING = "running"  # the status of a schedule's run recorded as it started, until it finishes


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class EventRecord(Record):
    """A stored event."""

    id: str
    event: Event
    source: str
    received_at: float


class CorrectionRecord(Record):
    """An engineer's judgement of a case."""

    id: int
    case_id: str
    correct: bool
    root_cause_service: str | None = None
    root_cause_fault: str | None = None
    decision: Literal["pass", "hold", "block"] | None = None
    needs_attention: bool | None = None
    note: str = ""
    author: str | None = None
    no_index: bool = Field(default=False, description="The case was kept out of experience (`correct --no-index`).")
    created_at: float


class CaseRecord(Record):
    """A stored investigation: the event, the Skill that answered, and its answer."""

    id: str
    event_id: str
    event: Event
    skill: str | None = None
    skill_version: int | None = None
    selection_reason: str = ""
    status: CaseStatus
    findings: list[Finding] = Field(default_factory=list)
    evidence: EvidencePack | None = None
    verdict: Verdict | None = None
    report: str | None = None
    reasoner: str | None = None
    prompt_tokens: int = 0
    duration_ms: int | None = None
    error: str | None = None
    bundle_path: str | None = None
    gathered: dict | None = None
    thread_id: str | None = None
    created_at: float
    finished_at: float | None = None
    corrections: list[CorrectionRecord] = Field(default_factory=list)

    @property
    def pattern(self) -> str:
        return self.event.pattern.value

    @property
    def service(self) -> str | None:
        return self.event.primary_service

    @property
    def latest_correction(self) -> CorrectionRecord | None:
        return self.corrections[-1] if self.corrections else None

    @property
    def in_experience(self) -> bool:
        """False when the case's latest correction keeps it out of experience (``correct --no-index``)."""
        latest = self.latest_correction
        return latest is None or not latest.no_index


class SkillVersionRecord(Record):
    """One stored version of a Skill's YAML."""

    name: str
    version: int
    yaml_text: str
    sha256: str
    reason: str = ""
    author: str | None = None
    active: bool
    created_at: float
    created: bool = Field(default=False, description="True when this call stored it; False for a duplicate.")


class ScheduleRecord(Record):
    """A scheduled inspection."""

    job_id: str
    skill: str
    cron: str
    services: list[str] = Field(default_factory=list)
    enabled: bool = True
    last_run: float | None = None
    last_status: str | None = None
    last_case_id: str | None = None
    last_reason: str | None = None
    running_by: str | None = None
    running_since: float | None = None
    running_until: float | None = None
    created_at: float
    updated_at: float


class ScheduleRunRecord(Record):
    """One run of a schedule, from its history."""

    id: int
    job_id: str
    started_at: float | None = None  # None: the last run a schedule had before run histories were kept
    finished_at: float
    status: str
    reason: str | None = None
    case_id: str | None = None
    trigger: RunTrigger | None = None  # None: as started_at
    holder: str | None = None  # the run claim (host:pid:token) of a run recorded as it started

    @property
    def took(self) -> float | None:
        """How long the run took, in seconds; None when its start is unknown or it is still running."""
        if self.started_at is None or self.status == RUNNING:
            return None
        return max(0.0, self.finished_at - self.started_at)


class AlertKind(StrEnum):
    """How an incoming alert notification relates to what memory has seen."""

    NEW = "new"  # a new problem: a new incident was opened
    REPEAT = "repeat"  # the same alert again while it is still firing (re-notification)
    DUPLICATE = "duplicate"  # another alert on a service that already has an open incident
    RESOLVED = "resolved"  # the alert stopped firing
    STALE = "stale"  # a late copy: firing, of a resolved episode (same or older startsAt); resolved, of an older one


class AlertNotice(Record):
    """One alert notification to observe and, when it calls for one, queue an investigation for."""

    fingerprint: str
    alertname: str
    service: str | None = None
    status: str = Field(description="firing or resolved.")
    ts: float = Field(description="When it was seen (a resolution: its endsAt).")
    event: Event = Field(description="The event an investigation it queues would look into.")
    source: str = "webhook"
    starts_at: float | None = Field(default=None, description="Its startsAt, which names the firing episode.")


class AlertRecord(Record):
    """One alert's dedup state: its identity and its latest firing episode."""

    fingerprint: str
    alertname: str
    service: str | None = None
    status: str
    first_seen: float = Field(description="When the latest episode was first notified.")
    starts_at: float | None = Field(default=None, description="The latest episode's startsAt, if the sender gave one.")
    incident_id: str | None = Field(default=None, description="The incident the latest episode joined.")

    @property
    def began(self) -> float:
        """When the latest episode began: its ``startsAt``, else its first notification."""
        return self.starts_at if self.starts_at is not None else self.first_seen


class AlertObservation(Record):
    """The dedup classification of one alert notification."""

    kind: AlertKind
    fingerprint: str
    alertname: str
    service: str | None = None
    incident_id: str | None = Field(default=None, description="The incident the alert belongs to.")
    case_id: str | None = Field(default=None, description="The case that investigates that incident.")
    count: int = Field(default=1, description="Notifications of this alert in its current firing episode.")
    incident_resolved: bool = Field(
        default=False, description="RESOLVED: the whole incident is now resolved."
    )
    queue_id: str | None = Field(default=None, description="The incident's queued investigation, if any.")
    queue_status: QueueStatus | None = Field(default=None, description="Where that investigation is.")
    queued: bool = Field(default=False, description="This notification queued an investigation (new or again).")
    starts_at: float | None = Field(default=None, description="The recorded episode's startsAt, when known.")

    @property
    def needs_investigation(self) -> bool:
        """Only a NEW alert opens an incident to investigate; the rest attach to an existing one."""
        return self.kind is AlertKind.NEW


class IncidentRecord(Record):
    """A group of alerts judged to be one problem."""

    id: str
    service: str | None = None
    status: Literal["open", "resolved"]
    first_seen: float
    last_seen: float
    alert_count: int
    case_id: str | None = None
    resolved_at: float | None = None


class QueueItemRecord(Record):
    """One queued investigation and where it is."""

    id: str
    incident_id: str | None = None
    event: Event
    source: str
    skill: str | None = None
    thread_id: str = Field(description="The checkpoint thread: an interrupted run resumes from it.")
    status: QueueStatus
    attempts: int = Field(description="Times a worker took it (a crash counts).")
    not_before: float = Field(description="A pending item waits until then (retry backoff).")
    claimed_by: str | None = Field(default=None, description="The worker (host:pid:token) running it.")
    claimed_at: float | None = None
    lease_until: float | None = Field(default=None, description="Past it, a running item counts as abandoned.")
    case_id: str | None = None
    last_error: str | None = None
    created_at: float
    updated_at: float
    finished_at: float | None = None


class QueueStats(Record):
    """How many queued investigations are in each state."""

    pending: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    oldest_pending_at: float | None = None

    @property
    def outstanding(self) -> int:
        """Work not finished yet (pending or running): what the webhook's bound counts."""
        return self.pending + self.running


class QuietAlertRecord(Record):
    """An alert the service investigated and judged not needing attention (what the digest lists)."""

    case_id: str
    service: str | None = None
    alertname: str = ""
    time: float = Field(description="When the alert began (its startsAt, else when it was received).")
    finished_at: float = Field(description="When its case was finished: the digest's period is read by this.")
    reason: str | None = Field(default=None, description="Why no attention is needed, as the verdict said.")
