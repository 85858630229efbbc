"""A deterministic investigator that records the event and a case but looks at no data.

``bianque serve --dry-run`` uses it to check the wiring (Alertmanager → webhook → dedup → cases)
before any data source is configured; the tests use it for the same reason.
"""

from __future__ import annotations

import uuid

from agent.events import Event
from agent.investigate import InvestigationResult
from agent.memory import Memory
from agent.verdict import Verdict

DRY_RUN_SKILL = "dry-run"


class DryRunInvestigator:
    """Stores each event with a finished case whose verdict says it was not investigated."""

    def __init__(self, memory: Memory) -> None:
        self.memory = memory

    def __call__(
        self, event: Event, *, skill: str | None = None, source: str = "api", thread_id: str | None = None
    ) -> InvestigationResult:
        thread_id = thread_id or uuid.uuid4().hex
        stored = self.memory.record_event(event, source=source)
        case = self.memory.start_case(stored.id, skill or DRY_RUN_SKILL, thread_id=thread_id)
        verdict = Verdict(
            pattern=event.pattern.value,
            summary=f"dry run: received {event.describe()}; no data was examined",
            reasoner="dry-run",
            confidence=0.0,
        )
        report = f"# Dry run\n\nReceived: {event.describe()}\n\nNo data source was queried."
        self.memory.finish_case(case.id, [], verdict, report, reasoner="dry-run")
        return InvestigationResult(
            case_id=case.id,
            thread_id=thread_id,
            skill={"name": skill or DRY_RUN_SKILL, "version": 1, "reason": "dry run"},
            verdict=verdict,
            report=report,
        )
