"""What every fault works with: where and how hard it hits, the truth it returns, and how its
effect reaches the callers of the service it hits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.sim import effects as fx
from agent.sim.logs import emit
from agent.sim.system import SERVICES
from agent.sim.world import World

P50, P99, ERR = "request_latency_p50_seconds", "request_latency_p99_seconds", "request_error_ratio"


@dataclass
class FaultContext:
    """Where, when and how hard a fault hits."""

    world: World
    service: str
    onset: float
    magnitude: float
    early: bool = False


@dataclass
class AlertPlan:
    """An alert a fault itself dictates (noise): rule, start of its search, hold time, threshold."""

    service: str
    signal: str
    onset: float
    for_minutes: int
    threshold: float | None = None


@dataclass
class Impact:
    """The ground truth of an injected fault and how it can be alerted on."""

    root_cause: list[dict[str, str]]
    onset: float
    root_signals: list[str] = field(default_factory=list)  # alert rules that fire on the root itself
    finding: str | None = None  # inspection: the kind of finding a good inspection reports
    alert: AlertPlan | None = None


def _normalised(values: np.ndarray) -> np.ndarray:
    peak = float(np.max(values)) if values.size else 0.0
    return np.clip(values / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(values)


def spread(ctx: FaultContext, changed: dict[str, dict[str, np.ndarray]], first_hop: str,
            extra_errors: dict[str, np.ndarray] | None = None) -> None:
    """Propagate to callers and log what they see: ``first_hop`` lines in direct callers of the
    changed services, upstream errors further up."""
    world = ctx.world
    applied = fx.propagate_up(world, changed, extra_errors)
    rate = 0.5 + 4.0 * ctx.magnitude
    for service, delta in applied.items():
        errs = _normalised(delta[ERR])
        sick = [d for d in SERVICES[service].depends_on if d in changed or d in applied]
        direct = [d for d in sick if d in changed]
        if direct:
            emit(world, service, first_hop, rate * errs, dep=direct, ms=(200, 2500))
        else:
            emit(world, service, "upstream_error", 0.5 * rate * errs, dep=sick, code=["UNAVAILABLE", "INTERNAL"],
                 rpc=[r for d in sick for r in ("Get", "Score", "Fetch")])
