"""What a question asks to see listed rather than judged: the change store's changes, the log store's lines.

An investigation shows a change only as a Finding near an anomaly's onset and log lines only as templates, so
*what changed in the last hour?* and *show me the logs* would go unanswered by the verdict alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import BaseModel

from agent.skills.templates import escape_glob
from agent.sources.base import ChangeRequest, ChangeSource, LogRequest, LogSource
from agent.timeparse import to_short_utc

CHANGE_QUESTION = re.compile(r"\b(?:chang(?:e|ed|es)|deploy(?:ed|s|ments?)?|rolled out)\b")
LOG_QUESTION = re.compile(r"\blogs?\b")
SPAN = re.compile(r"\b(?:last|past)\s+(?:(\d+)\s*)?(minute|min|hour|hr|day)s?\b")
SPAN_UNITS = {"minute": 60.0, "min": 60.0, "hour": 3600.0, "hr": 3600.0, "day": 86400.0}
DEFAULT_SPAN_S = 3600.0
SHOWN_LOG_LINES = 20  # the newest lines a question asking for the logs is shown
LOG_LINES_READ = 2000  # how many lines of the span are read to pick the newest from
MESSAGE_CHARS = 300


class Listing(BaseModel):
    """One list a question asked for: its title, one line per item, or why the store could not be read."""

    title: str
    lines: list[str]
    error: str | None = None

    def said(self) -> list[str]:
        """One line each, or why there is none."""
        if self.error:
            return [f"the store could not be read: {self.error}"]
        return self.lines or ["none"]


def asks_for_listing(question: str) -> bool:
    """True when ``question`` asks what changed or for the logs (:func:`asked_listings` lists something)."""
    text = question.lower()
    return bool(CHANGE_QUESTION.search(text) or LOG_QUESTION.search(text))


def asked_span(text: str) -> float:
    """The span a question names (``last 3 hours``, ``past 30 minutes``), else the last hour."""
    span = SPAN.search(text)
    return float(span.group(1) or 1) * SPAN_UNITS[span.group(2)] if span else DEFAULT_SPAN_S


def changes_asked(services: Iterable[str], now: float, span_s: float) -> ChangeRequest:
    """Every type of change logged for ``services`` (each read as its own name, never as a glob) in the ``span_s``
    seconds before ``now``."""
    return ChangeRequest(services=tuple(map(escape_glob, services)), start=now - span_s, end=now, types=())


def _span_words(span_s: float) -> str:
    return f"{span_s / 3600:g}h" if span_s >= 7200 else f"{span_s / 60:g}m"


def asked_listings(question: str, services: list[str], now: float, changes: ChangeSource | None,
                   logs: LogSource | None) -> list[Listing]:
    """What ``question`` asks to see of ``services`` (every service when none) in the span it names: the changes
    logged, newest first, when it asks what changed; the newest WARN/ERROR/FATAL lines when it asks for the logs."""
    text = question.lower()
    span_s = asked_span(text)
    where = f"in the last {_span_words(span_s)} ({', '.join(services) or 'every service'})"
    listed = []
    if changes is not None and CHANGE_QUESTION.search(text):
        found = changes.query(changes_asked(services, now, span_s))
        lines = [f"{to_short_utc(c.ts)} {c.service}: {c.type} {c.id}" + (f" {c.version}" if c.version else "")
                 + (f" ({c.description})" if c.description else "") + (f" by {c.author}" if c.author else "")
                 for c in sorted(found.data, key=lambda c: c.ts, reverse=True)]
        listed.append(Listing(title=f"Changes logged {where}", lines=lines, error=found.error))
    if logs is not None and LOG_QUESTION.search(text):
        globs = tuple(map(escape_glob, services))
        found = logs.query(LogRequest(services=globs, start=now - span_s, end=now, limit=LOG_LINES_READ))
        newest = sorted(found.data, key=lambda line: line.ts, reverse=True)[:SHOWN_LOG_LINES]
        lines = [f"{to_short_utc(line.ts)} {line.service} {line.level}: {line.message[:MESSAGE_CHARS]}"
                 for line in newest]
        listed.append(Listing(title=f"Newest WARN/ERROR/FATAL log lines {where} (at most {SHOWN_LOG_LINES})",
                              lines=lines, error=found.error))
    return listed
