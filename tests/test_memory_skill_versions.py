"""Skill versions: content dedupe, ordering, activation and pinned numbers."""

from __future__ import annotations

import pytest

from agent.memory import InvalidInputError, Memory, SkillVersionNotFoundError
from agent.memory.skill_versions import text_sha256


def yaml_v(n: int, name: str = "rca-latency") -> str:
    return f"name: {name}\nversion: {n}\n# comment kept\n"


def test_versions_are_numbered_in_order_and_the_newest_is_active(memory: Memory) -> None:
    saved = [memory.save_skill_version("rca-latency", yaml_v(n), f"step {n}", "alice") for n in (1, 2, 3)]
    assert [s.version for s in saved] == [1, 2, 3] and all(s.created for s in saved)
    listed = memory.skill_versions("rca-latency")
    assert [(v.version, v.active, v.reason) for v in listed] == [
        (1, False, "step 1"),
        (2, False, "step 2"),
        (3, True, "step 3"),
    ]
    assert listed[0].yaml_text == yaml_v(1) and listed[0].sha256 == text_sha256(yaml_v(1))
    assert memory.active_skill_version("rca-latency").version == 3


def test_same_text_creates_no_new_version(memory: Memory) -> None:
    first = memory.save_skill_version("rca-latency", yaml_v(1), "initial")
    memory.save_skill_version("rca-latency", yaml_v(2), "refined")
    again = memory.save_skill_version("rca-latency", yaml_v(1).replace("\n", "\r\n"), "same text, CRLF")
    assert (again.version, again.created, again.reason) == (1, False, "initial")
    assert [v.version for v in memory.skill_versions("rca-latency")] == [1, 2]
    assert again.active and first.created  # saving a known text makes it the active one


def test_same_text_under_another_name_is_a_separate_skill(memory: Memory) -> None:
    memory.save_skill_version("a-skill", "x: 1\n", "initial")
    other = memory.save_skill_version("b-skill", "x: 1\n", "initial")
    assert (other.version, other.created) == (1, True)
    assert [s.name for s in memory.active_skill_versions()] == ["a-skill", "b-skill"]


def test_activate_rolls_back_and_keeps_one_active(memory: Memory) -> None:
    for n in (1, 2, 3):
        memory.save_skill_version("rca-latency", yaml_v(n), "step")
    memory.activate_skill_version("rca-latency", 2)
    assert [v.active for v in memory.skill_versions("rca-latency")] == [False, True, False]
    assert memory.get_skill_version("rca-latency").version == 2
    assert memory.get_skill_version("rca-latency", 3).yaml_text == yaml_v(3)


def test_save_without_activation(memory: Memory) -> None:
    memory.save_skill_version("rca-latency", yaml_v(1), "initial")
    proposal = memory.save_skill_version("rca-latency", yaml_v(2), "proposed", activate=False)
    assert not proposal.active
    assert memory.active_skill_version("rca-latency").version == 1


def test_get_without_version_falls_back_to_newest_when_none_active(memory: Memory) -> None:
    memory.save_skill_version("rca-latency", yaml_v(1), "a", activate=False)
    memory.save_skill_version("rca-latency", yaml_v(2), "b", activate=False)
    assert memory.active_skill_version("rca-latency") is None
    assert memory.get_skill_version("rca-latency").version == 2


def test_pinned_version_numbers(memory: Memory) -> None:
    assert memory.save_skill_version("rca-latency", yaml_v(5), "imported", version=5).version == 5
    assert memory.save_skill_version("rca-latency", yaml_v(6), "next").version == 6
    with pytest.raises(InvalidInputError, match="v5 is already stored with different text"):
        memory.save_skill_version("rca-latency", yaml_v(7), "clash", version=5)
    with pytest.raises(InvalidInputError, match="version: must be a positive integer"):
        memory.save_skill_version("rca-latency", yaml_v(8), "bad", version=0)


def test_unknown_versions_and_bad_input_are_clear_errors(memory: Memory) -> None:
    assert memory.skill_versions("nothing") == []
    with pytest.raises(SkillVersionNotFoundError, match="no stored Skill 'nothing'"):
        memory.get_skill_version("nothing")
    memory.save_skill_version("rca-latency", yaml_v(1), "initial")
    with pytest.raises(SkillVersionNotFoundError, match="version 9 of Skill 'rca-latency'"):
        memory.activate_skill_version("rca-latency", 9)
    with pytest.raises(InvalidInputError, match="name: 'Bad Name'"):
        memory.save_skill_version("Bad Name", yaml_v(1), "initial")
    with pytest.raises(InvalidInputError, match="yaml_text: empty"):
        memory.save_skill_version("rca-latency", "  \n", "initial")
