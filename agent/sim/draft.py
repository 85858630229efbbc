"""What a pattern builder hands back to the scenario: event, truth and what to export."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.sim.system import SERVICES, callers_of, downstream_of


@dataclass
class Draft:
    """One built case before decoration and export."""

    event: dict[str, Any]
    label: dict[str, Any]
    services: list[str]  # services whose metrics go into the bundle
    detailed: set[str]  # services exported per instance
    protected: set[str] = field(default_factory=set)  # kept free of benign changes and blips
    near: float | None = None  # a benign change may land shortly before this time (a red herring)
    magnitude: float | None = None
    variant: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # more generation details for label.yaml's ``sim``


def neighbourhood(*services: str) -> list[str]:
    """The services, everything they depend on and their direct callers, in topology order."""
    found: set[str] = set()
    for service in services:
        found.update({service, *downstream_of(service), *callers_of(service)})
    return [s for s in SERVICES if s in found]


def pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    """One of ``options``, uniformly."""
    return str(options[int(rng.integers(len(options)))])


def magnitude(rng: np.random.Generator) -> float:
    """How hard a fault hits, 0 (subtle but detectable) to 1 (obvious)."""
    return round(float(rng.uniform(0.0, 1.0)), 3)
