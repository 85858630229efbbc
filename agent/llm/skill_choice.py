"""Let the LLM choose among the top Skill candidates; any failure falls back to the rule ranking."""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent.events import Event
from agent.llm.client import LLMClient
from agent.llm.jsontext import parse_json_object
from agent.llm.prompting import render_prompt
from agent.llm.redact import redact
from agent.llm.types import LLMError, TimeBudget
from agent.skills.selector import Candidate

log = logging.getLogger(__name__)


def make_chooser(
    client: LLMClient, budget: TimeBudget | None = None
) -> Callable[[Event, list[Candidate]], tuple[str, str] | None]:
    """A chooser for :func:`agent.skills.selector.select_skill` backed by the model; its call draws on ``budget``
    (the investigation's LLM time, shared with the verdict) and fails over to the rule ranking when that runs out."""
    budget = budget if budget is not None else TimeBudget(None)

    def choose(event: Event, candidates: list[Candidate]) -> tuple[str, str] | None:
        if len(candidates) < 2:
            return None
        prompt = render_prompt(
            "select_skill.j2",
            event_text=event.describe(),
            candidates=[
                {"name": c.skill.name, "pattern": c.skill.pattern.value,
                 "scope": ",".join(c.skill.scope.services), "description": c.skill.description}
                for c in candidates
            ],
        )
        try:
            schema = {
                "type": "object",
                "properties": {"skill": {"type": "string", "enum": [c.skill.name for c in candidates]},
                               "reason": {"type": "string", "maxLength": 200}},
                "required": ["skill", "reason"],
                "additionalProperties": False,
            }
            with budget.spending() as deadline:
                text, _ = client.complete_json([{"role": "user", "content": redact(prompt)}], "skill choice",
                                               schema=schema, deadline=deadline)
            answer = parse_json_object(text)
        except (LLMError, ValueError) as exc:
            log.warning("LLM skill choice failed, using the rule ranking: %s", exc)
            return None
        name, reason = answer.get("skill"), answer.get("reason", "")
        if not isinstance(name, str) or name not in {c.skill.name for c in candidates}:
            log.warning("LLM chose an unknown Skill %r, using the rule ranking", name)
            return None
        return name, f"chosen by the LLM: {reason}"

    return choose
