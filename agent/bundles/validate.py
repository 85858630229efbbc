"""Check case bundles against the contract, reporting every problem with file, line and field."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
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
        _, label_errors = read_label(root / "label.yaml", str(root / "label.yaml"), warnings)
        errors += label_errors
    return errors, warnings


SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
"""Folders never searched for bundles, besides hidden ones (.git, .venv) and virtualenvs: they hold code."""


class TooManyBundlesError(Exception):
    """More bundles than the caller's limit: likely not a directory of bundles (the walk stopped at ``at``)."""

    def __init__(self, limit: int, at: Path) -> None:
        super().__init__(f"more than {limit} case bundles found (the search stopped at {at})")
        self.limit = limit
        self.at = at


class TooManyFoldersError(Exception):
    """More folders searched than the caller's limit: likely not a directory of bundles (a whole disk)."""

    def __init__(self, limit: int, under: Path) -> None:
        super().__init__(f"more than {limit} folders searched under {under} without the end of it: not a directory "
                         "of case bundles")


def _walk(path: Path, max_folders: int | None = None) -> Iterator[Path]:
    """The bundle directories at or under the directory ``path``, in the order found (see ``find_bundles``)."""
    for seen, (root, dirs, files) in enumerate(os.walk(path), start=1):
        if max_folders is not None and seen > max_folders:
            raise TooManyFoldersError(max_folders, path)
        if "event.yaml" in files:
            yield Path(root)
        given = root == str(path)  # a path given is searched whatever it holds
        if "event.yaml" in files or ("pyvenv.cfg" in files and not given):  # a bundle's folders are its own;
            dirs.clear()  # a virtualenv is code
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
            yield from _linked_bundles(Path(root), dirs)


def _linked_bundles(root: Path, names: Iterable[str]) -> Iterator[Path]:
    """The symbolic links among ``names`` in ``root`` that lead to a bundle (a set assembled from links to
    chosen cases): a bundle is not searched further, so following such a link cannot loop."""
    for name in names:
        link = root / name
        if link.is_symlink() and (link / "event.yaml").is_file():
            yield link


def real_path(path: Path) -> Path:
    """``path`` with every symbolic link resolved, the bundle's identity; never raises (a link loop is returned
    unresolved for validation to report)."""
    return Path(os.path.realpath(path))


def find_bundles(
    paths: Iterable[str | Path], *, limit: int | None = None, on_found: Callable[[int], None] | None = None,
    max_folders: int | None = None,
) -> list[Path]:
    """Bundle directories at or under ``paths``: each directory holding an event.yaml, sorted, each once.

    The search does not descend into a bundle (its folders are part of it), a hidden folder (.git, .venv), a
    virtualenv (a folder holding pyvenv.cfg) or ``SKIPPED_DIRS``, nor follow symbolic links but to a bundle
    (each bundle counted once however many paths lead to it); a path given is searched whatever its name. A
    path that is not a directory is returned as is, so that validating it reports why. ``on_found`` is told the
    count after each bundle found; past ``limit`` bundles the search stops with TooManyBundlesError, past
    ``max_folders`` folders searched under one path with TooManyFoldersError.
    """
    found: dict[Path, Path] = {}  # real path -> the first path found leading to it
    for raw in paths:
        path = Path(raw)
        for bundle in _walk(path, max_folders) if path.is_dir() else [path]:
            if found.setdefault(real_path(bundle), bundle) is not bundle:
                continue
            if on_found is not None:
                on_found(len(found))
            if limit is not None and len(found) > limit:
                raise TooManyBundlesError(limit, bundle)
    return sorted(found.values())


def bundles_under(directory: str | Path) -> list[Path]:
    """The bundles at or under ``directory``, sorted (``find_bundles``); none when it is no directory (a registered
    one since removed, a set not there)."""
    return find_bundles([directory]) if Path(directory).is_dir() else []
