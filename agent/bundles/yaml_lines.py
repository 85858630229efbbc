"""YAML loading that remembers where each key was, so errors can name a line."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent.bundles.errors import ErrorLog
from agent.inputs import validation_message
from agent.yaml_limits import YAMLLimitError, check_yaml_bounds


def load_yaml(path: Path, log: ErrorLog) -> tuple[bool, Any]:
    """``(ok, data)``, data None for a file of no document (empty, blank, only comments); on failure the reason is
    added to ``log`` with its line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel, PowerShell) is no text
    except (OSError, UnicodeDecodeError) as exc:
        log.add(f"cannot read: {exc}")
        return False, None
    if not text.strip():  # blank: tabs, which YAML refuses anywhere, included
        return True, None
    try:
        check_yaml_bounds(text)
        return True, YAML(typ="rt", pure=True).load(text)
    except YAMLLimitError as exc:
        log.add(str(exc))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        log.add(f"invalid YAML: {exc.problem or exc.context}", line)
    except YAMLError as exc:
        log.add(f"invalid YAML: {exc}")
    return False, None


def load_optional_yaml(path: Path, label: str) -> tuple[ErrorLog, Any]:
    """An optional YAML file of a bundle (shown as ``label`` in errors): its error log and document, None when it is
    absent, unreadable (the log says why) or holds no document."""
    log = ErrorLog(label)
    if not path.is_file():
        return log, None
    ok, data = load_yaml(path, log)
    return log, data if ok else None


def line_in_file(path: Path, loc: Sequence[str | int]) -> int | None:
    """1-based line of the key at ``loc`` in the YAML (or JSON) file ``path``, when it can be read and has it."""
    ok, root = load_yaml(path, ErrorLog(str(path)))
    return line_of(root, loc) if ok else None


def line_of(root: Any, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest key of ``loc`` found in a round-trip-loaded document."""
    node, line = root, None
    for key in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and key in node:
                line = lc.key(key)[0] + 1 if lc is not None else line
            elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                line = lc.item(key)[0] + 1 if lc is not None else line
            else:
                break
        except (KeyError, TypeError, AttributeError):
            break
        node = node[key]
    return line


def warn_unknown_keys(log: ErrorLog, root: Any, loc: Sequence[str | int], known: Collection[str],
                      meaning: str = "", elsewhere: Mapping[str, str] | None = None) -> None:
    """Warn in ``log`` on each key of the mapping at ``loc`` in ``root`` that is not ``known``, with its line and
    what ignoring it means (``meaning``, after "; "). A key close to a known one, or one that ``elsewhere`` places
    (``{"window": "scope.window"}``), is named as what was likely meant."""
    node = root
    for key in loc:
        node = node[key]
    if not isinstance(node, Mapping):
        return
    for key in node:
        if str(key) in known:
            continue
        where = [*loc, key]
        log.warn(f"unknown key ignored{meant_hint(str(key), known, elsewhere)}{'; ' + meaning if meaning else ''}",
                 line_of(root, where), ".".join(map(str, where)))


def meant_hint(key: str, known: Collection[str], elsewhere: Mapping[str, str] | None = None) -> str:
    """`` (did you mean 'depends_on'?)`` for an unknown ``key`` close to a known one or placed by ``elsewhere``;
    empty otherwise."""
    near = (elsewhere or {}).get(key) or next(iter(difflib.get_close_matches(key, known, 1, 0.75)), None)
    return f" (did you mean {near!r}?)" if near else ""


def to_plain(node: Any) -> Any:
    """Round-trip containers as plain dicts and lists (scalars unchanged)."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node


def report_validation(log: ErrorLog, root: Any, exc: ValidationError, skip: Sequence[str] = ()) -> None:
    """Add each pydantic error to ``log`` with the line and dotted field it concerns."""
    for err in exc.errors():
        loc = list(err["loc"])
        if loc and loc[-1] == "[key]":  # a mapping's key refused: said at the key's own line
            loc.pop()
        if loc and loc[0] in skip:
            continue
        log.add(_message(err), line_of(root, loc), ".".join(map(str, loc)) or None)


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "required"
    expected = (err.get("ctx") or {}).get("expected")
    if err["type"] in ("literal_error", "enum") and expected:
        return "must be one of " + str(expected).replace("'", "").replace(" or ", ", ")
    return validation_message(err)
