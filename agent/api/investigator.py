"""How the service runs an investigation: one injectable callable, live sources by default."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from agent.config import Settings
from agent.events import Event
from agent.investigate import InvestigationResult


class Investigator(Protocol):
    """Investigate one event; ``skill`` forces a Skill, ``source`` says where the event came from."""

    def __call__(self, event: Event, *, skill: str | None = None, source: str = "api") -> InvestigationResult: ...


class LiveInvestigator:
    """Runs the graph over the configured live sources; knowledge and memory are opened once, lazily."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._shared: tuple[Any, Any] | None = None

    def _knowledge_and_memory(self) -> tuple[Any, Any]:
        from agent.runtime import open_knowledge, open_memory

        with self._lock:
            if self._shared is None:
                self._shared = (open_knowledge(self.settings), open_memory(self.settings))
            return self._shared

    def knowledge(self) -> Any:
        """The knowledge store investigations retrieve from (opened on first use)."""
        return self._knowledge_and_memory()[0]

    def __call__(self, event: Event, *, skill: str | None = None, source: str = "api") -> InvestigationResult:
        from agent.investigate import investigate
        from agent.runtime import live_toolkit

        knowledge, memory = self._knowledge_and_memory()
        toolkit = live_toolkit(self.settings, knowledge=knowledge, memory=memory)
        return investigate(event, toolkit, skill=skill, source=source)
