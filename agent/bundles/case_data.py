"""Housekeeping of the live cases' kept data (``$BIANQUE_HOME/case-data``, :mod:`agent.bundles.captured`).

The data of a case no one corrected goes once it is older than ``BIANQUE_CASE_DATA_DAYS``: the replay gate replays
only corrected (or labelled) cases. A process prunes only the folders of cases its own store holds uncorrected
(``prunable``): a folder of another store's case (another process sharing ``BIANQUE_HOME`` with another database)
is left alone. Pruning is housekeeping, done about once every ``PRUNE_EVERY_S`` for a database across the processes
sharing the home (:func:`prune_when_due`, a marker file per database: the live runs' memory step, one-shot CLI runs
and ``bianque serve``'s scheduler share it), or on demand (``bianque cases prune-data``, which counts as that
database's prune of the hour).

A prune holds the folder's lock file (``.case-data.lock`` beside it) from before it looks at the folder until its
last removal: prunes of the folder take turns (for any database: each puts back what a killed one left set aside,
which must not be a running prune's), and the marker is read and written inside it. A reader finding a case's folder
missing while it is set aside (:func:`kept_folder_present`) waits for the prune to end before saying it is gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from agent.config import CaseData
from agent.files import LOCKING, file_lock

PRUNE_EVERY_S = 3600.0  # a process prunes about this often; kept data lives days
DUE_EARLY_S = 60.0  # a prune this much short of PRUNE_EVERY_S after the last is due: an hourly job starts late by some
ASIDE = ".pruning-"  # a folder being removed is renamed so first (hidden: no listing counts it as a case's)
Prunable = Callable[[list[str]], Collection[str]]
MARKER = "-last-prune-"  # .<folder>-last-prune-<digest of a database's URL>, beside the folder: when a process last
# began to prune it for that database
LOCK = ".lock"  # .<folder>.lock, beside the folder: held by the prune at work on it
_last_pruned: dict[Path, float] = {}  # per process: when a prune last began, by its marker (folder and database)
_lock = threading.RLock()  # threads of this process: the times in memory, and a check of the marker with its write
_holding = threading.local()  # .roots: the folders whose prune lock this thread holds (a reader in a prune's
# prunable, a correction, must not wait for its own thread)
log = logging.getLogger(__name__)


def prune_case_data(kept: CaseData, prunable: Prunable, now: float | None = None, *, dry_run: bool = False,
                    failed: dict[str, str] | None = None, store: str | None = None) -> list[str]:
    """Remove the kept data of the cases older than ``kept.keep_s`` that are among ``prunable(old_case_ids)`` (asked
    once for all of them: a prune must not cost a query per old case); ``dry_run``: remove nothing. It waits for a
    prune of the folder under way in another process (or thread) to end. Each folder to go is set aside (renamed)
    and ``prunable`` asked once more about them all: one whose case was corrected in between is put back, so a
    correction is never outrun by the removal. Returns the case ids removed (or to be), sorted; none when the folder
    does not exist. A folder that could not be removed is not among them: logged, and in ``failed`` (case id -> why)
    when given. ``store`` (a database's URL): this prune is its prune of the hour (:func:`prune_when_due`), its
    marker written (not on a dry run)."""
    now = time.time() if now is None else now
    if not kept.root.is_dir():
        return []
    with _pruning(kept.root, wait=True):
        if store is not None and not dry_run:
            _began(prune_marker(kept.root, store), now)
        return _prune(kept, prunable, now, dry_run=dry_run, failed=failed)


def _prune(kept: CaseData, prunable: Prunable, now: float, *, dry_run: bool,
           failed: dict[str, str] | None) -> list[str]:
    """:func:`prune_case_data` once its lock is held."""
    cutoff = now - kept.keep_s
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
    return [name for name in moved if name in still and name not in why]


@contextlib.contextmanager
def _pruning(root: Path, *, wait: bool) -> Iterator[bool]:
    """Hold ``root``'s prune lock (:func:`prune_lock`) in the block; yields whether it is held (not when ``wait`` is
    False and another process or thread holds it). Held already by this thread: held, not taken again. OSError when
    the lock file cannot be opened (a home not writable)."""
    roots: set[str] = _holding.__dict__.setdefault("roots", set())
    key = str(root.resolve())  # one folder, however a caller names it
    if key in roots:
        yield True
        return
    with file_lock(prune_lock(root), wait=wait) as held:
        if held:
            roots.add(key)
        try:
            yield held
        finally:
            roots.discard(key)


def prune_lock(root: Path) -> Path:
    """The lock file beside ``root`` (not in it: no listing of kept data meets it) a prune of it holds."""
    return root.with_name(f".{root.name}{LOCK}")


def kept_folder_present(folder: Path) -> bool:
    """Whether ``folder`` (a case's bundle) is a directory, once a prune that has set it aside (``.pruning-<name>``
    beside it) has ended: it puts the folder back (its case was corrected meanwhile) or removes it, and until then
    the folder is neither gone nor there. A folder a killed prune left set aside is put back here, as the next prune
    would. When the prune lock cannot be taken (a home not writable, or no ``flock``), the folder as it is."""
    if folder.is_dir():
        return True
    aside = folder.with_name(ASIDE + folder.name)
    if not aside.is_dir() or not LOCKING:
        return False
    try:
        with _pruning(folder.parent, wait=True):
            if aside.is_dir() and not folder.exists():  # the lock held: no prune at work, a killed one's leftover
                _put_back(folder.parent, [folder.name])
    except OSError as exc:
        log.warning("could not wait for the prune of %s to end: %s", folder.parent, exc)
    return folder.is_dir()


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
    their case's folder exists again. Called with the prune lock held: no prune is at work on them."""
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
    many one-shot CLI runs prune once an hour, not each), or a prune of the folder is under way now (for any
    database: this run does not wait for it; its marker unwritten, the next run tries); None when it was not due.
    Another database's prunes do not count: they remove none of this one's cases. The marker is read and written
    with the prune lock held, so two processes never both find it due."""
    now = time.time() if now is None else now
    marker = prune_marker(kept.root, store)
    if not kept.root.is_dir():
        _began(marker, now)
        return []
    with _pruning(kept.root, wait=False) as held:
        if not held:
            return None
        with _lock:
            if any(last is not None and 0.0 <= now - last < PRUNE_EVERY_S - DUE_EARLY_S
                   for last in (_last_pruned.get(marker), _marked(marker))):
                return None
            _began(marker, now)
        return _prune(kept, prunable, now, dry_run=False, failed=None)


def _began(marker: Path, now: float) -> None:
    """Note that a prune by ``marker`` began at ``now``: in this process and in the marker file."""
    with _lock:
        _last_pruned[marker] = now
    _mark(marker, now)


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
