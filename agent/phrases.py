"""Phrases for people: a list of names as a sentence says it (Finding summaries are worded in detectors.wording)."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def listed(names: Collection[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    *first, last = names
    return f"{', '.join(first)} and {last}" if first else last


def first_of(names: Sequence[str], shown: int = 4) -> str:
    """The first ``shown`` names, and how many more: ``a, b, c, d and 3 more``."""
    text = ", ".join(names[:shown])
    return text + (f" and {len(names) - shown} more" if len(names) > shown else "")
