"""Checkpointed investigations (SQLite in BIANQUE_HOME): a crash mid-investigation resumes from the last
checkpoint with a working toolkit, without gathering again; with memory the case is finished."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver

from agent.config import get_settings
from agent.graph.build import NODES
from agent.graph.checkpoint import open_checkpointer
from agent.investigate import investigate, resume
from agent.memory import Memory
from tests.fixtures.graph.world import FlakyReasoner, alert_event, graph_library, make_toolkit, source_calls


def crash(toolkit=None, thread_id: str = "thread-1", **kwargs):
    """Run the test world with a reasoner that crashes; the checkpoints stay in BIANQUE_HOME."""
    toolkit = toolkit or make_toolkit(reasoner=FlakyReasoner(failures=1))
    with open_checkpointer(get_settings()) as saver:
        with pytest.raises(RuntimeError, match="simulated crash in the reasoner"):
            investigate(alert_event(), toolkit, checkpointer=saver, thread_id=thread_id, **kwargs)
    return toolkit


def resume_with(toolkit, thread_id: str = "thread-1"):
    """Resume in a fresh checkpointer connection, as a restarted process would."""
    with open_checkpointer(get_settings()) as saver:
        return resume(thread_id, toolkit, saver)


@pytest.fixture
def memory(bianque_home):
    with Memory() as store:
        yield store


def test_checkpoints_live_in_bianque_home(bianque_home):
    crash()
    with sqlite3.connect(bianque_home / "checkpoints.db") as conn:
        threads = {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert threads == {"thread-1"}


def test_resume_finishes_without_gathering_again(bianque_home):
    crashed = crash()
    assert source_calls(crashed) > 0 and crashed.reasoner.calls == 1
    working = make_toolkit(reasoner=FlakyReasoner(failures=0))
    result = resume_with(working)
    assert source_calls(working) == 0  # triage, select_skill, gather and analyze were not re-run
    assert working.reasoner.calls == 1
    assert result.thread_id == "thread-1" and result.skill["name"] == "graph-api-rca"
    assert result.verdict.reasoner == "offline" and result.verdict.needs_attention is True
    assert result.report.startswith("# rca: ") and "## Evidence" in result.report
    assert set(result.timings) == {name for name, _ in NODES}
    uninterrupted = investigate(alert_event(), make_toolkit())
    assert result.findings == uninterrupted.findings
    assert result.verdict == uninterrupted.verdict


def test_resume_with_memory_finishes_the_case(memory):
    crash(make_toolkit(reasoner=FlakyReasoner(failures=1), memory=memory))
    [failed] = memory.list_cases()
    assert failed.status == "failed" and "simulated crash" in failed.error
    working = make_toolkit(memory=memory)
    result = resume_with(working, failed.thread_id)
    assert source_calls(working) == 0
    done = memory.get_case(result.case_id)
    assert done.status == "done" and done.id != failed.id
    assert (done.event_id, done.thread_id) == (failed.event_id, failed.thread_id)
    assert (done.skill, done.skill_version) == ("graph-api-rca", 3)
    assert done.verdict == result.verdict and done.report == result.report
    assert memory.get_case(failed.id).status == "failed"  # the crash stays on record


def test_a_crash_during_resume_fails_again_and_a_later_resume_finishes(memory):
    crash(make_toolkit(reasoner=FlakyReasoner(failures=1), memory=memory))
    still_broken = make_toolkit(reasoner=FlakyReasoner(failures=1), memory=memory)
    with pytest.raises(RuntimeError, match="simulated crash"):
        resume_with(still_broken)
    assert source_calls(still_broken) == 0
    assert [c.status for c in memory.list_cases()] == ["failed", "failed"]
    result = resume_with(make_toolkit(memory=memory))
    assert memory.get_case(result.case_id).status == "done"
    assert sorted(c.status for c in memory.list_cases()) == ["done", "failed", "failed"]


def test_resuming_a_finished_thread_runs_nothing(bianque_home):
    with open_checkpointer(get_settings()) as saver:
        first = investigate(alert_event(), make_toolkit(), checkpointer=saver, thread_id="done-thread")
    idle = make_toolkit(reasoner=FlakyReasoner(failures=0))
    again = resume_with(idle, "done-thread")
    assert source_calls(idle) == 0 and idle.reasoner.calls == 0
    assert again.verdict == first.verdict and again.report == first.report


def test_resuming_after_the_skill_was_removed_says_so(bianque_home):
    crash()
    library = graph_library()
    del library.skills["graph-api-rca"]
    with pytest.raises(LookupError, match="Skill 'graph-api-rca' chosen for this investigation is no longer"):
        resume_with(make_toolkit(library=library))


def test_resuming_an_unknown_thread_is_a_key_error(bianque_home):
    with pytest.raises(KeyError, match="no checkpoint for thread nope"):
        resume_with(make_toolkit(), "nope")


def test_each_investigation_gets_its_own_thread(bianque_home):
    with open_checkpointer(get_settings()) as saver:
        one = investigate(alert_event(), make_toolkit(), checkpointer=saver)
        two = investigate(alert_event(), make_toolkit(), checkpointer=saver)
    assert one.thread_id != two.thread_id and len(one.thread_id) == 32


class RefusingSaver(InMemorySaver):
    """A checkpointer whose database refuses the report's checkpoint, as PostgreSQL's JSON refuses a NUL."""

    def put(self, config, checkpoint, metadata, new_versions):
        if "report" in checkpoint["channel_values"]:
            raise psycopg.errors.UntranslatableCharacter(
                "unsupported Unicode escape sequence\nDETAIL:  \\u0000 cannot be converted to text.\n"
                "CONTEXT:  JSON data, line 1: ...a log line\nunnamed portal parameter $5 = '...secret...'")
        return super().put(config, checkpoint, metadata, new_versions)


def test_a_checkpoint_the_database_refuses_fails_the_case_in_one_line(memory):
    """The case was failed with the driver's whole message: the statement's context and a quoted parameter."""
    with pytest.raises(psycopg.errors.UntranslatableCharacter):
        investigate(alert_event(), make_toolkit(memory=memory), checkpointer=RefusingSaver(), thread_id="t")
    [case] = memory.list_cases()
    assert (case.status, case.error) == ("failed", "UntranslatableCharacter: unsupported Unicode escape sequence")
