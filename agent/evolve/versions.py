"""Every Skill version kept: accept a new text, list the history, diff two versions, roll back.

A version's number is the ``version:`` field of its YAML where no other text holds it; a case's ``skill_version``
is the stored version holding its Skill file's text (the active one first; ``graph.nodes.select_skill``), else that
field, so it names the text that answered it after a rollback too. An accepted text is written to the user's Skill
directory (which overrides the built-in file by name; the built-in file is never touched), then stored in memory;
when storing fails the file is put back, and when writing fails nothing is stored. The first accepted
change of a Skill also stores the text it replaced, so it can always be restored. A rollback writes an
old version's text back byte for byte and records it as a new history entry ("rollback to v2", the next
number): the counter lives in the history, never in a rewritten file, and history only ever grows. A rollback to
the text already active (and in the file) writes and records nothing. A file the write replaces that no stored
version holds and the Skill in use did not load from (one that does not load: a half-finished hand edit, or a
broken override of a built-in Skill) cannot be stored as a version: its bytes are copied to ``.replaced/`` in the
user's Skill directory first, so no write loses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.evolve.patch import unified_diff, validated
from agent.files import replace_file
from agent.memory.errors import SkillVersionNotFoundError
from agent.memory.records import SkillVersionRecord
from agent.memory.skill_versions import text_sha256
from agent.skills.library import skill_files
from agent.skills.loader import LoadedSkill, declared_name, dump_skill_yaml

REPLACED_DIR = ".replaced"  # in the user's Skill directory: files a write replaced that no stored version holds


class SkillFileError(RuntimeError):
    """The user's Skill file cannot be written (permissions, or another Skill's file is in the way)."""


@dataclass
class Accepted:
    """A stored version and the file it was written to."""

    record: SkillVersionRecord
    path: Path
    baseline: SkillVersionRecord | None = None
    written: bool = True  # False: a rollback to the text already active, which wrote and stored nothing
    set_aside: Path | None = None  # where the replaced file's bytes were copied (:func:`unkept_file`)

    @property
    def set_aside_line(self) -> str:
        """'' or what a face appends to its "written to" line: where the replaced file was kept."""
        if self.set_aside is None:
            return ""
        return f"; the file it replaced (held by no stored version) is kept as {self.set_aside}"


def skill_text(loaded: LoadedSkill) -> str:
    """The current text of a loaded Skill (its file, or its round-trip dump), line endings read as ``\\n``: the
    text patches are made from."""
    return file_text(loaded).replace("\r\n", "\n").replace("\r", "\n")


def file_text(loaded: LoadedSkill) -> str:
    """The current text of a loaded Skill exactly as its file holds it (``\\r\\n`` line endings kept): what a
    save or rollback stores before replacing it, so a rollback restores it byte for byte."""
    if loaded.path is not None and loaded.path.is_file():
        return loaded.path.read_bytes().decode("utf-8")
    return dump_skill_yaml(loaded.raw)


def user_skill_path(user_dir: Path, name: str, loaded: LoadedSkill | None = None) -> Path:
    """Where the user's copy of Skill ``name`` lives: its existing user file (in a subfolder too), else the user's
    file of it that does not load (:func:`_broken_user_file`), else ``<name>.yaml``."""
    user_dir = Path(user_dir)
    if loaded is not None and loaded.path is not None and _within(loaded.path, user_dir):
        return loaded.path
    return _broken_user_file(user_dir, name) or user_dir / f"{name}.yaml"


def _broken_user_file(user_dir: Path, name: str) -> Path | None:
    """The first user file (in load order) that is Skill ``name``'s but did not load: its ``name:`` line declares
    it, else it is named for it. A rollback or save writes there: a copy beside it would leave it failing, and a
    duplicate of the restored one once fixed."""
    files = skill_files(user_dir) if user_dir.is_dir() else []
    for path in files:
        try:
            if declared_name(path.read_text(encoding="utf-8", errors="replace")) == name:
                return path
        except OSError:
            continue
    return next((path for path in files if path.stem == name), None)


def _within(path: Path, user_dir: Path) -> bool:
    """Whether ``path`` is one of the Skill files the user's directory loads (hidden folders are not)."""
    return path.resolve() in {p.resolve() for p in skill_files(user_dir)} if user_dir.is_dir() else False


def write_user_skill(user_dir: Path, name: str, text: str, loaded: LoadedSkill | None = None) -> Path:
    """Write Skill text atomically into the user directory and return the path."""
    path = user_skill_path(user_dir, name, loaded)
    if path.exists() and (loaded is None or loaded.path is None or path.resolve() != loaded.path.resolve()):
        try:
            other = validated(path.read_text(encoding="utf-8"), str(path)).name
        except (OSError, ValueError):
            other = None
        if other is not None and other != name:
            raise SkillFileError(f"{path}: holds Skill {other!r}; rename it before saving {name!r} there")
    _replace(path, text.encode("utf-8"))
    return path


def _replace(path: Path, data: bytes) -> None:
    """Put ``data`` at ``path`` atomically (:func:`agent.files.replace_file`); SkillFileError when it cannot."""
    try:
        replace_file(path, data)
    except OSError as exc:
        raise SkillFileError(f"cannot write {path}: {exc}") from exc


def _file_bytes(path: Path) -> bytes | None:
    """The bytes of the file at ``path``, None when there is none (SkillFileError when it cannot be read)."""
    try:
        return path.read_bytes() if path.is_file() else None
    except OSError as exc:
        raise SkillFileError(f"cannot read {path}: {exc}") from exc


def unkept_file(memory: Any, user_dir: Path, name: str, loaded: LoadedSkill | None) -> Path | None:
    """The user's file a write of Skill ``name`` would replace when neither the Skill in use (``loaded``) came from
    it nor a stored version holds its bytes (it does not load, or another file shadows it): a save stores only
    ``loaded``'s text, so these bytes are set aside first (:data:`REPLACED_DIR`). None otherwise."""
    path = user_skill_path(user_dir, name, loaded)
    return path if _unkept(memory, name, path, _file_bytes(path), loaded) else None


def _unkept(memory: Any, name: str, path: Path, before: bytes | None, loaded: LoadedSkill | None) -> bool:
    """Whether ``before`` (the bytes at ``path``, None: no file) is what :func:`unkept_file` says."""
    if before is None or (loaded is not None and loaded.path is not None and loaded.path.resolve() == path.resolve()):
        return False
    try:
        stored = {v.sha256 for v in memory.skill_versions(name)}
        return text_sha256(before.decode("utf-8")) not in stored
    except UnicodeDecodeError:
        return True


def unkept_file_line(memory: Any, user_dir: Path, name: str, loaded: LoadedSkill | None) -> str | None:
    """What a save or rollback says of :func:`unkept_file` (the preview's warning); None when there is none."""
    path = unkept_file(memory, user_dir, name, loaded)
    if path is None:
        return None
    return (f"{path} holds text the Skill in use did not load from (it does not load, or another file shadows it) "
            f"and no stored version has: it is copied to {path.parent / REPLACED_DIR}/ before the write")


def _set_aside(path: Path, data: bytes) -> Path:
    """Keep ``data`` (the bytes of ``path``) in :data:`REPLACED_DIR` beside it, named with the time (UTC); the copy's
    path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = path.parent / REPLACED_DIR / f"{path.name}.{stamp}"
    try:
        target.parent.mkdir(exist_ok=True)
        replace_file(target, data)
    except OSError as exc:
        raise SkillFileError(f"cannot keep {path} before replacing it (in {target.parent}): {exc}") from exc
    return target


@contextmanager
def _written(
    memory: Any, user_dir: Path, name: str, text: str, loaded: LoadedSkill | None
) -> Iterator[tuple[Path, SkillVersionRecord | None, Path | None]]:
    """Write the user's Skill file, store the text it replaced (``ensure_baseline``: read before the write, which
    may replace ``loaded``'s own file; a replaced file no version can hold is copied aside first, :func:`unkept_file`),
    then run the body (which records the version); yields the file, the baseline stored and the copy set aside.
    When the body fails, put the file back as it was (or remove it), so a failed save leaves the file as it was and
    records no new version (the baseline and the copy stay: history only grows)."""
    replaced = file_text(loaded) if loaded is not None else None
    path = user_skill_path(user_dir, name, loaded)
    before = _file_bytes(path)
    # the file read once: what is kept aside is the text judged unkept
    aside = _set_aside(path, before) if before is not None and _unkept(memory, name, path, before, loaded) else None
    written = write_user_skill(user_dir, name, text, loaded)
    try:
        yield written, ensure_baseline(memory, name, replaced) if replaced is not None else None, aside
    except BaseException:
        if before is None:
            written.unlink(missing_ok=True)
        else:
            _replace(written, before)
        raise


def next_version(memory: Any, name: str, current: int) -> int:
    """One more than the highest of the stored versions and ``current``."""
    return _after([v.version for v in memory.skill_versions(name)], current)


def _after(stored: list[int], current: int) -> int:
    return max([current, *stored]) + 1


def current_version(memory: Any, loaded: LoadedSkill) -> int:
    """The number of the Skill's current version: its active stored version (a rollback's text keeps its old
    ``version:`` field under a new number), else its YAML's ``version:``."""
    active = memory.active_skill_version(loaded.name)
    return active.version if active is not None else loaded.skill.version


def ensure_baseline(memory: Any, name: str, text: str) -> SkillVersionRecord | None:
    """Store ``text`` (the Skill before a change) unless it is stored already; None when it was.

    Its reason is "before the first change" when nothing of the Skill is stored yet, else "edited outside Bian
    Que" (the file was changed by hand since the last stored version). A hand edit that kept its ``version:``
    number, which another text holds, is stored under the next free number (as a rollback is), never dropped."""
    versions = memory.skill_versions(name)
    if (numbers := _baseline_numbers(versions, name, text)) is None:
        return None
    number, said = numbers
    reason = "edited outside Bian Que" if versions else "before the first change"
    if said != number:
        reason += f" (its file says version {said}, stored with another text)"
    return memory.save_skill_version(name, text, reason=reason, version=number, activate=False)


def unstored_edit(memory: Any, name: str, text: str) -> int | None:
    """The version number ``text`` would be stored under before a change replaces it (its ``version:``, else the
    next free number when another text holds that one); None when the text is stored already."""
    numbers = _baseline_numbers(memory.skill_versions(name), name, text)
    return numbers[0] if numbers is not None else None


def _baseline_numbers(versions: list[SkillVersionRecord], name: str, text: str) -> tuple[int, int] | None:
    """(the number ``text`` is stored under, the number its ``version:`` says) of :func:`unstored_edit`, from the
    stored ``versions`` read once; None when one of them holds the text."""
    if any(v.sha256 == text_sha256(text) for v in versions):
        return None
    said = int(validated(text, f"<{name}>").skill.version)
    taken = [v.version for v in versions]
    return (_after(taken, said) if said in taken else said), said


def accept(
    memory: Any,
    user_dir: Path,
    name: str,
    text: str,
    *,
    reason: str,
    author: str | None = None,
    base: LoadedSkill | None = None,
) -> Accepted:
    """Write ``text`` to the user directory and store it as the next version of ``name`` (the file is put back
    when storing fails; SkillFileError, with nothing stored, when it cannot be written)."""
    loaded = validated(text, f"<{name}>")
    if loaded.name != name:
        raise ValueError(f"the text is Skill {loaded.name!r}, not {name!r}")
    with _written(memory, user_dir, name, text, base) as (path, baseline, aside):
        record = memory.save_skill_version(name, text, reason=reason, author=author, version=loaded.skill.version)
    return Accepted(record, path, baseline, set_aside=aside)


def history(memory: Any, name: str) -> list[SkillVersionRecord]:
    """Every stored version of a Skill, oldest first."""
    return memory.skill_versions(name)


def stored_version(memory: Any, name: str, version: int) -> SkillVersionRecord:
    """Stored version ``version`` of ``name``; SkillVersionNotFoundError saying which versions there are."""
    try:
        return memory.get_skill_version(name, version)
    except SkillVersionNotFoundError:
        numbers = [f"v{v.version}" for v in memory.skill_versions(name)]
        hint = (f"stored are {', '.join(numbers)} (see `bianque skills history {name}`)" if numbers else
                "none is stored: its file has never been changed by Bian Que (a version is stored when a "
                "refinement is saved, together with the text it replaced)")
        raise SkillVersionNotFoundError(name, version, hint) from None


def diff_versions(memory: Any, name: str, old: int, new: int) -> str:
    """Unified diff between two stored versions (SkillVersionNotFoundError for an unknown one)."""
    first = stored_version(memory, name, old)
    second = stored_version(memory, name, new)
    return unified_diff(first.yaml_text, second.yaml_text, name, f"v{old}", f"v{new}")


def rollback_text(memory: Any, name: str, version: int) -> str:
    """The exact text a rollback to ``version`` writes (SkillVersionNotFoundError for an unknown one)."""
    return stored_version(memory, name, version).yaml_text


def rollback_preview(memory: Any, name: str, version: int, current: LoadedSkill | None, user_dir: Path) -> str:
    """The unified diff a rollback to ``version`` makes to the file it replaces: the user's file of the Skill (even
    one that does not load), else the current text ('' when they are identical)."""
    held = _file_bytes(user_skill_path(user_dir, name, current))
    now = held.decode("utf-8", errors="replace") if held is not None else file_text(current) if current else ""
    return unified_diff(now, rollback_text(memory, name, version), name, "current", f"v{version}")


def kept_edit_line(memory: Any, name: str, current: LoadedSkill | None) -> str | None:
    """What a save or rollback says of a current file no stored version holds (a hand edit): it is stored first,
    under the number it will get; None when the current text is stored (or there is none)."""
    if current is None or (number := unstored_edit(memory, name, file_text(current))) is None:
        return None
    where = current.path if current.path is not None else "the built-in Skill"
    return f"{where} holds text no stored version has: it is kept first, as v{number} (edited outside Bian Que)"


def active_elsewhere_line(memory: Any, user_dir: Path, name: str, current: LoadedSkill | None) -> str | None:
    """What the history says when its active version is not what the Skill's file holds: the file was edited by
    hand since (stored at the next save or rollback), it does not load, or it is gone; None when it holds the
    active text (or nothing is stored)."""
    active = memory.active_skill_version(name)
    if active is None:
        return None
    if (aside := unkept_file(memory, user_dir, name, current)) is not None:
        return (f"v{active.version} is the active version, but {aside} does not load (the Skill in use comes from "
                f"{current.path if current is not None and current.path else 'nowhere'}): fix it, or roll back")
    said = f"v{active.version} is the active version, but"
    if current is None:
        return f"{said} no file of {name} loads: roll back to write it again"
    if text_sha256(file_text(current)) == active.sha256:
        return None
    own = user_skill_path(user_dir, name, current)
    if current.path is None or current.path.resolve() != own.resolve():
        return f"{said} {own} is gone and {current.path or 'the built-in Skill'} answers: roll back to write it again"
    return (f"{said} {own} holds other text (edited by hand since): it is stored at the next save or rollback; "
            f"`bianque skills record {name}` replays and records it now")


def already_at(memory: Any, name: str, version: int, current: LoadedSkill | None) -> SkillVersionRecord | None:
    """The active version when it holds version ``version``'s text and the current file is that text byte for byte
    (a rollback to it would change nothing); else None. SkillVersionNotFoundError for an unknown version."""
    target = stored_version(memory, name, version)
    active = memory.active_skill_version(name)
    if current is None or active is None or active.sha256 != target.sha256:
        return None
    return active if file_text(current) == target.yaml_text else None


def already_line(name: str, version: int, active: SkillVersionRecord) -> str:
    """What a rollback to the text already active says (CLI, UI)."""
    held = "" if active.version == version else f" (active v{active.version} holds its text)"
    return f"{name} is already at version {version}{held}, nothing written"


def rollback(
    memory: Any, user_dir: Path, name: str, version: int, *, author: str | None = None,
    current: LoadedSkill | None = None,
) -> Accepted:
    """Restore version ``version``'s text exactly: the text in the user dir, and a new active history entry
    (written then recorded, as :func:`accept`). When that text is already active and in the file
    (:func:`already_at`), nothing is written or stored: the active version, ``written`` False."""
    if current is not None and (active := already_at(memory, name, version, current)) is not None:
        return Accepted(active, current.path or user_skill_path(user_dir, name, current), written=False)
    text = rollback_text(memory, name, version)
    with _written(memory, user_dir, name, text, current) as (path, baseline, aside):
        record = memory.restore_skill_version(name, version, author=author)
    return Accepted(record, path, baseline, set_aside=aside)
