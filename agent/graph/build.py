"""The only module that touches ``StateGraph``: wires the nodes, never compiled at import."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.graph.hooks import node_starting
from agent.graph.nodes.analyze import analyze
from agent.graph.nodes.gather import gather
from agent.graph.nodes.reason import reason
from agent.graph.nodes.remember import remember
from agent.graph.nodes.report import report
from agent.graph.nodes.select_skill import select_skill
from agent.graph.nodes.triage import triage
from agent.graph.state import InvestigationInput, InvestigationOutput, InvestigationState
from agent.graph.toolkit import Toolkit

NODES: list[tuple[str, Callable[[InvestigationState, Toolkit], dict[str, Any]]]] = [
    ("triage", triage),
    ("select_skill", select_skill),
    ("gather", gather),
    ("analyze", analyze),
    ("reason", reason),
    ("report", report),
    ("memory", remember),
]
# What each step does, in words a progress line shows ("gathering metrics, logs and changes (3/7)")
STEP_WORDS: dict[str, str] = {
    "triage": "reading the event",
    "select_skill": "choosing a Skill",
    "gather": "gathering metrics, logs, changes and knowledge",
    "analyze": "running the detectors",
    "reason": "weighing the evidence",
    "report": "writing the report",
    "memory": "storing the case",
}
StepHook = Callable[[int, int, str], None]  # told (step, steps, what it does) as each step starts


def _bind(name: str, node: Callable[[InvestigationState, Toolkit], dict[str, Any]], toolkit: Toolkit):
    """Give a node its toolkit and record how long it took."""

    @wraps(node)
    def run(state: InvestigationState) -> dict[str, Any]:
        node_starting(name)
        started = time.perf_counter()
        update = node(state, toolkit)
        timings = {**state.get("timings", {}), **update.get("timings", {}), name: time.perf_counter() - started}
        return {**update, "timings": timings}

    return run


def build_graph(toolkit: Toolkit, checkpointer: Any = None):
    """Compile the investigation graph with the given dependencies and optional checkpointer; its run waits for the
    sources within a deadline of its own (``Toolkit.for_investigation``)."""
    toolkit = toolkit.for_investigation()
    graph = StateGraph(InvestigationState, input_schema=InvestigationInput, output_schema=InvestigationOutput)
    for name, node in NODES:
        graph.add_node(name, _bind(name, node, toolkit))
    graph.add_edge(START, "triage")
    for (first, _), (second, _) in zip(NODES, NODES[1:], strict=False):
        graph.add_edge(first, second)
    graph.add_edge(NODES[-1][0], END)
    return graph.compile(checkpointer=checkpointer)
