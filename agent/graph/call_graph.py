"""The call graph of one investigation: the Toolkit's, else the one its window's log traces show.

A Toolkit without a call graph with edges (a bundle without ``topology.yaml``, a live one without
``BIANQUE_TOPOLOGY_FILE``, or a graph naming no call) knows nobody's callers. The gather step then reads the
window's log lines and, when their traces show calls, keeps them in the state (``calls``) for this investigation
alone: a Toolkit may serve many investigations at once and is never changed. The plan, the analysis and the
evidence pack all ask :func:`call_graph`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.graph.state import InvestigationState
from agent.topology import Topology

if TYPE_CHECKING:
    from agent.graph.toolkit import Toolkit


def call_graph(state: InvestigationState, toolkit: Toolkit) -> Topology | None:
    """Who calls whom in this investigation: the calls read off its logs' traces (``state["calls"]``), else the
    Toolkit's call graph."""
    calls = state.get("calls")
    return Topology(calls) if calls else toolkit.topology


def may_read_calls_off_logs(state: InvestigationState, toolkit: Toolkit) -> bool:
    """True when the Toolkit has a log source and the investigation no call graph with edges yet."""
    graph = call_graph(state, toolkit)
    return toolkit.logs is not None and not (graph is not None and graph.has_edges())


def why_read(toolkit: Toolkit) -> str:
    """Why the calls were read off the traces, for the note: no call graph, or one naming no call."""
    return "no call graph given" if toolkit.topology is None else "the topology names no call between its services"


def entry_points(topology: Topology | None) -> tuple[list[str], list[str]]:
    """What an event naming no service starts from: the services nobody depends on (the front doors of the call
    graph), and the note saying so (none without any)."""
    if topology is None:
        return [], []
    services = topology.services()
    called = {d for s in services for d in topology.dependencies(s, depth=1)}
    targets = [s for s in services if s not in called]
    return targets, [f"event names no service: starting from entry points {targets}"] if targets else []
