"""Which way a change is bad: ``up`` (latency, errors), ``down`` (success, CTR) or ``both``."""

from __future__ import annotations

from typing import Literal

DirectionName = Literal["up", "down", "both"]
_VALID = ("up", "down", "both")


def check_direction(direction: str, allow_both: bool = True) -> str:
    """The direction as a plain string, or a ValueError naming the allowed values."""
    value = str(getattr(direction, "value", direction))
    allowed = _VALID if allow_both else _VALID[:2]
    if value not in allowed:
        raise ValueError(f"direction must be one of {', '.join(allowed)}, got {direction!r}")
    return value


def bad_signs(direction: str) -> tuple[int, ...]:
    """Signs of a change that count as bad: (+1,), (-1,) or (+1, -1)."""
    return {"up": (1,), "down": (-1,), "both": (1, -1)}[check_direction(direction)]


def is_bad(delta: float, direction: str) -> bool:
    """True when a change of ``delta`` goes the bad way."""
    return any(delta * sign > 0 for sign in bad_signs(direction))


def observed(delta: float) -> str:
    """``up`` or ``down`` for the sign of a change (what ``Finding.direction`` records)."""
    return "up" if delta >= 0 else "down"


def mwu_alternative(direction: str) -> str:
    """The Mann-Whitney alternative for "first sample is worse than the second"."""
    return {"up": "greater", "down": "less", "both": "two-sided"}[check_direction(direction)]
