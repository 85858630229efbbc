"""How the service runs an investigation: one injectable callable, live sources by default."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any, Protocol

from agent.config import Settings
from agent.events import Event
from agent.investigate import InvestigationResult

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
    """Runs the graph over the configured live sources; knowledge, memory and checkpoints opened once, lazily."""

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

    def checkpointer(self) -> Any:
        """The checkpointer of this process (in the configured database), opened on first use."""
        from agent.graph.checkpoint import open_checkpointer
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
        from agent.investigate import investigate, resume
        from agent.runtime import live_toolkit

        knowledge, memory = self._knowledge_and_memory()
        toolkit = live_toolkit(self.settings, knowledge=knowledge, memory=memory)
        if thread_id is None:
            return investigate(event, toolkit, skill=skill, source=source)
        saver = self.checkpointer()
        if saver.get_tuple({"configurable": {"thread_id": thread_id}}) is not None:
            return resume(thread_id, toolkit, saver)
        return investigate(event, toolkit, skill=skill, source=source, checkpointer=saver, thread_id=thread_id)

    def close(self) -> None:
        """Close the checkpointer and memory opened by this investigator."""
        with self._lock:
            self._checkpoints.close()
            self._saver = None
            if self._shared is not None:
                self._shared[1].close()
                self._shared = None
