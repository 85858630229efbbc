"""Housekeeping of the live cases' kept data (``$BIANQUE_HOME/case-data``, :mod:`agent.bundles.captured`).

The data of a case no one corrected goes once it is older than ``BIANQUE_CASE_DATA_DAYS``: the replay gate replays
only corrected (or labelled) cases. A process prunes only the folders of cases its own store holds uncorrected
(``prunable``): a folder of another store's case (another process sharing ``BIANQUE_HOME`` with another database)
is left alone. Pruning is housekeeping, done about once every ``PRUNE_EVERY_S`` for a database across the processes
sharing the home (:func:`prune_when_due`, a marker file per database: the live runs' memory step, one-shot CLI runs
and ``bianque serve``'s scheduler share it), or on demand
(``bianque cases prune-data``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

from agent.config import CaseData

PRUNE_EVERY_S = 3600.0  # a process prunes about this often; kept data lives days
DUE_EARLY_S = 60.0  # a prune this much short of PRUNE_EVERY_S after the last is due: an hourly job starts late by some
ASIDE = ".pruning-"  # a folder being removed is renamed so first (hidden: no listing counts it as a case's)
Prunable = Callable[[list[str]], Collection[str]]
MARKER = "-last-prune-"  # .<folder>-last-prune-<digest of a database's URL>, beside the folder: when a process last
# began to prune it for that database
_last_pruned: dict[Path, float] = {}  # per process: when a prune last began, by its marker (folder and database)
_lock = threading.Lock()
log = logging.getLogger(__name__)


def prune_case_data(kept: CaseData, prunable: Prunable, now: float | None = None, *,
                    dry_run: bool = False, failed: dict[str, str] | None = None) -> list[str]:
    """Remove the kept data of the cases older than ``kept.keep_s`` that are among ``prunable(old_case_ids)`` (asked
    once for all of them: a prune must not cost a query per old case); ``dry_run``: remove nothing. Each folder to go
    is set aside (renamed) and ``prunable`` asked once more about them all: one whose case was corrected in between
    is put back, so a correction is never outrun by the removal. Returns the case ids removed (or to be), sorted,
    none whose folder is in place again (another process's prune put it back); none when the folder does not exist.
    A folder that could not be removed is not among them: logged, and in ``failed`` (case id -> why) when given."""
    cutoff = (time.time() if now is None else now) - kept.keep_s
    try:
        _put_back_leftovers(kept.root)
        with os.scandir(kept.root) as entries:
            old = sorted(e.name for e in entries if not e.name.startswith(".") and _older(e, cutoff))
    except FileNotFoundError:
        return []
    if not old:
        return []
    allowed = set(prunable(old))
    removed = [name for name in old if name in allowed]
    if dry_run:
        return removed
    why = {name: problem for name in removed if (problem := _move(kept.root, name, ASIDE + name)) is not None}
    moved = [name for name in removed if name not in why]
    try:  # a case corrected since it was found prunable keeps its data: asked again once its folder is set aside
        still = set(prunable(moved)) if moved else set()
    except BaseException:
        _put_back(kept.root, moved)
        raise
    _put_back(kept.root, [name for name in moved if name not in still])
    why.update((name, problem) for name in moved if name in still
               and (problem := _remove(kept.root / (ASIDE + name))) is not None)
    for name, problem in why.items():
        log.warning("the kept data of case %s was not removed: %s", name, problem)
    if failed is not None:
        failed.update(why)
    # not one another process's prune put back in the meantime (it took the set-aside folder for a leftover)
    return [name for name in moved if name in still and name not in why and not (kept.root / name).exists()]


def _move(root: Path, name: str, to: str) -> str | None:
    """Rename ``root/name`` to ``root/to``; why it could not be, else None (gone already counts as done: another
    process sharing the home pruned it, or put it back)."""
    try:
        os.rename(root / name, root / to)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return str(exc)
    return None


def _put_back(root: Path, names: list[str]) -> None:
    """The folders of ``names`` set aside for removal back in their place (their cases were corrected meanwhile, or
    the second look failed)."""
    for name in names:
        if (problem := _move(root, ASIDE + name, name)) is not None:
            log.warning("the kept data of case %s was set aside and could not be put back: %s", name, problem)


def _put_back_leftovers(root: Path) -> None:
    """Put back the folders a prune set aside and neither removed nor put back (it was killed in between), unless
    their case's folder exists again; another process's prune finding one gone again passes it over."""
    with os.scandir(root) as entries:
        left = [e.name.removeprefix(ASIDE) for e in entries if e.name.startswith(ASIDE)]
    _put_back(root, [name for name in left if not (root / name).exists()])


def _remove(folder: Path) -> str | None:
    """Remove ``folder``; why it could not be, else None (gone already counts as removed: another process sharing
    the home pruned it)."""
    try:
        shutil.rmtree(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return str(exc)
    return None


def prune_when_due(kept: CaseData, prunable: Prunable, now: float | None = None, *, store: str) -> list[str] | None:
    """:func:`prune_case_data` unless a process pruned ``kept.root`` for the database ``store`` (its URL) or began to
    less than ``PRUNE_EVERY_S`` (less ``DUE_EARLY_S``: the scheduler's hourly run is not skipped when the one before it
    began later after its due time) ago: this one (in memory) or another sharing the home (its marker file, so that
    many one-shot CLI runs prune once an hour, not each); None when it was not due. Another database's prunes do not
    count: they remove none of this one's cases."""
    now = time.time() if now is None else now
    marker = prune_marker(kept.root, store)
    with _lock:
        if any(last is not None and 0.0 <= now - last < PRUNE_EVERY_S - DUE_EARLY_S
               for last in (_last_pruned.get(marker), _marked(marker))):
            return None
        _last_pruned[marker] = now
        _mark(marker, now)
    return prune_case_data(kept, prunable, now)


def prune_marker(root: Path, store: str) -> Path:
    """The file beside ``root`` (not in it: no listing of kept data meets it) holding when a process last began to
    prune it for the database ``store``."""
    return root.with_name(f".{root.name}{MARKER}{hashlib.sha256(store.encode()).hexdigest()[:16]}")


def _marked(marker: Path) -> float | None:
    """When a prune began by ``marker``; None when there is none (or it does not hold a time)."""
    try:
        return float(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _mark(marker: Path, now: float) -> None:
    """Write ``now`` to ``marker`` whole (another process reads it as it is replaced); a home not there yet (nothing
    kept to prune) or not writable leaves it unwritten: that process prunes again at its next run."""
    staged = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        staged.write_text(repr(now), encoding="utf-8")
        os.replace(staged, marker)
    except OSError as exc:
        with contextlib.suppress(OSError):
            staged.unlink(missing_ok=True)
        if marker.parent.is_dir():
            log.warning("the time of the prune could not be written to %s: %s", marker, exc)


def _older(entry: os.DirEntry[str], cutoff: float) -> bool:
    """Whether ``entry`` is a case's directory last written before ``cutoff``; not when it is gone (another process
    sharing the folder pruned it since it was listed)."""
    try:
        return entry.is_dir() and entry.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
