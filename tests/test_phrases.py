"""Our own advice's code spans: found in text, their pattern compiled once per set of commands."""

from __future__ import annotations

import re

import pytest

from agent import phrases


def test_own_code_split_compiles_its_pattern_once_per_set_of_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"see {phrases.CATALOG}, then {phrases.VALIDATE_AGAINST_BUNDLE}"
    first = phrases.own_code_split(text)
    compiled: list[str] = []
    real = re.compile

    def spy(pattern: str, *args: object) -> re.Pattern[str]:
        if isinstance(pattern, str) and pattern.startswith("`(?:"):
            compiled.append(pattern)
        return real(pattern, *args)

    monkeypatch.setattr(phrases.re, "compile", spy)
    assert phrases.own_code_split(text) == phrases.own_code_split(text) == first
    assert compiled == []
    assert first == [("see ", False), (phrases.CATALOG, True), (", then ", False),
                     (phrases.VALIDATE_AGAINST_BUNDLE, True)]


def test_a_command_declared_later_is_found_by_the_next_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phrases, "OWN_COMMANDS", set(phrases.OWN_COMMANDS))
    text = "run `bianque phrases-test-only` or `bianque catalog`"
    assert phrases.own_code_split(text)[0] == ("run `bianque phrases-test-only` or ", False)
    phrases.command("bianque phrases-test-only")
    assert phrases.own_code_split(text) == [("run ", False), ("`bianque phrases-test-only`", True), (" or ", False),
                                            ("`bianque catalog`", True)]
