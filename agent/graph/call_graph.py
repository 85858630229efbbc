"""The call graph of one investigation: the Toolkit's, else the one its window's metric labels and log traces show.

A Toolkit without a call graph with edges (a bundle without ``topology.yaml``, a live one without
``BIANQUE_TOPOLOGY_FILE``, or a graph naming no call) knows nobody's callers. The gather step then reads the calls
the window's metric series name in their labels (``agent.call_labels``) and those its log lines' traces show, and
keeps their union in the state (``calls``) for this investigation alone: a Toolkit may serve many investigations
at once and is never changed. The plan, the analysis and the evidence pack all ask :func:`call_graph`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.graph.state import InvestigationState
from agent.topology import Topology

if TYPE_CHECKING:
    from agent.graph.toolkit import Toolkit


def call_graph(state: InvestigationState, toolkit: Toolkit) -> Topology | None:
    """Who calls whom in this investigation: the calls read off its metric labels and logs' traces
    (``state["calls"]``), else the Toolkit's call graph."""
    calls = state.get("calls")
    return Topology(calls) if calls else toolkit.topology


def pack_graph(state: InvestigationState, toolkit: Toolkit) -> dict[str, list[str]]:
    """The call graph the ranking weighs, as ``{service: [dependencies]}``: the Toolkit's as given (its services are
    the user's statement of which there are), or the one read off the data with every target (an alerted service)
    as a node: the ranking weighs only the services its graph names, and the calls read may name no call of the
    alerted service (its lines carry no trace id, or name no callee); it keeps none then rather than being left
    out. Other services the read graph does not name lie on no path the data shows and stay out. Empty without a
    graph."""
    graph = call_graph(state, toolkit)
    nodes = graph.as_dict() if graph is not None else {}
    if state.get("calls"):  # read off the data
        for service in state.get("targets", []):
            nodes.setdefault(service, [])
    return nodes


def may_read_calls(state: InvestigationState, toolkit: Toolkit) -> bool:
    """True when the Toolkit has a metric or log source and the investigation no call graph with edges yet."""
    graph = call_graph(state, toolkit)
    has_source = toolkit.metrics is not None or toolkit.logs is not None
    return has_source and not (graph is not None and graph.has_edges())


def union(*graphs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every call of every graph (caller -> sorted callees), callers sorted."""
    joined: dict[str, set[str]] = {}
    for graph in graphs:
        for caller, callees in graph.items():
            joined.setdefault(caller, set()).update(callees)
    return {caller: sorted(joined[caller]) for caller in sorted(joined) if joined[caller]}


def why_read(toolkit: Toolkit) -> str:
    """Why the calls were read off the data, for the note: no call graph, or one naming no call."""
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
