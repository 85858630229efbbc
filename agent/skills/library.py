"""The Skill library: every Skill of several directories (subfolders included), later directories overriding by
name.

Each file is validated on its own: a bad file is listed with its errors and the rest still load.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from agent.config import PROJECT_ROOT, Settings, get_settings
from agent.events import Pattern
from agent.skills.loader import LoadedSkill, SkillError, SkillLoadError, display_path, load_skill, locate

SKILL_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Override:
    """A Skill of a later directory replacing one of the same name from an earlier directory."""

    name: str
    path: Path
    replaced: Path


@dataclass
class SkillLibrary:
    """Loaded Skills by name, the errors of files that did not load (with the name each of them declares, when it
    could be read), and which Skills were overridden."""

    skills: dict[str, LoadedSkill] = field(default_factory=dict)
    errors: list[SkillError] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    declared: dict[str, str] = field(default_factory=dict)
    """For a file that did not load (as its errors name it): the Skill ``name`` its ``name:`` line declares."""

    def get(self, name: str) -> LoadedSkill | None:
        """The Skill called ``name``, or None."""
        return self.skills.get(name)

    def failed_as(self, name: str) -> list[SkillError]:
        """The errors of files that did not load and are Skill ``name``'s: named for it (``x.yaml`` for ``x``) or
        declaring it (``name: x``, whatever the file is called)."""
        return [e for e in self.errors if name in (Path(e.file).stem, self.declared.get(e.file))]

    def not_loaded(self, name: str) -> str:
        """Why no Skill ``name`` is loaded when a file of that name failed to load (`` (its file did not load:
        skills/x.yaml:4: schedule: ...)``), else empty: for the messages that say no Skill has the name."""
        failed = self.failed_as(name)
        if not failed:
            return ""
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f" (its file did not load: {failed[0]}{more})"

    def stand_in(self, name: str) -> str | None:
        """When Skill ``name`` loaded but a file named for it did not (a user's override with a typo, a second copy),
        a note saying which file answered and why the other did not; else None."""
        loaded, failed = self.get(name), self.failed_as(name)
        if loaded is None or not failed:
            return None
        return f"Skill {name!r} was read from {loaded.source}, not from the file that did not load: {failed[0]}"

    def for_pattern(self, pattern: Pattern | str) -> list[LoadedSkill]:
        """The specific (non-generic) Skills of a pattern, by name."""
        return [s for s in self._of(pattern) if not s.skill.generic]

    def generic(self, pattern: Pattern | str) -> LoadedSkill | None:
        """The pattern's fallback Skill, if the library has one."""
        return next((s for s in self._of(pattern) if s.skill.generic), None)

    def missing_generics(self) -> list[Pattern]:
        """The patterns without a generic Skill: an event of one that no specific Skill fits cannot be answered."""
        return [pattern for pattern in Pattern if self.generic(pattern) is None]

    def failed_files(self) -> dict[str, list[SkillError]]:
        """Errors grouped by file, in load order."""
        grouped: dict[str, list[SkillError]] = {}
        for error in self.errors:
            grouped.setdefault(error.file, []).append(error)
        return grouped

    def _of(self, pattern: Pattern | str) -> list[LoadedSkill]:
        wanted = Pattern(pattern)
        return sorted((s for s in self.skills.values() if s.skill.pattern == wanted), key=lambda s: s.name)


def skill_files(directory: Path) -> list[Path]:
    """The Skill files of a directory and its subfolders (a team may keep one folder per system), in load order
    (:func:`load_order`). Hidden folders (``.replaced/``, which keeps copies of replaced files, ``.git/``) are
    skipped; a folder linked in twice is read once."""
    found: list[Path] = []
    visited: set[str] = set()
    for folder, subfolders, files in os.walk(directory, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            subfolders[:] = []
            continue
        visited.add(real)
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found.extend(p for name in files if (p := Path(folder) / name).suffix in SKILL_SUFFIXES and p.is_file())
    return sorted(found, key=lambda p: load_order(p, directory))


def load_order(path: Path, directory: Path) -> tuple[str, ...]:
    """Where ``path`` comes when its ``directory`` loads: by path below it, folder by folder (``a.yaml`` before
    ``team/b.yaml``); of two files naming one Skill, the first loads."""
    return _absolute(path).relative_to(_absolute(directory)).parts


def library_root(path: Path, dirs: list[Path]) -> Path:
    """The directory of ``dirs`` whose tree holds the Skill file ``path`` (the deepest), else its own folder."""
    holding = [d for d in dirs if _absolute(path).is_relative_to(_absolute(d))]
    return max(holding, key=lambda d: len(_absolute(d).parts)) if holding else path.parent


def _absolute(path: Path) -> Path:
    """``path`` made absolute and normalised (``..`` removed), links kept as written."""
    return Path(os.path.abspath(path))


BUILT_IN_SKILLS = PROJECT_ROOT / "skills"


def no_generic_advice(patterns: list[Pattern], settings: Settings | None = None) -> str:
    """Why events of ``patterns`` (which have no generic Skill) no specific Skill fits cannot be answered, and what
    to do: most often ``skills_dirs`` set to one's own folder, which replaces the built-in Skills."""
    settings = settings or get_settings()
    names = ", ".join(p.value for p in patterns)
    said = (f"the Skill library has no generic Skill for {names} (`generic: true`: the fallback that answers an "
            "event no specific Skill fits)")
    if not any(_absolute(d) == _absolute(BUILT_IN_SKILLS) for d in settings.skills_dirs):
        shown = json.dumps([str(d) for d in settings.skills_dirs])
        kept = json.dumps([str(BUILT_IN_SKILLS), *(str(d) for d in settings.skills_dirs)])
        return (f"{said}: the setting skills_dirs (BIANQUE_SKILLS_DIRS={shown}) replaces the built-in Skills of "
                f"{BUILT_IN_SKILLS}; keep them by listing that directory first (BIANQUE_SKILLS_DIRS='{kept}'), or "
                f"put your own Skills in the user Skill directory {settings.resolved_user_skills_dir}, which adds "
                "to the built-in ones")
    return (f"{said}: a Skill of its name without `generic: true` overrides the built-in one, or it did not load "
            f"(see `bianque skills list`); restore it, or add a generic Skill for {names}")


def load_library(dirs: list[Path]) -> SkillLibrary:
    """Load every Skill of ``dirs`` in order; a missing directory is skipped. Each file is loaded once, by the
    directory it belongs to (:func:`owned_files`): a directory inside another (the user Skill directory kept in a
    ``skills_dirs`` folder) is not read twice."""
    library = SkillLibrary(dirs=list(dirs))
    for _directory, files in owned_files(dirs):
        _load_directory(library, files)
    return library


def owned_files(dirs: list[Path]) -> list[tuple[Path, list[Path]]]:
    """Each existing directory of ``dirs`` with the Skill files it loads: every file (by resolved path) goes to one
    directory only, the one of those listing it that holds it most closely (the deepest, as :func:`library_root`
    judges; of one directory listed twice, the later), else (a file reached through a link from outside) the first
    listing it. So a user Skill directory inside a ``skills_dirs`` folder loads its own files, overriding as a user
    directory does, and the outer folder skips them."""
    listed = [(i, d, skill_files(d)) for i, d in enumerate(dirs) if d.is_dir()]
    owner: dict[Path, tuple[int, int]] = {}  # resolved file -> the rank of the directory loading it
    for i, directory, files in listed:
        for path in files:
            rank, real = _rank(path, directory, i), path.resolve()
            if real not in owner or rank > owner[real]:
                owner[real] = rank
    return [(directory, [p for p in files if owner[p.resolve()] == _rank(p, directory, i)])
            for i, directory, files in listed]


def _rank(path: Path, directory: Path, position: int) -> tuple[int, int]:
    """How closely the directory at ``position`` of the list holds the file ``path`` (higher loads it): a directory
    holding its resolved path by its depth, then the later; one reaching it through a link from outside below any
    holding it, the earlier first."""
    root, real = directory.resolve(), path.resolve()
    return (len(root.parts), position) if real.is_relative_to(root) else (-1, -position)


def load_default_library(settings: Settings | None = None) -> SkillLibrary:
    """The configured ``skills_dirs`` followed by the user's Skill directory (reloaded only when a file changed)."""
    settings = settings or get_settings()
    return load_library_cached([*settings.skills_dirs, settings.resolved_user_skills_dir])


_CACHE: dict[tuple[Path, ...], tuple[tuple, SkillLibrary]] = {}
_CACHE_LOCK = threading.Lock()


def _fingerprint(dirs: list[Path]) -> tuple:
    """Every Skill file of ``dirs`` with its size and modification time: changes when any file does."""
    files = []
    for directory in dirs:
        if directory.is_dir():
            for path in skill_files(directory):
                stat = path.stat()
                files.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(files)


def load_library_cached(dirs: list[Path]) -> SkillLibrary:
    """``load_library`` reusing the last load of the same directories while no Skill file changed, so a
    service answering many requests neither re-parses every file each time nor lets one bad file slow
    every request. Each caller gets its own copy of the containers."""
    key = tuple(dirs)
    fingerprint = _fingerprint(dirs)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is None or cached[0] != fingerprint:
            cached = (fingerprint, load_library(dirs))
            _CACHE[key] = cached
    library = cached[1]
    return SkillLibrary(skills=dict(library.skills), errors=list(library.errors),
                        overrides=list(library.overrides), dirs=list(library.dirs), declared=dict(library.declared))


def _load_directory(library: SkillLibrary, files: list[Path]) -> None:
    """Load one directory's Skill ``files`` (in load order) into ``library``."""
    seen: dict[str, LoadedSkill] = {}
    for path in files:
        try:
            loaded = load_skill(path)
        except SkillLoadError as exc:
            library.errors.extend(exc.errors)
            if exc.declared_name is not None:
                library.declared.update((error.file, exc.declared_name) for error in exc.errors)
            continue
        name = loaded.name
        if name in seen:
            _reject(library, loaded, f"duplicate Skill name {name!r}: also defined in {seen[name].source}")
            continue
        if conflict := _other_generic(library, loaded):
            _reject(
                library,
                loaded,
                f"a generic Skill for pattern {loaded.skill.pattern.value} already exists: {conflict.name} "
                f"({conflict.source}); override it by using the same name",
                key="generic",
            )
            continue
        seen[name] = loaded
        previous = library.skills.get(name)
        if previous is not None and previous.path is not None and loaded.path is not None:
            loaded.overrides = previous.path
            library.overrides.append(Override(name, loaded.path, previous.path))
        library.skills[name] = loaded


def _other_generic(library: SkillLibrary, loaded: LoadedSkill) -> LoadedSkill | None:
    if not loaded.skill.generic:
        return None
    current = library.generic(loaded.skill.pattern)
    return current if current is not None and current.name != loaded.name else None


def _reject(library: SkillLibrary, loaded: LoadedSkill, message: str, key: str = "name") -> None:
    library.errors.append(skill_error(loaded, message, key))


def skill_error(loaded: LoadedSkill, message: str, key: str = "name") -> SkillError:
    """An error about a Skill that loaded on its own, at the line of its field ``key``."""
    line, field_name = locate(loaded.raw, (key,))
    file = display_path(loaded.path) if loaded.path else loaded.source
    return SkillError(file, line, field_name, message)


def same_name_siblings(loaded: LoadedSkill, root: Path | None = None) -> list[Path]:
    """The other Skill files of ``root`` (default ``loaded``'s folder), subfolders included, that define its name:
    in one directory tree only the first file (:func:`load_order`) loads, so adding a copy without renaming it can
    take the place of the Skill it was copied from."""
    if loaded.path is None:
        return []
    found: list[Path] = []
    for sibling in skill_files(root or loaded.path.parent):
        if sibling.resolve() == loaded.path.resolve():
            continue
        try:
            if load_skill(sibling).name == loaded.name:
                found.append(sibling)
        except SkillLoadError:
            continue
    return found
