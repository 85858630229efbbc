"""Template substitution and PromQL escaping: a Skill or an event can never inject PromQL."""

from __future__ import annotations

import fnmatch
import re

import pytest

from agent.skills.templates import (
    KNOWN_VARIABLES,
    TemplateError,
    check_template,
    render,
    render_matchers,
    render_promql,
    template_fields,
    unknown_variables,
    variables_in,
)
from agent.sources.promql import selector


def test_render_substitutes_known_variables_and_blanks_missing_ones():
    rendered = render("{service} alert {alertname}", {"service": "ranking", "alertname": None})
    assert rendered == "ranking alert "


def test_render_keeps_promql_braces_and_prose_literal():
    text = 'rate(x{job="a"}[5m]) and { not a var } {}'
    assert render(text, {"service": "s"}) == text


def test_unknown_variable_is_an_error_naming_it():
    assert unknown_variables("{service} {pod} {zone}") == ["pod", "zone"]
    with pytest.raises(TemplateError, match=r"unknown template variable \{pod\}"):
        render("{pod}", {"pod": "x"})
    with pytest.raises(TemplateError, match="known: alertname"):
        check_template("{Service}")


def test_variables_in_lists_each_once_in_order():
    assert variables_in("{service}-{version}-{service}") == ["service", "version"]
    assert "canary_version" in KNOWN_VARIABLES and len(KNOWN_VARIABLES) == 10


INJECTIONS = [
    'x"} or vector(1) #',
    'x"}[5m]) or up{job="',
    "x\\",
    'x\\"} or vector(1)',
    "x\n} or vector(1)",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_render_promql_keeps_injected_values_inside_the_string(evil):
    query = 'sum(rate(http_requests_total{service="{service}", code=~"5.."}[5m]))'
    rendered = render_promql(query, {"service": evil})
    # Parse the double-quoted string back: it must decode to exactly the evil value.
    string = r'"((?:[^"\\]|\\.)*)"'
    expected = r"sum\(rate\(http_requests_total\{service=" + string + r', code=~"5\.\."\}\[5m\]\)\)'
    match = re.fullmatch(expected, rendered)
    assert match is not None, rendered
    decoded = match.group(1).encode().decode("unicode_escape")
    assert decoded == evil


def test_render_promql_regex_escapes_values_in_regex_matchers():
    query = 'up{version=~"{version}.*", service!~"{service}"}'
    rendered = render_promql(query, {"version": "v1.2+b", "service": "a|b"})
    assert rendered == 'up{version=~"v1\\\\.2\\\\+b.*", service!~"a\\\\|b"}'


@pytest.mark.parametrize(
    "query",
    [
        "up{service={service}}",
        "up{service='{service}'}",
        "up{service=`{service}`}",
        "sum by ({service}) (up)",
    ],
)
def test_render_promql_refuses_placeholders_outside_double_quotes(query):
    with pytest.raises(TemplateError, match="double-quoted"):
        render_promql(query, {"service": "x"})


def test_render_promql_ignores_braces_inside_strings_and_rejects_unterminated_ones():
    assert render_promql('up{msg="{ x } {}", a=~"b{2}"}', {}) == 'up{msg="{ x } {}", a=~"b{2}"}'
    with pytest.raises(TemplateError, match="unterminated"):
        render_promql('up{service="{service}}', {"service": "x"})


def test_render_promql_rejects_unknown_variables_inside_strings():
    with pytest.raises(TemplateError, match="unknown template variable"):
        render_promql('up{pod="{pod}"}', {})


def test_render_matchers_escapes_globs_in_substituted_values_only():
    matchers = render_matchers({"service": "{service}", "pod": "{service}-*"}, {"service": "a*[b]?"})
    assert matchers == {"service": "a[*][[]b][?]", "pod": "a[*][[]b][?]-*"}
    assert fnmatch.fnmatchcase("a*[b]?", matchers["service"])
    assert not fnmatch.fnmatchcase("axx[b]y", matchers["service"])
    # and the PromQL form of the escaped glob matches only the literal value
    built = selector("up", {"service": matchers["service"]})
    regex = re.search(r'service=~"(.*)"', built).group(1).replace("\\\\", "\\")
    assert re.fullmatch(regex, "a*[b]?") and not re.fullmatch(regex, "axx[b]y")


def test_template_fields_lists_every_template_location():
    data = {
        "data": {
            "metrics": [{"labels": {"service": "{service}"}, "query": 'up{service="{service}"}'}],
            "logs": [{"services": ["{service}"], "patterns": ["{alertname}"]}],
            "changes": {"services": ["{service}", "cache"]},
        },
        "knowledge": {"query": "{summary}", "tags": ["{service}"]},
        "analysis": {"instructions": "look at {service}"},
    }
    locs = {loc: kind for loc, _, kind in template_fields(data)}
    assert locs == {
        ("data", "metrics", 0, "labels", "service"): "matcher",
        ("data", "metrics", 0, "query"): "promql",
        ("data", "logs", 0, "services", 0): "text",
        ("data", "logs", 0, "patterns", 0): "text",
        ("data", "changes", "services", 0): "text",
        ("data", "changes", "services", 1): "text",
        ("knowledge", "query"): "text",
        ("knowledge", "tags", 0): "text",
        ("analysis", "instructions"): "text",
    }
    assert list(template_fields({"data": "not a mapping", "knowledge": [1]})) == []
