"""Each investigation step is told as it starts (the chat's and the CLI's progress line); a caller stopping the run
between steps (a UI's Stop) leaves the case failed as stopped, while a process that is stopping leaves it running
for `bianque cases resume`."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from agent.cli import steps as cli_steps
from agent.config import get_settings
from agent.graph.build import NODES, STEP_WORDS
from agent.graph.checkpoint import open_checkpointer
from agent.investigate import investigate, resume
from agent.memory import Memory
from tests.fixtures.graph.world import FlakyReasoner, alert_event, make_toolkit


class Stopped(BaseException):
    """What a UI raises from a progress update when its Stop button was pressed (Streamlit's StopException)."""


@pytest.fixture
def memory(bianque_home):
    with Memory() as store:
        yield store


def test_every_step_is_told_in_order_with_its_words():
    told: list[tuple[int, int, str]] = []
    investigate(alert_event(), make_toolkit(), on_step=lambda *step: told.append(step))
    assert told == [(n, len(NODES), STEP_WORDS[name]) for n, (name, _) in enumerate(NODES, 1)]
    assert told[2] == (3, 7, "gathering metrics, logs, changes and knowledge")


def stop_at(words: str):
    def on_step(_step: int, _steps: int, what: str) -> None:
        if what == words:
            raise Stopped
    return on_step


def test_a_stop_between_steps_fails_the_case_as_stopped_and_propagates(memory):
    toolkit = make_toolkit(memory=memory, reasoner=FlakyReasoner(failures=0))
    with pytest.raises(Stopped):
        investigate(alert_event(), toolkit, on_step=stop_at(STEP_WORDS["analyze"]))
    [case] = memory.list_cases()
    assert case.status == "failed"
    assert case.error == "stopped before it finished (Stopped)"
    assert toolkit.reasoner.calls == 0  # nothing after the stop ran


def test_a_stop_fails_a_checkpointed_case_that_resume_then_finishes(memory):
    with open_checkpointer(get_settings()) as saver, pytest.raises(Stopped):
        investigate(alert_event(), make_toolkit(memory=memory), checkpointer=saver, thread_id="stopped-thread",
                    on_step=stop_at(STEP_WORDS["reason"]))
    [stopped] = memory.list_cases()
    assert stopped.status == "failed" and stopped.thread_id == "stopped-thread"
    with open_checkpointer(get_settings()) as saver:
        result = resume("stopped-thread", make_toolkit(memory=memory), saver)
    assert memory.get_case(result.case_id).status == "done"


def test_a_process_stopping_leaves_the_case_running_for_resume(memory):
    def interrupt(_step: int, _steps: int, what: str) -> None:
        if what == STEP_WORDS["reason"]:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        investigate(alert_event(), make_toolkit(memory=memory), on_step=interrupt)
    assert [c.status for c in memory.list_cases()] == ["running"]


def test_the_cli_shows_the_step_on_a_terminal_and_nothing_in_a_pipe(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(cli_steps, "err_console", Console(file=out, force_terminal=True, width=100))
    with cli_steps.investigation_steps() as on_step:
        assert on_step is not None
        on_step(3, 7, STEP_WORDS["gather"])
    assert "Investigating: gathering metrics, logs, changes and knowledge (3/7)" in out.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(cli_steps, "err_console", Console(file=piped, force_terminal=False))
    with cli_steps.investigation_steps() as on_step:
        assert on_step is None
    assert piped.getvalue() == ""
