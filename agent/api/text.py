"""Strings of a request must be text: no NUL character, no unpaired surrogate.

JSON may carry both (``"\\u0000"``, ``"\\ud800"``), but no database stores them (PostgreSQL refuses a
NUL in any text column, and a lone surrogate is not UTF-8): checked before anything is stored, they
are a 422 naming the field instead of a 500 after half of the work is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request

from agent import names
from agent.api.errors import invalid_request

Path = tuple[str | int, ...]


def text_problem(value: str) -> str | None:
    """Why ``value`` is not text (``names.text_problem``), or None."""
    problem = names.text_problem(value)
    return f"is not valid text: it {problem}" if problem else None


def text_problems(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """``(path, problem)`` for every string in parsed JSON that is not text; a bad key is named by its repr."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = text_problem(key)
            if problem:
                yield (*path, repr(key)), problem
            yield from text_problems(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from text_problems(item, (*path, index))


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def text_only_request(request: Request) -> None:
    """FastAPI dependency: a path or query parameter, or a string of a JSON body, that is not text is refused (422)
    naming each such field."""
    found = [((where, name), problem)
             for where, params in (("path", request.path_params), ("query", request.query_params))
             for name, value in params.items() if isinstance(value, str) and (problem := text_problem(value))]
    if not found and _is_json(request.headers.get("content-type")):
        try:
            body = await request.json()
        except ValueError:  # FastAPI's own parsing answers malformed JSON, saying where it broke
            body = None
        found = [(("body", *path), problem) for path, problem in text_problems(body)]
    if found:
        raise invalid_request(*found)
