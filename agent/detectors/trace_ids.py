"""Trace ids of log lines that carry them only in their text (``TraceID: …``, ``trace_id=…``, Sleuth, W3C).

Many systems write the trace id into the line itself rather than into a field of its own: Spring Cloud
Sleuth's ``[app,traceId,spanId]`` prefix, a pattern layout's ``TraceID: 4bf9…``, a logfmt ``trace_id=…``, a
JSON ``"traceId":"…"`` or a W3C ``traceparent`` (``00-<trace>-<span>-01``). A line's own ``trace_id`` field
always wins; only hexadecimal ids of 16 to 32 digits are taken, so a word is never read as an id, and an id of
zeros (what a logging bridge prints when no span is active) is none. Ids read from text are lower-cased, so
one id written in both cases is one trace.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from agent.series import LogRecord

_HEX_ID = r"([0-9a-fA-F]{16,32})(?![0-9A-Za-z\-])"  # the whole id: not the head of a longer token
_PATTERNS = (
    re.compile(r"\btrace[_.\- ]?id\b[\"']?\s*[:=]\s*[\"']?" + _HEX_ID, re.IGNORECASE),
    re.compile(r"\b00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}\b"),  # W3C traceparent
    # Sleuth [app,trace,span(,export)]: the app is a name, not a list of hex values
    re.compile(r"\[(?![0-9a-fA-F]+,)[A-Za-z][\w.\-]*," + r"([0-9a-fA-F]{16,32})" + r",[0-9a-fA-F]{16}(?:,\w+)?\]"),
)


def trace_id_in_text(message: str) -> str | None:
    """The trace id written in a log message, or None."""
    for pattern in _PATTERNS:
        found = pattern.search(message)
        if found and found.group(1).strip("0"):  # all zeros: no span was active (an invalid id)
            return found.group(1).lower()
    return None


def trace_of(record: LogRecord) -> str | None:
    """A line's trace: its ``trace_id`` field, else the id its message carries, else None."""
    return record.trace_id or trace_id_in_text(record.message)


def with_trace_ids(records: Sequence[LogRecord]) -> list[LogRecord]:
    """``records`` with each line that has no ``trace_id`` given the one its message carries, if any."""
    return [_with_trace_id(r) for r in records]


def _with_trace_id(record: LogRecord) -> LogRecord:
    if record.trace_id:
        return record
    found = trace_id_in_text(record.message)
    return dataclasses.replace(record, trace_id=found) if found else record
