"""Check case bundles against the contract, reporting every problem with file, line and field."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agent.bundles.errors import BundleError, BundleWarning
from agent.bundles.label import read_label
from agent.bundles.reader import read_bundle


def validate_bundle(path: str | Path) -> list[BundleError]:
    """Every problem of the bundle at ``path`` (label.yaml included); empty when it is valid."""
    return check_bundle(path)[0]


def check_bundle(path: str | Path) -> tuple[list[BundleError], list[BundleWarning]]:
    """Every problem of the bundle at ``path`` (label.yaml included), and every warning: what its readers ignore."""
    root = Path(path)
    warnings: list[BundleWarning] = []
    _, errors = read_bundle(root, warnings)
    if root.is_dir():
        _, label_errors = read_label(root / "label.yaml", f"{root.name}/label.yaml", warnings)
        errors += label_errors
    return errors, warnings


def find_bundles(paths: Iterable[str | Path]) -> list[Path]:
    """Bundle directories at or under ``paths``: each directory holding an event.yaml, sorted.

    A path that is not a directory is returned as is, so that validating it reports why.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            found.add(path)
        elif (path / "event.yaml").is_file():
            found.add(path)
        else:
            found.update(p.parent for p in path.rglob("event.yaml"))
    return sorted(found)
