"""YAML from outside is bounded: an alias bomb or a deep nest is refused with the reason, never parsed."""

from __future__ import annotations

import pytest

from agent.bundles.reader import read_bundle
from agent.inputs import InputError, events_from_alert_file
from agent.skills.loader import check_skill_text
from agent.yaml_limits import MAX_DEPTH, YAMLLimitError, check_yaml_bounds


def alias_bomb(levels: int = 9) -> str:
    """~400 bytes that expand to 9**levels nodes ("billion laughs")."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_the_bounds_refuse_a_bomb_and_a_deep_nest_but_not_ordinary_yaml():
    assert len(alias_bomb()) < 1024
    with pytest.raises(YAMLLimitError, match="nodes once its aliases are resolved"):
        check_yaml_bounds(alias_bomb())
    with pytest.raises(YAMLLimitError, match=f"deeper than {MAX_DEPTH}"):
        check_yaml_bounds("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    check_yaml_bounds("shared: &s {x: 1}\nuse: [*s, *s]\n")  # aliases themselves are fine
    check_yaml_bounds("a: [unclosed")  # syntax errors are left to the parser, which names the line


def test_a_skill_file_with_a_bomb_is_an_error_naming_the_file():
    skill, raw, errors = check_skill_text(alias_bomb(), "skills/bomb.yaml")
    assert skill is None and raw is None
    assert [e.file for e in errors] == ["skills/bomb.yaml"] and "aliases" in errors[0].message


def test_an_event_yaml_with_a_bomb_is_an_invalid_bundle(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "event.yaml").write_text("pattern: rca\ntime: 2026-03-02T10:00:00Z\n" + alias_bomb())
    bundle, errors = read_bundle(case)
    assert bundle is None and any("aliases" in str(e) and "event.yaml" in str(e) for e in errors)


def test_an_alert_file_with_a_bomb_is_refused(tmp_path):
    path = tmp_path / "alert.yaml"
    path.write_text("labels: {alertname: A}\n" + alias_bomb())
    with pytest.raises(InputError, match="alert.yaml: YAML expands"):
        events_from_alert_file(path, 0.0)


def test_deep_flow_nesting_is_refused_from_its_first_brackets_and_quoted_brackets_are_text():
    from agent.yaml_limits import YAMLLimitError, check_yaml_bounds

    with pytest.raises(YAMLLimitError, match="nested deeper than 64 levels"):
        check_yaml_bounds("a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    check_yaml_bounds('a: "' + "[" * 500 + '"\nb: [[1], {c: [2]}]\n')  # brackets in a string nest nothing
