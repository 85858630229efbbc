"""Words for people: lists of names as a sentence says them."""

from __future__ import annotations

from collections.abc import Collection


def listed(names: Collection[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    *first, last = names
    return f"{', '.join(first)} and {last}" if first else last
