"""An author's path: a Skill file edited by hand becomes a version in history, after the replay gate.

``refine --instruction`` and ``refine --from-case`` make patches for corrections: their gate wants a corrected case
fixed. An author who changes a Skill with no correction behind it (a new trigger, clearer guidance, a tuned threshold)
edits the file and records it (``bianque skills record NAME``): the file is validated as the loader reads it, its
diff against the active version is shown, and it is replayed against the Skill's stored cases and its regression set
(:meth:`agent.evolve.workbench.Workbench.replay_hand_edit`). It is refused when a case that passed with the active
version fails with the file; no fix is asked for, since there is no correction. Recording stores the file's text,
byte for byte, as the next version and makes it active; the file itself is not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.evolve.patch import unified_diff, validated
from agent.evolve.replay import ReplayReport
from agent.evolve.versions import ensure_baseline, file_text, unstored_edit
from agent.memory.records import SkillVersionRecord
from agent.memory.skill_versions import text_sha256
from agent.skills.library import SkillLibrary
from agent.skills.loader import LoadedSkill


class NothingToRecord(Exception):
    """The Skill's file holds the active version's text: there is no edit to record."""


@dataclass
class HandEdit:
    """A Skill's file as it is now, against the text it replaces."""

    name: str
    loaded: LoadedSkill  # the file, validated as the library loaded it
    text: str  # its bytes as text: what a record stores (a rollback restores it byte for byte)
    base_text: str | None  # the active version's text, else the file it overrides; None: a Skill new to Bian Que
    base_label: str  # "v3 (active)", "the file it overrides, skills/x.yaml", "nothing"
    base_short: str  # the diff's name of the text replaced: "v3", "overridden", "none"
    version: int  # the number it is recorded under
    said: int  # the number its ``version:`` says

    @property
    def path(self) -> Path | None:
        return self.loaded.path

    @property
    def diff(self) -> str:
        return unified_diff(self.base_text or "", self.text, self.name, self.base_short, "file")

    @property
    def base(self) -> LoadedSkill | None:
        """The text replaced, loaded (None for a new Skill)."""
        return validated(self.base_text, f"<{self.name} {self.base_label}>") if self.base_text is not None else None

    @property
    def number_line(self) -> str:
        """'' or why the version number differs from the file's ``version:``."""
        if self.version == self.said:
            return ""
        return f" (its file says version {self.said}, stored with another text)"


def hand_edit(memory: Any, library: SkillLibrary, name: str) -> HandEdit:
    """The hand edit of Skill ``name``'s file: LookupError when no Skill has that name, ValueError listing the
    problems when its file does not load (the library then answers with another file, or none), NothingToRecord when
    the file holds the active version's text, ValueError when it holds an older stored version's (a rollback)."""
    failed = library.failed_as(name)
    if failed:
        errors = "\n".join(f"  {e}" for e in failed)
        raise ValueError(f"the file of Skill {name!r} does not load; fix it and record again:\n{errors}")
    loaded = library.get(name)
    if loaded is None:
        raise LookupError(f"no Skill named {name!r} (see `bianque skills list`)")
    text = file_text(loaded)
    active = memory.active_skill_version(name)
    sha = text_sha256(text)
    if active is not None and active.sha256 == sha:
        raise NothingToRecord(f"{name}: {loaded.path or 'its file'} holds the active version v{active.version}, "
                              "nothing to record")
    stored = next((v for v in memory.skill_versions(name) if v.sha256 == sha), None)
    if stored is not None:
        raise ValueError(f"{loaded.path or name} holds the text of stored version v{stored.version}, not the active "
                         f"one: `bianque skills rollback {name} {stored.version}` makes it active again")
    if active is not None:
        base_text, label, short = active.yaml_text, f"v{active.version} (active)", f"v{active.version}"
    elif (replaced := _overridden(library, name)) is not None:
        base_text, label, short = replaced.read_bytes().decode("utf-8"), f"the file it overrides, {replaced}", \
            "overridden"
        if base_text == text:  # a copy not edited yet (`skills show NAME > …`): no change to replay or record
            raise NothingToRecord(f"{name}: {loaded.path or 'its file'} holds the text of the file it overrides, "
                                  f"{replaced}, nothing to record (edit it, then record it)")
    else:
        base_text, label, short = None, "nothing", "none"
    said = int(loaded.skill.version)
    return HandEdit(name, loaded, text, base_text, label, short, _number(memory, name, said, base_text), said)


def _number(memory: Any, name: str, said: int, base_text: str | None) -> int:
    """The number the edit is recorded under: its ``version:``, else (another text holds that number, or the text it
    replaces is stored under it first) one more than every stored number."""
    taken = [v.version for v in memory.skill_versions(name)]
    if base_text is not None and (baseline := unstored_edit(memory, name, base_text)) is not None:
        taken.append(baseline)
    return max([said, *taken]) + 1 if said in taken else said


def _overridden(library: SkillLibrary, name: str) -> Path | None:
    """The file of an earlier Skill directory that Skill ``name``'s file overrides (a built-in Skill), if any
    that still loads as that Skill."""
    for override in library.overrides:
        if override.name == name and override.replaced.is_file():
            try:
                validated(override.replaced.read_text(encoding="utf-8"), str(override.replaced))
            except (OSError, ValueError):
                return None
            return override.replaced
    return None


def decide_edit(report: ReplayReport) -> tuple[bool, str]:
    """The gate of a hand edit: refused when any case that passed with the text it replaces fails with it (no fix is
    asked for: no correction asked for the change)."""
    replayed = [c for c in report.cases if c.status != "skipped"]
    regression = [c for c in replayed if c.role == "regression"]
    fixed = [c for c in replayed if c.status == "fixed"]
    broken = report.regressions
    tally = (f"{len(broken)} of {len(replayed)} replayed case(s) broken ({len(regression)} in the regression set); "
             f"{len(fixed)} fixed")
    if broken:
        ids = ", ".join(c.case_id for c in broken)
        return False, f"refused: {len(broken)} case(s) that passed before now fail ({ids}); {tally}"
    if not replayed:
        return True, ("accepted: nothing could be replayed (no stored case of this Skill and no bundle of its "
                      "regression set it answers): it is recorded on your word")
    return True, f"accepted: {tally}"


def record_edit(memory: Any, edit: HandEdit, *, message: str = "", author: str | None = None) -> SkillVersionRecord:
    """Store the file's text as the active version (the text it replaced first, when no version holds it, so a
    rollback can restore it); the file is not written."""
    if edit.base_text is not None:
        ensure_baseline(memory, edit.name, edit.base_text)
    number = _number(memory, edit.name, edit.said, None)
    reason = "hand edit recorded" + (f": {message.strip()}" if message.strip() else "")
    if number != edit.said:
        reason += f" (its file says version {edit.said}, stored with another text)"
    return memory.save_skill_version(edit.name, edit.text, reason=reason, author=author, version=number)
