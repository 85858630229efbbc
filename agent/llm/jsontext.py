"""Pull the JSON object out of a model's answer (code fences and stray prose tolerated)."""

from __future__ import annotations

import json
import re
from typing import Any

GRAMMAR_MAX_LENGTH = 200  # llama.cpp nests one grammar rule per character of maxLength: beyond this it may crash

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``; raises ``ValueError`` saying what is wrong and where."""
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        raise ValueError(f"no JSON object in the answer (it starts with {text.strip()[:80]!r})")
    try:
        value, _ = json.JSONDecoder(strict=False).raw_decode(candidate[start:])  # raw newlines/tabs in strings
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(value, dict):
        raise ValueError("the answer must be a JSON object")
    return value


def string_schema(limit: int, *, min_length: int = 0) -> dict[str, Any]:
    """A JSON Schema string of at most ``limit`` characters, the bound left out when above ``GRAMMAR_MAX_LENGTH``.

    Schema-constrained servers turn ``maxLength`` into grammar rules (llama.cpp: one nested rule per
    character; 12000 crashed its server); longer texts are bounded by ``max_tokens`` and validation.
    """
    schema: dict[str, Any] = {"type": "string"}
    if min_length:
        schema["minLength"] = min_length
    if limit <= GRAMMAR_MAX_LENGTH:
        schema["maxLength"] = limit
    return schema
