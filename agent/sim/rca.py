"""Alert root-cause cases: inject a fault, let it propagate, fire an alert where it shows."""

from __future__ import annotations

from agent.sim.alerts import fire, visibility
from agent.sim.context import FaultContext, Impact
from agent.sim.draft import Draft, magnitude, neighbourhood, pick
from agent.sim.faults import FAULTS, RCA_TARGETS
from agent.sim.system import SERVICES, callers_of, downstream_of, upstream_of
from agent.sim.world import World

# Minutes between the root's onset and the alert, per fault (default for the rest).
LEADS: dict[str, tuple[float, float]] = {"memory_leak": (30.0, 48.0), "disk_full": (28.0, 45.0)}
DEFAULT_LEAD = (6.0, 25.0)
VISIBLE = 6.0  # robust z an alerted signal must reach: no alert fires on a flat line
FIXED_THRESHOLDS = {"disk": 0.95}


def build_rca(world: World, fault: str, variant: str | None, service: str | None) -> Draft:
    """An alert investigation: the root's anomaly starts first, callers follow, the symptom alerts."""
    rng = world.rng
    root = service or pick(rng, RCA_TARGETS[fault])
    lo, hi = LEADS.get(fault, DEFAULT_LEAD)
    onset = world.event_time - float(rng.uniform(lo, hi)) * 60.0
    m = magnitude(rng)
    impact = FAULTS[fault](FaultContext(world, root, onset, m))
    if impact.alert is not None:
        plan = impact.alert
        fired = fire(world, plan.service, plan.signal, onset=plan.onset, latest=world.event_time,
                     for_minutes=plan.for_minutes, threshold=plan.threshold, severity="warning")
        symptom = plan.service
    else:
        symptom, signal = choose_symptom(world, fault, root, impact)
        threshold = FIXED_THRESHOLDS.get(signal)
        if signal == "memory":
            threshold = 0.9 * SERVICES[symptom].memory_limit
        severity = "critical" if symptom == "gateway" or rng.random() < 0.5 else "warning"
        fired = fire(world, symptom, signal, onset=impact.onset, latest=world.event_time,
                     for_minutes=int(rng.integers(2, 5)), severity=severity, threshold=threshold)
    event = {
        "pattern": "rca",
        "time": fired.starts_at,
        "service": symptom,
        "alert": fired.alert,
        "business": SERVICES[symptom].business,
    }
    label = {"root_cause": impact.root_cause, "noise": not impact.root_cause}
    services = neighbourhood(symptom, root)
    detailed = {root if impact.root_cause else symptom}
    near = impact.onset if impact.root_cause else world.event_time
    return Draft(event, label, services, detailed, {root, symptom}, near, m)


def _candidates(world: World, fault: str, root: str) -> list[str]:
    """Services to try for the alert, in random preference: mostly the entry point or a caller,
    sometimes the root itself; the rest of the callers as fallbacks."""
    rng = world.rng
    if fault == "traffic_spike":
        busy = sorted(downstream_of(root), key=lambda s: -float(world.aggregate(s, "cpu_usage_ratio")[-15:].mean()))
        return [root, *busy[:2]] if rng.random() < 0.6 else [*busy[:2], root]
    ups = upstream_of(root)
    callers = callers_of(root)
    roll = rng.random()
    order: list[str] = []
    if "gateway" in ups and roll < 0.45:
        order.append("gateway")
    elif callers and roll < 0.8:
        order.append(pick(rng, callers))
    order += [root, *callers, *ups]
    return list(dict.fromkeys(order))


def choose_symptom(world: World, fault: str, root: str, impact: Impact) -> tuple[str, str]:
    """The service and alert rule that fire: the first candidate on which a rule clearly moved."""
    rng = world.rng
    latest = world.event_time
    for service in _candidates(world, fault, root):
        if service == root:
            signals = list(impact.root_signals)
            if len(signals) > 1 and rng.random() < 0.4:
                signals.insert(0, signals.pop(int(rng.integers(1, len(signals)))))
        else:
            signals = ["p99", "errors"] if fault != "traffic_spike" else ["cpu", "p99", "errors"]
        good = [s for s in signals if visibility(world, service, s, impact.onset, latest) >= VISIBLE]
        if good:  # the root's own rules in their order; elsewhere any rule that moved
            return service, good[0] if service == root else pick(rng, good)
    return root, impact.root_signals[0] if impact.root_signals else "p99"

