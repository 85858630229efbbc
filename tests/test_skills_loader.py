"""Loading one Skill file: exact file:line: field messages, text loading, round-trip edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.skills.loader import (
    SkillError,
    SkillLoadError,
    dump_skill_yaml,
    format_field,
    load_skill,
    load_skill_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "skills"


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch):
    monkeypatch.chdir(FIXTURES)


def _errors(path: str) -> list[str]:
    with pytest.raises(SkillLoadError) as info:
        load_skill(Path(path))
    return [str(e) for e in info.value.errors]


def _text_errors(text: str, name: str) -> list[str]:
    """What loading ``text`` (shown as ``name``) is refused with, one line per problem."""
    with pytest.raises(SkillLoadError) as info:
        load_skill_text(text, name)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "broken/wrong_enum.yaml",
            [
                "broken/wrong_enum.yaml:10: data.metrics[1].compare: "
                "must be one of baseline, history, threshold, trend"
            ],
        ),
        (
            "broken/missing_field.yaml",
            [
                "broken/missing_field.yaml:1: decision: required field is missing",
                "broken/missing_field.yaml:6: data.metrics[0].name: required field is missing",
            ],
        ),
        (
            "broken/unknown_key.yaml",
            [
                "broken/unknown_key.yaml:6: knowledge.topk: unknown field; did you mean 'top_k'? "
                "(allowed: collections, tags, query, top_k)"
            ],
        ),
        (
            "broken/bad_cron.yaml",
            [
                "broken/bad_cron.yaml:4: schedule: "
                "not a valid cron expression: expected 5 fields (minute hour day month weekday), got 3"
            ],
        ),
        (
            "broken/bad_template.yaml",
            [
                "broken/bad_template.yaml:10: data.metrics[0].labels.pod: "
                "unknown template variable {pod_name}; known: alertname, baseline_version, business, "
                "canary_version, change_id, namespace, question, service, summary, version"
            ],
        ),
        (
            "broken/syntax_error.yaml",
            ["broken/syntax_error.yaml:6: YAML syntax error: expected the node content, but found '-'"],
        ),
        (
            "broken/unknown_signal.yaml",
            [
                "broken/unknown_signal.yaml:10: decision.rules[0].if.signals[1]: "
                "unknown signal 'latency'; known signal ids: errors"
            ],
        ),
        (
            "broken/not_mapping.yaml",
            [
                "broken/not_mapping.yaml:1: "
                "not a mapping: a Skill file must be a YAML mapping of fields, not a list"
            ],
        ),
    ],
)
def test_broken_fixture_messages(fixture, expected):
    assert _errors(fixture) == expected


def test_skill_error_str_formats():
    assert str(SkillError("a.yaml", 3, "data.metrics[0].id", "bad")) == "a.yaml:3: data.metrics[0].id: bad"
    assert str(SkillError("a.yaml", 2, "", "YAML syntax error: x")) == "a.yaml:2: YAML syntax error: x"
    assert str(SkillError("a.yaml", None, "", "cannot read")) == "a.yaml: cannot read"
    assert format_field(("decision", "rules", 0, "if", "signals", 1)) == "decision.rules[0].if.signals[1]"


def test_every_problem_is_reported_at_once_with_exact_locations():
    text = """\
name: many-problems
description: A Skill with several problems at once
pattern: rca
schedule: "*/5 * * * *"
data:
  metrics:
    - id: cpu
      name: cpu_usage_ratio
      compare: threshold
    - id: cpu
      name: "bad\tname"
decision:
  rules:
    - if: {signals: nope}
      then: block
  default: attention
"""
    assert _text_errors(text, "llm-output") == [
        "llm-output:4: schedule: only inspection Skills have a schedule (this one is rca)",
        "llm-output:7: data.metrics[0].threshold: required when compare is threshold",
        "llm-output:10: data.metrics[1].id: duplicate signal id 'cpu' (also data.metrics[0].id)",
        "llm-output:11: data.metrics[1].name: must be a metric name or a glob of one: "
        "contains the control character U+0009 ('bad\\tname'); names may be any other text",
        "llm-output:14: decision.rules[0].if.signals: unknown signal 'nope'; known signal ids: cpu",
        "llm-output:15: decision.rules[0].then: "
        "outcome 'block' does not fit pattern rca; use one of attention, no_attention",
    ]


def test_bad_values_elsewhere_map_to_their_lines():
    text = """\
name: Bad_Name
description: short
pattern: rca
window: {lookback: soon}
data:
  logs:
    - id: l
      levels: [ERROR, LOUD]
      limit: 0
  metrics:
    - id: m
      name: x
      query: 'up{service={service}}'
decision:
  default: no_attention
"""
    assert _text_errors(text, "t.yaml") == [
        "t.yaml:1: name: must be lower-case letters, digits, '-' or '_', starting with a letter",
        "t.yaml:2: description: string should have at least 10 characters",
        "t.yaml:4: window.lookback: not a duration (use e.g. 30s, 15m, 2h, 1d, 1h30m, 90 minutes, ISO 8601 PT2H or "
        "02:00:00): 'soon'",
        "t.yaml:8: data.logs[0].levels[1]: must be one of DEBUG, INFO, WARN, ERROR, FATAL",
        "t.yaml:9: data.logs[0].limit: input should be greater than or equal to 1",
        "t.yaml:13: data.metrics[0].query: template variable {service} is outside a string; put it in a "
        'double-quoted label value, e.g. service="{service}"',
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "t.yaml:1: file is empty; a Skill is a YAML mapping of fields"),
        ("just text", "t.yaml:1: not a mapping: a Skill file must be a YAML mapping of fields, not a str"),
        ("name: a\nname: b\n", 't.yaml:2: YAML syntax error: found duplicate key "name" with value "b"'),
        (
            "name: a\ndescription: \x07\n",
            "t.yaml:2: YAML syntax error: unacceptable character #x0007: special characters are not allowed",
        ),
    ],
)
def test_text_that_is_not_a_skill_mapping(text, message):
    with pytest.raises(SkillLoadError) as info:
        load_skill_text(text, "t.yaml")
    assert str(info.value.errors[0]).startswith(message)


INDENTED = "name: a\ndata:\n  metrics:\n    - id: p99\n      name: x\n{bad}\n"


@pytest.mark.parametrize(("bad", "message"), [
    ("     compare: baseline", "t.yaml:6: YAML syntax error: expected <block end>, but found '<block mapping start>'; "
     "check the indentation: this line is indented differently from the lines of its block, begun at line 4"),
    ("\tcompare: baseline", "t.yaml:6: YAML syntax error: found character '\\t' that cannot start any token; "
     "indent with spaces: YAML does not allow tabs there"),
    ("      direction: up: down", "t.yaml:6: YAML syntax error: mapping values are not allowed here; check the "
     "indentation of this line and the one before it, or quote a value that holds ': '"),
])
def test_a_syntax_error_of_indentation_says_to_check_it(bad, message):
    assert _text_errors(INDENTED.format(bad=bad), "t.yaml") == [message]


@pytest.mark.parametrize(("text", "hint"), [
    ("name: a\ndescription:\tfoo\n", "put a space after the ':', not a tab"),
    ("name: a\r\ntriggers:\r\n  alerts: \t[a]\r\n", "put a space after the ':', not a tab"),
    ("name: a\ntags:\n  -\tdisk\n", "put a space after the '-', not a tab"),
    ("name: a\nversion: 1\t# first\n", "put spaces between the parts of this line, not a tab"),
])
def test_a_tab_that_is_not_indentation_is_not_called_indentation(text, hint):
    """A tab after ``key:`` had been answered "indent with spaces", though the line's indentation was right."""
    [error] = _text_errors(text, "t.yaml")
    assert error.endswith(f"found character '\\t' that cannot start any token; {hint}: YAML does not allow a tab "
                          "there") and "indent" not in error


def test_load_valid_skill_keeps_raw_and_round_trips_comments():
    loaded = load_skill(Path("valid/minimal-rca.yaml"))
    assert loaded.skill.name == "minimal-rca"
    assert loaded.source == "valid/minimal-rca.yaml"
    assert loaded.skill.data.metrics[0].labels == {"service": "{service}"}
    original = Path("valid/minimal-rca.yaml").read_text()
    assert dump_skill_yaml(loaded.raw) == original
    loaded.raw["data"]["metrics"][0]["min_effect"] = 0.3
    edited = dump_skill_yaml(loaded.raw)
    assert "# keep this comment" in edited and "# A small but complete Skill" in edited
    assert "      min_effect: 0.3\n" in edited
    assert load_skill_text(edited, "edited").skill.data.metrics[0].min_effect == 0.3


def test_load_skill_of_missing_file_names_it(tmp_path):
    with pytest.raises(SkillLoadError, match="cannot read file"):
        load_skill(tmp_path / "absent.yaml")


def test_a_window_of_no_length_is_refused_at_its_line():
    """``lookback: 0`` loaded, and the Skill's scheduled inspection then failed on a scope window of 0; a step of
    0 asks for samples no time apart."""
    text = """\
name: zero_window
description: a Skill whose window has no length
pattern: inspection
window: {lookback: 0s, step: 0}
decision:
  default: info
"""
    assert _text_errors(text, "z.yaml") == [
        "z.yaml:4: window.lookback: input should be greater than 0",
        "z.yaml:4: window.step: input should be greater than 0",
    ]


MIN_EFFECT = """\
name: min_effect
description: a Skill asking a fall beyond all of its reference
pattern: rca
data:
  metrics:
    - id: success
      name: success_ratio
      direction: down
      compare: {compare}
      min_effect: {value}
decision:
  default: no_attention
"""


@pytest.mark.parametrize("compare", ["baseline", "history"])
def test_a_fall_larger_than_the_reference_is_refused_at_min_effect(compare):
    """``min_effect: 25`` meant as 25 %: a fall is at most 100 % of its reference, so the signal never fired."""
    assert _text_errors(MIN_EFFECT.format(compare=compare, value=25), "m.yaml") == [
        "m.yaml:10: data.metrics[0].min_effect: 25 (2500 %) can never be reached by a fall (direction: down), which "
        "is at most all of the reference (1, a fall to zero); min_effect is a fraction: 0.25 = 25 %"]


@pytest.mark.parametrize(("compare", "value"), [("baseline", 1), ("baseline", 0.25), ("trend", 25)])
def test_a_fall_the_reference_allows_loads(compare, value):
    """A fall to zero (1), and a trend's growth over a day, which may project past zero, can be reached."""
    assert load_skill_text(MIN_EFFECT.format(compare=compare, value=value), "m.yaml").skill.data.metrics[0]
