"""Alerts come in bursts: an earlier incident on another service, recovered by the time the alert fires.

A real system's look-back before an alert often holds the tail of an incident that came just before it
(two releases an hour, a flaky network, fault drills minutes apart: nezha-ob's incidents are 8-9 minutes
apart). ``add_earlier_incident`` writes one into a built RCA world: a service that is neither the alert's
root cause nor its symptom gets slow (``faults.slow_dependency``: its latency and its callers' rise, timeouts
are logged) a few minutes before the root cause's onset, and recovers before it. The scenario's truth does
not change: the earlier incident is over, and the alert is about what came after it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from agent.sim.context import FaultContext
from agent.sim.draft import magnitude
from agent.sim.faults import RCA_TARGETS, slow_dependency
from agent.sim.world import CURRENT, World

EARLIER_LEAD_MINUTES = (4.0, 10.0)  # the earlier incident begins this long before the root cause's onset ...
EARLIER_SPAN_MINUTES = (3.0, 6.0)  # ... and lasts this long, ending before (or as) the root cause begins
EARLIER_FAULT = "slow_dependency"


@dataclass(frozen=True)
class EarlierIncident:
    """The earlier incident written into a world: where, what and when."""

    service: str
    fault: str
    onset: float
    end: float

    def note(self) -> dict[str, dict[str, str | int]]:
        """How ``label.yaml``'s ``sim`` block records it (times in epoch seconds)."""
        return {"earlier_incident": {"service": self.service, "fault": self.fault, "onset": round(self.onset),
                                     "end": round(self.end)}}


def add_earlier_incident(world: World, onset: float, avoid: set[str], rng: np.random.Generator) -> EarlierIncident:
    """Write a recovered ``slow_dependency`` incident on a service not in ``avoid``, beginning 4-10 minutes before
    ``onset`` and lasting 3-6 minutes (never past ``onset``). ``rng`` draws everything, the world's own generator is
    left as it was, so the rest of the scenario is the one built without the earlier incident."""
    candidates = [s for s in RCA_TARGETS[EARLIER_FAULT] if s not in avoid]
    if not candidates:
        raise ValueError(f"no service for an earlier incident outside {sorted(avoid)}")
    service = candidates[int(rng.integers(len(candidates)))]
    start = onset - float(rng.uniform(*EARLIER_LEAD_MINUTES)) * 60.0
    end = min(start + float(rng.uniform(*EARLIER_SPAN_MINUTES)) * 60.0, onset)
    before, lines = copy.deepcopy(world.signals[CURRENT]), len(world.logs)
    own_rng, world.rng = world.rng, rng
    try:
        slow_dependency(FaultContext(world, service, start, magnitude(rng)))
    finally:
        world.rng = own_rng
    recovered = world.index(end) + 1  # the first sample after the incident ended
    for name, metrics in world.signals[CURRENT].items():
        for metric, values in metrics.items():
            values[:, recovered:] = before[name][metric][:, recovered:]
    world.logs[lines:] = [r for r in world.logs[lines:] if r.ts < end]
    return EarlierIncident(service, EARLIER_FAULT, start, end)
