"""Read and check ``event.yaml``."""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import ValidationError

from agent.bundles.errors import BundleError, ErrorLog
from agent.bundles.yaml_lines import line_of, load_yaml, report_validation, to_plain
from agent.events import Event, Pattern

PATTERNS = ", ".join(p.value for p in Pattern)


def misspelt(root: dict, field: str) -> str | None:
    """A key of ``root`` that is not a field of the event but looks like ``field`` (``patern``), if any."""
    unknown = [str(k) for k in root if str(k) not in Event.model_fields]
    close = difflib.get_close_matches(field, unknown, n=1, cutoff=0.75)
    return close[0] if close else None


def read_event(path: Path, label: str) -> tuple[Event | None, list[BundleError]]:
    """The event of ``path`` (shown as ``label`` in errors), or None and why not."""
    log = ErrorLog(label)
    if not path.is_file():
        log.add("missing (every case bundle needs an event.yaml)")
        return None, log.result()
    ok, root = load_yaml(path, log)
    if not ok:
        return None, log.result()
    if not isinstance(root, dict):
        log.add("must be a mapping with at least pattern and time")
        return None, log.result()
    for field in ("pattern", "time"):
        if field not in root:
            near = misspelt(root, field)
            hint = f" (line {line_of(root, [near])} has {near!r}: did you mean {field!r}?)" if near else ""
            log.add(f"required{hint}", line_of(root, [near]) if near else None, field)
    pattern = root.get("pattern")
    if pattern is not None and (not isinstance(pattern, str) or pattern not in {p.value for p in Pattern}):
        log.add(f"must be one of {PATTERNS}", line_of(root, ["pattern"]), "pattern")
    reported = ("pattern",) + (() if "time" in root else ("time",))  # reported above
    try:
        event = Event.model_validate(to_plain(root))
    except ValidationError as exc:
        report_validation(log, root, exc, skip=reported)
        return None, log.result()
    return (None, log.result()) if log else (event, [])

