"""Phrases for people: a list of names as a sentence says it (Finding summaries are worded in detectors.wording)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache


def listed(names: Collection[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    *first, last = names
    return f"{', '.join(first)} and {last}" if first else last


def first_of(names: Sequence[str], shown: int = 4) -> str:
    """The first ``shown`` names, and how many more: ``a, b, c, d and 3 more``."""
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")


# The code spans of our own advice (``bianque catalog``): reports and the UI render them as code, while the same
# characters in text from the data (a log line, an alert annotation, a metric name), or in a model's answer, stay
# escaped. Only a span written through :func:`command` is ours; text that spells one exactly renders as that very
# advice would, and nothing else of it does.
OWN_COMMANDS: set[str] = set()


def command(text: str) -> str:
    """``text`` (a command or setting our advice names, fixed text: never a value from the data) as a code span
    that reports render as code."""
    if "`" in text or not text.strip() or any(c in text for c in "\r\n"):
        raise ValueError(f"not a command to show as code: {text!r}")
    OWN_COMMANDS.add(text)
    return f"`{text}`"


def own_code_split(text: str) -> list[tuple[str, bool]]:
    """``text`` in pieces, each with whether it is a code span of our own advice (kept as markup) or not (to be
    escaped by the caller): ``"see `bianque catalog`"`` -> ``[("see ", False), ("`bianque catalog`", True)]``.
    A stray backtick before it (from the data) does not hide one: the spans are looked for, not paired."""
    if "`" not in text or not OWN_COMMANDS:
        return [(text, False)]
    spans = _spans(frozenset(OWN_COMMANDS))
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in spans.finditer(text):
        if match.start() > at:
            pieces.append((text[at:match.start()], False))
        pieces.append((match.group(0), True))
        at = match.end()
    if at < len(text) or not pieces:
        pieces.append((text[at:], False))
    return pieces


@lru_cache(maxsize=4)
def _spans(commands: frozenset[str]) -> re.Pattern[str]:
    """The code spans of ``commands``, longest first (compiled once per set: a command declared later is a new set)."""
    return re.compile("`(?:" + "|".join(map(re.escape, sorted(commands, key=len, reverse=True))) + ")`")


# Our advice's commands, declared here so that every process that renders a stored report or verdict (the UI)
# knows them, whether or not it ran the code that advised them.
CATALOG = command("bianque catalog")
VALIDATE_AGAINST_BUNDLE = command("bianque skills validate --bundle DIR")
