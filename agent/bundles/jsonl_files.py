"""Read and check ``logs.jsonl`` and ``changes.jsonl`` (or their ``.gz`` forms): one JSON object a line."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from agent.bundles.data_files import READ_ERRORS, open_text, read_error
from agent.bundles.errors import BundleError, BundleWarning, ErrorLog
from agent.bundles.yaml_lines import meant_hint
from agent.events import scalars_as_text
from agent.names import name_problem
from agent.phrases import listed
from agent.series import LEVEL_HELP, ChangeRecord, LogRecord, change_type, diff_text, line_level
from agent.timeparse import NotSecondsError, to_epoch

LOG_FIELDS = ("ts", "service", "level", "message", "instance", "trace_id")
CHANGE_FIELDS = tuple(f.name for f in fields(ChangeRecord))  # what a changes.jsonl line is read into
CHANGE_MEANT = {"commit": "version", "sha": "version", "revision": "version", "timestamp": "ts", "time": "ts",
                "kind": "type", "user": "author"}  # names other change feeds use for a field read under another

T = TypeVar("T")
_MISSING = object()


class _RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def read_logs(path: Path, label: str) -> tuple[list[LogRecord], list[BundleError]]:
    """Log records in file order (absent file: none), and every problem found."""
    log = ErrorLog(label)
    return _read(path, log, _log_record), log.result()


def read_changes(path: Path, label: str,
                 warnings: list[BundleWarning] | None = None) -> tuple[list[ChangeRecord], list[BundleError]]:
    """Change records in file order (absent file: none), and every problem found; each key no change field reads
    (``commit`` for ``version``) is added to ``warnings`` when given, once: its first line and how many have it."""
    log = ErrorLog(label)
    keys = KeyTally(CHANGE_FIELDS)
    records = _read(path, log, _change_record, keys.see)
    if warnings is not None:
        keys.warn(log, f"a change is read from {listed(CHANGE_FIELDS)}", CHANGE_MEANT)
        warnings += log.warnings
    return records, log.result()


@dataclass
class KeyTally:
    """The keys of a JSONL file's objects that no field reads: the first line each is on, and on how many."""

    known: Collection[str]
    first: dict[str, int] = field(default_factory=dict)
    lines: Counter[str] = field(default_factory=Counter)

    def see(self, line: int, obj: dict[str, Any]) -> None:
        for key in obj:
            if key not in self.known:
                self.first.setdefault(key, line)
                self.lines[key] += 1

    def warn(self, log: ErrorLog, meaning: str, elsewhere: dict[str, str] | None = None) -> None:
        """One warning per unknown key, at its first line, saying what is read instead and how many lines have it."""
        for key, line in self.first.items():
            count = self.lines[key]
            on = "1 line has it" if count == 1 else f"{count} lines have it, the first here"
            log.warn(f"unknown key ignored{meant_hint(key, self.known, elsewhere)}; {meaning} ({on})", line, key)


def _read(path: Path, log: ErrorLog, build: Callable[[dict[str, Any]], T],
          see: Callable[[int, dict[str, Any]], None] | None = None) -> list[T]:
    """The records ``build`` makes of each line's object (``see`` shown each first); problems go to ``log``."""
    if not path.is_file():
        return []
    records: list[T] = []
    try:
        for line, obj in _objects(path, log):
            if see is not None:
                see(line, obj)
            try:
                records.append(build(obj))
            except _RowError as exc:
                log.add(exc.message, line, exc.field)
    except READ_ERRORS as exc:
        log.add(read_error(exc))
    return records


def _objects(path: Path, log: ErrorLog) -> Iterator[tuple[int, dict[str, Any]]]:
    with open_text(path) as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text.rstrip("\r\n"))  # a string left open is "unterminated", not a control character
            except json.JSONDecodeError as exc:
                log.add(f"invalid JSON: {exc.msg} (column {exc.colno})", line)
                continue
            except RecursionError:  # ``[[[…]]]`` deeper than the parser goes
                log.add("invalid JSON: nested too deeply to read", line)
                continue
            if not isinstance(obj, dict):
                log.add(f"must be a JSON object, found {type(obj).__name__}", line)
                continue
            yield line, obj


def _log_record(obj: dict[str, Any]) -> LogRecord:
    given = _optional_text(obj, "level") or ""  # absent, null or blank: the level its text names, else INFO
    message = _message(obj)
    level = line_level(given, message)
    if level is None:
        raise _RowError("level", f"must be {LEVEL_HELP}, got {given!r}")
    instance = _optional_text(obj, "instance")
    return LogRecord(
        ts=_ts(obj),
        service=sys.intern(_name(obj, "service")),  # one string per service, not one per line
        level=level,
        message=message,
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
    return None if value is None else _field_text(value, key)


def _field_text(value: Any, key: str) -> str:
    """A string as it is, a number as its text; anything else (a boolean, a list, an object) refused."""
    if type(value) is str:
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
    texts = scalars_as_text(value)  # as event.yaml reads a selector: true / false, numbers written out
    for label, text in texts.items():  # a null was the selector "None"
        if not isinstance(text, str):
            found = "null" if text is None else type(text).__name__
            raise _RowError(f"{key}.{label}", f"must be a string, found {found}")
    return texts
