"""Phrases for people: a list of names as a sentence says it (Finding summaries are worded in detectors.wording)."""

from __future__ import annotations

from collections.abc import Collection


def listed(names: Collection[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    *first, last = names
    return f"{', '.join(first)} and {last}" if first else last
