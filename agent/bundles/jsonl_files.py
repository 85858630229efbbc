"""Read and check ``logs.jsonl`` and ``changes.jsonl`` (or their ``.gz`` forms): one JSON object a line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from agent.bundles.data_files import READ_ERRORS, open_text, read_error
from agent.bundles.errors import BundleError, ErrorLog
from agent.names import name_problem
from agent.series import LEVEL_HELP, ChangeRecord, LogRecord, canonical_level, change_type, diff_text
from agent.timeparse import NotSecondsError, to_epoch

LOG_FIELDS = ("ts", "service", "level", "message", "instance", "trace_id")

T = TypeVar("T")
_MISSING = object()


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def read_logs(path: Path, label: str) -> tuple[list[LogRecord], list[BundleError]]:
    """Log records in file order (absent file: none), and every problem found."""
    return _read(path, label, _log_record)


def read_changes(path: Path, label: str) -> tuple[list[ChangeRecord], list[BundleError]]:
    """Change records in file order (absent file: none), and every problem found."""
    return _read(path, label, _change_record)


def _read(path: Path, label: str, build: Callable[[dict[str, Any]], T]) -> tuple[list[T], list[BundleError]]:
    log = ErrorLog(label)
    if not path.is_file():
        return [], []
    records: list[T] = []
    try:
        for line, obj in _objects(path, log):
            try:
                records.append(build(obj))
            except _RowError as exc:
                log.add(exc.message, line, exc.field)
    except READ_ERRORS as exc:
        log.add(read_error(exc))
    return records, log.result()


def _objects(path: Path, log: ErrorLog) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_text(path) as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                log.add(f"invalid JSON: {exc.msg} (column {exc.colno})", line)
                continue
            if not isinstance(obj, dict):
                log.add(f"must be a JSON object, found {type(obj).__name__}", line)
                continue
            yield line, obj


def _log_record(obj: dict[str, Any]) -> LogRecord:
    given = _optional_text(obj, "level") or ""  # absent, null or blank: a line its logger gave no level
    level = canonical_level(given)
    if level is None:
        raise _RowError("level", f"must be {LEVEL_HELP}, got {given!r}")
    instance = _optional_text(obj, "instance")
    return LogRecord(
        ts=_ts(obj),
        service=sys.intern(_name(obj, "service")),  # one string per service, not one per line
        level=level,
        message=_message(obj),
        instance=sys.intern(instance) if instance else instance,
        trace_id=_optional_text(obj, "trace_id"),
        extra={k: v for k, v in obj.items() if k not in LOG_FIELDS},
    )


def _change_record(obj: dict[str, Any]) -> ChangeRecord:
    return ChangeRecord(
        ts=_ts(obj),
        service=_name(obj, "service"),
        type=change_type(_optional_text(obj, "type")),
        id=_text(obj, "id"),
        description=_optional_text(obj, "description") or "",
        version=_optional_text(obj, "version"),
        author=_optional_text(obj, "author"),
        canary=_selector(obj, "canary"),
        baseline=_selector(obj, "baseline"),
        diff=_diff(obj),
    )


def _message(obj: dict[str, Any]) -> str:
    """The line's text: null is empty text, an object, array or other JSON value its JSON text."""
    if "message" not in obj:
        raise _RowError("message", "required")
    value = obj["message"]
    if value is None or type(value) is str:
        return value or ""
    return json.dumps(value, ensure_ascii=False)


def _diff(obj: dict[str, Any]) -> str | None:
    """The change's diff as text: an object or array as its compact JSON text, other types as for any text field."""
    value = diff_text(obj.get("diff"))
    return value if isinstance(value, str) else _optional_text(obj, "diff")


def _ts(obj: dict[str, Any]) -> float:
    value = obj.get("ts", _MISSING)
    if value is _MISSING or value is None:
        raise _RowError("ts", "required")
    try:
        return to_epoch(value)
    except NotSecondsError as exc:
        raise _RowError("ts", str(exc)) from None
    except ValueError:
        raise _RowError("ts", f"not a Unix or RFC 3339 timestamp ({value!r})") from None


def _text(obj: dict[str, Any], key: str) -> str:
    value = _optional_text(obj, key)
    if not value:
        raise _RowError(key, "required")
    return value


def _name(obj: dict[str, Any], key: str) -> str:
    value = _text(obj, key)
    problem = name_problem(value)
    if problem:
        raise _RowError(key, problem)
    return value


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _RowError(key, f"must be a string, found {type(value).__name__}")
    return str(value)


def _selector(obj: dict[str, Any], key: str) -> dict[str, str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _RowError(key, "must be an object of label names to values")
    return {str(k): str(v) for k, v in value.items()}
