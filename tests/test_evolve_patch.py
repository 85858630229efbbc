"""Patching Skill YAML: comments and order kept, version bumped, result validated, diff reviewable."""

from __future__ import annotations

import pytest

from agent.config import PROJECT_ROOT
from agent.evolve.patch import Edit, PatchError, patch_skill
from agent.skills.loader import SkillLoadError

SKILL = """\
# Header comment: what this Skill is for.
name: demo-rca
description: A small Skill to test patching with comments.
pattern: rca
data:
  metrics:
    - id: latency
      name: request_latency_p99_seconds   # the alerting signal
  # the logs that matter
  logs:
    - id: errors
      levels: [ERROR]

# how to decide
decision:
  rules:
    - if: {signals: [latency], min_score: 0.5}
      then: attention
  default: no_attention
"""

MEMORY = {"id": "memory", "name": "memory_usage_bytes", "labels": {"service": "{service}"}, "compare": "trend"}


def test_patch_keeps_comments_and_order_and_bumps_version() -> None:
    patched = patch_skill(SKILL, [
        Edit("append", ("data", "metrics"), MEMORY),
        Edit("append", ("knowledge", "tags"), "memory_leak"),
        Edit("set", ("decision", "rules", 0, "if", "min_score"), 0.4),
    ])
    text = patched.text
    for comment in ("# Header comment", "# the alerting signal", "# the logs that matter", "# how to decide"):
        assert comment in text
    assert (patched.old_version, patched.new_version, patched.loaded.skill.version) == (1, 2, 2)
    assert text.index("name: demo-rca") < text.index("version: 2") < text.index("description:")
    # the new metric goes after the old one, before the comment that introduces logs
    assert text.index("- id: latency") < text.index("- id: memory") < text.index("# the logs that matter")
    assert 'labels: {service: "{service}"}' in text
    # a new section goes where the schema orders it: knowledge after data, before decision's comment
    assert text.index("  logs:") < text.index("knowledge:\n  tags: [memory_leak]") < text.index("# how to decide")
    assert patched.loaded.skill.decision.rules[0].when.min_score == 0.4


def test_diff_is_a_reviewable_unified_diff() -> None:
    patched = patch_skill(SKILL, [Edit("set", ("decision", "rules", 0, "if", "min_score"), 0.4)], version=7)
    lines = patched.diff.splitlines()
    assert lines[0] == "--- demo-rca current" and lines[1] == "+++ demo-rca v7"  # the text, whatever its version: says
    assert "+version: 7" in lines
    assert "-    - if: {signals: [latency], min_score: 0.5}" in lines
    assert "+    - if: {signals: [latency], min_score: 0.4}" in lines
    assert sum(1 for line in lines if line.startswith(("+", "-"))) == 2 + 1 + 2  # headers, version, rule


def test_patching_a_real_skill_keeps_every_comment() -> None:
    text = (PROJECT_ROOT / "skills" / "memory-pressure-rca.yaml").read_text(encoding="utf-8")
    patched = patch_skill(text, [Edit("set", ("data", "dependencies", "depth"), 1)])
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert all(c in patched.text for c in comments)
    assert "depth: 1            # memory is a property of the service itself" in patched.text


def test_an_edit_on_a_missing_path_is_refused() -> None:
    with pytest.raises(PatchError, match="no decision.rules.5"):
        patch_skill(SKILL, [Edit("set", ("decision", "rules", 5, "if", "min_score"), 0.4)])
    with pytest.raises(PatchError, match="is not a list"):
        patch_skill(SKILL, [Edit("append", ("description",), "x")])


def test_a_patch_that_breaks_the_schema_is_refused_with_the_location() -> None:
    rule = {"if": {"signals": ["nope"]}, "then": "attention"}
    with pytest.raises(SkillLoadError, match=r"decision\.rules\[0\]\.if\.signals\[0\]: unknown signal 'nope'"):
        patch_skill(SKILL, [Edit("insert", ("decision", "rules"), rule, index=0)])


def test_a_last_line_without_a_line_break_is_marked_not_glued_to_the_next():
    from agent.evolve.patch import unified_diff

    diff = unified_diff("a: 1\nb: 2", "a: 1\nb: 3", "demo-rca", "current", "v2")
    assert diff.splitlines()[-4:] == ["-b: 2", "\\ No newline at end of file", "+b: 3",
                                      "\\ No newline at end of file"]
