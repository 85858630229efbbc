"""The Schedules page through Streamlit's AppTest: the schedules as ``bianque schedule list`` reads them, a
schedule's runs, the cases they opened (opened on the Cases page), stored reasons shown as text."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from agent.api.dryrun import DryRunInvestigator
from agent.config import get_settings
from agent.memory import Memory
from agent.scheduler import run_inspection, sync_schedules
from tests.test_ui_app import APP, shown, texts

PAGE = "views/schedules.py"
HOSTILE = "OSError: ![pix](http://x.test/t.png) <b>disk</b> **gone** :red[R] `c`"

pytestmark = pytest.mark.usefixtures("fresh_resources")  # tests/conftest.py


def schedules_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    return at.switch_page(PAGE).run()


def inspect_now(memory: Memory, job_id: str) -> str:
    """Run the schedule ``job_id`` now with the dry-run investigator (a case, no data); its case id."""
    schedule = memory.get_schedule(job_id)
    run = run_inspection(schedule.skill, schedule.services, job_id=job_id, settings=get_settings(),
                         investigator=DryRunInvestigator(memory))
    assert run.result.case_id
    return run.result.case_id


def test_without_schedules_the_page_says_how_to_add_one():
    at = schedules_page()
    assert not at.exception
    (info,) = [i.value for i in at.info]
    assert "No schedules yet" in info and "bianque schedule add" in info and "bianque schedule sync" in info
    assert not at.dataframe


def test_schedules_and_a_schedules_runs_with_their_cases_and_reasons_as_text(memory):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    memory.save_schedule("ghost", "no-such-skill", "0 3 * * *")  # its Skill since gone
    sync_schedules(get_settings())
    case_id = inspect_now(memory, "nightly")
    memory.record_schedule_run("nightly", "failed", reason=HOSTILE)
    memory.claim_schedule_run("skill:error-log-inspection", "replica-2:4242:ab12cd34", lease_s=300.0)

    at = schedules_page()
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value.set_index("job id")
    assert list(table.index) == sorted(table.index)
    assert {"nightly", "ghost", "skill:disk-inspection"} <= set(table.index)
    nightly = table.loc["nightly"]
    assert (nightly["skill"], nightly["services"], nightly["status"], nightly["reason"]) == (
        "disk-inspection", "cache", "failed", HOSTILE)  # a cell's text: never markdown
    assert nightly["next run"].endswith("Z") and table.loc["ghost"]["next run"] == "none"
    assert table.loc["skill:error-log-inspection"]["status"].startswith("running since 20")
    assert table.loc["skill:disk-inspection"]["services"] != "" and table.loc["nightly"]["enabled"]

    at.selectbox(key="schedules_shown").set_value("nightly").run()
    runs = at.dataframe[1].value
    assert list(runs["status"]) == ["failed", "done"] and list(runs["case"]) == ["-", case_id]
    assert list(runs["reason"]) == [HOSTILE, ""] and list(runs["trigger"]) == ["manual", "manual"]
    assert "![pix](" not in texts(at) and "<b>" not in texts(at)  # nowhere read as markdown or HTML
    at.number_input(key="schedule_runs_limit").set_value(1).run()
    assert list(at.dataframe[1].value["status"]) == ["failed"]
    assert "schedule_case" not in [s.key for s in at.selectbox]  # the run shown opened no case
    at.number_input(key="schedule_runs_limit").set_value(20).run()

    assert at.selectbox(key="schedule_case").value == case_id
    at.button(key="schedule_open_case").click().run()  # opens the run's case on the Cases page
    assert not at.exception
    assert f"Case {case_id}" in [h.value for h in at.subheader]


def test_a_schedule_without_a_job_or_runs_says_why_and_a_running_one_says_so(memory):
    memory.save_schedule("ghost", "no-such-skill", "0 3 * * *")
    memory.save_schedule("busy", "disk-inspection", "0 4 * * *")
    memory.claim_schedule_run("busy", "replica-2:4242:ab12cd34", lease_s=300.0)
    at = schedules_page()
    at.selectbox(key="schedules_shown").set_value("ghost").run()
    assert not at.exception
    (warning,) = [shown(w.value) for w in at.warning]
    assert warning.startswith("No job: no Skill named 'no-such-skill'")
    (info,) = [shown(i.value) for i in at.info]
    assert info.startswith("No recorded runs yet") and "bianque schedule run ghost" in info
    (raw,) = [i.value for i in at.info]  # the command renders as code, not as escaped backticks
    assert raw.endswith(" `bianque schedule run ghost` runs it now.") and "\\`" not in raw
    at.selectbox(key="schedules_shown").set_value("busy").run()
    assert any("A run holds this schedule" in i.value and "replica-2:4242:ab12cd34" in shown(i.value)
               for i in at.info)


def test_a_runs_case_older_than_the_cases_listed_is_the_one_opened(memory, monkeypatch):
    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    older = inspect_now(memory, "nightly")
    newer = inspect_now(memory, "nightly")
    listed = memory.list_cases
    monkeypatch.setattr("ui.backend.list_cases", lambda pattern=None, limit=200: listed(pattern=pattern, limit=1))
    at = schedules_page()
    at.selectbox(key="schedules_shown").set_value("nightly").run()
    assert at.selectbox(key="schedule_case").options == [newer, older]
    at.selectbox(key="schedule_case").set_value(older).run()
    at.button(key="schedule_open_case").click().run()
    assert not at.exception
    assert list(at.dataframe[0].value["id"]) == [newer]  # the Cases page lists only the newest here
    assert f"Case {older}" in [h.value for h in at.subheader]


def test_an_unreachable_database_is_a_message_not_a_traceback(monkeypatch):
    monkeypatch.setenv("BIANQUE_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:1/db")  # refused on loopback
    get_settings.cache_clear()
    at = schedules_page()
    assert not at.exception
    message = shown(" ".join(e.value for e in at.error))
    assert message.startswith("Listing the schedules failed:") and "u:p@" not in message


def test_a_run_whose_process_died_is_shown_interrupted_as_schedule_list_shows_it(memory):
    from tests.test_scheduler import left_by_a_dead_process

    memory.save_schedule("nightly", "disk-inspection", "0 2 * * *", ["cache"])
    holder = left_by_a_dead_process(memory, "nightly")
    at = schedules_page()
    assert not at.exception
    nightly = at.dataframe[0].value.set_index("job id").loc["nightly"]
    interrupted = f"interrupted: the process that ran it ({holder}) is no longer running"
    assert nightly["status"] == "failed" and nightly["reason"].startswith(interrupted)
    at.selectbox(key="schedules_shown").set_value("nightly").run()
    runs = at.dataframe[1].value
    assert list(runs["status"]) == ["failed"] and runs["reason"][0].startswith(interrupted)
    assert [run.status for run in memory.schedule_runs("nightly")] == ["running"]  # shown, not written: a read
    assert memory.get_schedule("nightly").running_by == holder
