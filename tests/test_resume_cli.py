"""Every face checkpoints its investigations; a process killed mid-investigation is finished by
``bianque cases resume`` without running again the nodes that had finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings
from agent.graph.build import NODES
from agent.graph.hooks import HOLD_ENV, TRACE_ENV
from agent.investigator import LiveInvestigator, interrupted_cases
from agent.memory import Memory

runner = CliRunner()
SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"
NAMES = [name for name, _ in NODES]
HELD = "reason"
WAIT_S = 300.0  # an upper bound on a slow machine, not a timing assertion


def traced(trace) -> list[tuple[int, str]]:
    if not trace.exists():
        return []
    return [(int(pid), name) for pid, name in (line.split() for line in trace.read_text().splitlines())]


def wait_for(trace, node: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_S
    while not any(name == node for _, name in traced(trace)):
        if process.poll() is not None:
            raise AssertionError(f"the investigation ended before {node}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the investigation never reached {node}")
        time.sleep(0.1)


@pytest.fixture
def no_knowledge(monkeypatch):
    monkeypatch.setattr("agent.runtime.open_knowledge", lambda settings, **kwargs: None)


def test_a_killed_investigation_is_resumed_without_redoing_finished_nodes(tmp_path, bianque_home, monkeypatch,
                                                                        no_knowledge):
    trace = tmp_path / "nodes.trace"
    (tmp_path / "no-handbook").mkdir()  # an empty handbook: nothing to embed
    env = {**os.environ, "BIANQUE_HOME": str(bianque_home), "BIANQUE_KNOWLEDGE_DIR": str(tmp_path / "no-handbook"),
           TRACE_ENV: str(trace), HOLD_ENV: HELD}
    process = subprocess.Popen(
        [sys.executable, "-c", "from agent.cli.app import main; main()", "rca", "--bundle", str(SMALL)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(trace, HELD, process)
        with Memory() as memory:  # still running: not interrupted, and not resumable
            [live] = memory.list_cases()
            assert live.status == "running" and interrupted_cases(get_settings(), memory) == []
        refused = runner.invoke(app, ["cases", "resume", live.id])
        assert refused.exit_code != 0 and "still being investigated by process" in refused.output
        assert str(process.pid) in refused.output
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL
    first = [name for _, name in traced(trace)]
    assert first == NAMES[: NAMES.index(HELD) + 1]

    with Memory() as memory:
        [case] = memory.list_cases()
        assert case.status == "running" and case.bundle_path == str(SMALL.resolve())
        assert [c.id for c in interrupted_cases(get_settings(), memory)] == [case.id]
    listed = runner.invoke(app, ["cases", "list", "--interrupted", "--json"])
    assert listed.exit_code == 0 and case.id in listed.stdout

    monkeypatch.setenv(TRACE_ENV, str(trace))
    resumed = runner.invoke(app, ["cases", "resume", case.id])
    assert resumed.exit_code == 0, resumed.output
    assert f"case {case.id} done" in resumed.stdout
    again = [name for pid, name in traced(trace) if pid == os.getpid()]
    assert again == NAMES[NAMES.index(HELD):]  # triage, select_skill, gather, analyze were not run again

    with Memory() as memory:
        done = memory.get_case(case.id)
        assert done.status == "done" and done.verdict is not None and done.verdict.needs_attention is True
        assert done.report and done.report.startswith("# rca")
        assert interrupted_cases(get_settings(), memory) == []
    nothing = runner.invoke(app, ["cases", "resume", "--all"])
    assert nothing.exit_code == 0 and "No interrupted cases" in nothing.stdout
    finished = runner.invoke(app, ["cases", "resume", case.id])
    assert finished.exit_code == 2 and "already finished" in finished.stderr


def test_resume_needs_ids_or_all_and_names_an_unknown_case(bianque_home):
    assert runner.invoke(app, ["cases", "resume"]).exit_code == 2
    unknown = runner.invoke(app, ["cases", "resume", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.stderr


@contextmanager
def recording_checkpoints(monkeypatch):
    """Record the thread of every checkpoint written through the checkpointers the library opens
    (``agent.investigate`` for one-off runs, ``agent.investigator`` for the long-running processes)."""
    import agent.investigate
    import agent.investigator

    real = agent.investigate.open_checkpointer
    threads: set[str] = set()

    @contextmanager
    def spying(settings):
        with real(settings) as saver:
            put = saver.put

            def recording_put(config, *args, **kwargs):
                threads.add(config["configurable"]["thread_id"])
                return put(config, *args, **kwargs)

            monkeypatch.setattr(saver, "put", recording_put)
            yield saver

    for module in (agent.investigate, agent.investigator):
        monkeypatch.setattr(module, "open_checkpointer", spying)
    yield threads


def test_the_service_and_scheduler_investigator_checkpoints_every_run(bianque_home, monkeypatch, no_knowledge):
    from agent.events import Event, InspectionScope, Pattern

    investigator = LiveInvestigator(get_settings())
    event = Event(pattern=Pattern.INSPECTION, time=1_700_000_000, service="cache",
                  scope=InspectionScope(services=["cache"], window="1h"))
    with recording_checkpoints(monkeypatch) as threads:
        result = investigator(event, source="schedule")
    assert result.thread_id in threads
    with Memory() as memory:
        case = memory.get_case(result.case_id)
    assert case.status == "done" and case.thread_id == result.thread_id
