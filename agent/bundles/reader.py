"""Load a case bundle directory into memory (never its ground truth)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from agent.bundles.capture import CAPTURE_FILE, Capture, read_capture
from agent.bundles.data_files import read_data_file
from agent.bundles.errors import BundleError, BundleWarning, ErrorLog, InvalidBundleError
from agent.bundles.event_file import read_event
from agent.bundles.jsonl_files import read_changes, read_logs
from agent.bundles.metrics_file import read_metrics
from agent.bundles.yaml_lines import line_of, load_optional_yaml, to_plain, warn_unknown_keys
from agent.events import Event
from agent.series import ChangeRecord, LogRecord, Series
from agent.topology import Topology, check_topology


@dataclass
class CaseBundle:
    """One incident, release or inspection window; ``label.yaml`` is deliberately not part of it.

    ``warnings``: what the reader ignored that the bundle's writer likely meant (an unknown key), for the user.
    ``capture``: what the live run that kept it read beside its data (``capture.yaml``), when one did.
    """

    event: Event
    series: list[Series] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    changes: list[ChangeRecord] = field(default_factory=list)
    topology: Topology | None = None
    path: Path | None = None
    warnings: list[BundleWarning] = field(default_factory=list)
    capture: Capture | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.path else "bundle"

    def services(self) -> list[str]:
        """Every service the bundle mentions (event, series, logs, changes, topology), sorted."""
        found = set(self.event.services)
        found.update(s.service for s in self.series if s.service)
        found.update(r.service for r in self.logs)
        found.update(c.service for c in self.changes)
        if self.topology is not None:
            found.update(self.topology.services())
        return sorted(found)


def read_bundle(path: str | Path, warnings: list[BundleWarning] | None = None,
                service_label: str | None = None) -> tuple[CaseBundle | None, list[BundleError]]:
    """The bundle at ``path`` and every problem found; the bundle is None when there are problems. An alert of its
    event is read by ``service_label`` (default ``BIANQUE_SERVICE_LABEL``) where the event names no service.

    The bundle's ``warnings`` are also added to ``warnings`` when given (so a bundle with errors reports them too).
    """
    root = Path(path)
    if not root.is_dir():
        return None, [BundleError(str(root), "not a directory" if root.exists() else "does not exist")]
    found: list[BundleWarning] = []
    event, errors = read_event(root / "event.yaml", str(root / "event.yaml"), found, service_label)
    series, more = read_data_file(root, "metrics.csv", read_metrics)
    errors += more
    logs, more = read_data_file(root, "logs.jsonl", read_logs)
    errors += more
    changes, more = read_data_file(root, "changes.jsonl", partial(read_changes, warnings=found))
    errors += more
    topology, more = read_topology(root / "topology.yaml", str(root / "topology.yaml"), found)
    errors += more
    capture, more = read_capture(root / CAPTURE_FILE, str(root / CAPTURE_FILE), found)
    errors += more
    if warnings is not None:
        warnings += found
    if errors or event is None:
        return None, errors
    return CaseBundle(event, series, logs, changes, topology, root, found, capture), []


def load_bundle(path: str | Path) -> CaseBundle:
    """The bundle at ``path``; raises :class:`InvalidBundleError` listing every problem."""
    bundle, errors = read_bundle(path)
    if bundle is None:
        raise InvalidBundleError(str(path), errors)
    return bundle


def read_topology(path: Path, label: str,
                  warnings: list[BundleWarning] | None = None) -> tuple[Topology | None, list[BundleError]]:
    """The topology of ``path`` (absent file, or one holding no YAML document: empty, blank or only comments:
    None) and its problems, each with its line; the keys it ignores are added to ``warnings`` when given."""
    log, data = load_optional_yaml(path, label)
    if data is None:
        return None, log.result()
    for loc, message in check_topology(data):
        log.add(message, line_of(data, loc), ".".join(map(str, loc)) or None)
    if log:
        return None, log.result()
    _warn_ignored_topology(log, data)
    if warnings is not None:
        warnings += log.warnings
    return Topology.from_dict(to_plain(data)), []


def _warn_ignored_topology(log: ErrorLog, data: Any) -> None:
    """Warn on the keys of a valid topology that give no edge (``calls:`` for ``depends_on:``)."""
    warn_unknown_keys(log, data, (), ("services",), "only services is read")
    for name, spec in (data.get("services") or {}).items():
        if isinstance(spec, Mapping):
            none = "" if spec.get("depends_on") else f", so {name} has no dependencies"
            meaning = "only depends_on gives edges" + none
            warn_unknown_keys(log, data, ("services", name), ("depends_on",), meaning)
