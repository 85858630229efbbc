"""Skill versions: accepted patches stored and written to the user dir; history, diff and rollback."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.evolve.patch import Edit, patch_skill
from agent.evolve.proposals import Proposal
from agent.evolve.versions import (
    SkillFileError,
    accept,
    diff_versions,
    history,
    rollback,
    rollback_preview,
    skill_text,
    unkept_file_line,
)
from agent.memory import InvalidInputError, SkillVersionNotFoundError
from agent.runtime import load_skills
from tests.test_evolve_support import BLIND, MEMORY_SIGNAL, other_skill_in_the_way, use_blind_skills

runner = CliRunner()
NAME, MEMORY = BLIND, MEMORY_SIGNAL


@pytest.fixture
def settings(tmp_path, monkeypatch, bianque_home):
    use_blind_skills(tmp_path, monkeypatch)
    return get_settings()


def _accept_memory_patch(memory, settings):
    loaded = load_skills(settings).get(NAME)
    text = skill_text(loaded)
    patched = patch_skill(text, [Edit("append", ("data", "metrics"), MEMORY)])
    proposal = Proposal(NAME, "rules", "add memory", patched)
    done = accept(memory, settings.resolved_user_skills_dir, NAME, patched.text, reason="add memory",
                  author="alice", base=loaded)
    return text, proposal, done


def test_accepting_stores_the_baseline_and_the_new_version_and_writes_the_user_dir(memory, settings) -> None:
    builtin = settings.skills_dirs[0] / f"{NAME}.yaml"
    original, proposal, done = _accept_memory_patch(memory, settings)
    assert builtin.read_text(encoding="utf-8") == original  # the built-in file is never touched
    assert done.path == settings.resolved_user_skills_dir / f"{NAME}.yaml"
    assert done.path.read_text(encoding="utf-8") == proposal.patched.text
    versions = history(memory, NAME)
    assert [(v.version, v.reason, v.active) for v in versions] == [
        (1, "before the first change", False), (2, "add memory", True)]
    assert versions[0].yaml_text == original
    reloaded = load_skills(settings).get(NAME)
    assert reloaded.skill.version == 2 and reloaded.overrides == builtin
    assert "memory" in {m.id for m in reloaded.skill.data.metrics}


def test_rollback_restores_an_earlier_version_byte_exactly(memory, settings) -> None:
    original, _proposal, _done = _accept_memory_patch(memory, settings)
    current = load_skills(settings).get(NAME)
    done = rollback(memory, settings.resolved_user_skills_dir, NAME, 1, author="bob", current=current)
    assert (done.record.version, done.record.reason, done.record.active) == (3, "rollback to v1", True)
    assert done.path.read_bytes() == original.encode("utf-8")  # byte-exact: no version rewritten in the file
    assert memory.get_skill_version(NAME, 3).yaml_text == original
    reloaded = load_skills(settings).get(NAME)
    assert reloaded.skill.version == 1 and "memory" not in {m.id for m in reloaded.skill.data.metrics}
    assert [v.version for v in history(memory, NAME)] == [1, 2, 3]
    with pytest.raises(SkillVersionNotFoundError):
        rollback(memory, settings.resolved_user_skills_dir, NAME, 9, current=reloaded)


def test_a_rollback_to_the_text_already_active_writes_and_stores_nothing(memory, settings) -> None:
    _original, proposal, done = _accept_memory_patch(memory, settings)
    mtime = done.path.stat().st_mtime_ns
    again = rollback(memory, settings.resolved_user_skills_dir, NAME, 2, current=load_skills(settings).get(NAME))
    assert (again.written, again.record.version, again.path) == (False, 2, done.path)
    assert [v.version for v in history(memory, NAME)] == [1, 2]
    assert done.path.stat().st_mtime_ns == mtime and done.path.read_text(encoding="utf-8") == proposal.patched.text
    said = runner.invoke(app, ["skills", "rollback", NAME, "2"])  # no confirmation asked: nothing to confirm
    assert said.exit_code == 0, said.output
    assert f"{NAME} is already at version 2, nothing written" in " ".join(said.output.split())
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=load_skills(settings).get(NAME))
    said = runner.invoke(app, ["skills", "rollback", NAME, "1", "--yes"])  # v3 holds v1's text
    assert f"{NAME} is already at version 1 (active v3 holds its text), nothing written" in " ".join(
        said.output.split())
    assert [v.version for v in history(memory, NAME)] == [1, 2, 3]


def test_a_rollback_to_the_active_version_over_a_hand_edited_file_restores_it(memory, settings) -> None:
    """The file no longer holds the active text: the rollback writes it back and records that, the hand edit kept
    first."""
    _original, proposal, done = _accept_memory_patch(memory, settings)
    done.path.write_text(proposal.patched.text + "# tuned by hand\n", encoding="utf-8")
    back = rollback(memory, settings.resolved_user_skills_dir, NAME, 2, current=load_skills(settings).get(NAME))
    assert back.written and done.path.read_text(encoding="utf-8") == proposal.patched.text
    assert [(v.version, v.reason) for v in history(memory, NAME)][-2:] == [
        (3, "edited outside Bian Que (its file says version 2, stored with another text)"), (4, "rollback to v2")]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_a_new_skill_file_gets_the_mode_an_editor_would_give_it_under_the_umask(memory, settings, umask, mode):
    before = os.umask(umask)
    try:
        _, _, done = _accept_memory_patch(memory, settings)
    finally:
        os.umask(before)
    assert done.path.stat().st_mode & 0o777 == mode  # not the temporary file's owner-only 0600 whatever the umask


def test_a_saved_skill_file_is_readable_as_an_editor_would_leave_it(memory, settings) -> None:
    _, _, done = _accept_memory_patch(memory, settings)
    done.path.chmod(0o640)
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, author="bob")
    assert done.path.stat().st_mode & 0o777 == 0o640  # replaced: keeps the mode it had


def test_diff_between_stored_versions(memory, settings) -> None:
    _accept_memory_patch(memory, settings)
    text = diff_versions(memory, NAME, 1, 2)
    assert text.startswith(f"--- {NAME} v1\n+++ {NAME} v2\n")
    assert "+    - id: memory" in text and "-version: 1" in text and "+version: 2" in text


def test_cli_history_diff_rollback(memory, settings) -> None:
    _accept_memory_patch(memory, settings)
    shown = runner.invoke(app, ["skills", "history", NAME, "--json"])
    assert shown.exit_code == 0, shown.output
    assert [v["version"] for v in json.loads(shown.output)] == [1, 2]
    diff = runner.invoke(app, ["skills", "diff", NAME, "1", "2"])
    assert diff.exit_code == 0 and "memory_usage_bytes" in diff.output
    back = runner.invoke(app, ["skills", "rollback", NAME, "1", "--yes"])
    assert back.exit_code == 0, back.output
    assert "v3 (rollback to v1" in back.output and "preview" in back.output
    assert "-      name: memory_usage_bytes" in back.output  # the preview shows what is written
    assert memory.active_skill_version(NAME).version == 3
    missing = runner.invoke(app, ["skills", "diff", NAME, "1", "7"])
    assert missing.exit_code == 2 and "7" in missing.output
    assert f"no stored version 7 of Skill '{NAME}': stored are v1, v2, v3" in " ".join(missing.output.split())
    declined = runner.invoke(app, ["skills", "rollback", NAME, "2"], input="n\n")
    assert declined.exit_code == 1 and memory.active_skill_version(NAME).version == 3


def test_cli_diff_and_rollback_preview_out_of_a_terminal_are_the_diff_as_it_is(memory, settings) -> None:
    """Out of a terminal a diff was wrapped at 80 columns (a long line cut in two, "+" lost on the second half): now it
    is printed byte for byte, a patch that ``patch`` can apply."""
    loaded = load_skills(settings).get(NAME)
    long_line = "# " + " ".join(["a comment long enough to pass eighty columns"] * 3) + "\n"
    patched = patch_skill(skill_text(loaded), [Edit("append", ("data", "metrics"), MEMORY)])
    accept(memory, settings.resolved_user_skills_dir, NAME, patched.text + long_line, reason="long", base=loaded)
    diff = runner.invoke(app, ["skills", "diff", NAME, "1", "2"], env={"COLUMNS": "80"})
    assert diff.exit_code == 0, diff.output
    assert diff.stdout == diff_versions(memory, NAME, 1, 2) and f"+{long_line}" in diff.stdout
    current = load_skills(settings).get(NAME)
    preview = rollback_preview(memory, NAME, 1, current, settings.resolved_user_skills_dir)
    back = runner.invoke(app, ["skills", "rollback", NAME, "1"], input="n\n", env={"COLUMNS": "80"})
    assert back.exit_code == 1 and f"-{long_line}" in preview
    assert back.stdout.split("\n", 1)[1].startswith(preview)  # after the line saying what the preview is


def test_cli_rollback_over_a_file_that_does_not_load_says_where_it_keeps_it(memory, settings) -> None:
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    done.path.write_text(done.path.read_text(encoding="utf-8") + "  half: [\n", encoding="utf-8")
    back = runner.invoke(app, ["skills", "rollback", NAME, "1", "--yes"])
    assert back.exit_code == 0, back.output
    said = " ".join(back.output.split())
    assert "-  half: [" in back.output  # the preview is against the file replaced
    assert f"it is copied to {settings.resolved_user_skills_dir / '.replaced'}/ before the write" in said
    [kept] = (settings.resolved_user_skills_dir / ".replaced").iterdir()
    assert f"the file it replaced (held by no stored version) is kept as {kept}" in said
    assert kept.read_text(encoding="utf-8").endswith("  half: [\n")


def test_history_of_an_unchanged_skill_says_so(settings) -> None:
    result = runner.invoke(app, ["skills", "history", "generic-rca"])
    assert result.exit_code == 0 and "no stored versions of generic-rca" in result.output
    back = runner.invoke(app, ["skills", "rollback", "generic-rca", "1", "--yes"])
    said = " ".join(back.output.split())
    assert back.exit_code == 2 and "no stored version 1 of Skill 'generic-rca': none is stored" in said


@pytest.mark.parametrize("args", [["rollback", "generic-rca", "-1", "--yes"], ["diff", "generic-rca", "1", "-2"],
                                  ["rollback", "generic-rca", "0", "--yes"]])
def test_a_version_below_one_is_refused_as_a_version_not_an_unknown_option(settings, args) -> None:
    result = runner.invoke(app, ["skills", *args])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "greater than or equal to 1" in said and "No such option" not in said, said


def test_history_of_a_skill_that_does_not_exist_is_an_error(settings) -> None:
    result = runner.invoke(app, ["skills", "history", "no-such-skill"])
    assert result.exit_code == 2 and "no Skill named 'no-such-skill'" in " ".join(result.output.split())


def test_a_skill_file_that_cannot_be_written_stores_no_version(memory, settings) -> None:
    in_the_way = other_skill_in_the_way(settings, NAME)
    with pytest.raises(SkillFileError, match="holds Skill 'other-skill'; rename it before saving"):
        _accept_memory_patch(memory, settings)
    assert history(memory, NAME) == []
    assert (settings.resolved_user_skills_dir / f"{NAME}.yaml").read_bytes() == in_the_way


def test_a_rollback_that_cannot_be_written_stores_no_version(memory, settings) -> None:
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    done.path.unlink()
    done.path.mkdir()  # the user's copy cannot be replaced
    current = load_skills(settings).get(NAME)
    with pytest.raises(SkillFileError, match=f"cannot write {done.path}"):
        rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=current)
    assert [(v.version, v.active) for v in history(memory, NAME)] == [(1, False), (2, True)]
    back = runner.invoke(app, ["skills", "rollback", NAME, "1", "--yes"])
    assert back.exit_code == 2 and "cannot write" in back.output, back.output
    assert [v.version for v in history(memory, NAME)] == [1, 2]
    assert [p.name for p in done.path.parent.iterdir()] == [done.path.name]  # no temporary file left


def test_a_version_that_cannot_be_stored_puts_the_file_back(memory, settings) -> None:
    _original, proposal, done = _accept_memory_patch(memory, settings)
    before = done.path.read_bytes()
    loaded = load_skills(settings).get(NAME)
    patched = patch_skill(skill_text(loaded), [Edit("append", ("data", "metrics"), {**MEMORY, "id": "rss"})])
    memory.save_skill_version(NAME, patched.text.replace("rss", "resident"), version=3, activate=False)
    with pytest.raises(InvalidInputError, match="v3 is already stored with different text"):
        accept(memory, settings.resolved_user_skills_dir, NAME, patched.text, reason="add rss", base=loaded)
    assert done.path.read_bytes() == before
    assert [(v.version, v.active) for v in history(memory, NAME)] == [(1, False), (2, True), (3, False)]
    settings.resolved_user_skills_dir.joinpath(f"{NAME}.yaml").unlink()  # no user copy before: none after
    fresh = load_skills(settings).get(NAME)
    with pytest.raises(InvalidInputError):
        accept(memory, settings.resolved_user_skills_dir, NAME, patched.text, reason="add rss", base=fresh)
    assert not done.path.exists()


def test_the_first_change_of_a_skill_living_in_the_user_dir_keeps_the_text_it_replaced(memory, settings) -> None:
    """A team's own Skill (or a hand-made override) lives in the user dir: saving a patch replaces that very file,
    so the text it replaced must be read before the write, else it is lost and the new text is stored as
    "before the first change"."""
    own = settings.resolved_user_skills_dir / f"{NAME}.yaml"
    own.parent.mkdir(parents=True, exist_ok=True)
    original = (settings.skills_dirs[0] / f"{NAME}.yaml").read_text(encoding="utf-8") + "# the team's own copy\n"
    own.write_text(original, encoding="utf-8")
    _text, proposal, done = _accept_memory_patch(memory, settings)
    assert done.path == own and own.read_text(encoding="utf-8") == proposal.patched.text
    versions = history(memory, NAME)
    assert [(v.version, v.reason, v.author, v.active) for v in versions] == [
        (1, "before the first change", None, False), (2, "add memory", "alice", True)]
    assert versions[0].yaml_text == original
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=load_skills(settings).get(NAME))
    assert own.read_bytes() == original.encode("utf-8")


def test_a_save_of_a_skill_kept_in_a_user_subfolder_replaces_that_file(memory, settings) -> None:
    """A team keeping its Skills by system (``skills/<system>/x.yaml``): a save writes that file, never a second
    ``skills/x.yaml`` beside it (a duplicate name, which would not load)."""
    own = settings.resolved_user_skills_dir / "search" / f"{NAME}.yaml"
    own.parent.mkdir(parents=True)
    own.write_text((settings.skills_dirs[0] / f"{NAME}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    _text, proposal, done = _accept_memory_patch(memory, settings)
    assert done.path == own and own.read_text(encoding="utf-8") == proposal.patched.text
    assert not (settings.resolved_user_skills_dir / f"{NAME}.yaml").exists()
    assert load_skills(settings).errors == []


def test_a_hand_edit_that_kept_its_version_number_is_stored_under_the_next_one_before_a_rollback(
        memory, settings) -> None:
    """A hand edit rarely bumps ``version:``: its number is taken by the text it edited, yet a rollback over it
    must keep it (it was dropped as "covered by the history"), and say so before it writes."""
    from agent.evolve.versions import kept_edit_line

    _original, _proposal, done = _accept_memory_patch(memory, settings)
    edited = done.path.read_text(encoding="utf-8") + "# tuned by hand\n"
    done.path.write_text(edited, encoding="utf-8")
    current = load_skills(settings).get(NAME)
    assert kept_edit_line(memory, NAME, current) == (
        f"{done.path} holds text no stored version has: it is kept first, as v3 (edited outside Bian Que)")
    said = runner.invoke(app, ["skills", "rollback", NAME, "1"], input="n\n")  # the preview says so; declined
    assert "it is kept first, as v3" in " ".join(said.output.split())
    assert [v.version for v in history(memory, NAME)] == [1, 2]
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=current)
    versions = history(memory, NAME)
    assert [(v.version, v.reason) for v in versions] == [
        (1, "before the first change"), (2, "add memory"),
        (3, "edited outside Bian Que (its file says version 2, stored with another text)"), (4, "rollback to v1")]
    assert versions[2].yaml_text == edited
    assert kept_edit_line(memory, NAME, load_skills(settings).get(NAME)) is None
    rollback(memory, settings.resolved_user_skills_dir, NAME, 3, current=load_skills(settings).get(NAME))
    assert done.path.read_bytes() == edited.encode("utf-8")


def test_a_rollback_over_a_hand_edited_file_keeps_the_edit_in_the_history(memory, settings) -> None:
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    edited = done.path.read_text(encoding="utf-8").replace("version: 2", "version: 5") + "# tuned by hand\n"
    done.path.write_text(edited, encoding="utf-8")
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=load_skills(settings).get(NAME))
    versions = history(memory, NAME)
    assert [(v.version, v.reason) for v in versions] == [
        (1, "before the first change"), (2, "add memory"), (5, "edited outside Bian Que"), (6, "rollback to v1")]
    assert versions[2].yaml_text == edited  # what the rollback wrote over can be restored


def test_a_rollback_over_a_hand_edit_that_does_not_load_keeps_it_aside_and_previews_it(memory, settings) -> None:
    """A half-finished edit breaks the file, so the Skill in use is the built-in one: the rollback had diffed from an
    empty text and stored only the built-in's text, losing the edit."""
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    broken = done.path.read_text(encoding="utf-8") + "  my_new_signal_IMPORTANT_WORK: [\n"  # a YAML error
    done.path.write_text(broken, encoding="utf-8")
    current = load_skills(settings).get(NAME)
    assert current.path != done.path  # the file does not load: the built-in answers
    user_dir = settings.resolved_user_skills_dir
    preview = rollback_preview(memory, NAME, 1, current, user_dir)
    assert "-  my_new_signal_IMPORTANT_WORK: [" in preview  # the diff is against the file that is replaced
    assert unkept_file_line(memory, user_dir, NAME, current) == (
        f"{done.path} holds text the Skill in use did not load from (it does not load, or another file shadows it) "
        f"and no stored version has: it is copied to {user_dir / '.replaced'}/ before the write")
    back = rollback(memory, user_dir, NAME, 1, current=current)
    assert back.set_aside is not None and back.set_aside.parent == user_dir / ".replaced"
    assert back.set_aside.read_text(encoding="utf-8") == broken
    assert back.set_aside.name.startswith(f"{NAME}.yaml.")
    assert f"is kept as {back.set_aside}" in back.set_aside_line
    assert load_skills(settings).get(NAME).path == done.path  # the kept copy is no Skill file: not loaded
    assert unkept_file_line(memory, user_dir, NAME, load_skills(settings).get(NAME)) is None


def test_a_rollback_writes_the_broken_file_in_a_subfolder_not_a_second_one_beside_it(memory, settings) -> None:
    """A team keeps its Skill in a folder of its own; a typo breaks it and they roll back: the restored text had gone
    to ``<user dir>/NAME.yaml``, leaving the folder's file failing (and a duplicate of it once fixed)."""
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    user_dir = settings.resolved_user_skills_dir
    kept = user_dir / "team" / done.path.name
    kept.parent.mkdir()
    broken = done.path.read_text(encoding="utf-8").replace("min_effect:", "min_efect:", 1)
    kept.write_text(broken, encoding="utf-8")
    done.path.unlink()
    current = load_skills(settings).get(NAME)
    assert current.path != kept  # the file does not load: the built-in answers
    back = rollback(memory, user_dir, NAME, 2, current=current)
    assert back.path == kept and not (user_dir / done.path.name).exists()
    assert back.set_aside is not None and back.set_aside.read_text(encoding="utf-8") == broken
    assert load_skills(settings).get(NAME).path == kept and not load_skills(settings).failed_as(NAME)


def test_a_new_skill_over_a_file_of_its_name_that_does_not_load_keeps_the_file(memory, settings) -> None:
    user_dir = settings.resolved_user_skills_dir
    user_dir.mkdir(parents=True, exist_ok=True)
    half_written = user_dir / "payment-rca.yaml"
    half_written.write_text("name: payment-rca\ndescription: [unclosed\n", encoding="utf-8")
    text = skill_text(load_skills(settings).get(NAME)).replace(f"name: {NAME}", "name: payment-rca", 1)
    done = accept(memory, user_dir, "payment-rca", text, reason="created")
    assert done.path == half_written and done.path.read_text(encoding="utf-8") == text
    assert done.set_aside.read_text(encoding="utf-8") == "name: payment-rca\ndescription: [unclosed\n"
    again = accept(memory, user_dir, "payment-rca", text.replace("version: 1", "version: 2", 1), reason="again",
                   base=load_skills(settings).get("payment-rca"))
    assert again.set_aside is None  # the file it replaced loaded, and is stored


def test_a_rollback_restores_a_skill_written_with_crlf_line_endings_byte_for_byte(memory, settings) -> None:
    builtin = settings.skills_dirs[0] / f"{NAME}.yaml"
    original = builtin.read_bytes().replace(b"\n", b"\r\n")  # a file saved on Windows
    builtin.write_bytes(original)
    _text, _proposal, done = _accept_memory_patch(memory, settings)
    assert history(memory, NAME)[0].yaml_text.encode("utf-8") == original
    current = load_skills(settings).get(NAME)
    preview = rollback_preview(memory, NAME, 1, current, settings.resolved_user_skills_dir)  # every line ending changes
    assert "-version: 2\n" in preview and "+version: 1\r\n" in preview
    rollback(memory, settings.resolved_user_skills_dir, NAME, 1, current=current)
    assert done.path.read_bytes() == original


def test_a_save_interrupted_by_ctrl_c_leaves_the_file_as_it_was_and_no_temporary_file(memory, settings,
                                                                                      monkeypatch) -> None:
    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr("agent.files.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _accept_memory_patch(memory, settings)
    assert history(memory, NAME) == []
    user_dir = settings.resolved_user_skills_dir
    assert not user_dir.exists() or list(user_dir.iterdir()) == []


def test_history_says_when_the_file_no_longer_holds_the_active_version(memory, settings) -> None:
    _original, _proposal, done = _accept_memory_patch(memory, settings)
    assert "is the active version, but" not in runner.invoke(app, ["skills", "history", NAME]).output
    done.path.write_text(done.path.read_text(encoding="utf-8") + "# tuned by hand\n", encoding="utf-8")
    edited = " ".join(runner.invoke(app, ["skills", "history", NAME]).output.split())
    assert f"v2 is the active version, but {done.path} holds other text (edited by hand since)" in edited
    assert f"`bianque skills record {NAME}` replays and records it now" in edited  # the author's path
    done.path.write_text("name: [broken\n", encoding="utf-8")
    broken = " ".join(runner.invoke(app, ["skills", "history", NAME]).output.split())
    assert f"v2 is the active version, but {done.path} does not load (the Skill in use comes from" in broken
    done.path.unlink()
    gone = " ".join(runner.invoke(app, ["skills", "history", NAME]).output.split())
    assert f"v2 is the active version, but {done.path} is gone and" in gone and "answers: roll back" in gone
