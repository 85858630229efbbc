"""Skill templates: a fixed set of ``{variables}``, and PromQL that an event can never inject into.

A placeholder is ``{`` + a variable name + ``}``; anything else (``{service="x"}`` in PromQL,
prose braces) is literal text. Only the variables in :data:`KNOWN_VARIABLES` exist: a Skill naming
another one fails validation. Values substituted into PromQL are escaped for the string literal
they land in (and regex-escaped inside ``=~``/``!~`` matchers), and a placeholder outside a
double-quoted string is refused, so a service called ``x"} or vector(1) #`` stays a label value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from agent.sources.promql import escape_re2, escape_string, is_glob

KNOWN_VARIABLES: frozenset[str] = frozenset(
    {
        "service",
        "namespace",
        "alertname",
        "business",
        "version",
        "change_id",
        "summary",
        "question",
        "canary_version",
        "baseline_version",
    }
)

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

TemplateKind = Literal["text", "promql", "matcher"]


class TemplateError(ValueError):
    """A template names an unknown variable or puts a variable where it could inject."""


def variables_in(template: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    names: list[str] = []
    for match in PLACEHOLDER.finditer(template):
        if match.group(1) not in names:
            names.append(match.group(1))
    return names


def unknown_variables(template: str) -> list[str]:
    """Variables a template uses that do not exist."""
    return [name for name in variables_in(template) if name not in KNOWN_VARIABLES]


def check_template(template: str, kind: TemplateKind = "text") -> None:
    """Raise :class:`TemplateError` if ``template`` could not be rendered safely."""
    unknown = unknown_variables(template)
    if unknown:
        known = ", ".join(sorted(KNOWN_VARIABLES))
        listed = ", ".join("{" + name + "}" for name in unknown)
        raise TemplateError(f"unknown template variable {listed}; known: {known}")
    if kind == "promql":
        render_promql(template, {})


def render(template: str, variables: Mapping[str, str | None]) -> str:
    """Substitute known variables as plain text; a missing value renders as ``""``."""
    check_template(template)
    return PLACEHOLDER.sub(lambda m: _value(variables, m.group(1)), template)


def _value(variables: Mapping[str, str | None], name: str) -> str:
    value = variables.get(name)
    return "" if value is None else str(value)


# --- PromQL -------------------------------------------------------------------------------


def escape_glob(value: str) -> str:
    """Make a substituted value match only itself when later read as a glob."""
    return "".join(f"[{ch}]" if is_glob(ch) else ch for ch in value)


def render_glob(template: str, variables: Mapping[str, str | None]) -> str:
    """Render a glob template (a service pattern, a label matcher); substituted values match literally."""
    return render(template, {name: escape_glob(_value(variables, name)) for name in KNOWN_VARIABLES})


def render_matchers(labels: Mapping[str, str], variables: Mapping[str, str | None]) -> dict[str, str]:
    """Render label-matcher templates; substituted values are glob-escaped so they match literally."""
    return {key: render_glob(value, variables) for key, value in labels.items()}


def render_promql(query: str, variables: Mapping[str, str | None]) -> str:
    """Render a raw PromQL template; every value is escaped for the string literal it lands in.

    Placeholders must sit inside double-quoted strings; inside a regex matcher (``=~``/``!~``)
    the value is regex-escaped too. Anything else raises :class:`TemplateError`.
    """
    unknown = unknown_variables(query)
    if unknown:
        check_template(query)
    out: list[str] = []
    for chunk, quote, regex in _promql_chunks(query):
        if quote == '"':
            out.append(PLACEHOLDER.sub(lambda m, rx=regex: _promql_value(variables, m.group(1), rx), chunk))
            continue
        found = PLACEHOLDER.search(chunk)
        if found:
            where = "outside a string" if quote is None else f"inside a {quote}-quoted string"
            raise TemplateError(
                f"template variable {found.group(0)} is {where}; put it in a double-quoted label value, "
                f'e.g. service="{found.group(0)}"'
            )
        out.append(chunk)
    return "".join(out)


def _promql_value(variables: Mapping[str, str | None], name: str, regex: bool) -> str:
    value = _value(variables, name)
    return escape_string(escape_re2(value) if regex else value)


def _promql_chunks(query: str) -> Iterator[tuple[str, str | None, bool]]:
    """Split PromQL into (text, quote char or None, is-regex-matcher) chunks; strings keep no quotes."""
    i, start = 0, 0
    while i < len(query):
        ch = query[i]
        if ch in "\"'`":
            yield query[start:i] + ch, None, False
            regex = bool(re.search(r"[=!]~\s*$", query[start:i]))
            j = i + 1
            while j < len(query) and query[j] != ch:
                j += 2 if query[j] == "\\" and ch != "`" else 1
            if j >= len(query):
                raise TemplateError(f"unterminated {ch}-quoted string in PromQL: {query[i:]!r}")
            yield query[i + 1 : j], ch, regex
            start, i = j, j + 1
            continue
        i += 1
    yield query[start:], None, False


# --- Skill fields holding templates ---------------------------------------------------------

Loc = tuple[str | int, ...]


def template_fields(data: Mapping[str, Any]) -> Iterator[tuple[Loc, str, TemplateKind]]:
    """Every template string of a Skill (raw YAML data or ``skill.model_dump(by_alias=True)``)."""
    spec = _mapping(data.get("data"))
    for i, metric in enumerate(_seq(spec.get("metrics"))):
        metric = _mapping(metric)
        for key, value in _mapping(metric.get("labels")).items():
            if isinstance(value, str):
                yield ("data", "metrics", i, "labels", key), value, "matcher"
        if isinstance(metric.get("query"), str):
            yield ("data", "metrics", i, "query"), metric["query"], "promql"
    for i, logs in enumerate(_seq(spec.get("logs"))):
        logs = _mapping(logs)
        for key in ("services", "patterns"):
            yield from _strings(logs.get(key), ("data", "logs", i, key))
    yield from _strings(_mapping(spec.get("changes")).get("services"), ("data", "changes", "services"))
    knowledge = _mapping(data.get("knowledge"))
    if isinstance(knowledge.get("query"), str):
        yield ("knowledge", "query"), knowledge["query"], "text"
    yield from _strings(knowledge.get("tags"), ("knowledge", "tags"))
    instructions = _mapping(data.get("analysis")).get("instructions")
    if isinstance(instructions, str):
        yield ("analysis", "instructions"), instructions, "text"


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str, TemplateKind]]:
    for j, item in enumerate(_seq(value)):
        if isinstance(item, str):
            yield (*loc, j), item, "text"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
