"""Bounds on YAML read from outside (Skills, event.yaml, alert and change files): size, depth, aliases.

A 1 KB "billion laughs" document (anchors referring to anchors) expands to gigabytes when it is
turned into Python objects, and a deeply nested one exhausts the stack. Every YAML text from
outside is first *composed* (the node graph, where an alias is one shared node, so composing a
bomb is cheap) and measured: its size in bytes, its nesting depth, and how many nodes it would
become once every alias is expanded. Over a bound, the text is refused with the reason.
"""

from __future__ import annotations

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

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
    try:
        root = YAML(typ="safe", pure=True).compose(text)
    except RecursionError as exc:
        raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels") from exc
    except Exception:  # noqa: BLE001 - a syntax error: the caller's parse reports it with its line
        return
    if root is not None:
        _expanded_size(root, {}, 0)


def _expanded_size(node: Node, sizes: dict[int, int], depth: int) -> int:
    """Nodes under ``node`` with aliases expanded (shared nodes counted at every use), memoised per node."""
    if depth > MAX_DEPTH:
        raise YAMLLimitError(f"YAML nested deeper than {MAX_DEPTH} levels")
    known = sizes.get(id(node))
    if known is not None:
        return known
    total = 1
    if isinstance(node, MappingNode):
        for key, value in node.value:
            total += _expanded_size(key, sizes, depth + 1) + _expanded_size(value, sizes, depth + 1)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            total += _expanded_size(item, sizes, depth + 1)
    if total > MAX_NODES:
        raise YAMLLimitError(f"YAML expands to more than {MAX_NODES:,} nodes once its aliases are resolved")
    sizes[id(node)] = total
    return total
