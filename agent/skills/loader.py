"""Load one Skill YAML file: round-trip parse, validate, and report every problem as file:line: field.

The raw :class:`CommentedMap` is kept next to the validated :class:`Skill` so later edits
(LLM refinement, a correction's patch) can be written back with comments and key order intact.
"""

from __future__ import annotations

import difflib
import io
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from agent.skills.schema import PATTERN_OUTCOMES, Compare, Direction, Skill, unreachable_fall
from agent.skills.templates import Loc, TemplateError, check_template, template_fields
from agent.yaml_limits import YAMLLimitError, check_yaml_bounds


@dataclass(frozen=True)
class SkillError:
    """One problem in one Skill file, pointing at a line and a dotted field path."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class SkillLoadError(ValueError):
    """A Skill file (or text) that did not load; ``errors`` lists every problem, ``declared_name`` the ``name`` the
    file says it defines when that could still be read (:func:`declared_name`), else None."""

    def __init__(self, errors: list[SkillError], declared_name: str | None = None) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors
        self.declared_name = declared_name

    def __reduce__(self) -> tuple[type, tuple[list[SkillError], str | None]]:
        """Rebuilt from its own arguments, so it crosses a process boundary."""
        return type(self), (self.errors, self.declared_name)


@dataclass
class LoadedSkill:
    """A validated Skill with where it came from and its raw round-trip YAML."""

    skill: Skill
    path: Path | None
    raw: CommentedMap
    overrides: Path | None = None

    @property
    def name(self) -> str:
        return self.skill.name

    @property
    def source(self) -> str:
        return display_path(self.path) if self.path else "<text>"


def new_yaml() -> YAML:
    """A round-trip YAML instance with the project's layout (2-space maps, indented lists)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap lines the author wrote
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def dump_skill_yaml(raw: CommentedMap) -> str:
    """Serialise raw Skill YAML, keeping its comments and key order."""
    buffer = io.StringIO()
    new_yaml().dump(raw, buffer)
    return buffer.getvalue()


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_skill(path: Path) -> LoadedSkill:
    """Load and validate one Skill file; raise :class:`SkillLoadError` listing every problem."""
    name = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillLoadError([SkillError(name, None, "", f"cannot read file: {exc}")]) from exc
    try:
        loaded = load_skill_text(text, name)
    except SkillLoadError as exc:
        raise SkillLoadError(exc.errors, declared_name(text)) from None
    loaded.path = path
    return loaded


NAME_LINE = re.compile(r"""^(?:name|"name"|'name')[ \t]*:.*$""", re.MULTILINE)
MAX_NAME_LINE = 500  # longer than any Skill name's line: not read


def declared_name(text: str) -> str | None:
    """The ``name`` a Skill text declares, read from its first top-level ``name:`` line alone, so that it is found
    even when the file does not load (a syntax error elsewhere, a field that does not validate); None when there is
    no such line or it holds no plain name."""
    match = NAME_LINE.search(text)
    if match is None or len(match.group(0)) > MAX_NAME_LINE:
        return None
    try:
        value = new_yaml().load(match.group(0))
    except YAMLError:
        return None
    name = value.get("name") if isinstance(value, Mapping) else None
    return name if isinstance(name, str) and name else None


def load_skill_text(text: str, name_for_errors: str) -> LoadedSkill:
    """Load and validate Skill YAML text (e.g. LLM output); errors name ``name_for_errors``."""
    skill, raw, errors = check_skill_text(text, name_for_errors)
    if errors or skill is None or raw is None:
        raise SkillLoadError(errors)
    return LoadedSkill(skill=skill, path=None, raw=raw)


def check_skill_text(text: str, file: str) -> tuple[Skill | None, CommentedMap | None, list[SkillError]]:
    """Parse and validate without raising: (skill or None, raw mapping or None, errors)."""
    try:
        check_yaml_bounds(text)
        raw = new_yaml().load(text)
    except YAMLLimitError as exc:
        return None, None, [SkillError(file, None, "", str(exc))]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        return None, None, [SkillError(file, line, "", f"YAML syntax error: {problem}{syntax_hint(exc)}")]
    except YAMLError as exc:  # a reader error (bad character) has a position, not a mark
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        problem = str(exc).splitlines()[0]
        return None, None, [SkillError(file, line, "", f"YAML syntax error: {problem}")]
    if raw is None:
        return None, None, [SkillError(file, 1, "", "file is empty; a Skill is a YAML mapping of fields")]
    if not isinstance(raw, CommentedMap):
        kind = "a list" if isinstance(raw, list) else f"a {type(raw).__name__} scalar"
        message = f"not a mapping: a Skill file must be a YAML mapping of fields, not {kind}"
        return None, None, [SkillError(file, 1, "", message)]
    errors = validate_raw(raw, file)
    if errors:
        return None, raw, errors
    return Skill.model_validate(plain(raw)), raw, []


def syntax_hint(exc: MarkedYAMLError) -> str:
    """What a YAML parser's message about tokens means for someone writing a Skill (``; check the
    indentation ...``), or empty: most syntax errors of a hand-edited Skill are a line indented wrongly."""
    problem = exc.problem or ""
    if "<block end>" in problem:
        begun = f", begun at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        return f"; check the indentation: this line is indented differently from the lines of its block{begun}"
    if "'\\t'" in problem:
        return _tab_hint(exc.problem_mark)
    if problem.startswith("mapping values are not allowed"):
        return ("; check the indentation of this line and the one before it, or quote a value that holds "
                "': '")
    return ""


def _tab_hint(mark: Any) -> str:
    """What a tab YAML refused means where it stands: indentation (only blanks before it on its line), or the
    separation after a ``key:`` or a list's ``-``, or between other parts of the line."""
    buffer, pointer = getattr(mark, "buffer", None), getattr(mark, "pointer", None)
    if not isinstance(buffer, str) or not isinstance(pointer, int):
        return "; use spaces, not tabs: YAML does not allow tabs there"
    before = re.split(r"[\r\n\x85\u2028\u2029]", buffer[:pointer])[-1].rstrip(" \t")  # this line's, up to it
    if not before:
        return "; indent with spaces: YAML does not allow tabs there"
    if before[-1] in ":-":
        return f"; put a space after the '{before[-1]}', not a tab: YAML does not allow a tab there"
    return "; put spaces between the parts of this line, not a tab: YAML does not allow a tab there"


def validate_raw(raw: CommentedMap, file: str) -> list[SkillError]:
    """Every schema and template problem of a raw Skill mapping, sorted by line."""
    data = plain(raw)
    found: dict[str, SkillError] = {}

    def add(loc: Loc, message: str) -> None:
        line, field = locate(raw, loc)
        error = SkillError(file, line, field, message)
        found.setdefault(f"{field}|{message}", error)

    checks = located_checks(data)
    for loc, message in checks:
        add(loc, message)
    try:
        Skill.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            model_level = err["type"] == "value_error" and model_at(loc) is not None
            if any(c_loc == loc or (model_level and c_loc[: len(loc)] == loc) for c_loc, _ in checks):
                continue  # already reported above, at its exact location
            add(loc, pydantic_message(err))
    for loc, template, kind in template_fields(data):
        try:
            check_template(template, kind)
        except TemplateError as exc:
            add(loc, str(exc))
    return sorted(found.values(), key=lambda e: (e.line or 0, e.field))


def locate(raw: CommentedMap, loc: Loc) -> tuple[int, str]:
    """The YAML line and dotted field path for a location; a missing key points at its parent."""
    node: Any = raw
    line = raw.lc.line + 1
    walked: list[str | int] = []
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
        else:
            if isinstance(node, Mapping) and isinstance(part, str) and not part.startswith("["):
                walked.append(part)  # a missing key: keep the parent's line
            break
        walked.append(part)
        node = node[part]
    return line, format_field(walked)


def plain(node: Any) -> Any:
    """Plain Python data from ruamel's round-trip types."""
    if isinstance(node, Mapping):
        return {plain(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, ScalarBoolean):
        return bool(node)
    for kind in (bool, str, int, float):
        if isinstance(node, kind):
            return kind(node)
    return node


# --- turning pydantic errors into located messages -----------------------------------------


def format_field(loc: Loc) -> str:
    """``("data", "metrics", 1, "compare")`` -> ``data.metrics[1].compare``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def model_at(loc: Loc) -> type[BaseModel] | None:
    """The Skill sub-model found at ``loc`` (list indices skipped), or None for a plain field."""
    model: type[BaseModel] = Skill
    for part in loc:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        found = _model_in(field.annotation) if field else None
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def pydantic_message(err: Mapping[str, Any]) -> str:
    """A short message for one pydantic error (the location is reported separately)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in ("enum", "literal_error"):
        return "must be one of " + ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return _unknown_field(tuple(err["loc"]))
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "string_pattern_mismatch":
        return "must be lower-case letters, digits, '-' or '_', starting with a letter"
    msg = str(err["msg"])
    return msg[:1].lower() + msg[1:]


def _unknown_field(loc: Loc) -> str:
    model = model_at(loc[:-1])
    if model is None:
        return "unknown field"
    allowed = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown field{hint} (allowed: {', '.join(allowed)})"


def located_checks(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """The Skill's cross-field rules, each at its exact location.

    The schema enforces the same rules in model validators, which pydantic reports at the model
    (and only once every field is valid); these say exactly where, and always.
    """
    found: list[tuple[Loc, str]] = []
    spec = data.get("data") if isinstance(data.get("data"), Mapping) else {}
    ids: dict[str, Loc] = {}
    for kind in ("metrics", "logs"):
        for i, item in enumerate(_items(spec.get(kind))):
            loc: Loc = ("data", kind, i, "id")
            sid = item.get("id")
            if sid in ids:
                found.append((loc, f"duplicate signal id {sid!r} (also {format_field(ids[sid])})"))
            elif isinstance(sid, str):
                ids[sid] = loc
            needs_threshold = item.get("compare") == Compare.THRESHOLD and item.get("threshold") is None
            if kind == "metrics" and needs_threshold:
                found.append((("data", kind, i, "threshold"), "required when compare is threshold"))
            fall = unreachable_fall(item.get("compare", Compare.BASELINE), item.get("direction", Direction.UP),
                                    item.get("min_effect"))
            if kind == "metrics" and fall is not None:
                found.append((("data", kind, i, "min_effect"), fall))
    pattern = data.get("pattern")
    decision = data.get("decision") if isinstance(data.get("decision"), Mapping) else {}
    allowed = {str(p): sorted(o) for p, o in PATTERN_OUTCOMES.items()}.get(str(pattern))
    outcomes = [(("decision", "default"), decision.get("default"))]
    for i, rule in enumerate(_items(decision.get("rules"))):
        outcomes.append((("decision", "rules", i, "then"), rule.get("then")))
    for loc, outcome in outcomes:
        if allowed and outcome is not None and outcome not in allowed:
            message = f"outcome {outcome!r} does not fit pattern {pattern}; use one of {', '.join(allowed)}"
            found.append((loc, message))
    for i, rule in enumerate(_items(decision.get("rules"))):
        when = rule.get("if") if isinstance(rule.get("if"), Mapping) else {}
        signals = when.get("signals")
        for j, sid in enumerate([signals] if isinstance(signals, str) else _list(signals)):
            if sid not in ids:
                loc = ("decision", "rules", i, "if", "signals") + (() if isinstance(signals, str) else (j,))
                known = ", ".join(sorted(ids)) or "none"
                found.append((loc, f"unknown signal {sid!r}; known signal ids: {known}"))
    if data.get("schedule") is not None and pattern != "inspection":
        found.append((("schedule",), f"only inspection Skills have a schedule (this one is {pattern})"))
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item if isinstance(item, Mapping) else {} for item in _list(value)]
