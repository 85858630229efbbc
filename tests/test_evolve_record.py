"""``bianque skills record``: an author's hand edit of a Skill file recorded as a version, after the replay gate."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.patch import Edit, patch_skill
from agent.evolve.versions import skill_text
from agent.runtime import load_skills
from tests.test_evolve_support import (
    BLIND,
    MEMORY_SIGNAL,
    rca_event,
    rca_verdict,
    store_case,
    use_blind_skills,
    write_small_bundle,
)

runner = CliRunner(env={"COLUMNS": "300"})
NAME, MEMORY = BLIND, MEMORY_SIGNAL


@pytest.fixture
def settings(tmp_path, monkeypatch, bianque_home):
    use_blind_skills(tmp_path, monkeypatch)
    return get_settings()


@pytest.fixture
def edited(settings):
    """The user's copy of the blind memory-pressure-rca with a memory signal added by hand (its version not bumped)."""
    text = skill_text(load_skills(settings).get(NAME))
    patched = patch_skill(text, [Edit("append", ("data", "metrics"), MEMORY)], version=1)
    path = settings.resolved_user_skills_dir / f"{NAME}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(patched.text + "# tuned by hand\n", encoding="utf-8")
    return path


def _scripted(monkeypatch, right_before: bool, right_after: bool) -> list[str]:
    """Replays answer right or wrong by whether the Skill has the memory signal; the cases run, listed."""
    runs: list[str] = []

    def runner_for(*_a, **_k):
        def run(case, library, skill):
            runs.append(case.id)
            after = "memory" in {m.id for m in library.get(skill).skill.data.metrics}
            right = right_after if after else right_before
            return rca_verdict("ranking", "memory_leak") if right else rca_verdict("ranking", "slow_dependency")
        return run

    monkeypatch.setattr("agent.evolve.workbench.investigate_runner", runner_for)
    return runs


def _confirmed_case(memory, tmp_path) -> str:
    label = {"root_cause": [{"service": "ranking", "fault": "memory_leak"}]}
    bundle = write_small_bundle(tmp_path / "b0", rca_event(), label=label)
    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "memory_leak"), bundle=bundle)
    correct_case(memory, case_id, correct=True)
    return case_id


def test_a_hand_edit_breaking_a_case_is_refused_and_one_breaking_none_is_recorded_byte_for_byte(
        memory, settings, edited, tmp_path, monkeypatch) -> None:
    case_id = _confirmed_case(memory, tmp_path)
    runs = _scripted(monkeypatch, right_before=True, right_after=False)
    refused = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert f"{edited}: {NAME} as v2 (its file says version 1, stored with another text), against the file it " \
           "overrides" in said
    assert "+ - id: memory" in said and "# tuned by hand" in said  # the diff against the text it replaces
    assert f"refused: 1 case(s) that passed before now fail ({case_id})" in said
    assert memory.skill_versions(NAME) == [] and runs
    _scripted(monkeypatch, right_before=True, right_after=True)  # no correction: nothing to fix, nothing broken
    before = edited.read_bytes()
    done = runner.invoke(app, ["skills", "record", NAME, "--yes", "-m", "read memory too"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())
    assert "accepted: 0 of 1 replayed case(s) broken (1 in the regression set); 0 fixed" in said
    first, second = memory.skill_versions(NAME)
    assert (first.version, first.reason, first.active) == (1, "before the first change", False)
    assert (second.version, second.active) == (2, True)
    assert second.reason == "hand edit recorded: read memory too (its file says version 1, stored with another text)"
    assert second.yaml_text.encode("utf-8") == before == edited.read_bytes()  # recorded as it is, file untouched
    again = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    assert again.exit_code == 0 and "holds the active version v2, nothing to record" in again.output
    history = runner.invoke(app, ["skills", "history", NAME])
    assert "hand edit recorded" in history.output and "edited by hand since" not in history.output


def test_recording_a_file_that_does_not_load_names_its_problem(memory, settings, edited) -> None:
    edited.write_text(edited.read_text(encoding="utf-8").replace("pattern: rca", "pattern: rcaa"), encoding="utf-8")
    result = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "does not load" in said and f"{edited}:" in said and "pattern" in said, said
    assert memory.skill_versions(NAME) == []


def test_refine_by_instruction_fixing_no_corrected_case_points_to_record(memory, settings, monkeypatch) -> None:
    """An author's instruction has no correction to fix: the gate always refused it and said nothing else to do."""
    _scripted(monkeypatch, right_before=False, right_after=False)
    result = runner.invoke(app, ["skills", "refine", NAME, "-i", "add metric memory_usage_bytes", "--yes"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "rejected: no corrected case" in said, said
    assert f"run `bianque skills record {NAME}`" in said
    assert f"`bianque skills show {NAME} > {settings.resolved_user_skills_dir / (NAME + '.yaml')}`" in said


def test_a_skill_written_from_scratch_is_recorded_as_its_first_version(memory, settings) -> None:
    text = (settings.skills_dirs[0] / "disk-full-rca.yaml").read_text(encoding="utf-8")
    path = settings.resolved_user_skills_dir / "team" / "my-disk-rca.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace("name: disk-full-rca", "name: my-disk-rca"), encoding="utf-8")
    result = runner.invoke(app, ["skills", "record", "my-disk-rca", "--yes"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0 and "no earlier text of this Skill is known" in said, said
    [version] = memory.skill_versions("my-disk-rca")
    assert (version.version, version.active, version.reason) == (1, True, "hand edit recorded")
    assert version.yaml_text == path.read_text(encoding="utf-8")


def test_a_refused_edit_says_the_file_still_holds_it_in_use_and_how_to_put_the_text_it_replaced_back(
        memory, settings, edited, tmp_path, monkeypatch) -> None:
    """Refused, nothing is recorded, but the edited file is still the Skill every investigation and schedule runs."""
    _confirmed_case(memory, tmp_path)
    _scripted(monkeypatch, right_before=True, right_after=False)
    refused = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert f"nothing recorded, but {edited} still holds the edit, and it is the {NAME} in use now" in said
    assert f"or remove it to use {settings.skills_dirs[0] / (NAME + '.yaml')}" in said
    _scripted(monkeypatch, right_before=False, right_after=True)
    assert runner.invoke(app, ["skills", "record", NAME, "--yes"]).exit_code == 0  # v2, with the memory signal
    edited.write_text(edited.read_text(encoding="utf-8").replace("id: memory\n", "id: mem\n"), encoding="utf-8")
    monkeypatch.setattr("agent.evolve.workbench.investigate_runner", lambda *_a, **_k: lambda case, library, skill: (
        rca_verdict("ranking", "memory_leak") if "memory" in {m.id for m in library.get(skill).skill.data.metrics}
        else rca_verdict("ranking", "slow_dependency")))
    again = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    said = " ".join(again.output.split())
    assert again.exit_code == 1, again.output
    assert f"or `bianque skills rollback {NAME} 2` writes the active v2 back to it" in said


def test_an_unedited_copy_of_a_built_in_skill_has_nothing_to_record(memory, settings) -> None:
    """`skills show NAME > $BIANQUE_HOME/skills/NAME.yaml` then `record` before editing: no version, no v2 said."""
    built_in = settings.skills_dirs[0] / f"{NAME}.yaml"
    copy = settings.resolved_user_skills_dir / f"{NAME}.yaml"
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(built_in.read_bytes())
    result = runner.invoke(app, ["skills", "record", NAME, "--yes"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert f"{copy} holds the text of the file it overrides, {built_in}, nothing to record" in said
    assert "as v2" not in said and memory.skill_versions(NAME) == []
