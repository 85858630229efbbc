"""Scheduled inspections: APScheduler 3 cron jobs, one per schedule, persisted in the database."""

from agent.scheduler.jobs import InspectionRun, configure, run_inspection, scheduled_inspection
from agent.scheduler.service import (
    SyncReport,
    build_scheduler,
    paused_scheduler,
    start_scheduler,
    sync_schedules,
)
from agent.scheduler.specs import skill_job_id

__all__ = [
    "InspectionRun",
    "SyncReport",
    "build_scheduler",
    "configure",
    "paused_scheduler",
    "run_inspection",
    "scheduled_inspection",
    "skill_job_id",
    "start_scheduler",
    "sync_schedules",
]
