"""The investigation graph with memory and LangGraph checkpoints on a real PostgreSQL server: a crash
mid-investigation resumes from the PostgreSQL checkpoint without gathering again."""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest

from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.graph.checkpoint import open_checkpointer
from agent.investigate import investigate, resume
from agent.memory import Memory
from agent.reasoners.base import ReasonerResult
from agent.reasoners.offline import OfflineReasoner
from agent.runtime import bundle_toolkit
from tests.fixtures.graph.world import FlakyReasoner, alert_event, make_toolkit, source_calls

pytestmark = pytest.mark.e2e

SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "release-bad-canary"


@pytest.fixture
def settings(postgres_db_url, monkeypatch):
    """Settings whose database (memory and checkpoints) is a fresh PostgreSQL database."""
    monkeypatch.setenv("BIANQUE_DATABASE_URL", postgres_db_url)
    get_settings.cache_clear()
    return get_settings()


def checkpoint_threads(url: str) -> set[str]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}


def test_crash_and_resume_with_memory_and_checkpoints_on_postgres(settings, bianque_home):
    with Memory(settings.database_url) as memory:
        crashing = make_toolkit(reasoner=FlakyReasoner(failures=1), memory=memory)
        with open_checkpointer(settings) as saver:
            assert type(saver).__name__ == "PostgresSaver"
            with pytest.raises(RuntimeError, match="simulated crash"):
                investigate(alert_event(), crashing, checkpointer=saver, thread_id="pg-thread")
        [failed] = memory.list_cases()
        assert failed.status == "failed" and failed.thread_id == "pg-thread"
        working = make_toolkit(reasoner=FlakyReasoner(failures=0), memory=memory)
        with open_checkpointer(settings) as saver:  # a new connection, as after a restart
            result = resume("pg-thread", working, saver)
        assert source_calls(working) == 0 and working.reasoner.calls == 1
        done = memory.get_case(result.case_id)
        assert done.status == "done" and done.event_id == failed.event_id
        assert (done.skill, done.skill_version) == ("graph-api-rca", 3)
        assert done.verdict == result.verdict and done.verdict.needs_attention is True
    assert checkpoint_threads(settings.database_url) == {"pg-thread"}
    assert not (bianque_home / "checkpoints.db").exists()  # nothing went to SQLite


def test_a_curated_bundle_run_on_postgres(settings):
    bundle = load_bundle(SCENARIO)
    with Memory(settings.database_url) as memory, open_checkpointer(settings) as saver:
        toolkit = bundle_toolkit(bundle, settings, memory=memory)
        result = investigate(bundle.event, toolkit, checkpointer=saver, bundle_path=str(SCENARIO))
        case = memory.get_case(result.case_id)
        again = resume(result.thread_id, toolkit, saver)  # finished: read back from the checkpoint
    assert case.status == "done" and case.skill == result.skill["name"]
    assert case.verdict.decision == result.verdict.decision == "block"
    assert case.report == result.report == again.report
    assert result.thread_id in checkpoint_threads(settings.database_url)


def test_checkpointed_runs_on_postgres_leave_no_thread_and_a_crashed_case_resumes_by_id(settings, bianque_home,
                                                                                       monkeypatch):
    from agent.investigate import investigate_checkpointed
    from agent.investigator import interrupted_cases, resume_case

    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)
    with Memory(settings.database_url) as memory:
        toolkit = bundle_toolkit(SCENARIO, settings, memory=memory)
        finished = investigate_checkpointed(load_bundle(SCENARIO).event, toolkit, settings, bundle_path=str(SCENARIO))
        assert memory.get_case(finished.case_id).status == "done"
        assert finished.thread_id not in checkpoint_threads(settings.database_url)  # finished: deleted
        crashing = bundle_toolkit(SCENARIO, settings, memory=memory)
        crashing.reasoner = FlakyReasoner(failures=1)
        with pytest.raises(RuntimeError, match="simulated crash"):
            investigate_checkpointed(load_bundle(SCENARIO).event, crashing, settings, thread_id="pg-crash",
                                     bundle_path=str(SCENARIO))
        assert "pg-crash" in checkpoint_threads(settings.database_url)
        [failed] = memory.list_cases(status="failed")
        assert interrupted_cases(settings, memory) == []  # failed with an error: not left running
        result = resume_case(failed.id, settings, memory=memory)
        done = memory.get_case(result.case_id)
        assert done.status == "done" and done.event_id == failed.event_id and done.id != failed.id
        assert "pg-crash" not in checkpoint_threads(settings.database_url)


class QuotingReasoner:
    """The offline reasoner, its verdict quoting a log line that holds a NUL: the report holds it, and PostgreSQL's
    JSON (the checkpoint's) refuses it before the memory is asked to store it."""

    name = "offline"

    def __init__(self) -> None:
        self._inner = OfflineReasoner()

    def reason(self, pack: Any, skill: Any) -> ReasonerResult:
        result = self._inner.reason(pack, skill)
        return dataclasses.replace(result, verdict=result.verdict.model_copy(update={"summary": "quoted: a \0 b"}))


def test_a_checkpoint_postgres_refuses_fails_the_case_with_one_line(settings):
    """The case already recorded ends failed with what PostgreSQL said first, not its context quoting the values."""
    from agent.investigate import investigate_checkpointed

    with Memory(settings.database_url) as memory:
        toolkit = make_toolkit(reasoner=QuotingReasoner(), memory=memory)
        with pytest.raises(psycopg.DataError, match="unsupported Unicode escape sequence"):
            investigate_checkpointed(alert_event(), toolkit, settings, thread_id="refused")
        [case] = memory.list_cases()
    assert (case.status, case.error) == ("failed", "UntranslatableCharacter: unsupported Unicode escape sequence")
