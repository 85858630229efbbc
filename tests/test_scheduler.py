"""Scheduled inspections: syncing cron jobs from Skills and memory, persistence, runs and their records."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger
from fastapi.testclient import TestClient

from agent.api.app import create_app
from agent.api.dryrun import DryRunInvestigator
from agent.config import Settings, get_settings
from agent.cron import cron_trigger
from agent.memory import Memory, ScheduleBusyError
from agent.scheduler import configure, paused_scheduler, run_inspection, start_scheduler, sync_schedules
from agent.scheduler import jobs as scheduler_jobs
from agent.scheduler.jobs import RUN_LEASE_S, expand_services, scheduled_inspection, unknown_services
from agent.scheduler.service import LOCAL, MISFIRE_GRACE_S, RESYNC_JOB, RESYNC_S
from agent.sources.base import LogRecord
from agent.sources.sqlstore import ObservabilityStore

SKILL = """\
name: {name}
description: A small {pattern} Skill for the scheduler tests, looking at disk usage.
pattern: {pattern}
scope:
  services: {services}
{schedule}window: 3h
data:
  metrics:
    - id: disk
      name: disk_usage_ratio
      labels: {{service: "{{service}}"}}
      compare: threshold
      direction: up
      threshold: 0.85
decision:
  default: {default}
"""


def write_skill(directory, name, cron=None, pattern="inspection", services="[ranking, cache]"):
    schedule = f'schedule: "{cron}"\n' if cron else ""
    default = "info" if pattern == "inspection" else "attention"
    text = SKILL.format(name=name, pattern=pattern, services=services, schedule=schedule, default=default)
    (directory / f"{name}.yaml").write_text(text)


@pytest.fixture
def skills_dir(tmp_path):
    directory = tmp_path / "skills"
    directory.mkdir()
    write_skill(directory, "disk-check", "*/10 * * * *")
    write_skill(directory, "cache-check", "0 3 * * 1", services="[cache]")
    write_skill(directory, "unscheduled-check")
    write_skill(directory, "latency-rca", pattern="rca")
    return directory


@pytest.fixture
def settings(skills_dir, bianque_home) -> Settings:
    return get_settings().model_copy(update={"skills_dirs": [skills_dir]})


@pytest.fixture
def memory(settings):
    with Memory(settings.resolved_database_url) as store:
        yield store


def jobs(settings):
    with paused_scheduler(settings) as scheduler:
        return {job.id: job for job in scheduler.get_jobs()}


def cron(text):
    return str(cron_trigger(text))


def test_sync_creates_one_cron_job_per_scheduled_inspection_skill(settings, memory):
    report = sync_schedules(settings)
    assert report.added == ["skill:cache-check", "skill:disk-check"] and report.problems == []
    found = jobs(settings)
    assert sorted(found) == ["skill:cache-check", "skill:disk-check"]
    disk = found["skill:disk-check"]
    assert str(disk.trigger) == cron("*/10 * * * *") and str(disk.trigger.timezone) == "UTC"
    assert disk.func_ref == "agent.scheduler.jobs:scheduled_inspection" and disk.args == ("skill:disk-check",)
    assert (disk.coalesce, disk.max_instances, disk.misfire_grace_time) == (True, 1, MISFIRE_GRACE_S)
    assert str(found["skill:cache-check"].trigger) == cron("0 3 * * 1")
    assert found["skill:cache-check"].next_run_time.strftime("%a %H:%M") == "Mon 03:00"  # crontab's 1 is Monday
    stored = {s.job_id: s for s in memory.list_schedules()}
    assert (stored["skill:disk-check"].skill, stored["skill:disk-check"].services) == (
        "disk-check",
        ["ranking", "cache"],
    )


def test_jobs_survive_a_scheduler_restart_with_their_next_run(settings):
    sync_schedules(settings)
    before = {job_id: job.next_run_time for job_id, job in jobs(settings).items()}
    again = sync_schedules(settings)
    assert again.unchanged == ["skill:cache-check", "skill:disk-check"] and not (again.added or again.updated)
    assert {job_id: job.next_run_time for job_id, job in jobs(settings).items()} == before
    assert before["skill:disk-check"] > datetime.now(UTC)


def test_a_job_stored_with_apscheduler_weekday_numbers_is_rescheduled_to_crontabs(settings):
    sync_schedules(settings)
    with paused_scheduler(settings) as scheduler:  # as the scheduler stored it before: 1 read as Tuesday
        scheduler.reschedule_job("skill:cache-check", trigger=CronTrigger.from_crontab("0 3 * * 1", timezone="UTC"))
    assert jobs(settings)["skill:cache-check"].next_run_time.strftime("%a") == "Tue"
    assert sync_schedules(settings).updated == ["skill:cache-check"]
    assert jobs(settings)["skill:cache-check"].next_run_time.strftime("%a %H:%M") == "Mon 03:00"


def test_removing_or_changing_a_skill_schedule_removes_or_updates_its_job(settings, skills_dir, memory):
    sync_schedules(settings)
    write_skill(skills_dir, "disk-check")  # no schedule any more
    write_skill(skills_dir, "cache-check", "30 4 * * *", services="[cache]")
    report = sync_schedules(settings)
    assert (report.removed, report.updated) == (["skill:disk-check"], ["skill:cache-check"])
    found = jobs(settings)
    assert list(found) == ["skill:cache-check"] and str(found["skill:cache-check"].trigger) == cron("30 4 * * *")
    assert [s.job_id for s in memory.list_schedules()] == ["skill:cache-check"]
    (skills_dir / "cache-check.yaml").unlink()
    assert sync_schedules(settings).removed == ["skill:cache-check"] and jobs(settings) == {}


@pytest.mark.parametrize("enabled", [True, False])
def test_a_skill_file_that_stops_loading_keeps_its_schedule(settings, skills_dir, memory, enabled):
    sync_schedules(settings)
    memory.set_schedule_enabled("skill:disk-check", enabled)
    memory.record_schedule_run("skill:disk-check", "done", case_id="c1")
    good = (skills_dir / "disk-check.yaml").read_text()
    (skills_dir / "disk-check.yaml").write_text(good.replace("window: 3h", "window: 3 hourz"))
    report = sync_schedules(settings)
    assert "skill:disk-check" not in jobs(settings)
    if enabled:  # said why it has no job
        problem = "schedule skill:disk-check: no Skill named 'disk-check' (its file did not load: "
        assert report.problems[0].startswith(problem) and "disk-check.yaml:7: window: " in report.problems[0]
    kept = memory.get_schedule("skill:disk-check")
    assert (kept.enabled, kept.last_status, kept.last_case_id) == (enabled, "done", "c1")
    (skills_dir / "disk-check.yaml").write_text(good)
    assert sync_schedules(settings).problems == []
    assert memory.get_schedule("skill:disk-check").model_dump() == kept.model_dump()  # nothing lost
    assert ("skill:disk-check" in jobs(settings)) is enabled


@pytest.mark.parametrize("typo", ["field", "syntax"])
def test_a_skill_file_named_otherwise_that_stops_loading_keeps_its_schedule(settings, skills_dir, memory, typo):
    """The file is found to be the Skill's by the name its ``name:`` line declares, not by its file name."""
    write_skill(skills_dir, "disk-check", "*/10 * * * *")
    (skills_dir / "disk-check.yaml").rename(skills_dir / "my-disk.yaml")
    sync_schedules(settings)
    memory.set_schedule_enabled("skill:disk-check", False)
    memory.record_schedule_run("skill:disk-check", "done", case_id="c1")
    good = (skills_dir / "my-disk.yaml").read_text()
    broken = {"field": good.replace("window: 3h", "window: 3 hourz"),
              "syntax": good.replace("window: 3h", "window: [3h")}[typo]
    (skills_dir / "my-disk.yaml").write_text(broken)
    sync_schedules(settings)
    kept = memory.get_schedule("skill:disk-check")
    assert (kept.enabled, kept.last_status, kept.last_case_id) == (False, "done", "c1")
    memory.set_schedule_enabled("skill:disk-check", True)
    problems = sync_schedules(settings).problems
    assert len(problems) == 1
    assert problems[0].startswith("schedule skill:disk-check: no Skill named 'disk-check' (its file did not load: ")
    assert "my-disk.yaml:" in problems[0]
    (skills_dir / "my-disk.yaml").write_text(good)
    assert sync_schedules(settings).added == ["skill:disk-check"]
    assert memory.get_schedule("skill:disk-check").last_case_id == "c1"


def test_stored_schedules_become_jobs_and_unusable_ones_are_reported(settings, memory):
    memory.save_schedule("nightly-ranking", "unscheduled-check", "0 2 * * *", ["ranking"])
    memory.save_schedule("rca-on-a-timer", "latency-rca", "0 2 * * *")
    memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")
    memory.save_schedule("bad-cron", "unscheduled-check", "61 * * * *")
    report = sync_schedules(settings)
    assert "nightly-ranking" in report.added and "nightly-ranking" in jobs(settings)
    problems = "\n".join(report.problems)
    assert "schedule rca-on-a-timer: Skill 'latency-rca' is rca, only inspection Skills" in problems
    assert "schedule ghost: no Skill named 'no-such-skill'" in problems
    assert "schedule bad-cron: cron '61 * * * *'" in problems
    assert sorted(jobs(settings)) == ["nightly-ranking", "skill:cache-check", "skill:disk-check"]


def test_a_disabled_schedule_has_no_job_and_stays_disabled(settings, memory):
    sync_schedules(settings)
    memory.set_schedule_enabled("skill:disk-check", False)
    assert sync_schedules(settings).removed == ["skill:disk-check"]
    assert "skill:disk-check" not in jobs(settings)
    sync_schedules(settings)
    assert memory.get_schedule("skill:disk-check").enabled is False


def test_a_mirror_resync_never_enables_a_schedule_disabled_while_it_ran(settings, skills_dir, memory, monkeypatch):
    """A `schedule disable` landing after the mirror read the schedules and before it saved the changed cron stays:
    the save keeps the stored flag in its own transaction, not the one read before."""
    sync_schedules(settings)
    write_skill(skills_dir, "disk-check", "*/20 * * * *")  # a cron change: the mirror saves it again
    save = Memory.save_schedule
    disabled: list[str] = []

    def disabled_meanwhile(self, job_id, *args, **kwargs):
        if job_id == "skill:disk-check" and not disabled:
            disabled.append(job_id)
            with Memory(settings.resolved_database_url) as other:  # `bianque schedule disable` in another process
                other.set_schedule_enabled(job_id, False)
        return save(self, job_id, *args, **kwargs)

    monkeypatch.setattr(Memory, "save_schedule", disabled_meanwhile)
    sync_schedules(settings)
    schedule = memory.get_schedule("skill:disk-check")
    assert disabled == ["skill:disk-check"] and (schedule.cron, schedule.enabled) == ("*/20 * * * *", False)
    assert "skill:disk-check" not in jobs(settings)
    sync_schedules(settings)
    assert memory.get_schedule("skill:disk-check").enabled is False


def test_run_inspection_investigates_the_skill_scope_and_records_the_run(settings, memory):
    sync_schedules(settings)
    run = run_inspection("disk-check", settings=settings, investigator=DryRunInvestigator(memory), now=1714557600.0)
    assert run.job_id == "skill:disk-check"
    assert run.event.pattern.value == "inspection" and run.event.scope.services == ["ranking", "cache"]
    assert (run.event.scope.window, run.event.time) == (3 * 3600.0, 1714557600.0)
    schedule = memory.get_schedule("skill:disk-check")
    assert (schedule.last_status, schedule.last_case_id) == ("done", run.result.case_id)
    (recorded,) = memory.schedule_runs("skill:disk-check")
    assert (recorded.status, recorded.case_id, recorded.trigger, recorded.finished_at) == (
        "done", run.result.case_id, "manual", schedule.last_run)
    assert recorded.started_at <= recorded.finished_at
    case = memory.get_case(run.result.case_id)
    assert case.skill == "disk-check" and memory.get_event(case.event_id).source == "schedule"


def test_run_inspection_with_services_given_and_no_schedule_records_nothing(settings, memory):
    run = run_inspection("unscheduled-check", ["cache"], settings=settings, investigator=DryRunInvestigator(memory))
    assert run.job_id is None and run.event.scope.services == ["cache"]
    assert memory.list_schedules() == []


def test_a_failed_run_is_recorded_and_raised(settings, memory):
    sync_schedules(settings)

    def broken(event, *, skill=None, source="api"):
        raise RuntimeError("sources down")

    with pytest.raises(RuntimeError, match="sources down"):
        run_inspection("disk-check", settings=settings, investigator=broken)
    schedule = memory.get_schedule("skill:disk-check")
    assert (schedule.last_status, schedule.last_reason) == ("failed", "RuntimeError: sources down")
    assert [(r.status, r.reason, r.trigger) for r in memory.schedule_runs("skill:disk-check")] == [
        ("failed", "RuntimeError: sources down", "manual")]


@pytest.mark.parametrize(
    ("skill", "error", "message"),
    [
        ("no-such-skill", LookupError, "no Skill named 'no-such-skill'"),
        ("latency-rca", ValueError, "not an inspection"),
    ],
)
def test_run_inspection_refuses_unknown_and_non_inspection_skills(settings, memory, skill, error, message):
    with pytest.raises(error, match=message):
        run_inspection(skill, settings=settings, investigator=DryRunInvestigator(memory))


def test_glob_scopes_expand_over_the_topology(settings, skills_dir, memory, tmp_path):
    write_skill(skills_dir, "search-side", services='["search-*", cache]')
    topology = tmp_path / "topology.yaml"
    topology.write_text("services:\n  search-api: {depends_on: [search-index]}\n  search-index: {}\n  cache: {}\n")
    with_topology = settings.model_copy(update={"topology_file": topology})
    run = run_inspection("search-side", settings=with_topology, investigator=DryRunInvestigator(memory))
    assert run.event.scope.services == ["search-api", "search-index", "cache"]


def test_a_glob_expands_over_the_services_with_data_as_schedule_add_checks_them(settings, memory):
    ObservabilityStore(settings.resolved_observability_url).ingest_logs(
        [LogRecord(100.0, "ranking-a", "INFO", "ok"), LogRecord(100.0, "ranking-b", "INFO", "ok"),
         LogRecord(100.0, "cache", "WARN", "slow")])  # no topology file: the log store knows them
    memory.save_schedule("glob", "disk-check", "*/3 * * * *", ["rank*"])
    run = run_inspection("disk-check", ["rank*"], job_id="glob", settings=settings,
                         investigator=DryRunInvestigator(memory))
    assert run.event.scope.services == ["ranking-a", "ranking-b"]


@pytest.mark.parametrize("with_data", [False, True])
def test_a_glob_matching_no_service_inspects_nothing_and_records_why(settings, memory, caplog, with_data):
    if with_data:
        ObservabilityStore(settings.resolved_observability_url).ingest_logs([LogRecord(100.0, "cache", "INFO", "ok")])
    memory.save_schedule("glob", "disk-check", "*/3 * * * *", ["rank*"])
    calls: list[object] = []
    configure(settings, lambda event, **kwargs: calls.append(event))
    try:
        with caplog.at_level("WARNING", logger="agent.scheduler.jobs"):
            scheduled_inspection("glob")
    finally:
        configure(None, None)
    assert calls == []  # not every service: none
    reason = "NoMatchingServiceError: no service with data matches 'rank*'; nothing inspected"
    schedule = memory.get_schedule("glob")
    assert (schedule.last_status, schedule.last_reason) == ("failed", reason)
    assert [(r.status, r.reason) for r in memory.schedule_runs("glob")] == [("failed", reason)]
    assert [r.getMessage() for r in caplog.records] == [f"schedule glob not run: {reason.split(': ', 1)[1]}"]


def test_expand_services_keeps_names_and_order_without_duplicates():
    known = ["a-1", "a-2", "b"]
    assert expand_services(["b", "a-*", "b", "zzz", "c?"], known) == ["b", "a-1", "a-2", "zzz"]


def test_unknown_services_are_names_not_known_and_globs_matching_none():
    known = ["a-1", "a-2", "b", "svc[1]"]
    assert unknown_services(["b", "a-*", "zzz", "c?", "svc[1]", "svc[2]"], known) == ["zzz", "c?", "svc[2]"]


def test_a_started_scheduler_runs_a_due_job_and_records_it(settings, memory):
    calls: list[str] = []
    ran = threading.Event()
    dry_run = DryRunInvestigator(memory)

    def investigator(event, *, skill=None, source="api"):
        calls.append(skill)
        result = dry_run(event, skill=skill, source=source)
        ran.set()
        return result

    configure(settings, investigator)
    scheduler = start_scheduler(settings)
    try:
        scheduler.modify_job("skill:cache-check", next_run_time=datetime.now(UTC))
        assert ran.wait(30), "the due job never ran"
        deadline = time.monotonic() + 30
        while memory.get_schedule("skill:cache-check").last_status is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
        configure(None, None)
    assert calls == ["cache-check"]
    schedule = memory.get_schedule("skill:cache-check")
    assert schedule.last_status == "done" and schedule.last_case_id is not None
    assert [(r.status, r.case_id, r.trigger) for r in memory.schedule_runs("skill:cache-check")] == [
        ("done", schedule.last_case_id, "scheduled")]
    assert jobs(settings)["skill:cache-check"].next_run_time > datetime.now(UTC)  # rescheduled, not lost


def test_a_started_scheduler_and_the_service_running_it_say_which_schedules_got_no_job(settings, memory, caplog):
    memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")
    scheduler = start_scheduler(settings, paused=True)
    try:
        assert [p.split(":")[0] for p in scheduler.sync_report.problems] == ["schedule ghost"]
    finally:
        scheduler.shutdown(wait=False)
    app = create_app(settings, DryRunInvestigator(memory), memory=memory, with_scheduler=True)
    try:
        with caplog.at_level("WARNING", logger="uvicorn.error"), TestClient(app):
            pass
    finally:
        configure(None, None)  # the app configured scheduled jobs to use its investigator
    assert any(r.getMessage().startswith("skipped schedule ghost: no Skill named 'no-such-skill'")
               for r in caplog.records)


def test_shutting_down_a_paused_scheduler_does_not_consume_a_due_run(settings):
    sync_schedules(settings)
    due = datetime.now(UTC).replace(microsecond=0)
    with paused_scheduler(settings) as scheduler:
        scheduler.modify_job("skill:disk-check", next_run_time=due)
    assert jobs(settings)["skill:disk-check"].next_run_time == due


def break_skill(skills_dir, name):
    """Make the Skill file ``name`` fail to load (a typo while editing it)."""
    path = skills_dir / f"{name}.yaml"
    path.write_text(path.read_text().replace("window: 3h", "window: 3 hourz"))


@pytest.mark.parametrize("change", ["broken", "deleted", "no longer an inspection"])
def test_a_job_whose_skill_stopped_loading_records_a_failed_run_saying_why(settings, skills_dir, memory, caplog,
                                                                           change):
    sync_schedules(settings)
    memory.set_schedule_enabled("skill:cache-check", False)  # the user's flag on another schedule, left alone
    memory.record_schedule_run("skill:disk-check", "done", case_id="c1")
    if change == "broken":
        break_skill(skills_dir, "disk-check")
    elif change == "deleted":
        (skills_dir / "disk-check.yaml").unlink()
    else:
        write_skill(skills_dir, "disk-check", pattern="rca")  # its job is still there until the next sync
    calls: list[str] = []
    configure(settings, lambda event, **kwargs: calls.append(kwargs["skill"]))
    try:
        with caplog.at_level("INFO"):
            scheduled_inspection("skill:disk-check")  # as the job fires: no exception for APScheduler to log
    finally:
        configure(None, None)
    assert calls == []
    schedule = memory.get_schedule("skill:disk-check")
    why = {"broken": "SkillUnavailableError: no Skill named 'disk-check' (its file did not load: ",
           "deleted": "SkillUnavailableError: no Skill named 'disk-check' (see `bianque skills list`)",
           "no longer an inspection": "SkillUnavailableError: Skill 'disk-check' is rca, not an inspection"}[change]
    assert (schedule.last_status, schedule.enabled, schedule.last_case_id) == ("failed", True, None)
    assert schedule.last_reason.startswith(why)
    assert [(r.status, r.trigger, r.reason) for r in memory.schedule_runs("skill:disk-check")] == [
        ("failed", "scheduled", schedule.last_reason), ("done", "manual", None)]
    said = [r for r in caplog.records if r.name == "agent.scheduler.jobs"]
    assert [(r.levelname, r.exc_info) for r in said] == [("WARNING", None)]
    assert said[0].getMessage().startswith(f"schedule skill:disk-check not run: {why.split(': ', 1)[1]}")
    assert memory.get_schedule("skill:cache-check").enabled is False


def test_a_job_whose_schedule_was_deleted_says_so_in_one_line(settings, memory, caplog):
    configure(settings, DryRunInvestigator(memory))
    try:
        with caplog.at_level("WARNING"):
            scheduled_inspection("gone")
    finally:
        configure(None, None)
    assert [(r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("schedule gone no longer exists; not run (the next sync removes its job)", None)]


def test_a_job_whose_schedule_is_deleted_as_it_starts_says_so_in_one_line(settings, memory, caplog, monkeypatch):
    """Deleted between the job reading its schedule and claiming it (`schedule remove` meanwhile): the same one
    line, not a traceback in APScheduler's log."""
    sync_schedules(settings)
    memory.save_schedule("nightly", "disk-check", "0 2 * * *")

    def deleted_meanwhile(cron, now, lookback):
        memory.delete_schedule("nightly")
        return None

    monkeypatch.setattr(scheduler_jobs, "last_tick", deleted_meanwhile)
    configure(settings, DryRunInvestigator(memory))
    try:
        with caplog.at_level("WARNING"):
            scheduled_inspection("nightly")
    finally:
        configure(None, None)
    assert [(r.getMessage(), r.exc_info) for r in caplog.records] == [
        ("schedule nightly no longer exists; not run (the next sync removes its job)", None)]


def test_a_running_scheduler_resyncs_skill_schedules_keeping_flags_and_history(settings, skills_dir, memory, caplog):
    configure(settings, DryRunInvestigator(memory))  # should an inspection fall due meanwhile
    scheduler = start_scheduler(settings)
    try:
        resync = scheduler.get_job(RESYNC_JOB, jobstore=LOCAL)
        assert resync.trigger.interval.total_seconds() == RESYNC_S
        assert sorted(job.id for job in scheduler.inspection_jobs()) == ["skill:cache-check", "skill:disk-check"]
        memory.set_schedule_enabled("skill:cache-check", False)
        memory.record_schedule_run("skill:disk-check", "done", case_id="c1")
        write_skill(skills_dir, "cache-check", "30 4 * * *", services="[cache]")  # its cron edited
        write_skill(skills_dir, "new-check", "0 5 * * *")  # a Skill added
        break_skill(skills_dir, "disk-check")
        kept = memory.get_schedule("skill:disk-check")

        def resynced() -> bool:
            return "skill:new-check" in jobs(settings)

        with caplog.at_level("INFO", logger="agent.scheduler.service"):
            scheduler.modify_job(RESYNC_JOB, LOCAL, next_run_time=datetime.now(UTC))  # due now, as after RESYNC_S
            deadline = time.monotonic() + 30
            while not resynced() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert resynced(), "the re-sync never ran"
            assert scheduler.resync().problems == scheduler.sync_report.problems  # again: a problem is said once
    finally:
        scheduler.shutdown(wait=True)
        configure(None, None)
    assert sorted(jobs(settings)) == ["skill:new-check"]  # the broken Skill's job gone, the disabled one too
    assert memory.get_schedule("skill:disk-check").model_dump() == kept.model_dump()  # history and flag kept
    cache = memory.get_schedule("skill:cache-check")
    assert (cache.cron, cache.enabled) == ("30 4 * * *", False)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].startswith("skipped schedule skill:disk-check: no Skill named")


class Blocking:
    """A dry-run investigator whose investigations wait until ``release`` is set; ``started`` is set by each."""

    def __init__(self, memory: Memory) -> None:
        self.dry_run = DryRunInvestigator(memory)
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, event, *, skill=None, source="api"):
        self.calls += 1
        self.started.set()
        assert self.release.wait(60), "never released"
        return self.dry_run(event, skill=skill, source=source)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition(), f"never happened: {what}"


def start_manual_run(settings, blocking: Blocking) -> threading.Thread:
    """`schedule run disk-check` in a thread of its own, its investigation held by ``blocking`` once started."""
    manual = threading.Thread(target=run_inspection, args=("disk-check",),
                              kwargs={"settings": settings, "investigator": blocking})
    manual.start()
    if not blocking.started.wait(30):
        blocking.release.set()
        manual.join()
        raise AssertionError("the manual run never started")
    return manual


def test_a_manual_run_and_a_scheduled_run_of_one_schedule_never_overlap(settings, memory, caplog):
    sync_schedules(settings)
    blocking = Blocking(memory)
    manual = start_manual_run(settings, blocking)
    try:
        holder = memory.get_schedule("skill:disk-check").running_by
        assert holder.startswith(scheduler_jobs.CLAIMANT + ":")
        configure(settings, blocking)
        with caplog.at_level("WARNING", logger="agent.scheduler.jobs"):
            scheduled_inspection("skill:disk-check")  # the job fires meanwhile: skipped, recorded so
        with pytest.raises(ScheduleBusyError, match="schedule 'skill:disk-check' is already running"):
            run_inspection("disk-check", settings=settings, investigator=blocking)  # a second manual run
        assert blocking.calls == 1
        skipped = memory.get_schedule("skill:disk-check")
        assert (skipped.last_status, skipped.running_by) == ("skipped", holder)
        assert skipped.last_reason.startswith("schedule 'skill:disk-check' is already running (started ")
        assert f"by {holder})" in skipped.last_reason
        assert [r.getMessage() for r in caplog.records] == [f"schedule skill:disk-check skipped: {skipped.last_reason}"]
    finally:
        blocking.release.set()
        manual.join()
        configure(None, None)
    done = memory.get_schedule("skill:disk-check")
    assert (done.last_status, done.last_reason, done.running_by, done.running_until) == ("done", None, None, None)
    skip, run = memory.schedule_runs("skill:disk-check")  # newest first by start: the manual run started first
    assert (skip.status, skip.trigger, skip.reason, skip.took) == ("skipped", "scheduled", skipped.last_reason, 0.0)
    assert (run.status, run.trigger, run.case_id) == ("done", "manual", done.last_case_id)
    assert run.started_at < skip.started_at < run.finished_at


def test_a_run_takes_over_a_claim_left_by_a_process_that_died(settings, memory):
    sync_schedules(settings)
    memory.claim_schedule_run("skill:disk-check", "gone-host:1:dead", RUN_LEASE_S, now=time.time() - RUN_LEASE_S - 1)
    run = run_inspection("disk-check", settings=settings, investigator=DryRunInvestigator(memory))
    schedule = memory.get_schedule("skill:disk-check")
    assert (schedule.last_status, schedule.last_case_id, schedule.running_by) == ("done", run.result.case_id, None)


def test_a_long_run_renews_its_claim(settings, memory, monkeypatch):
    sync_schedules(settings)
    monkeypatch.setattr(scheduler_jobs, "RUN_LEASE_S", 0.6)  # renewed every 0.2 s
    blocking = Blocking(memory)
    manual = start_manual_run(settings, blocking)
    try:
        first = memory.get_schedule("skill:disk-check").running_until
        wait_for(lambda: memory.get_schedule("skill:disk-check").running_until > first, "the lease renewed")
    finally:
        blocking.release.set()
        manual.join()
    assert memory.get_schedule("skill:disk-check").running_by is None


def test_a_run_apscheduler_does_not_start_because_the_last_still_runs_is_recorded_skipped(settings, memory):
    blocking = Blocking(memory)
    configure(settings, blocking)
    scheduler = start_scheduler(settings)
    try:
        scheduler.modify_job("skill:cache-check", next_run_time=datetime.now(UTC))
        assert blocking.started.wait(30), "the due job never ran"
        scheduler.modify_job("skill:cache-check", next_run_time=datetime.now(UTC))  # due again while it runs
        wait_for(lambda: memory.get_schedule("skill:cache-check").last_status == "skipped", "the skip recorded")
        skipped = memory.get_schedule("skill:cache-check")
        assert skipped.last_reason.startswith("schedule 'skill:cache-check' is already running (started ")
        assert f"by {skipped.running_by})" in skipped.last_reason
        blocking.release.set()
        wait_for(lambda: memory.get_schedule("skill:cache-check").last_status == "done", "the run recorded")
    finally:
        blocking.release.set()
        scheduler.shutdown(wait=True)
        configure(None, None)
    assert blocking.calls == 1
    assert memory.get_schedule("skill:cache-check").running_by is None
    assert [(r.status, r.trigger) for r in memory.schedule_runs("skill:cache-check")] == [
        ("skipped", "scheduled"), ("done", "scheduled")]


def test_a_run_whose_claim_cannot_be_guarded_releases_it(settings, memory, monkeypatch):
    """The claim is taken before the thread renewing it starts: when that thread cannot start (the process out of
    threads), the run fails and the claim goes with it, not held for RUN_LEASE_S against every other run."""
    sync_schedules(settings)

    class NoRenewer(threading.Thread):
        def start(self) -> None:
            if self.name.startswith("bianque-run-"):  # the renewer only: any other thread starts as usual
                raise RuntimeError("can't start new thread")
            super().start()

    monkeypatch.setattr(threading, "Thread", NoRenewer)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        run_inspection("disk-check", settings=settings, investigator=DryRunInvestigator(memory))
    assert memory.get_schedule("skill:disk-check").running_by is None


class DeletingSchedule:
    """A dry-run investigator that deletes the schedule ``job_id`` while it investigates (`schedule remove`
    meanwhile), then fails when ``fail`` is given."""

    def __init__(self, memory: Memory, job_id: str, fail: bool = False) -> None:
        self.memory, self.job_id, self.fail = memory, job_id, fail
        self.dry_run = DryRunInvestigator(memory)

    def __call__(self, event, *, skill=None, source="api"):
        self.memory.delete_schedule(self.job_id)
        if self.fail:
            raise RuntimeError("sources down")
        return self.dry_run(event, skill=skill, source=source)


def test_a_run_whose_schedule_is_deleted_while_it_runs_keeps_its_outcome(settings, memory, caplog):
    """Nothing is left to record the run on: said in one line; the run's own result (or error) is what comes back,
    not ScheduleNotFoundError."""
    memory.save_schedule("nightly", "disk-check", "0 2 * * *")
    with caplog.at_level("WARNING", logger="agent.scheduler.jobs"):
        run = run_inspection("disk-check", job_id="nightly", settings=settings,
                             investigator=DeletingSchedule(memory, "nightly"))
        assert memory.get_case(run.result.case_id).status == "done"
        memory.save_schedule("nightly", "disk-check", "0 2 * * *")
        with pytest.raises(RuntimeError, match="sources down"):
            run_inspection("disk-check", job_id="nightly", settings=settings,
                           investigator=DeletingSchedule(memory, "nightly", fail=True))
    assert [r.getMessage() for r in caplog.records] == [
        "schedule nightly was deleted while it ran; its run (done) is not recorded",
        "schedule nightly was deleted while it ran; its run (failed) is not recorded"]


HANGING_RUN = """\
import pathlib, sys, time
from agent.config import get_settings
from agent.scheduler import run_inspection

def hang(event, **kwargs):
    pathlib.Path(sys.argv[2]).touch()  # the investigation has started
    time.sleep(600)

dirs = [pathlib.Path(d) for d in sys.argv[3:]]
settings = get_settings().model_copy(update={"skills_dirs": dirs}) if dirs else get_settings()
run_inspection(sys.argv[1], settings=settings, investigator=hang, trigger="scheduled")
"""


def killed_mid_run(tmp_path, skill: str = "disk-check", skills_dir=None) -> int:
    """Run ``skill`` in a process of its own and `kill -9` it while it investigates; that process's id."""
    started = tmp_path / "started"
    dirs = [str(skills_dir)] if skills_dir else []
    proc = subprocess.Popen([sys.executable, "-c", HANGING_RUN, skill, str(started), *dirs], env=dict(os.environ))
    try:
        wait_for(lambda: started.exists() or proc.poll() is not None, "the run started")
        assert proc.poll() is None, "the run ended by itself"
    finally:
        proc.kill()  # SIGKILL: nothing of it runs after this
        proc.wait()
    return proc.pid


def test_a_run_killed_mid_run_is_found_interrupted_and_its_claim_taken_over_at_once(settings, skills_dir, memory,
                                                                                   tmp_path, caplog):
    sync_schedules(settings)
    pid = killed_mid_run(tmp_path, skills_dir=skills_dir)
    (left,) = memory.schedule_runs("skill:disk-check")  # recorded as it started, not lost
    holder = f"{socket.gethostname()}:{pid}:"
    assert (left.status, left.trigger, left.holder.startswith(holder)) == ("running", "scheduled", True)
    assert memory.get_schedule("skill:disk-check").running_by == left.holder  # its lease has not run out
    with caplog.at_level("WARNING", logger="agent.scheduler.jobs"):  # taken over at once, not refused
        run = run_inspection("disk-check", settings=settings, investigator=DryRunInvestigator(memory))
    done, interrupted = memory.schedule_runs("skill:disk-check")
    assert (done.status, done.case_id) == ("done", run.result.case_id)
    assert (interrupted.id, interrupted.status) == (left.id, "failed")
    assert interrupted.reason.startswith(f"interrupted: the process that ran it ({left.holder}) is no longer running")
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("schedule skill:disk-check: its run started ")
    assert f"by {left.holder} was interrupted (that process is no longer running)" in said[0]


def test_a_restarted_scheduler_records_a_run_killed_mid_run_as_failed(settings, skills_dir, memory, tmp_path):
    sync_schedules(settings)
    killed_mid_run(tmp_path, skills_dir=skills_dir)
    scheduler = start_scheduler(settings, paused=True)
    scheduler.shutdown(wait=False)
    (run,) = memory.schedule_runs("skill:disk-check")
    schedule = memory.get_schedule("skill:disk-check")
    assert (run.status, schedule.last_status, schedule.last_reason) == ("failed", "failed", run.reason)
    assert run.reason.startswith("interrupted: ") and schedule.running_by is None


def test_a_running_schedulers_resync_records_a_run_killed_since_it_started_as_failed(settings, skills_dir, memory,
                                                                                    tmp_path):
    """A run a process left `running` when it died after the scheduler started is recorded at the next re-sync, not
    only at the schedule's next run or a restart (the faces showed it failed, the database said running)."""
    scheduler = start_scheduler(settings, paused=True)
    try:
        killed_mid_run(tmp_path, skills_dir=skills_dir)
        assert memory.schedule_runs("skill:disk-check")[0].status == "running"
        scheduler.resync()
    finally:
        scheduler.shutdown(wait=False)
    (run,) = memory.schedule_runs("skill:disk-check")
    schedule = memory.get_schedule("skill:disk-check")
    assert (run.status, schedule.last_status, schedule.running_by) == ("failed", "failed", None)
    assert run.reason.startswith("interrupted: ")


def test_a_claim_of_a_process_of_another_host_keeps_its_lease(settings, memory):
    sync_schedules(settings)
    claim = memory.claim_schedule_run("skill:disk-check", "elsewhere:1:abcd1234", RUN_LEASE_S)
    with pytest.raises(ScheduleBusyError, match="by elsewhere:1:abcd1234\\); its lease runs out at 20"):
        run_inspection("disk-check", settings=settings, investigator=DryRunInvestigator(memory))
    assert memory.get_schedule("skill:disk-check").running_until == claim.running_until


def left_by_a_dead_process(memory, job_id: str) -> str:
    """A run of ``job_id`` recorded as started, and its claim, by a process of this host that has ended (as a
    `kill -9` leaves them); that run's holder."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = f"{socket.gethostname()}:{dead.pid}:deadbeef"
    memory.start_schedule_run(job_id, holder, trigger="scheduled")
    memory.claim_schedule_run(job_id, holder, lease_s=300.0)
    return holder
