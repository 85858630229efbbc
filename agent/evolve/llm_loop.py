"""Ask the model until its answer validates: each rejection goes back with the exact error.

Used for every generated artefact of self-evolution (a Skill patch, a refined or new Skill, an
experience note): at most ``tries`` answers, then :class:`GenerationFailed` with every error seen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from agent.evolve.prompts import render
from agent.llm.jsontext import string_schema
from agent.llm.redact import redact_messages

T = TypeVar("T")
MAX_TRIES = 3


class GenerationFailed(RuntimeError):
    """The model gave no valid answer within the allowed tries; ``errors`` holds each rejection."""

    def __init__(self, purpose: str, errors: list[str]) -> None:
        tries = len(errors)
        super().__init__(
            f"the model gave no valid {purpose} in {tries} tr{'y' if tries == 1 else 'ies'}; "
            f"last error: {errors[-1] if errors else 'none'}"
        )
        self.purpose = purpose
        self.errors = errors


def ask_until_valid(
    client: Any,
    messages: list[dict[str, str]],
    parse: Callable[[str], T],
    *,
    purpose: str,
    tries: int = MAX_TRIES,
    schema: dict[str, Any] | None = None,
) -> tuple[T, int]:
    """``(parse(answer), tries used)`` for the first answer ``parse`` accepts.

    ``schema`` (a JSON Schema of the answer object) is passed to endpoints that constrain output to one.

    ``parse`` raises ``ValueError`` with a precise message (file:line: field: problem) for a bad
    answer; the model then sees its answer and that message and is asked again. LLMError from the
    client (endpoint down, timeouts) propagates unchanged.
    """
    history = redact_messages(list(messages))
    errors: list[str] = []
    for attempt in range(1, max(1, tries) + 1):
        text, _usage = client.complete_json(history, purpose, schema=schema)
        try:
            return parse(text), attempt
        except ValueError as exc:
            errors.append(str(exc))
            history = [
                *history,
                {"role": "assistant", "content": text},
                {"role": "user", "content": render("retry", error=str(exc), purpose=purpose)},
            ]
    raise GenerationFailed(purpose, errors)


def text_fields_schema(**fields: int) -> dict[str, Any]:
    """The schema of a JSON object of required string fields, each at most ``fields[name]`` characters.

    Bounds above :data:`agent.llm.jsontext.GRAMMAR_MAX_LENGTH` are left to validation (see ``string_schema``).
    """
    return {
        "type": "object",
        "properties": {name: string_schema(limit, min_length=1) for name, limit in fields.items()},
        "required": list(fields),
        "additionalProperties": False,
    }
