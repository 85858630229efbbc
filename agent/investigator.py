"""How a long-running process (the service, the scheduler) runs investigations: one injectable callable.

Every investigation it runs is checkpointed in the database (:func:`agent.investigate.investigate_checkpointed`),
so one interrupted by a crash can be finished with :func:`agent.investigate.resume_case`.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

from agent.config import Settings
from agent.events import Event
from agent.graph.checkpoint import latest_checkpoint, open_checkpointer
from agent.graph.owner import checkpoint_owner, owner_alive
from agent.investigate import InvestigationResult, resume

CHECKPOINT_SETUP_LOCK = 0x62717565_63707400  # "bquecpt\0": serialises checkpoint table setup across processes


class Investigator(Protocol):
    """Investigate one event; ``skill`` forces a Skill, ``source`` says where the event came from.

    ``thread_id`` names the checkpoint thread: given, an earlier interrupted run of that thread is
    finished from its checkpoint instead of started over (the queue passes its item's thread).
    """

    def __call__(
        self, event: Event, *, skill: str | None = None, source: str = "api", thread_id: str | None = None
    ) -> InvestigationResult: ...


class LiveInvestigator:
    """Runs the graph over the configured live sources; knowledge, memory and the checkpointer are opened
    once, lazily, and every investigation is checkpointed so a crashed one can be finished."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._shared: tuple[Any, Any] | None = None
        self._checkpoints = ExitStack()
        self._saver: Any = None

    def _knowledge_and_memory(self) -> tuple[Any, Any]:
        from agent.runtime import open_knowledge, open_memory

        with self._lock:
            if self._shared is None:
                self._shared = (open_knowledge(self.settings), open_memory(self.settings))
            return self._shared

    def knowledge(self) -> Any:
        """The knowledge store investigations retrieve from (opened on first use)."""
        return self._knowledge_and_memory()[0]

    def toolkit(self) -> Any:
        """A toolkit over the live sources sharing this investigator's knowledge and memory."""
        from agent.runtime import live_toolkit

        knowledge, memory = self._knowledge_and_memory()
        return live_toolkit(self.settings, knowledge=knowledge, memory=memory)

    def checkpointer(self) -> Any:
        """The checkpointer of this process (in the configured database), opened on first use."""
        from agent.memory.db import advisory_lock

        _, memory = self._knowledge_and_memory()
        with self._lock:
            if self._saver is None:
                with advisory_lock(memory.engine, CHECKPOINT_SETUP_LOCK):  # replicas create its tables once
                    self._saver = self._checkpoints.enter_context(open_checkpointer(self.settings))
            return self._saver

    def __call__(
        self, event: Event, *, skill: str | None = None, source: str = "api", thread_id: str | None = None
    ) -> InvestigationResult:
        from agent.investigate import run_checkpointed

        return run_checkpointed(self.checkpointer(), event, self.toolkit(), thread_id=thread_id, skill=skill,
                                source=source)

    def resume(self, case_id: str) -> InvestigationResult:
        """Finish the interrupted case ``case_id`` (see :func:`resume_case`) with the shared knowledge and memory."""
        knowledge, memory = self._knowledge_and_memory()
        return resume_case(case_id, self.settings, memory=memory, knowledge=knowledge)

    def close(self) -> None:
        """Close the checkpointer and memory opened by this investigator."""
        with self._lock:
            self._checkpoints.close()
            self._saver = None
            if self._shared is not None:
                self._shared[1].close()
                self._shared = None


def interrupted_cases(settings: Settings, memory: Any, limit: int = 1000) -> list[Any]:
    """Cases still marked running whose checkpoint can finish them, oldest first.

    A case is left running when the process investigating it died (SIGKILL, power loss). A case being
    investigated right now by a live process of this host is left out (its checkpoints name their
    writer, see :mod:`agent.graph.owner`); one owned by a process on another host cannot be checked
    from here and is listed.
    """
    running = memory.list_cases(status="running", limit=limit)
    with open_checkpointer(settings) as saver:
        found = [(case, latest_checkpoint(saver, case.thread_id) if case.thread_id else None)
                 for case in reversed(running)]
    return [case for case, checkpoint in found
            if checkpoint is not None and not owner_alive(checkpoint_owner(checkpoint))]


def resume_case(case_id: str, settings: Settings, *, memory: Any = None, knowledge: Any = None) -> InvestigationResult:
    """Finish an interrupted (running or failed) case from its last checkpoint; finished nodes are not re-run.

    The case is finished over the sources it started with: its case bundle, else the live sources.
    Raises ``CaseNotFoundError`` for an unknown id and ``ValueError`` for a finished case or one
    without a checkpoint. A failed case stays failed; its finished run is a new case of the same event.
    """
    from agent.runtime import investigation_toolkit, open_memory

    memory = memory if memory is not None else open_memory(settings)
    case = memory.get_case(case_id)
    if case.status == "done":
        raise ValueError(f"case {case_id} is already finished")
    with open_checkpointer(settings) as saver:
        checkpoint = latest_checkpoint(saver, case.thread_id) if case.thread_id else None
        if checkpoint is None:
            raise ValueError(f"case {case_id} has no checkpoint to resume from; investigate its event again")
        owner = checkpoint_owner(checkpoint)
        if owner_alive(owner):
            raise ValueError(f"case {case_id} is still being investigated by process {owner}; resume it only "
                             "once that process has stopped")
        bundle = Path(case.bundle_path) if case.bundle_path else None
        toolkit = investigation_toolkit(settings, bundle, memory=memory, knowledge=knowledge)
        result = resume(case.thread_id, toolkit, saver)
        saver.delete_thread(case.thread_id)  # finished: nothing left to resume
    return result
