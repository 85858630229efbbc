"""Read and check ``event.yaml``."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from agent.bundles.errors import BundleError, ErrorLog
from agent.bundles.yaml_lines import line_of, load_yaml, report_validation, to_plain
from agent.events import Event, Pattern

PATTERNS = ", ".join(p.value for p in Pattern)


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
    pattern = root.get("pattern")
    if pattern is None:
        log.add("required", None, "pattern")
    elif not isinstance(pattern, str) or pattern not in {p.value for p in Pattern}:
        log.add(f"must be one of {PATTERNS}", line_of(root, ["pattern"]), "pattern")
    try:
        event = Event.model_validate(to_plain(root))
    except ValidationError as exc:
        report_validation(log, root, exc, skip=("pattern",))  # pattern was reported above
        return None, log.result()
    return (None, log.result()) if log else (event, [])

