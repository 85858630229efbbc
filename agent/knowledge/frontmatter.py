"""YAML front matter of handbook documents, validated; errors name the file, line and field."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError

from agent.yaml_limits import YAMLLimitError, check_yaml_bounds

TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class DocKind(StrEnum):
    RUNBOOK = "runbook"
    POLICY = "policy"
    SERVICE = "service"
    SLO = "slo"
    ESCALATION = "escalation"


class FrontMatterError(ValueError):
    """A handbook document whose front matter is missing or invalid."""

    def __init__(self, path: Path | str, line: int, message: str, field: str | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = f"field '{field}': " if field else ""
        super().__init__(f"{self.path}:{line}: {where}{message}")


class FrontMatter(BaseModel):
    """What a handbook document declares about itself."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    kind: DocKind
    tags: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    faults: list[str] = Field(default_factory=list)

    @field_validator("tags", "services", "faults")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            name = value.strip().lower()
            if not TAG_RE.match(name):
                raise ValueError(f"{value!r} is not a valid name (lowercase letters, digits, '_', '-', '.')")
            if name not in out:
                out.append(name)
        return out

    def all_tags(self) -> list[str]:
        """Tags, services, faults and the kind, deduplicated: everything a ``tag_*`` filter can select."""
        out: list[str] = []
        for name in [*self.tags, *self.services, *self.faults, self.kind.value]:
            if name not in out:
                out.append(name)
        return out


def split_front_matter(path: Path, text: str) -> tuple[FrontMatter, str, int]:
    """Parse ``---``-delimited front matter; return it, the body and the body's first line number."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise FrontMatterError(path, 1, "missing YAML front matter (a first line '---', fields, then '---')")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise FrontMatterError(path, 1, "front matter is not closed by a '---' line")
    raw = "".join(lines[1:end])
    try:
        check_yaml_bounds(raw)  # too large, too deep, aliases that expand too far: refused before it is loaded
    except YAMLLimitError as exc:
        raise FrontMatterError(path, 2, str(exc)) from exc
    try:
        data = YAML(typ="rt").load(raw)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        raise FrontMatterError(path, line, f"invalid YAML: {exc.problem or exc}") from exc
    if not isinstance(data, CommentedMap):
        raise FrontMatterError(path, 2, "front matter must be a mapping of fields")
    try:
        meta = FrontMatter.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else None
        line = _key_line(data, field) if field else 2
        raise FrontMatterError(path, line, err["msg"], field=field) from exc
    return meta, "".join(lines[end + 1 :]), end + 2


def _key_line(data: CommentedMap, key: str) -> int:
    """1-based file line of a front-matter key (the front matter starts on file line 2)."""
    try:
        return int(data.lc.key(key)[0]) + 2
    except (KeyError, TypeError):
        return 1  # a missing required field: point at the opening '---'
