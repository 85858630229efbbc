"""Root-cause ranking by a personalised random walk on the call graph (MicroRCA / MicroCause style).

A fault shows at its own service and travels up the call graph: callers of a slow or failing
service slow down and fail too. Walking the other way, from symptoms towards what they depend on,
a walker that prefers anomalous neighbours ends up, most of the time, at the service whose anomaly
its own dependencies cannot explain. The walk (Weng et al., "Root Cause Analysis of Anomalies of
Multitier Services in Public Clouds" / CloudRanger; Wu et al., MicroRCA, NOMS 2020):

- from a service to each service it calls, weighted by that callee's anomaly, plus ``SLOW_CALL``
  times how clearly the caller's own calls out got slower (its caller-side latency, which points
  at the callees whatever their own metrics say);
- back to each caller, weighted ``BACKWARD`` x the caller's anomaly (so a walker is not trapped
  at a quiet leaf);
- staying put, weighted by how much of the service's anomaly exceeds its most anomalous callee's
  (the part no dependency explains);
- restarting (probability ``1 - DAMPING``) at a service chosen in proportion to its own anomaly.

The stationary visit probabilities, scaled so the first is 1, are the ranking scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DAMPING = 0.85  # PageRank's classic damping factor
BACKWARD = 0.3  # weight of a step back to a caller, relative to its anomaly
SLOW_CALL = 0.5  # a caller's slow calls out lend its callees this much of their slowness
ITERATIONS = 100
TINY = 1e-6


def walk_scores(
    anomaly: Mapping[str, float],
    calls: Mapping[str, Sequence[str]],
    slow_calls: Mapping[str, float] | None = None,
    restart: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Visit frequency per service (the most visited scaled to 1).

    ``anomaly``: how anomalous each service is on its own (0..1); ``calls``: caller -> callees;
    ``slow_calls``: how clearly each service's calls out got slower (0..1); ``restart``: extra
    restart weight per service (evidence that is not a deviation, e.g. a change just before).
    """
    slow_calls = slow_calls or {}
    restart = restart or {}
    nodes = sorted(set(anomaly) | set(calls) | {d for ds in calls.values() for d in ds} | set(restart))
    if not nodes:
        return {}
    index = {n: i for i, n in enumerate(nodes)}
    own = np.array([anomaly.get(n, 0.0) for n in nodes])
    transitions = np.zeros((len(nodes), len(nodes)))
    for caller, callees in calls.items():
        i = index[caller]
        for callee in callees:
            if callee == caller:
                continue
            j = index[callee]
            transitions[i, j] += own[j] + SLOW_CALL * slow_calls.get(caller, 0.0)
            transitions[j, i] += BACKWARD * own[i]
    for n in nodes:
        i = index[n]
        explained = max((own[index[d]] for d in calls.get(n, ()) if d != n), default=0.0)
        transitions[i, i] += max(0.0, own[i] - explained)
    stuck = np.flatnonzero(transitions.sum(axis=1) <= 0)
    transitions[stuck, stuck] = 1.0  # nowhere to go: stay
    transitions /= transitions.sum(axis=1, keepdims=True)
    personal = own + np.array([restart.get(n, 0.0) for n in nodes]) + TINY
    personal /= personal.sum()
    visits = personal.copy()
    for _ in range(ITERATIONS):
        visits = DAMPING * visits @ transitions + (1.0 - DAMPING) * personal
    top = float(visits.max())
    return {n: float(visits[index[n]] / top) for n in nodes}
