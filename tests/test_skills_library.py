"""The Skill library: per-file validation, duplicates, overrides, generics, and the shipped Skills."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT, get_settings
from agent.events import Pattern
from agent.findings import FindingKind
from agent.sim.system import METRICS, SERVICES
from agent.skills.library import load_default_library, load_library
from agent.skills.schema import Compare

FIXTURES = Path(__file__).parent / "fixtures" / "skills"
SHIPPED = PROJECT_ROOT / "skills"
SIM_SERVICES = set(SERVICES)
SIM_METRICS = set(METRICS)
FAULTS = {
    "slow_dependency",
    "cache_failure",
    "memory_leak",
    "disk_full",
    "traffic_spike",
    "bad_release",
    "bad_config",
}


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch):
    monkeypatch.chdir(FIXTURES)


def test_bad_file_is_listed_and_the_rest_still_load():
    library = load_library([Path("override/base"), Path("override/user")])
    assert sorted(library.skills) == ["only-base", "shared"]
    assert [str(e) for e in library.errors] == [
        "override/user/broken.yaml:5: decision.default: outcome 'maybe' does not fit pattern rca; "
        "use one of attention, no_attention"
    ]
    assert list(library.failed_files()) == ["override/user/broken.yaml"]


def test_later_directory_overrides_by_name_and_records_it():
    library = load_library([Path("override/base"), Path("override/user")])
    shared = library.get("shared")
    assert shared is not None and shared.skill.version == 2
    assert shared.path == Path("override/user/shared.yaml")
    assert shared.overrides == Path("override/base/shared.yaml")
    assert [(o.name, o.path.name, o.replaced.parent.name) for o in library.overrides] == [
        ("shared", "shared.yaml", "base")
    ]
    assert library.get("only-base").overrides is None
    reversed_order = load_library([Path("override/user"), Path("override/base")])
    assert reversed_order.get("shared").skill.version == 1


@pytest.mark.parametrize("typo", ["version: [2", "version: two"])  # a syntax error, a field that does not validate
def test_a_file_that_does_not_load_is_the_skills_its_name_line_declares(tmp_path, typo):
    user = tmp_path / "user"
    user.mkdir()
    text = (FIXTURES / "override" / "user" / "shared.yaml").read_text()
    assert "version: 2" in text
    (user / "my copy.yaml").write_text(text.replace("version: 2", typo).replace("name: shared", "'name': shared  # x"))
    library = load_library([FIXTURES / "override" / "base", user])
    assert library.get("shared").skill.version == 1  # the base Skill stands in
    assert library.stand_in("shared").startswith("Skill 'shared' was read from ")
    assert "my copy.yaml:" in library.stand_in("shared")
    assert library.not_loaded("only-base") == "" and library.stand_in("only-base") is None
    without_base = load_library([user])
    assert without_base.not_loaded("shared").startswith(" (its file did not load: ")


def test_duplicate_names_in_one_directory_name_both_files():
    library = load_library([Path("duplicates")])
    assert [str(e) for e in library.errors] == [
        "duplicates/second.yaml:2: name: duplicate Skill name 'same-name': "
        "also defined in duplicates/first.yaml"
    ]
    assert library.get("same-name").path == Path("duplicates/first.yaml")
    assert library.overrides == []


def _copy_named(source: Path, target: Path, name: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source.read_text().replace("name: minimal-rca", f"name: {name}"))


def test_skills_in_subfolders_load_and_hidden_folders_never_do(tmp_path):
    minimal = FIXTURES / "valid" / "minimal-rca.yaml"
    _copy_named(minimal, tmp_path / "trainticket" / "order-rca.yaml", "order-rca")
    _copy_named(minimal, tmp_path / "shop" / "deep" / "cart-rca.yml", "cart-rca")
    _copy_named(minimal, tmp_path / ".replaced" / "kept-rca.yaml", "kept-rca")  # a copy set aside: never loads
    _copy_named(minimal, tmp_path / ".git" / "x.yaml", "git-rca")
    library = load_library([tmp_path])
    assert sorted(library.skills) == ["cart-rca", "order-rca"] and library.errors == []
    assert library.get("order-rca").path == tmp_path / "trainticket" / "order-rca.yaml"


def test_a_user_directory_inside_a_skill_directory_loads_each_of_its_files_once(tmp_path):
    """Subfolders load, so a user Skill directory kept inside a ``skills_dirs`` folder had each file read twice: an
    error said twice, a Skill "overriding" itself, and a user override of an outer Skill a duplicate error."""
    minimal = FIXTURES / "valid" / "minimal-rca.yaml"
    shared, user = tmp_path / "skills", tmp_path / "skills" / "mine"
    _copy_named(minimal, shared / "order-rca.yaml", "order-rca")
    _copy_named(minimal, user / "order.yaml", "order-rca")  # the user's override of the outer one
    _copy_named(minimal, user / "team" / "cart-rca.yaml", "cart-rca")
    (user / "broken.yaml").write_text("name: broken-rca\npattern: rca\nwindow: {lookback: soon}\n")
    library = load_library([shared, user])
    assert library.get("order-rca").path == user / "order.yaml"
    assert [(o.name, o.path, o.replaced) for o in library.overrides] == [
        ("order-rca", user / "order.yaml", shared / "order-rca.yaml")]
    assert library.get("cart-rca").path == user / "team" / "cart-rca.yaml"
    assert len(library.failed_files()) == 1 and {Path(e.file).name for e in library.errors} == {"broken.yaml"}
    assert len(library.errors) == len(load_library([user]).errors)  # as many as the user directory alone has
    _copy_named(minimal, tmp_path / "other" / "order-rca.yaml", "order-rca")
    twice = load_library([tmp_path / "other"] * 2)  # one directory listed twice: loaded once, not overriding itself
    assert twice.overrides == [] and twice.errors == [] and twice.get("order-rca").path.parent.name == "other"


def test_a_name_defined_in_two_folders_of_one_directory_is_a_duplicate(tmp_path):
    minimal = FIXTURES / "valid" / "minimal-rca.yaml"
    _copy_named(minimal, tmp_path / "b-team" / "order-rca.yaml", "order-rca")
    _copy_named(minimal, tmp_path / "a-team" / "order.yaml", "order-rca")  # first by path: it loads
    library = load_library([tmp_path])
    assert library.get("order-rca").path == tmp_path / "a-team" / "order.yaml"
    assert [str(e) for e in library.errors] == [
        f"{tmp_path / 'b-team' / 'order-rca.yaml'}:2: name: duplicate Skill name 'order-rca': "
        f"also defined in {tmp_path / 'a-team' / 'order.yaml'}"
    ]


def test_missing_directories_are_skipped(tmp_path):
    library = load_library([tmp_path / "nope", Path("valid")])
    assert list(library.skills) == ["minimal-rca"] and library.errors == []


def test_second_generic_for_a_pattern_is_rejected(tmp_path):
    for name in ("generic-a", "generic-b"):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: {name}\ndescription: a generic fallback\npattern: rca\ngeneric: true\n"
            "decision:\n  default: attention\n"
        )
    library = load_library([tmp_path])
    assert library.generic(Pattern.RCA).name == "generic-a"
    assert len(library.errors) == 1
    assert str(library.errors[0]).endswith(
        "generic-b.yaml:4: generic: a generic Skill for pattern rca already exists: generic-a "
        f"({tmp_path / 'generic-a.yaml'}); override it by using the same name"
    )


def test_default_library_uses_settings_dirs_then_user_dir(bianque_home, monkeypatch):
    user_dir = bianque_home / "skills"
    user_dir.mkdir(parents=True)
    shutil.copy(FIXTURES / "valid" / "minimal-rca.yaml", user_dir / "minimal-rca.yaml")
    (user_dir / "generic-rca.yaml").write_text(
        "name: generic-rca\nversion: 9\ndescription: my own fallback\npattern: rca\ngeneric: true\n"
        "decision:\n  default: attention\n"
    )
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", f'["{SHIPPED}"]')
    get_settings.cache_clear()
    library = load_default_library()
    assert library.dirs == [SHIPPED, user_dir]
    assert library.get("minimal-rca") is not None
    assert library.generic("rca").skill.version == 9
    assert library.get("generic-rca").overrides == SHIPPED / "generic-rca.yaml"
    assert library.errors == []


# --- the shipped library ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_library([SHIPPED])


def test_every_shipped_skill_loads(shipped):
    assert shipped.errors == []
    files = sorted(p.name for p in SHIPPED.glob("*.yaml"))
    assert sorted(s.path.name for s in shipped.skills.values()) == files
    for loaded in shipped.skills.values():
        assert loaded.path.stem == loaded.name, "file name = Skill name"


def test_shipped_library_covers_every_pattern_with_one_generic_each(shipped):
    specific = [s for s in shipped.skills.values() if not s.skill.generic]
    assert len(specific) >= 12
    for pattern in Pattern:
        assert len(shipped.for_pattern(pattern)) >= 3, pattern
        generic = shipped.generic(pattern)
        assert generic is not None and generic.name == f"generic-{pattern.value.split('_')[0]}"
    assert sorted(s.name for s in shipped.skills.values() if s.skill.generic) == [
        "generic-inspection",
        "generic-rca",
        "generic-release",
    ]


def test_specific_skills_target_the_simulated_system(shipped):
    covered: set[str] = set()
    for loaded in shipped.skills.values():
        skill = loaded.skill
        if skill.generic:
            continue
        assert set(skill.scope.services) <= SIM_SERVICES, skill.name
        covered |= set(skill.scope.services)
        assert {m.name for m in skill.data.metrics} <= SIM_METRICS, skill.name
        assert len(skill.analysis.instructions) > 200 and skill.decision.rules, skill.name
        assert skill.knowledge.tags, skill.name
        if skill.pattern == Pattern.INSPECTION:
            assert skill.schedule, skill.name
    assert covered == SIM_SERVICES
    tags = {t for s in shipped.skills.values() for t in s.skill.knowledge.tags}
    assert FAULTS | {"release-policy", "slo", "escalation"} <= tags


def test_generic_skills_use_globs_and_dependencies_only(shipped):
    for pattern in Pattern:
        skill = shipped.generic(pattern).skill
        assert skill.scope.services == ["*"]
        names = {m.name for m in skill.data.metrics}
        assert all("*" in n for n in names) and not names & SIM_METRICS
        assert {"*[Ll]atency*", "*[Ee]rror*", "*[Cc][Pp][Uu]*", "*[Mm]emory*", "*success*"} <= names
        assert skill.data.dependencies.depth >= 1 or pattern == Pattern.INSPECTION
    assert any(m.dependencies for m in shipped.generic(Pattern.RCA).skill.data.metrics)


def test_inspections_judge_trends_and_rules_use_real_finding_kinds(shipped):
    memory = shipped.get("memory-leak-inspection").skill
    assert memory.data.metrics[0].compare == Compare.TREND
    kinds = {k for s in shipped.skills.values() for r in s.skill.decision.rules for k in r.when.kind}
    assert kinds <= set(FindingKind) and FindingKind.TREND in kinds


def test_the_default_library_reloads_only_when_a_skill_file_changes(tmp_path, monkeypatch):
    import shutil

    from agent.config import PROJECT_ROOT, get_settings
    from agent.skills.library import load_default_library

    skills = tmp_path / "skills"
    skills.mkdir()
    shutil.copy(PROJECT_ROOT / "skills" / "generic-rca.yaml", skills / "generic-rca.yaml")
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", f'["{skills}"]')
    get_settings.cache_clear()
    first, second = load_default_library(), load_default_library()
    assert first.get("generic-rca") is second.get("generic-rca")  # not parsed again
    assert first is not second and first.skills is not second.skills  # each caller has its own containers
    path = skills / "generic-rca.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2", 1))
    changed = load_default_library()
    assert changed.get("generic-rca") is not first.get("generic-rca")
    assert changed.get("generic-rca").skill.version == 2
