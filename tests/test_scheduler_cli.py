"""``bianque schedule``: sync, list, add, remove, run, and start in the foreground until Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from agent.api.dryrun import DryRunInvestigator
from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings
from agent.graph.gathered import Gap
from agent.memory import Memory
from agent.scheduler import configure, paused_scheduler
from agent.sources.base import LogRecord
from agent.sources.sqlstore import ObservabilityStore
from agent.timeparse import to_rfc3339
from tests.test_api_support import make_client

SCHEDULED = [
    "skill:disk-inspection",
    "skill:error-log-inspection",
    "skill:memory-leak-inspection",
    "skill:saturation-inspection",
    "skill:serving-health-inspection",
]


@pytest.fixture
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, ["schedule", *args])


def listed(runner):
    result = invoke(runner, "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["job_id"]: row for row in json.loads(result.stdout)}


def table_rows(runner, *args):
    """`schedule list` in 80 columns (as in a pipe): each schedule's row, by job id, as its words (``--wide``: at its
    own width); asserts each schedule is one line, under the header, and (compact) no line is longer than 80."""
    result = runner.invoke(app, ["schedule", "list", *args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    if "--wide" not in args:
        assert max(map(len, lines)) <= 80, result.stdout
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["job", "id"])
    count = len(listed(runner))
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:header + 1 + count]}
    assert sorted(rows) == sorted(listed(runner)), result.stdout  # one line each
    return rows, result


@pytest.mark.usefixtures("demo_system")
def test_sync_then_list_shows_the_skills_schedules_with_next_runs(runner):
    result = invoke(runner, "sync")
    assert result.exit_code == 0, result.output
    assert "added:" in result.stdout and "skill:disk-inspection" in result.stdout
    rows = listed(runner)
    assert sorted(rows) == SCHEDULED
    assert rows["skill:disk-inspection"]["cron"] == "0 */2 * * *"
    assert all(row["next_run"] and row["next_run"].endswith("Z") for row in rows.values())
    assert "unchanged:" in invoke(runner, "sync").stdout


def test_the_built_in_schedules_are_synced_disabled_where_the_live_sources_do_not_know_their_services(runner):
    """No live source knows the simulated system's services (no topology file, an empty store): the built-in Skills'
    schedules are stored disabled, and sync and list say how to enable one."""
    result = invoke(runner, "sync")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert (f"schedules {', '.join(SCHEDULED)} of the built-in Skills stored disabled: they inspect the demo "
            "system's services, and no configured source (topology file, metric server, log and change store) "
            "knows gateway") in said
    assert "`bianque schedule enable JOB_ID` runs one" in said
    rows = listed(runner)
    assert sorted(rows) == SCHEDULED and not any(row["enabled"] for row in rows.values())
    assert {row["job"] for row in rows.values()} == {"disabled"}
    table, result = table_rows(runner)
    assert {cells[0] for cells in table.values()} == {"disabled"}
    assert "`bianque schedule enable JOB_ID` gives one its job" in " ".join(result.stdout.split())
    assert invoke(runner, "enable", "skill:disk-inspection").exit_code == 0
    assert listed(runner)["skill:disk-inspection"]["job"] == "scheduled"
    again = invoke(runner, "sync")  # stored now: neither enabled nor said again
    assert again.exit_code == 0 and "stored disabled" not in again.stderr
    assert [job_id for job_id, row in listed(runner).items() if row["enabled"]] == ["skill:disk-inspection"]


def test_a_built_in_schedule_keeps_its_flag_once_stored_and_a_users_own_skill_is_enabled(runner, demo_system,
                                                                                         monkeypatch, bianque_home):
    assert invoke(runner, "sync").exit_code == 0  # the demo system: enabled, nothing said
    assert all(row["enabled"] for row in listed(runner).values())
    monkeypatch.delenv("BIANQUE_TOPOLOGY_FILE")
    get_settings.cache_clear()
    own = bianque_home / "skills" / "mine.yaml"  # a Skill of the user's directory, over services no source knows
    own.parent.mkdir(parents=True, exist_ok=True)
    text = (PROJECT_ROOT / "skills" / "disk-inspection.yaml").read_text()
    own.write_text(text.replace("name: disk-inspection", "name: mine-inspection", 1))
    result = invoke(runner, "sync")
    assert result.exit_code == 0 and "stored disabled" not in result.stderr, result.output
    rows = listed(runner)
    assert rows["skill:mine-inspection"]["enabled"] and all(row["enabled"] for row in rows.values())


def test_list_before_any_sync_says_what_to_do(runner):
    result = invoke(runner, "list")
    assert result.exit_code == 0 and "bianque schedule sync" in result.stdout


def test_list_shows_a_schedule_without_services_running_over_its_skills_scope(runner):
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    rows, table = table_rows(runner, "--wide")
    assert " ".join(rows["nightly"]).startswith("disk-inspection 0 2 * * * (Skill's scope) yes 20")
    assert "topology" not in table.stdout


@pytest.mark.usefixtures("demo_system")
def test_list_fits_80_columns_one_line_per_schedule_and_wide_adds_what_each_is(runner):
    """Compact: next run, last run (``12-14 02:00``, UTC) and status, whatever the job ids of the shipped Skills;
    --wide: the Skill, cron, services and enabled flag too, times in full, each row one line however long."""
    assert invoke(runner, "add", "nightly-ranking", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                  "--service", "ranking", "--service", "cache", "--service", "gateway",
                  "--service", "search-api").exit_code == 0
    with Memory(get_settings().resolved_database_url) as memory:
        memory.record_schedule_run("skill:serving-health-inspection", "could not judge", ts=1765000000.0)
        memory.record_schedule_run("nightly-ranking", "done", ts=1765000000.0, case_id="3f2a9c1d0b7e")
    rows, table = table_rows(runner)
    assert table.stdout.splitlines()[1].split() == ["job", "id", "next", "run", "last", "run", "status"]
    next_run = listed(runner)["nightly-ranking"]["next_run"]  # 2026-12-07T02:00:00Z
    assert rows["nightly-ranking"] == [next_run[5:10], next_run[11:16], "12-06", "05:46", "done"]
    assert rows["skill:serving-health-inspection"][2:] == ["12-06", "05:46", "could", "not", "judge"]
    assert rows["skill:disk-inspection"][2:] == ["-", "-"]
    wide, table = table_rows(runner, "--wide")
    assert " ".join(wide["nightly-ranking"]) == (f"disk-inspection 0 2 * * * ranking, cache +2 yes "
                                                 f"{listed(runner)['nightly-ranking']['next_run']} "
                                                 "2025-12-06T05:46:40Z done")


def test_list_says_why_a_schedule_has_no_job(runner):
    with Memory(get_settings().resolved_database_url) as memory:
        memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")  # its Skill since gone
        memory.save_schedule("paused", "disk-inspection", "0 2 * * *", enabled=False)
    assert invoke(runner, "sync").exit_code == 0
    rows = listed(runner)
    assert rows["ghost"]["next_run"] is None and rows["ghost"]["problem"].startswith("no Skill named 'no-such-skill'")
    assert rows["paused"]["problem"] is None and rows["skill:disk-inspection"]["problem"] is None
    cells, table = table_rows(runner)
    assert cells["ghost"][0] == "none*" and cells["paused"][0] == "disabled"  # next run; * the reason below
    assert "* no job for schedule ghost: no Skill named 'no-such-skill'" in " ".join(table.stderr.split())


@pytest.mark.usefixtures("demo_system")
def test_list_marks_a_next_run_in_the_past_as_overdue(runner):
    assert invoke(runner, "sync").exit_code == 0
    with paused_scheduler(get_settings()) as scheduler:  # as stored when no scheduler ran since
        scheduler.modify_job("skill:disk-inspection", next_run_time=datetime.now(UTC) - timedelta(hours=1))
    rows, table = table_rows(runner)
    assert [job_id for job_id, cells in rows.items() if cells[0] == "overdue"] == ["skill:disk-inspection"]
    assert "overdue: no scheduler has run them" in table.stdout
    wide, _ = table_rows(runner, "--wide")  # the time it was due, in full
    assert [job_id for job_id, cells in wide.items() if "(overdue)" in cells] == ["skill:disk-inspection"]


def test_list_says_why_a_last_run_failed_printing_the_reason_as_text(runner):
    assert invoke(runner, "sync").exit_code == 0
    with Memory(get_settings().resolved_database_url) as memory:
        memory.record_schedule_run("skill:disk-inspection", "failed", reason="OSError: [bold]disk[/bold] gone")
    assert listed(runner)["skill:disk-inspection"]["last_reason"] == "OSError: [bold]disk[/bold] gone"
    assert listed(runner)["skill:saturation-inspection"]["last_reason"] is None
    cells, table = table_rows(runner)
    assert cells["skill:disk-inspection"][-1] == "failed*" and cells["skill:saturation-inspection"][-1] == "-"
    said = " ".join(table.stdout.split())  # the note may wrap at 80 columns
    assert "* last run of skill:disk-inspection failed: OSError: [bold]disk[/bold] gone" in said


@pytest.mark.usefixtures("demo_system")
def test_list_json_carries_the_fields_of_the_apis_get_schedules(runner, memory):
    """One model for both (agent.scheduler.overview.ScheduleState): the same keys and values for each schedule,
    next_run the API's Unix seconds as RFC 3339 text ("paused" for a paused job, null without one)."""
    assert invoke(runner, "sync").exit_code == 0
    memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")
    memory.save_schedule("paused", "disk-inspection", "0 2 * * *", enabled=False)
    memory.record_schedule_run("skill:disk-inspection", "failed", reason="OSError: disk gone")
    memory.claim_schedule_run("skill:saturation-inspection", "replica-2:4242:ab12cd34", lease_s=300.0)
    cli = listed(runner)
    with make_client(memory, DryRunInvestigator(memory)) as client:
        api = {row["job_id"]: row for row in client.get("/schedules").json()}
    assert sorted(cli) == sorted(api) and len(api) == len(SCHEDULED) + 2
    for job_id, row in api.items():
        assert set(cli[job_id]) == set(row), job_id
        assert {k: v for k, v in cli[job_id].items() if k != "next_run"} == {
            k: v for k, v in row.items() if k != "next_run"}, job_id
        text = "paused" if row["job"] == "paused" else None
        assert cli[job_id]["next_run"] == (text if row["next_run"] is None else to_rfc3339(row["next_run"]))
    assert {"job", "overdue", "running", "problem"} <= set(cli["ghost"])
    assert (cli["ghost"]["job"], cli["paused"]["job"], cli["skill:disk-inspection"]["job"]) == (
        "cannot run", "disabled", "scheduled")
    assert cli["skill:saturation-inspection"]["running"] is True and cli["skill:disk-inspection"]["overdue"] is False


def test_add_and_remove_a_schedule_of_ones_own(runner):
    added = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *", "--service", "cache")
    assert added.exit_code == 0, added.output
    row = listed(runner)["nightly"]
    assert (row["skill"], row["services"], row["next_run"] is not None) == ("disk-inspection", ["cache"], True)
    assert invoke(runner, "remove", "nightly").exit_code == 0
    assert "nightly" not in listed(runner)


@pytest.mark.parametrize("source", ["topology", "log store"])
def test_add_warns_of_a_service_no_source_knows_and_saves_it(runner, tmp_path, monkeypatch, source):
    if source == "topology":
        topology = tmp_path / "topology.yaml"
        topology.write_text("services:\n  search-api: {depends_on: [cache]}\n  cache: {}\n")
        monkeypatch.setenv("BIANQUE_TOPOLOGY_FILE", str(topology))
        get_settings.cache_clear()
    else:
        store = ObservabilityStore(get_settings().resolved_observability_url)
        store.ingest_logs([LogRecord(100.0, "search-api", "INFO", "ok"), LogRecord(101.0, "cache", "WARN", "slow")])
    result = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                    "--service", "cache", "--service", "serach-api", "--service", "search-*", "--service", "db-*")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert ("warning: no configured source knows the service 'serach-api', 'db-*' (saved anyway: a service may have "
            "no data yet); the configured sources know: cache, search-api") in said
    assert listed(runner)["nightly"]["services"] == ["cache", "serach-api", "search-*", "db-*"]
    known = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *", "--replace",
                   "--service", "search-*", "--service", "cache")
    assert known.exit_code == 0 and "warning" not in known.stderr


def test_add_says_nothing_of_services_when_no_source_lists_any(runner):
    result = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                    "--service", "anything")
    assert result.exit_code == 0 and "warning" not in result.stderr


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections (the kernel completes them) and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_add_says_it_could_not_check_a_service_when_the_metric_server_does_not_answer(runner, silent_port,
                                                                                       monkeypatch, caplog):
    assert invoke(runner, "sync").exit_code == 0  # the Skills' own schedules stored: the add checks no more
    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", f"http://127.0.0.1:{silent_port}")
    monkeypatch.setenv("BIANQUE_SOURCE_TIMEOUT_S", "30")  # the full source timeout: not what the check waits
    monkeypatch.setattr("agent.scheduler.specs.SERVICE_CHECK_TIMEOUT_S", 0.5)
    get_settings.cache_clear()
    ObservabilityStore(get_settings().resolved_observability_url).ingest_logs([LogRecord(100.0, "cache", "INFO", "ok")])
    with caplog.at_level("WARNING"):  # a warning logged would be printed too (Python's last-resort handler)
        result = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                        "--service", "cache", "--service", "ranking")
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert ("warning: could not check the service 'ranking' (saved anyway): prometheus did not answer "
            f"(http://127.0.0.1:{silent_port}/api/v1/label/service/values: no answer within 0.5s)") in said
    assert said.count("no answer within") == 1 and caplog.records == []  # said once, not the source's line too
    assert "no configured source knows" not in said
    assert listed(runner)["nightly"]["services"] == ["cache", "ranking"]
    known = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *", "--replace",
                   "--service", "cache")  # the log store knows it: nothing left to check
    assert known.exit_code == 0 and "warning" not in known.stderr


def test_add_on_a_fresh_database_asks_a_silent_server_once(runner, silent_port, monkeypatch):
    """The sync storing the built-in Skills' schedules and the check of --service had each listed the services: a
    metric server that does not answer was waited for twice."""
    import agent.runtime

    monkeypatch.setenv("BIANQUE_PROMETHEUS_URL", f"http://127.0.0.1:{silent_port}")
    monkeypatch.setattr("agent.scheduler.specs.SERVICE_CHECK_TIMEOUT_S", 0.3)
    get_settings.cache_clear()
    asked: list[float | None] = []
    real = agent.runtime.listed_services

    def counted(settings, *, timeout_s=None):
        asked.append(timeout_s)
        return real(settings, timeout_s=timeout_s)

    monkeypatch.setattr(agent.runtime, "listed_services", counted)
    result = invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                    "--service", "ranking")
    assert result.exit_code == 0, result.output
    assert asked == [0.3]
    said = " ".join(result.stderr.split())
    assert "note:" in said and "could not check the service 'ranking'" in said  # both still told what it found
    assert listed(runner)["nightly"]["services"] == ["ranking"]


def test_add_refuses_a_job_id_in_use_unless_told_to_replace_it(runner):
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *",
                  "--service", "cache").exit_code == 0
    again = invoke(runner, "add", "nightly", "--skill", "saturation-inspection", "--cron", "0 3 * * *")
    assert again.exit_code == 2
    assert ("schedule nightly already exists (disk-inspection at '0 2 * * *' over cache); --replace replaces it"
            in " ".join(again.stderr.split()))
    assert (listed(runner)["nightly"]["skill"], listed(runner)["nightly"]["cron"]) == ("disk-inspection", "0 2 * * *")
    with Memory(get_settings().resolved_database_url) as memory:
        memory.set_schedule_enabled("nightly", False)
    replaced = invoke(runner, "add", "nightly", "--skill", "saturation-inspection", "--cron", "0 3 * * *", "--replace")
    assert replaced.exit_code == 0, replaced.output
    row = listed(runner)["nightly"]
    assert (row["skill"], row["cron"], row["services"], row["enabled"]) == ("saturation-inspection", "0 3 * * *", [],
                                                                            False)


def test_of_two_users_adding_one_new_job_id_at_once_the_second_is_refused(runner, monkeypatch):
    """The other user's `schedule add` lands after this one found the job id free: it is refused, naming the other's
    schedule, which stays as it was (the check and the insert are one transaction), not silently replaced."""
    url = get_settings().resolved_database_url
    save = Memory.save_schedule
    landed: list[str] = []

    def other_user_first(self, job_id, *args, **kwargs):
        if job_id == "nightly" and not landed:
            landed.append(job_id)
            with Memory(url) as other:
                save(other, "nightly", "disk-inspection", "0 2 * * *", ["cache"], create_only=True)
        return save(self, job_id, *args, **kwargs)

    monkeypatch.setattr(Memory, "save_schedule", other_user_first)
    result = invoke(runner, "add", "nightly", "--skill", "saturation-inspection", "--cron", "0 3 * * *")
    assert landed == ["nightly"] and result.exit_code == 2, result.output
    assert ("schedule nightly already exists (disk-inspection at '0 2 * * *' over cache); --replace replaces it"
            in " ".join(result.stderr.split()))
    row = listed(runner)["nightly"]
    assert (row["skill"], row["cron"], row["services"]) == ("disk-inspection", "0 2 * * *", ["cache"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "skill:mine", "--skill", "disk-inspection", "--cron", "0 2 * * *"),
         "job id 'skill:mine' starts with 'skill:', which belongs to Skills' own schedules (skill:NAME); choose "
         "another job id; schedule skill:mine not saved"),
        (("add", "generic-rca", "--skill", "disk-inspection", "--cron", "0 2 * * *"),
         "job id 'generic-rca' is the name of a Skill: `schedule run generic-rca` and POST /schedules/generic-rca/run "
         "would run that Skill, never this schedule; choose another job id; schedule generic-rca not saved"),
        (("add", "x", "--skill", "disk-inspection", "--cron", "0 2 * *"),
         "cron '0 2 * *': expected 5 fields (minute hour day month weekday), got 4"),
        (("add", "x", "--skill", "disk-inspection", "--cron", "0 2 30 2 *"),
         "cron '0 2 30 2 *': never fires: no month '2' has a day '30'; schedule x not saved"),
        (("remove", "nope"), "no schedule with job id 'nope'"),
        (("history", "nope"), "no schedule with job id 'nope' (see `bianque schedule list`)"),
        (("history", "nope", "--json"), "no schedule with job id 'nope'"),
        (("remove", "skill:disk-inspection"), "schedule skill:disk-inspection is the Skill disk-inspection's own "
         "`schedule`, stored again by every sync; remove that field from the Skill"),
        (("run", "generic-rca"), "not an inspection"),
        (("run", "no-such-skill"), "no schedule with job id 'no-such-skill' and no Skill of that name (see "
         "`bianque schedule list`, `bianque skills list`)"),  # as POST /schedules/{name}/run says it
        (("run", "no-such-skill", "--service", "ranking"), "no Skill named 'no-such-skill'"),  # then it names a Skill
    ],
)
def test_bad_requests_fail_with_a_clear_message(runner, args, message):
    result = invoke(runner, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_a_job_id_named_like_a_skill_whose_file_does_not_load_is_refused(runner, bianque_home):
    """Once the file is fixed, `schedule run NAME` would take the Skill and never reach the schedule."""
    (bianque_home / "skills").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "tests" / "fixtures" / "skills" / "override" / "user" / "broken.yaml",
                bianque_home / "skills" / "broken.yaml")
    result = invoke(runner, "add", "broken", "--skill", "disk-inspection", "--cron", "0 2 * * *")
    assert result.exit_code == 2
    assert "job id 'broken' is the name of a Skill" in " ".join(result.stderr.split())
    assert "broken" not in listed(runner)


@pytest.mark.parametrize("job_id", ["skill:disk-inspection", "nightly"])
def test_disable_pauses_a_schedule_and_enable_resumes_it_keeping_its_history(runner, job_id):
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    with Memory(get_settings().resolved_database_url) as memory:
        memory.record_schedule_run(job_id, "done", ts=1000.0, case_id="c1")
    disabled = invoke(runner, "disable", job_id)
    assert disabled.exit_code == 0, disabled.output
    assert f"schedule {job_id} disabled" in disabled.stdout
    row = listed(runner)[job_id]
    assert (row["enabled"], row["next_run"], row["problem"], row["last_case_id"]) == (False, None, None, "c1")
    assert invoke(runner, "sync").exit_code == 0 and listed(runner)[job_id]["enabled"] is False  # stays paused
    cells, _ = table_rows(runner)
    assert cells[job_id][0] == "disabled"
    enabled = invoke(runner, "enable", job_id)
    assert enabled.exit_code == 0, enabled.output
    row = listed(runner)[job_id]
    assert (row["enabled"], row["next_run"] is not None, row["last_case_id"]) == (True, True, "c1")


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_enable_and_disable_name_an_unknown_job_id_and_change_nothing(runner, command):
    assert invoke(runner, "sync").exit_code == 0
    before = listed(runner)
    result = invoke(runner, command, "nope")
    assert result.exit_code == 2
    assert "no schedule with job id 'nope' (see `bianque schedule list`)" in " ".join(result.stderr.split())
    assert listed(runner) == before


def test_enabling_a_schedule_whose_skill_cannot_run_says_why_it_has_no_job(runner):
    with Memory(get_settings().resolved_database_url) as memory:
        memory.save_schedule("ghost", "no-such-skill", "0 2 * * *", enabled=False)
    result = invoke(runner, "enable", "ghost")
    assert result.exit_code == 0, result.output
    assert "skipped schedule ghost: no Skill named 'no-such-skill'" in " ".join(result.stderr.split())
    assert listed(runner)["ghost"]["problem"].startswith("no Skill named 'no-such-skill'")


def test_remove_leaves_a_skills_own_schedule_and_its_history_alone(runner):
    assert invoke(runner, "sync").exit_code == 0
    with Memory(get_settings().resolved_database_url) as memory:
        memory.set_schedule_enabled("skill:disk-inspection", False)
        memory.record_schedule_run("skill:disk-inspection", "done", case_id="c1")
        before = memory.get_schedule("skill:disk-inspection")
        assert invoke(runner, "remove", "skill:disk-inspection").exit_code == 2
        assert memory.get_schedule("skill:disk-inspection") == before  # not deleted and stored again, enabled


@pytest.mark.parametrize(("skill", "message"), [
    ("generic-rca", "Skill 'generic-rca' is rca, only inspection Skills can be scheduled"),
    ("no-such-skill", "no Skill named 'no-such-skill' (inspection Skills: disk-inspection,"),
])
def test_add_refuses_a_schedule_that_cannot_run_and_stores_nothing(runner, skill, message):
    result = invoke(runner, "add", "oops", "--skill", skill, "--cron", "0 2 * * *")
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split()) and "not saved" in result.stderr
    assert "oops" not in listed(runner)


@pytest.mark.parametrize(("setup", "target", "job_id"), [
    (("sync",), ("disk-inspection", "--service", "ranking"), "skill:disk-inspection"),
    # a stored schedule's job id runs its Skill over its services, recorded on it
    (("add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *", "--service", "cache"), ("nightly",),
     "nightly"),
])
def test_run_inspects_now_and_records_the_run(runner, setup, target, job_id):
    settings = get_settings()
    assert invoke(runner, *setup).exit_code == 0
    with Memory(settings.resolved_database_url) as memory:
        configure(settings, DryRunInvestigator(memory))
        try:
            result = invoke(runner, "run", *target, "--json")
        finally:
            configure(None, None)
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        schedule = memory.get_schedule(job_id)
    assert body["verdict"]["pattern"] == "inspection"
    assert (schedule.last_status, schedule.last_case_id) == ("done", body["case_id"])
    runs = json.loads(invoke(runner, "history", job_id, "--json").stdout)
    assert [(r["status"], r["case_id"], r["trigger"]) for r in runs] == [("done", body["case_id"], "manual")]


def test_run_is_refused_while_another_run_of_the_schedule_holds_it(runner):
    settings = get_settings()
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    with Memory(settings.resolved_database_url) as memory:
        memory.record_schedule_run("nightly", "done", ts=1000.0, case_id="c1")
        memory.claim_schedule_run("nightly", "replica-2:4242:ab12cd34", lease_s=300.0)  # a scheduled run elsewhere
        configure(settings, DryRunInvestigator(memory))
        try:
            result = invoke(runner, "run", "nightly")
        finally:
            configure(None, None)
        schedule = memory.get_schedule("nightly")
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "schedule 'nightly' is already running (started " in said
    until = to_rfc3339(schedule.running_until)  # another host's claim keeps its lease, and says until when
    assert f"by replica-2:4242:ab12cd34); its lease runs out at {until} unless renewed; two runs of one" in said
    assert (schedule.last_status, schedule.last_case_id) == ("done", "c1")  # nothing run, nothing recorded
    assert [r["case_id"] for r in json.loads(invoke(runner, "history", "nightly", "--json").stdout)] == ["c1"]
    assert listed(runner)["nightly"]["running_by"] == "replica-2:4242:ab12cd34"
    cells, _ = table_rows(runner)
    assert cells["nightly"][-1] == "running"
    wide, _ = table_rows(runner, "--wide")
    assert wide["nightly"][-3:-1] == ["running", "since"] and wide["nightly"][-1].startswith("20")


def test_a_running_schedules_last_failure_is_marked_on_its_last_run(runner):
    """The reason printed below the table is marked where it belongs: while another run goes on, the status cell
    says running, so the mark goes on the last run's time (it was on no cell)."""
    from agent.cli.schedule import MARK

    settings = get_settings()
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    with Memory(settings.resolved_database_url) as memory:
        memory.record_schedule_run("nightly", "failed", ts=1000.0, reason="source down")
        memory.claim_schedule_run("nightly", "replica-2:4242:ab12cd34", lease_s=300.0)
    cells, result = table_rows(runner)
    assert cells["nightly"][-1] == "running" and cells["nightly"][-2].endswith(MARK)
    assert f"{MARK} last run of nightly failed: source down" in result.stdout


def test_a_run_that_could_not_judge_exits_3_and_is_recorded_so(runner):
    settings = get_settings()
    invoke(runner, "sync")
    with Memory(settings.resolved_database_url) as memory:
        dry = DryRunInvestigator(memory)

        def no_data(event, **kwargs):
            result = dry(event, **kwargs)
            verdict = result.verdict.model_copy(update={"judged": False, "summary": "Could not judge: no metric data."})
            refused = Gap(kind="metrics", signal="disk", service="ranking", reason="connection refused")
            return result.model_copy(update={"verdict": verdict, "missing_data": [refused, refused]})

        configure(settings, no_data)
        try:
            result = invoke(runner, "run", "disk-inspection", "--service", "ranking")
        finally:
            configure(None, None)
        schedule = memory.get_schedule("skill:disk-inspection")
    assert result.exit_code == 3, result.output
    assert "could not judge" in result.stderr
    assert schedule.last_status == "could not judge" and schedule.last_case_id
    reason = "Could not judge: no metric data. (missing data: connection refused)"  # had been null
    assert schedule.last_reason == reason
    assert listed(runner)["skill:disk-inspection"]["last_status"] == "could not judge"
    (run,) = json.loads(invoke(runner, "history", "skill:disk-inspection", "--json").stdout)
    assert (run["status"], run["reason"]) == ("could not judge", reason)


def test_a_run_whose_knowledge_store_cannot_be_opened_exits_2_naming_it(runner, bianque_home):
    """As `bianque inspect` says it: one error line, not a KnowledgeStoreError traceback; the run is recorded failed."""
    (bianque_home / "chroma").mkdir(parents=True)
    (bianque_home / "chroma" / "chroma.sqlite3").write_bytes(b"not a database, " * 512)
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    result = invoke(runner, "run", "nightly")
    assert result.exit_code == 2, result.output
    assert "error: cannot open the knowledge store at" in " ".join(result.stderr.split())
    (failed,) = json.loads(invoke(runner, "history", "nightly", "--json").stdout)
    assert failed["status"] == "failed" and failed["reason"].startswith("KnowledgeStoreError: cannot open the")


LONG_REASON = ("schedule 'nightly' is already running (started 2026-12-14T02:00:00Z by host:4242:ab12cd34); two runs "
               "of one schedule never overlap, so this one did not start")


def test_history_shows_a_schedules_runs_newest_first_each_on_one_line(runner, terminal):
    """A pipe gets each run on one line with its reason whole; an 80-column terminal, each on one line of 80 columns,
    the reason cut to what the line leaves it."""
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    assert invoke(runner, "add", "hourly", "--skill", "disk-inspection", "--cron", "0 * * * *").exit_code == 0
    with Memory(get_settings().resolved_database_url) as memory:
        memory.record_schedule_run("nightly", "done", ts=7212.0, started=7200.0, case_id="3f2a9c1d0b7e",
                                   trigger="scheduled")
        memory.record_schedule_run("nightly", "skipped", ts=10800.0, reason=LONG_REASON, trigger="scheduled")
        memory.record_schedule_run("nightly", "failed", ts=14600.0, started=14400.0,
                                   reason="RuntimeError: [red]down[/red]")
        memory.record_schedule_run("hourly", "done", ts=20000.0, case_id="0123456789ab")
    result = runner.invoke(app, ["schedule", "history", "nightly"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Runs of nightly" in lines[0]
    assert lines[1].split() == ["started", "took", "status", "case", "reason"]
    assert lines[2].split() == ["1970-01-01T04:00:00Z", "3m", "failed", "-", "RuntimeError:", "[red]down[/red]"]
    assert lines[3].split() == ["1970-01-01T03:00:00Z", "0s", "skipped", "-", *LONG_REASON.split()]
    assert lines[4].split() == ["1970-01-01T02:00:00Z", "12s", "done", "3f2a9c1d0b7e"]
    assert len(lines) == 5
    newest = invoke(runner, "history", "nightly", "--limit", "1")
    assert "failed" in newest.stdout and "skipped" not in newest.stdout
    runs = json.loads(invoke(runner, "history", "nightly", "--json").stdout)
    assert [(r["status"], r["trigger"], r["took"], r["reason"]) for r in runs] == [
        ("failed", "manual", 200.0, "RuntimeError: [red]down[/red]"), ("skipped", "scheduled", 0.0, LONG_REASON),
        ("done", "scheduled", 12.0, None)]
    assert (runs[2]["started_at"], runs[2]["finished_at"], runs[2]["case_id"]) == (7200.0, 7212.0, "3f2a9c1d0b7e")
    assert invoke(runner, "history", "nightly", "--limit", "0").exit_code == 2
    with terminal() as out:
        assert runner.invoke(app, ["schedule", "history", "nightly"]).exit_code == 0
    lines = out.getvalue().splitlines()
    assert max(map(len, lines)) <= 80 and len(lines) == 5
    shown = lines[3][lines[3].index("schedule 'nightly'"):].rstrip()  # the reason, cut to what the line leaves it
    assert shown.endswith("…") and LONG_REASON.startswith(shown[:-1]) and len(shown) > 10


def test_history_shows_a_run_whose_process_was_killed_as_interrupted(runner, tmp_path):
    from tests.test_scheduler import killed_mid_run

    assert invoke(runner, "sync").exit_code == 0
    pid = killed_mid_run(tmp_path, "disk-inspection")  # `kill -9` of the process running it: had left no trace
    (run,) = json.loads(invoke(runner, "history", "skill:disk-inspection", "--json").stdout)
    assert (run["status"], run["trigger"]) == ("failed", "scheduled")
    assert run["reason"].startswith(f"interrupted: the process that ran it ({socket.gethostname()}:{pid}:")
    assert listed(runner)["skill:disk-inspection"]["running"] is False  # its claim taken over, not waited out


def test_history_of_a_schedule_that_has_not_run_says_so(runner):
    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    result = invoke(runner, "history", "nightly")
    assert result.exit_code == 0 and "schedule nightly has no recorded runs yet" in result.stdout
    assert json.loads(invoke(runner, "history", "nightly", "--json").stdout) == []


@pytest.mark.usefixtures("demo_system")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C, and how systemd stops it
def test_start_runs_in_the_foreground_until_interrupted(bianque_home, stop):
    with Memory(get_settings().resolved_database_url) as memory:
        memory.save_schedule("ghost", "no-such-skill", "0 2 * * *")  # its Skill since gone: said, not dropped silently
    env = {**os.environ, "BIANQUE_HOME": str(bianque_home), "COLUMNS": "200"}
    code = "from agent.cli.app import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "schedule", "start"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "scheduler running" in line:
                break
        assert any("scheduler running" in line for line in lines), "".join(lines)
        proc.send_signal(stop)  # SIGTERM had killed it at once: a run in progress left "running", unrecorded
        try:
            rest, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # every thread's stack, to see where it is stuck
            time.sleep(2)
            proc.kill()
            rest, _ = proc.communicate()
            pytest.fail("`schedule start` did not stop within 30 s of Ctrl-C:\n" + "".join(lines) + rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output
    assert "skill:disk-inspection: next run 20" in output
    assert "stopping: no inspection in progress" in output and "recorded first" not in output  # none ran
    assert "skipped schedule ghost: no Skill named 'no-such-skill'" in output


def test_start_says_it_waits_for_a_run_only_while_one_runs(runner):
    from agent.cli.schedule import _stopping
    from agent.scheduler.jobs import exclusive_run

    assert invoke(runner, "add", "nightly", "--skill", "disk-inspection", "--cron", "0 2 * * *").exit_code == 0
    assert _stopping() == "stopping: no inspection in progress"
    with Memory(get_settings().resolved_database_url) as memory, exclusive_run(memory, "nightly"):
        said = _stopping()
    assert said == ("stopping: an inspection in progress finished and recorded first (Ctrl-C again stops at once)")


def test_start_says_it_waits_for_the_notifications_not_yet_posted(runner, monkeypatch):
    """A run recorded, its notification still with a receiver that does not answer (posted by the notifier's own
    thread, holding no run): the stopping scheduler says it gives them a while, and no more once they are posted."""
    import threading

    import agent.notify.delivery as delivery
    from agent.cli.schedule import _stopping
    from agent.notify import Notice

    monkeypatch.setenv("BIANQUE_NOTIFY_URL", "http://127.0.0.1:9/hooks/secret-part")
    get_settings.cache_clear()
    notifier = delivery.notifier_for(get_settings())
    answered = threading.Event()
    monkeypatch.setattr(notifier, "_post", lambda body: (answered.wait(30), (False, None))[1])
    assert notifier.notify(Notice(kind="failure", attention=True, text="t", data={"origin": "o"}))
    assert _stopping() == ("stopping: 1 notification(s) not yet posted given up to 30 s first (Ctrl-C again stops "
                           "at once)")
    answered.set()
    assert notifier.flush(30) and _stopping() == "stopping: no inspection in progress"


def test_start_prints_one_line_per_finished_run(runner, capsys):
    from agent.cli.schedule import print_finished_runs
    from agent.scheduler import start_scheduler

    settings = get_settings()
    assert invoke(runner, "add", "glob", "--skill", "disk-inspection", "--cron", "0 2 * * *", "--service",
                  "rank*").exit_code == 0
    assert invoke(runner, "enable", "skill:disk-inspection").exit_code == 0  # stored disabled: no source knows
    capsys.readouterr()
    with Memory(settings.resolved_database_url) as memory:
        configure(settings, DryRunInvestigator(memory))
        scheduler = start_scheduler(settings)
        try:
            print_finished_runs(scheduler, settings)
            for job_id in ("glob", "skill:disk-inspection"):
                scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
            for job_id in ("glob", "skill:disk-inspection"):
                deadline = time.monotonic() + 30
                while memory.get_schedule(job_id).last_status is None and time.monotonic() < deadline:
                    time.sleep(0.05)
        finally:
            scheduler.shutdown(wait=True)  # its listeners have printed once its runs are over
            configure(None, None)
        done = memory.get_schedule("skill:disk-inspection")
    lines = sorted(line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines() if line.startswith("20"))
    assert lines == ["glob: failed: NoMatchingServiceError: no service with data matches 'rank*'; nothing inspected",
                     f"skill:disk-inspection: done, case {done.last_case_id}"]


def test_a_second_interrupt_while_runs_finish_stops_at_once_saying_what_is_left(monkeypatch, capsys):
    """A second Ctrl-C during the wait had been a traceback, the run recorded as failed ("cannot schedule new
    futures after shutdown")."""
    from agent.cli import schedule as schedule_cli

    class Waiting:
        def shutdown(self, wait: bool) -> None:
            raise KeyboardInterrupt  # the second Ctrl-C, while the run in progress finishes

    exits: list[int] = []
    monkeypatch.setattr(schedule_cli.os, "_exit", exits.append)
    schedule_cli._shut_down(Waiting())
    assert exits == [130]
    said = " ".join(capsys.readouterr().err.split())
    assert "stopped without waiting: a run in progress stays 'running' until its lease runs out" in said
