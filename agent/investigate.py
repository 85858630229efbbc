"""Run one investigation through the graph: the library entry point every face calls."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from agent.config import Settings
from agent.events import Event, Pattern
from agent.findings import Finding
from agent.graph.build import NODES, STEP_WORDS, StepHook, build_graph
from agent.graph.checkpoint import latest_checkpoint, open_checkpointer
from agent.graph.gathered import Gap
from agent.graph.owner import thread_config
from agent.graph.timing import evidence_window
from agent.graph.toolkit import Toolkit
from agent.memory.db import failure_reason
from agent.verdict import Verdict


class InvestigationResult(BaseModel):
    """What an investigation produced."""

    case_id: str | None = None
    thread_id: str
    skill: dict[str, Any]
    findings: list[Finding] = Field(default_factory=list)
    verdict: Verdict
    report: str
    notes: list[str] = Field(default_factory=list)
    evidence_window: dict[str, float] | None = Field(
        default=None, description="A release's evidence: the data from when the change began (start) to the "
                                  "judgement's time (end), Unix seconds; null for other patterns.")
    missing_data: list[Gap] = Field(
        default_factory=list, description="What could not be gathered, one entry per signal and service: the report's "
                                           "'Missing data' as data (kind, signal, service, reason).")
    timings: dict[str, float] = Field(default_factory=dict)
    llm: dict[str, Any] | None = Field(
        default=None, description="What the model did (agent.reasoners.base.LLMRun as a dict), when one was asked."
    )


def _result(values: dict[str, Any], thread_id: str) -> InvestigationResult:
    return InvestigationResult(
        case_id=values.get("case_id"),
        thread_id=thread_id,
        skill=values["skill"],
        findings=[Finding.model_validate(f) for f in values.get("findings", [])],
        verdict=Verdict.model_validate(values["verdict"]),
        report=values.get("report", ""),
        notes=values.get("notes", []),
        missing_data=values.get("gathered", {}).get("gaps", []),
        evidence_window=(evidence_window(values.get("window", {}))
                         if values.get("event", {}).get("pattern") == Pattern.RELEASE_INTERCEPTION else None),
        timings=values.get("timings", {}),
        llm=values.get("llm"),
    )


class InvestigationInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM where it is Ctrl-C) mid-investigation: the case stays running, and
    ``bianque cases resume`` finishes it from its checkpoint."""

    def __init__(self, case_id: str) -> None:
        super().__init__(case_id)
        self.case_id = case_id


def _run(graph: Any, payload: dict[str, Any] | None, config: dict[str, Any], toolkit: Toolkit,
         case_id: str | None, on_step: StepHook | None = None) -> dict[str, Any]:
    """Run the graph to its end and return its last values, telling ``on_step`` of each step as it starts.

    A crash marks the case failed and propagates. So does a stop the caller raises between steps (a UI's Stop
    button raises from ``on_step``, its message saying why): the case is failed as stopped, since the process goes
    on and nothing would finish it. A process that is stopping (Ctrl-C, SIGTERM, exit) leaves the case running:
    ``bianque cases resume`` finishes it from its checkpoint."""
    values: dict[str, Any] = {}
    # with a checkpointer, each node's result is on disk before the next node starts (a SIGKILL loses
    # at most the node that was running)
    durability = {"durability": "sync"} if graph.checkpointer else {}
    steps = [name for name, _ in NODES]
    try:
        for mode, chunk in graph.stream(payload, config, stream_mode=["values", "tasks"], **durability):
            if mode == "values":
                values = chunk
            elif on_step is not None and "result" not in chunk and chunk["name"] in STEP_WORDS:  # a step starts
                on_step(steps.index(chunk["name"]) + 1, len(steps), STEP_WORDS[chunk["name"]])
    except KeyboardInterrupt as exc:
        if case_id:
            raise InvestigationInterrupted(case_id) from exc
        raise
    except SystemExit:
        raise
    except BaseException as exc:
        stopped = not isinstance(exc, Exception)
        if toolkit.memory is not None and case_id:
            why = f"stopped before it finished ({stop_reason(exc)})" if stopped else failure_reason(exc)
            toolkit.memory.fail_case(case_id, why, event=_resolved_event(values))
        raise
    return values


def stop_reason(exc: BaseException) -> str:
    """Why a face stopped an investigation: the message its stop carries (a UI's reloaded page), else its type."""
    return str(exc) or type(exc).__name__


def _resolved_event(values: dict[str, Any]) -> dict[str, Any] | None:
    """The event as triage resolved it (a release's change named by id alone, with its changes line's details), once
    triage has run (it sets the window); None before."""
    return values.get("event") if "window" in values else None


def investigate(
    event: Event,
    toolkit: Toolkit,
    *,
    skill: str | None = None,
    checkpointer: Any = None,
    source: str = "cli",
    bundle_path: str | None = None,
    thread_id: str | None = None,
    on_step: StepHook | None = None,
) -> InvestigationResult:
    """Investigate one event; with memory configured the case is recorded, with a checkpointer it can resume.

    ``thread_id`` names the checkpoint thread (default: a new one), so a caller can ``resume`` it after a crash;
    ``on_step`` is told of each step as it starts (step, steps, what it does).
    """
    thread_id = thread_id or uuid.uuid4().hex
    case_id = None
    if toolkit.memory is not None:
        stored = toolkit.memory.record_event(event, source=source)
        case_id = toolkit.memory.start_case(stored.id, None, thread_id=thread_id, bundle_path=bundle_path).id
    graph = build_graph(toolkit, checkpointer)
    config = thread_config(thread_id)
    # what the event leaves unsaid stays unsaid (a change's type: triage takes it from the change's own line)
    payload = {"event": event.model_dump(mode="json", by_alias=True, exclude_unset=True), "skill_override": skill,
               "case_id": case_id}
    return _result(_run(graph, payload, config, toolkit, case_id, on_step), thread_id)


def _case_to_finish(graph: Any, config: dict[str, Any], values: dict[str, Any], toolkit: Toolkit) -> str | None:
    """The interrupted run's case; when the crash marked it failed, a new running case for the same event."""
    case_id = values.get("case_id")
    if toolkit.memory is None or not case_id:
        return case_id
    case = toolkit.memory.get_case(case_id)
    if case.status == "running":
        return case_id
    reopened = toolkit.memory.start_case(
        case.event_id, case.skill, case.skill_version, case.selection_reason,
        thread_id=case.thread_id, bundle_path=case.bundle_path,
    ).id
    graph.update_state(config, {"case_id": reopened})
    return reopened


def resume(thread_id: str, toolkit: Toolkit, checkpointer: Any) -> InvestigationResult:
    """Finish an interrupted investigation from its last checkpoint (nodes already done are not re-run).

    A case the crash marked failed stays failed; the resumed run is stored as a new case of the same event.
    """
    graph = build_graph(toolkit, checkpointer)
    config = thread_config(thread_id)
    snapshot = graph.get_state(config)
    if not snapshot.values:
        raise KeyError(f"no checkpoint for thread {thread_id}")
    if snapshot.next:
        case_id = _case_to_finish(graph, config, snapshot.values, toolkit)
        _run(graph, None, config, toolkit, case_id)
    return _result(graph.get_state(config).values, thread_id)


def investigate_checkpointed(event: Event, toolkit: Toolkit, settings: Settings, **kwargs: Any) -> InvestigationResult:
    """:func:`investigate` with every step checkpointed in the configured database.

    The case records the checkpoint's thread, so a crashed process's investigation can be finished by
    :func:`agent.investigator.resume_case`; a finished investigation's checkpoints are deleted.
    ``kwargs`` are :func:`investigate`'s.
    """
    with open_checkpointer(settings) as saver:
        return run_checkpointed(saver, event, toolkit, **kwargs)


def run_checkpointed(saver: Any, event: Event, toolkit: Toolkit, *, thread_id: str | None = None,
                     **kwargs: Any) -> InvestigationResult:
    """Investigate ``event`` with checkpoints in ``saver`` under ``thread_id`` (a new thread by default).

    A thread that already has a checkpoint (an interrupted run) is finished from it instead of started
    over; a finished thread's checkpoints are deleted. ``kwargs`` are :func:`investigate`'s.
    """
    thread_id = thread_id or uuid.uuid4().hex
    if has_checkpoint(saver, thread_id):
        result = resume(thread_id, toolkit, saver)
    else:
        result = investigate(event, toolkit, checkpointer=saver, thread_id=thread_id, **kwargs)
    saver.delete_thread(thread_id)  # finished: nothing left to resume, keep the database small
    return result


def has_checkpoint(saver: Any, thread_id: str) -> bool:
    """True when ``saver`` holds a checkpoint of ``thread_id`` (an interrupted run that can be finished)."""
    return latest_checkpoint(saver, thread_id) is not None
