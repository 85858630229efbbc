"""``/schedules``: every schedule as ``bianque schedule list`` reads it, a schedule's run history, running one now."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from agent.api.app import create_app
from agent.api.settings import ApiSettings
from agent.config import get_settings
from agent.memory import Memory
from agent.scheduler import paused_scheduler, sync_schedules
from agent.scheduler.service import JOBSTORE_TABLE
from agent.sources.base import LogRecord
from agent.sources.sqlstore import ObservabilityStore
from tests.test_api_support import CountingInvestigator, make_client


def by_id(client: TestClient) -> dict[str, dict]:
    response = client.get("/schedules")
    assert response.status_code == 200, response.text
    return {row["job_id"]: row for row in response.json()}


def test_no_schedules_is_an_empty_list(client):
    assert client.get("/schedules").json() == []


@pytest.mark.usefixtures("demo_system")  # the built-in Skills' schedules synced enabled
def test_each_schedule_says_its_next_run_last_run_and_whether_it_runs_or_why_it_has_no_job(memory, investigator):
    """Set up before the app starts: APScheduler's own writes to the job store do not race its queue workers."""
    settings = get_settings()
    memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")  # its Skill since gone
    memory.save_schedule("paused", "disk-inspection", "0 2 * * *", enabled=False)
    sync_schedules(settings)
    memory.save_schedule("fresh", "disk-inspection", "0 3 * * *", ["cache"])  # stored since the last sync
    memory.record_schedule_run("skill:saturation-inspection", "done", case_id="3f2a9c1d0b7e")
    memory.record_schedule_run("skill:disk-inspection", "failed", reason="OSError: <b>disk</b> [gone](http://x)")
    memory.claim_schedule_run("skill:error-log-inspection", "replica-2:4242:ab12cd34", lease_s=300.0)
    with paused_scheduler(settings) as scheduler:  # as stored when no scheduler ran since
        scheduler.modify_job("skill:memory-leak-inspection", next_run_time=datetime.now(UTC) - timedelta(hours=1))
    with make_client(memory, investigator) as client:
        rows = by_id(client)
    now = time.time()

    assert sorted(rows) == ["fresh", "ghost", "paused", "skill:disk-inspection", "skill:error-log-inspection",
                            "skill:memory-leak-inspection", "skill:saturation-inspection",
                            "skill:serving-health-inspection"]
    disk = rows["skill:disk-inspection"]
    assert (disk["skill"], disk["cron"], disk["enabled"], disk["job"]) == ("disk-inspection", "0 */2 * * *", True,
                                                                           "scheduled")
    assert now < disk["next_run"] <= now + 2 * 3600 and disk["overdue"] is False and disk["running"] is False
    assert (disk["last_status"], disk["last_reason"]) == ("failed", "OSError: <b>disk</b> [gone](http://x)")
    assert rows["skill:saturation-inspection"]["last_case_id"] == "3f2a9c1d0b7e"
    late = rows["skill:memory-leak-inspection"]
    assert late["overdue"] is True and late["next_run"] < now and late["job"] == "scheduled"
    busy = rows["skill:error-log-inspection"]
    assert busy["running"] is True and busy["running_by"] == "replica-2:4242:ab12cd34"
    assert busy["running_since"] <= now < busy["running_until"]
    ghost = rows["ghost"]
    assert (ghost["job"], ghost["next_run"]) == ("cannot run", None)
    assert ghost["problem"].startswith("no Skill named 'no-such-skill'")
    assert (rows["paused"]["job"], rows["paused"]["problem"], rows["paused"]["enabled"]) == ("disabled", None, False)
    assert (rows["fresh"]["job"], rows["fresh"]["services"], rows["fresh"]["problem"]) == ("not synced", ["cache"],
                                                                                          None)


def test_listing_the_schedules_starts_no_scheduler_and_writes_nothing(client, memory, monkeypatch):
    """GET /schedules started a paused APScheduler per request (an engine and a thread of its own), which on a
    database no scheduler or sync had used created the job store's table: a GET wrote."""
    import agent.scheduler.service as service

    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *")

    def no_scheduler(*_args, **_kwargs):
        raise AssertionError("GET /schedules built a scheduler")

    monkeypatch.setattr(service, "build_scheduler", no_scheduler)
    assert (by_id(client)["nightly"]["job"], by_id(client)["nightly"]["next_run"]) == ("not synced", None)
    assert not inspect(memory.engine).has_table(JOBSTORE_TABLE)


def test_a_lapsed_run_claim_is_no_run_in_progress(client, memory):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *")
    memory.claim_schedule_run("nightly", "gone:1:ab12cd34", lease_s=60.0, now=time.time() - 3600)  # its process died
    assert by_id(client)["nightly"]["running"] is False


def test_runs_newest_first_with_a_limit(client, memory):
    memory.save_schedule("team/nightly", "disk-inspection", "0 2 * * *")  # a job id may hold a slash
    memory.save_schedule("hourly", "disk-inspection", "0 * * * *")
    memory.record_schedule_run("team/nightly", "done", ts=7212.0, started=7200.0, case_id="3f2a9c1d0b7e",
                               trigger="scheduled")
    memory.record_schedule_run("team/nightly", "failed", ts=14600.0, started=14400.0, reason="RuntimeError: down")
    memory.record_schedule_run("hourly", "done", ts=20000.0, case_id="0123456789ab")

    runs = client.get("/schedules/team/nightly/runs").json()
    assert [(r["status"], r["case_id"], r["reason"], r["trigger"], r["took"]) for r in runs] == [
        ("failed", None, "RuntimeError: down", "manual", 200.0), ("done", "3f2a9c1d0b7e", None, "scheduled", 12.0)]
    assert (runs[1]["job_id"], runs[1]["started_at"], runs[1]["finished_at"]) == ("team/nightly", 7200.0, 7212.0)
    newest = client.get("/schedules/team/nightly/runs", params={"limit": 1}).json()
    assert [r["status"] for r in newest] == ["failed"]
    memory.save_schedule("quiet", "disk-inspection", "0 4 * * *")
    assert client.get("/schedules/quiet/runs").json() == []


def test_a_bad_limit_or_an_unknown_job_id_is_named(client, memory):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *")
    for limit in ("0", "201", "many"):
        response = client.get("/schedules/nightly/runs", params={"limit": limit})
        assert response.status_code == 422 and response.json()["detail"].startswith("invalid request: query.limit: ")
    missing = client.get("/schedules/nope/runs")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no schedule with job id 'nope' (see GET /schedules)"


def test_schedules_need_the_token_when_one_is_set(memory, investigator):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *")
    app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token="s3cret"))
    with TestClient(app) as client:
        for path in ("/schedules", "/schedules/nightly/runs"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.post("/schedules/nightly/run").status_code == 401
    assert investigator.calls == [] and memory.schedule_runs("nightly") == []


def test_run_now_inspects_the_schedules_services_and_records_a_manual_run(client, memory, investigator):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    response = client.post("/schedules/nightly/run")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["job_id"], body["skill"]) == ("nightly", "disk-inspection")
    assert body["event"]["scope"]["services"] == ["cache"] and body["result"]["verdict"]["pattern"] == "inspection"
    ((event, skill, source),) = investigator.calls  # this service's investigator ran it
    assert (skill, source, event.scope.services) == ("disk-inspection", "schedule", ["cache"])
    schedule = memory.get_schedule("nightly")
    assert (schedule.last_status, schedule.last_case_id) == ("done", body["result"]["case_id"])
    assert [(r.status, r.trigger) for r in memory.schedule_runs("nightly")] == [("done", "manual")]
    assert memory.get_case(body["result"]["case_id"]).skill == "disk-inspection"


def test_run_now_is_refused_while_another_run_holds_the_schedule(client, memory, investigator):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *")
    memory.claim_schedule_run("nightly", "replica-2:4242:ab12cd34", lease_s=300.0)  # a scheduled run elsewhere
    response = client.post("/schedules/nightly/run")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("schedule 'nightly' is already running (started ")
    assert "by replica-2:4242:ab12cd34" in response.json()["detail"]
    assert investigator.calls == [] and memory.schedule_runs("nightly") == []  # nothing run, nothing recorded
    assert memory.get_schedule("nightly").running_by == "replica-2:4242:ab12cd34"  # its claim left alone


def test_run_now_of_an_unknown_schedule_or_one_whose_skill_is_gone(client, memory, investigator):
    missing = client.post("/schedules/nope/run")
    assert missing.status_code == 404
    assert missing.json()["detail"] == ("no schedule with job id 'nope' and no Skill of that name (see GET /schedules, "
                                        "GET /skills)")
    memory.save_schedule("ghost", "no-such-skill", "0 3 * * *")
    gone = client.post("/schedules/ghost/run")
    assert gone.status_code == 409 and gone.json()["detail"].startswith("no Skill named 'no-such-skill'")
    assert investigator.calls == []
    (run,) = memory.schedule_runs("ghost")  # recorded as a failed run, as the scheduler's would be
    assert run.status == "failed" and run.reason.startswith("SkillUnavailableError: no Skill named 'no-such-skill'")


def test_run_now_takes_a_skills_name_as_schedule_run_does(memory, investigator):
    """As `bianque schedule run disk-inspection`: the Skill over its scope, recorded on its own schedule; a Skill
    without one runs unrecorded; a Skill that is no inspection is refused."""
    sync_schedules(get_settings())
    # generic-inspection's scope is '*': a service with data for it to match
    ObservabilityStore(get_settings().resolved_observability_url).ingest_logs([LogRecord(1.0, "cache", "INFO", "ok")])
    with make_client(memory, investigator) as client:
        own = client.post("/schedules/disk-inspection/run")
        unscheduled = client.post("/schedules/generic-inspection/run")
        rca = client.post("/schedules/generic-rca/run")
    assert own.status_code == 200, own.text
    assert (own.json()["job_id"], own.json()["skill"]) == ("skill:disk-inspection", "disk-inspection")
    (run,) = memory.schedule_runs("skill:disk-inspection")
    assert (run.status, run.trigger, run.case_id) == ("done", "manual", own.json()["result"]["case_id"])
    assert unscheduled.status_code == 200, unscheduled.text
    assert (unscheduled.json()["job_id"], unscheduled.json()["skill"]) == (None, "generic-inspection")
    assert rca.status_code == 409 and "not an inspection" in rca.json()["detail"]
    assert [skill for _, skill, _ in investigator.calls] == ["disk-inspection", "generic-inspection"]


def test_run_now_uses_the_apps_own_memory_not_a_database_of_its_own(tmp_path, monkeypatch):
    """The app's memory may be another database than the settings name: the run is found, held and recorded there,
    in the open memory (no Memory opened per request)."""
    import agent.scheduler.jobs as jobs

    with Memory(f"sqlite:///{tmp_path / 'app.db'}") as app_memory:
        app_memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
        investigator = CountingInvestigator(app_memory)
        with make_client(app_memory, investigator) as client:
            def no_memory(*_args, **_kwargs):
                raise AssertionError("the run opened a Memory of its own")

            monkeypatch.setattr(jobs, "Memory", no_memory)
            response = client.post("/schedules/nightly/run")
        assert response.status_code == 200, response.text
        (run,) = app_memory.schedule_runs("nightly")
        assert (run.status, run.case_id) == ("done", response.json()["result"]["case_id"])
        assert app_memory.get_schedule("nightly").running_by is None  # its claim released


def test_run_now_of_a_skill_whose_file_does_not_load_says_why_as_schedule_run_does(memory, investigator):
    """A Skill's name whose file stopped loading was a 404 "no Skill of that name", where `bianque schedule run` says
    which file did not load and why (exit 2) and records the failed run on the Skill's schedule, which the mirror
    keeps while its file is broken."""
    from agent.config import PROJECT_ROOT

    settings = get_settings()
    user_dir = settings.user_skills_dir or settings.home / "skills"
    user_dir.mkdir(parents=True, exist_ok=True)
    good = (PROJECT_ROOT / "skills" / "disk-inspection.yaml").read_text().replace(
        "name: disk-inspection", "name: nightly-disk")
    (user_dir / "nightly-disk.yaml").write_text(good)
    sync_schedules(settings)
    (user_dir / "nightly-disk.yaml").write_text(good.replace("lookback: 6h", "lookback: 6 hourz"))
    with make_client(memory, investigator) as client:
        answer = client.post("/schedules/nightly-disk/run")
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"].startswith("no Skill named 'nightly-disk' (its file did not load: ")
    assert "nightly-disk.yaml:" in answer.json()["detail"] and investigator.calls == []
    (run,) = memory.schedule_runs("skill:nightly-disk")
    assert (run.status, run.trigger) == ("failed", "manual")
    assert run.reason.startswith("SkillUnavailableError: no Skill named 'nightly-disk' (its file did not load: ")


def test_a_run_whose_process_died_is_shown_interrupted_as_schedule_list_and_history_show_it(memory, investigator):
    """GET /schedules and GET /schedules/{id}/runs had shown such a run `running` (by a claim whose lease had not
    run out) until a start or the next run recorded it."""
    from tests.test_scheduler import left_by_a_dead_process

    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    holder = left_by_a_dead_process(memory, "nightly")
    with make_client(memory, investigator) as client:
        runs = client.get("/schedules/nightly/runs").json()  # first: not judged by GET /schedules before
        row = by_id(client)["nightly"]
    interrupted = f"interrupted: the process that ran it ({holder}) is no longer running"
    assert (row["running"], row["running_by"], row["last_status"]) == (False, None, "failed")
    assert row["last_reason"].startswith(interrupted)
    assert [(run["status"], run["reason"][:len(interrupted)]) for run in runs] == [("failed", interrupted)]


def test_listing_the_schedules_writes_nothing_and_shows_what_the_scheduler_then_records(memory, investigator):
    """GET /schedules and GET /schedules/{id}/runs had recorded such a run failed and released its claim: a read
    wrote. They show it as the writer (a scheduler's start, the schedule's next run) records it, one function."""
    from agent.scheduler.jobs import end_interrupted_runs
    from tests.test_scheduler import left_by_a_dead_process

    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    holder = left_by_a_dead_process(memory, "nightly")
    with make_client(memory, investigator) as client:
        row = by_id(client)["nightly"]
        (run,) = client.get("/schedules/nightly/runs").json()
    (stored,) = memory.schedule_runs("nightly")
    assert (stored.status, stored.reason) == ("running", None)
    assert (memory.get_schedule("nightly").running_by, memory.get_schedule("nightly").last_status) == (holder, None)
    (ended,) = end_interrupted_runs(memory)
    assert (ended.status, ended.reason) == (run["status"], run["reason"]) == (row["last_status"], row["last_reason"])
    recorded = memory.get_schedule("nightly")
    assert (recorded.running_by, recorded.last_status, recorded.last_reason) == (None, "failed", ended.reason)


def test_serve_with_the_scheduler_says_which_schedules_are_disabled_and_how_to_enable_one(memory, investigator,
                                                                                         caplog):
    def started() -> list[str]:
        caplog.clear()
        app = create_app(get_settings(), investigator, memory=memory, api=ApiSettings(token=None),
                         with_scheduler=True)
        # the service's logger by name: a uvicorn run earlier in the session (e2e) leaves it at WARNING
        with caplog.at_level("INFO", logger="uvicorn.error"), TestClient(app):
            pass
        return [" ".join(r.getMessage().split()) for r in caplog.records if r.name == "uvicorn.error"]

    first = started()  # no live source knows the demo system's services
    assert any("of the built-in Skills stored disabled" in line and "bianque schedule enable JOB_ID" in line
               for line in first)
    again = started()  # stored disabled before: said as the schedules that are disabled
    assert not any("of the built-in Skills stored disabled" in line for line in again)
    assert any(line.startswith("disabled (not run): skill:disk-inspection,") and "bianque schedule enable JOB_ID"
               in line for line in again)
