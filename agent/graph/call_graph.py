"""The call graph of one investigation: the Toolkit's, else the one its window's log traces show.

A live Toolkit (PromQL server, SQL log store) without ``BIANQUE_TOPOLOGY_FILE`` knows no call graph. The gather
step then reads the window's log lines and, when their traces show calls, keeps them in the state (``calls``)
for this investigation alone: a Toolkit may serve many investigations at once and is never changed. The plan,
the analysis and the evidence pack all ask :func:`call_graph`.
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


def may_read_calls_off_logs(toolkit: Toolkit) -> bool:
    """True when the Toolkit has a log source, no call graph with edges, and did not read its logs' traces for
    one already (a bundle's Toolkit does at construction)."""
    given = toolkit.topology is not None and toolkit.topology.has_edges()
    return toolkit.logs is not None and toolkit.infer_calls and not given
