"""Apply edits to a Skill's YAML with ruamel.yaml round-trip (comments and key order kept).

An :class:`Edit` sets a key, appends to a list or inserts into one, addressed by a path such as
``("data", "metrics")`` or ``("decision", "rules", 0, "if", "min_score")``. New keys go where the
schema's field order puts them. Every patch bumps ``version`` and is validated before it is returned.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from agent.skills.loader import (
    LoadedSkill,
    SkillError,
    SkillLoadError,
    check_skill_text,
    dump_skill_yaml,
    model_at,
    new_yaml,
)

Path_ = tuple[str | int, ...]
FLOW_KEYS = frozenset({"labels", "if", "levels", "patterns", "services", "types", "kind", "signals", "tags",
                       "collections", "alerts", "keywords", "change_types", "history"})


class PatchError(ValueError):
    """An edit that cannot be applied (its path does not exist or is not a list/map)."""


@dataclass(frozen=True)
class Edit:
    """One change to a Skill: ``set`` a key, ``append`` to a list, ``insert`` into a list at ``index``."""

    op: Literal["set", "append", "insert"]
    path: Path_
    value: Any
    why: str = ""
    index: int = 0


@dataclass
class PatchedSkill:
    """A validated, patched Skill: its text, the round-trip map, the loaded Skill and the diff."""

    text: str
    loaded: LoadedSkill
    diff: str
    old_version: int
    new_version: int


def to_node(value: Any, key: str | None = None) -> Any:
    """Plain data as ruamel round-trip nodes; short lists and label maps in flow style."""
    if isinstance(value, dict):
        node = CommentedMap((k, to_node(v, k)) for k, v in value.items())
        if key in FLOW_KEYS:
            node.fa.set_flow_style()
        return node
    if isinstance(value, list | tuple):
        seq = CommentedSeq(to_node(v) for v in value)
        if key in FLOW_KEYS or all(not isinstance(v, dict | list) for v in value):
            seq.fa.set_flow_style()
        return seq
    if isinstance(value, str) and "{" in value:
        return DoubleQuotedScalarString(value)  # templates read best quoted, as authors write them
    return value


def _tail(container: Any, key: Any, visited: list[Any] | None = None) -> tuple[Any, Any]:
    """The innermost block node ending at ``container[key]``: where a following comment is stored.

    Block collections passed on the way are added to ``visited`` (their ``ca.end`` may hold it too).
    """
    value = container[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value) and not value.fa.flow_style():
        if visited is not None:
            visited.append(value)
        last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
        return _tail(value, last, visited)
    return container, key


def _slot(container: Any) -> int:
    return 2 if isinstance(container, CommentedMap) else 0


def _take_following_comment(before: tuple[Any, Any]) -> tuple[str, Any]:
    """Remove and return the full-line comments after a node (its end-of-line comment stays)."""
    visited: list[Any] = []
    container, key = _tail(*before, visited)
    pieces: list[str] = []
    mark = None
    entry = container.ca.items.get(key)
    slot = _slot(container)
    token = entry[slot] if entry and len(entry) > slot else None
    if token is not None and "\n" in token.value:
        head, rest = token.value.split("\n", 1)
        if rest.strip():
            entry[slot] = CommentToken(head + "\n", token.start_mark, None) if head.strip() else None
            pieces.append(rest)
            mark = token.start_mark
    for node in reversed(visited):
        if node.ca.end:
            pieces.append("".join(t.value for t in node.ca.end))
            mark = mark or node.ca.end[0].start_mark
            node.ca.end = []
    return "".join(pieces), mark


def _carry_comment(before: tuple[Any, Any] | None, inserted: tuple[Any, Any]) -> None:
    """Move the full-line comments after the node before an insertion to after the inserted node.

    ruamel stores the comment lines that precede a key on the last node before it; inserting a node
    there would otherwise put the new node after comments that describe what follows it.
    """
    if before is None:
        return
    text, mark = _take_following_comment(before)
    if not text.strip():
        return
    new_container, new_key = _tail(*inserted)
    moved: list[Any] = [None, None, None, None]
    moved[_slot(new_container)] = CommentToken("\n" + text, mark, None)
    new_container.ca.items[new_key] = moved


def _field_order(path: Path_) -> list[str]:
    model = model_at(tuple(p for p in path if isinstance(p, str)))
    return [f.alias or n for n, f in model.model_fields.items()] if model is not None else []


def _set_key(node: CommentedMap, key: str, value: Any, path: Path_) -> None:
    """Set ``key``, placing a new key before the first existing key the schema orders after it."""
    if key in node:
        node[key] = value
        return
    order = _field_order(path)
    if key in order:
        later = order[order.index(key) + 1:]
        for position, existing in enumerate(node):
            if existing in later:
                previous = (node, list(node)[position - 1]) if position else None
                node.insert(position, key, value)
                _carry_comment(previous, (node, key))
                return
    previous = (node, list(node)[-1]) if len(node) else None
    node[key] = value
    _carry_comment(previous, (node, key))


def _walk(raw: CommentedMap, path: Path_) -> Any:
    """The node at ``path`` (PatchError when it does not exist)."""
    node: Any = raw
    for depth, part in enumerate(path):
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and -len(node) <= part < len(node):
            node = node[part]
        else:
            raise PatchError(f"no {'.'.join(map(str, path[: depth + 1]))} in the Skill")
    return node


def _as_set(raw: CommentedMap, edit: Edit) -> Edit:
    """An edit whose path runs through missing maps becomes one ``set`` of the first missing key."""
    walk = edit.path[:-1] if edit.op == "set" else edit.path
    node: Any = raw
    for depth, part in enumerate(walk):
        if isinstance(node, CommentedMap) and isinstance(part, str) and node.get(part) is None:
            value: Any = edit.value if edit.op == "set" else [edit.value]
            for key in reversed(edit.path[depth + 1:]):
                if not isinstance(key, str):
                    raise PatchError(f"no {'.'.join(map(str, edit.path[: depth + 1]))} in the Skill")
                value = {key: value}
            return Edit("set", edit.path[: depth + 1], value, edit.why)
        if isinstance(node, CommentedMap | CommentedSeq):
            try:
                node = node[part]
                continue
            except (KeyError, IndexError, TypeError):
                pass
        raise PatchError(f"no {'.'.join(map(str, edit.path[: depth + 1]))} in the Skill")
    return edit


def apply_edit(raw: CommentedMap, edit: Edit) -> None:
    """Apply one edit in place (PatchError when its path does not fit the Skill)."""
    if not edit.path:
        raise PatchError("an edit needs a path")
    edit = _as_set(raw, edit)
    *parent_path, last = edit.path
    parent = _walk(raw, tuple(parent_path))
    value = to_node(edit.value, str(last))
    if edit.op == "set":
        if isinstance(parent, CommentedMap) and isinstance(last, str):
            _set_key(parent, last, value, tuple(parent_path))
        elif isinstance(parent, CommentedSeq) and isinstance(last, int) and -len(parent) <= last < len(parent):
            parent[last] = value
        else:
            raise PatchError(f"cannot set {'.'.join(map(str, edit.path))}")
        return
    target = _walk(raw, edit.path)
    if not isinstance(target, CommentedSeq):
        raise PatchError(f"{'.'.join(map(str, edit.path))} is not a list")
    node = to_node(edit.value, str(last))
    position = len(target) if edit.op == "append" else max(0, min(edit.index, len(target)))
    previous = (target, position - 1) if position else None
    target.insert(position, node)
    _carry_comment(previous, (target, position))


NO_NEWLINE = "\\ No newline at end of file\n"  # what diff and patch write after a last line without one


def unified_diff(old_text: str, new_text: str, name: str, old_label: str, new_label: str) -> str:
    """A reviewable unified diff of two Skill texts (a last line without a line break is marked as diff marks it,
    not glued to the next line of the diff)."""
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=f"{name} {old_label}",
        tofile=f"{name} {new_label}",
    )
    return "".join(line if line.endswith(("\n", "\r")) else f"{line}\n{NO_NEWLINE}" for line in lines)


def load_raw(text: str, file: str) -> CommentedMap:
    """The round-trip map of Skill text (SkillLoadError when it is not a YAML mapping)."""
    _skill, raw, errors = check_skill_text(text, file)
    if raw is None:
        raise SkillLoadError(errors)
    return raw


def set_version(raw: CommentedMap, version: int) -> None:
    """Set ``version`` (placed after ``name`` when the file had none)."""
    _set_key(raw, "version", version, ())


def validated(text: str, file: str) -> LoadedSkill:
    """Load Skill text; SkillLoadError listing every problem."""
    skill, raw, errors = check_skill_text(text, file)
    if errors or skill is None or raw is None:
        raise SkillLoadError(errors or [SkillError(file, None, "", "invalid Skill")])
    return LoadedSkill(skill=skill, path=None, raw=raw)


def patch_skill(text: str, edits: Sequence[Edit], *, version: int | None = None, file: str = "<patch>") -> PatchedSkill:
    """Apply ``edits`` to Skill ``text``, set ``version`` (default: one more), validate, diff.

    Raises PatchError for an edit that does not apply and SkillLoadError when the result is invalid.
    """
    raw = load_raw(text, file)
    old_version = int(raw.get("version", 1) or 1)
    for edit in edits:
        apply_edit(raw, edit)
    new_version = version if version is not None else old_version + 1
    set_version(raw, new_version)
    new_text = dump_skill_yaml(raw)
    loaded = validated(new_text, file)
    name = loaded.name
    diff = unified_diff(text, new_text, name, "current", f"v{new_version}")  # its version: field may be stale
    return PatchedSkill(new_text, loaded, diff, old_version, new_version)


def replace_text(old_text: str, new_text: str, *, version: int, file: str = "<generated>") -> PatchedSkill:
    """A whole new text for a Skill (LLM output), with ``version`` set, validated and diffed."""
    raw = load_raw(new_text, file)
    set_version(raw, version)
    text = dump_skill_yaml(raw)
    loaded = validated(text, file)
    old_version = int((new_yaml().load(old_text) or {}).get("version", 1) or 1) if old_text else 0
    diff = unified_diff(old_text, text, loaded.name, "current", f"v{version}")
    return PatchedSkill(text, loaded, diff, old_version, version)
