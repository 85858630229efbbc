"""Bounds on YAML read from outside (Skills, event.yaml, alert and change files): size, depth, aliases.

A 1 KB "billion laughs" document (anchors referring to anchors) expands to gigabytes when it is
turned into Python objects, and a deeply nested one exhausts the stack. Every YAML text from
outside is first *composed* (the node graph, where an alias is one shared node, so composing a
bomb is cheap) and measured: its size in bytes, its nesting depth, and how many nodes it would
become once every alias is expanded. Over a bound, the text is refused with the reason.
"""

from __future__ import annotations

import re
from typing import Any

import yaml as libyaml
from ruamel.yaml import YAML
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

MAX_BYTES = 2_000_000  # far above any Skill or event file; bundles' data files are CSV/JSONL, not YAML
MAX_NODES = 200_000  # nodes once aliases expand
MAX_DEPTH = 64  # nesting of mappings and sequences


class YAMLLimitError(ValueError):
    """A YAML text over one of the bounds; the message says which and by how much."""


def check_yaml_bounds(text: str) -> None:
    """Raise :class:`YAMLLimitError` when ``text`` is too large, too deep or expands too far.

    Syntax errors are left to the real parse, which reports them with their line.
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise YAMLLimitError(f"YAML text of {size:,} bytes is over the limit of {MAX_BYTES:,}")
    _check_flow_depth(text)
    try:
        root = _compose(text)
    except RecursionError as exc:
        raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels") from exc
    except Exception:  # noqa: BLE001 - a syntax error: the caller's parse reports it with its line
        return
    if root is not None:
        _expanded_size(root, {}, 0)


def _compose(text: str) -> Any:
    """The node graph of ``text``: by libyaml (C, several times faster) where PyYAML has it, else, or when
    libyaml refuses the text (it reads YAML 1.1), by ruamel's pure-Python composer."""
    if libyaml.__with_libyaml__:
        try:
            return libyaml.compose(text, Loader=libyaml.CSafeLoader)
        except libyaml.YAMLError:
            pass
    return YAML(typ="safe", pure=True).compose(text)


_BRACKET = re.compile(r"[\[\]{}]")


def _too_deep_at(text: str) -> int | None:
    """Where the raw brackets first nest deeper than the bound (quoted ones count too), or None."""
    depth = 0
    for match in _BRACKET.finditer(text):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.end()
        else:
            depth = max(depth - 1, 0)
    return None


def _check_flow_depth(text: str) -> None:
    """Refuse flow collections nested deeper than the bound without composing the whole text.

    Only the text up to where the raw brackets pass the bound is parsed, as a stream of events: a
    100,000-deep ``[[[…]]]`` is refused after reading its first 65 brackets. Brackets inside quotes
    end that parse in a syntax error instead, and the text goes on to the ordinary checks.
    """
    cut = _too_deep_at(text)
    if cut is None:
        return
    depth = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(text[:cut]):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLLimitError:
        raise
    except Exception:  # noqa: BLE001 - a syntax error in the cut text: the full checks decide
        return


def _expanded_size(node: Any, sizes: dict[int, int], depth: int) -> int:
    """Nodes under ``node`` with aliases expanded (shared nodes counted at every use), memoised per node."""
    if depth > MAX_DEPTH:
        raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels")
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if node.id == "mapping":  # ruamel's and PyYAML's nodes name their kind alike
        for key, value in node.value:
            total += _expanded_size(key, sizes, depth + 1) + _expanded_size(value, sizes, depth + 1)
    elif node.id == "sequence":
        for item in node.value:
            total += _expanded_size(item, sizes, depth + 1)
    if total > MAX_NODES:
        raise YAMLLimitError(f"YAML expands to more than {MAX_NODES:,} nodes once its aliases are resolved")
    sizes[id(node)] = total
    return total
