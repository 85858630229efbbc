"""``bianque cases list`` and ``bianque cases show``."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.memory import Memory
from tests.test_memory_roundtrip import finished_case, release_event

runner = CliRunner()


@pytest.fixture
def stored(bianque_home) -> dict[str, str]:
    with Memory() as memory:
        rca = finished_case(memory, "rca-latency")
        release = memory.start_case(memory.record_event(release_event()).id, "release-canary", 1).id
        memory.fail_case(release, "prometheus unreachable")
        memory.add_correction(
            rca,
            False,
            root_cause_service="cache",
            root_cause_fault="cache_miss",
            note="cache [evictions]",
            author="alice",
        )
    return {"rca": rca, "release": release}


def test_list_shows_cases_with_answers(stored) -> None:
    result = runner.invoke(app, ["cases", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert stored["rca"] in result.output and stored["release"] in result.output
    assert "feature-store/slow_dependency" in result.output and "prometheus unreachable" in result.output
    assert "done ✗" in result.output and "corrected as wrong" in result.output


def test_list_in_an_80_column_terminal_crops_no_answer(stored, terminal) -> None:
    """The answer column folds, it is never cut at the terminal's edge (``feature-store/slow_dependency`` had
    shown as ``feature-s``, ``ore/slow_``...)."""
    with terminal() as out:
        assert runner.invoke(app, ["cases", "list", "--pattern", "rca"]).exit_code == 0
    lines = out.getvalue().splitlines()
    start = lines[2].index("answer")  # the header row
    row = [line[start:].strip() for line in lines[4:] if line[start:].strip()]
    assert "feature-store/slow_dependency" in "".join(row).replace(" ", ""), out.getvalue()


def test_list_written_to_a_pipe_keeps_each_case_on_one_line(stored) -> None:
    """Out of a terminal the table was folded to 80 columns, the answer broken across lines."""
    result = runner.invoke(app, ["cases", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    [row] = [line for line in result.stdout.splitlines() if stored["rca"] in line]
    assert "done ✗" in row and "needs attention, feature-store/slow_dependency" in row


def test_list_says_when_no_case_matches_its_filters_and_refuses_an_unknown_status(stored) -> None:
    none = runner.invoke(app, ["cases", "list", "--skill", "no-such-skill"], env={"COLUMNS": "200"})
    assert none.exit_code == 0 and "No case matches --skill no-such-skill" in none.output  # not "none stored yet"
    bad = runner.invoke(app, ["cases", "list", "--status", "finished"], env={"COLUMNS": "200"})
    assert bad.exit_code == 2 and "must be one of running, done, failed, got 'finished'" in bad.output


def test_list_filters_and_json(stored) -> None:
    result = runner.invoke(app, ["cases", "list", "--pattern", "rca", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [c["id"] for c in data] == [stored["rca"]]
    assert data[0]["verdict"]["root_causes"][0]["service"] == "feature-store"
    assert data[0]["corrections"][0]["root_cause_service"] == "cache"
    by_skill = json.loads(runner.invoke(app, ["cases", "list", "--skill", "release-canary", "--json"]).output)
    assert [c["status"] for c in by_skill] == ["failed"]


def test_list_rejects_unknown_pattern(stored) -> None:
    result = runner.invoke(app, ["cases", "list", "--pattern", "astrology"])
    assert result.exit_code != 0 and "astrology" in result.output


def test_list_on_empty_memory_points_at_commands_that_exist(bianque_home) -> None:
    result = runner.invoke(app, ["cases", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "No cases stored yet" in result.output
    suggested = re.findall(r"`bianque (\w+)`", result.output)
    assert suggested and all(runner.invoke(app, [name, "--help"]).exit_code == 0 for name in suggested)


def test_show_prints_report_verdict_and_corrections(stored) -> None:
    result = runner.invoke(app, ["cases", "show", stored["rca"]], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "rca-latency v1 (alert name matched)" in out
    assert "feature-store is slow" in out  # report
    assert "needs attention, feature-store/slow_dependency" in out  # verdict
    assert "by alice: wrong; root cause cache/cache_miss" in out and "cache [evictions]" in out


def test_show_says_which_correction_kept_the_case_out_of_experience(stored) -> None:
    """`correct --no-index` then the same truth without it are two corrections: they were shown as the same line,
    though only the first keeps the case out of distillation and the ranking's lessons."""
    with Memory() as memory:
        memory.add_correction(stored["rca"], True, author="bob", no_index=True)
        memory.add_correction(stored["rca"], True, author="bob")
    result = runner.invoke(app, ["cases", "show", stored["rca"]], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "by bob: " in line]
    assert [line.split("by bob: ", 1)[1] for line in lines] == ["right; kept out of experience (--no-index)", "right"]
    assert "kept out of experience" not in result.output.split("by alice: ", 1)[1].splitlines()[0]


def test_show_json_round_trips_the_record(stored) -> None:
    result = runner.invoke(app, ["cases", "show", stored["release"], "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["id"], data["status"], data["error"]) == (
        stored["release"],
        "failed",
        "prometheus unreachable",
    )
    assert data["event"]["change"]["id"] == "deploy-8812"


def test_show_unknown_case_is_a_clear_error(bianque_home) -> None:
    result = runner.invoke(app, ["cases", "show", "nope42"])
    assert result.exit_code == 2
    assert "no case with id 'nope42'" in result.output


def test_bad_database_url_is_a_clear_error(monkeypatch) -> None:
    from agent.config import get_settings

    monkeypatch.setenv("BIANQUE_DATABASE_URL", "mysqlish://nowhere/db")
    get_settings.cache_clear()
    result = runner.invoke(app, ["cases", "list"])
    assert result.exit_code == 2 and "unsupported database URL scheme" in result.output


def test_queue_lists_failed_investigations_with_their_error(bianque_home) -> None:
    from tests.test_memory_queue import fire

    with Memory() as memory:
        failed = fire(memory, "fp-1", "ranking")
        fire(memory, "fp-2", "cache")
        item = memory.claim_queued("w1", lease_s=60, max_attempts=1)
        memory.fail_queued(item.id, "w1", "TimeoutError: prometheus [timed out]", retry_in=None)
    result = runner.invoke(app, ["cases", "queue"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "1 pending, 0 running, 0 done, 1 failed" in result.output
    assert failed.queue_id in result.output and "TimeoutError: prometheus [timed out]" in result.output
    only = runner.invoke(app, ["cases", "queue", "--status", "failed", "--json"])
    assert [i["id"] for i in json.loads(only.output)] == [failed.queue_id]
    bad = runner.invoke(app, ["cases", "queue", "--status", "lost"])
    assert bad.exit_code == 2 and "must be one of pending, running, done, failed" in bad.output
