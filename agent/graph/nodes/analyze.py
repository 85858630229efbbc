"""analyze: deterministic detectors turn the gathered data into scored, numbered Findings."""

from __future__ import annotations

from typing import Any

from agent.events import Event
from agent.findings import merge_repeated, number_findings
from agent.graph.analysis import analyze_gathered, signals_without_history
from agent.graph.call_graph import call_graph
from agent.graph.coverage import coverage_findings
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit


def analyze(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Run the detectors the Skill's signals call for, then say whether the data could answer at all
    (``coverage``); one Finding per piece of evidence however many signals reported it (``merge_repeated``);
    number the Findings by score (F1 strongest)."""
    event = Event.model_validate(state["event"])
    skill = toolkit.skill(state["skill"]["name"])
    topology = call_graph(state, toolkit)
    calls = topology.as_dict() if topology is not None else None
    gathered, targets, window = state.get("gathered", {}), state.get("targets", []), state.get("window", {})
    findings = analyze_gathered(skill, event, gathered, targets, window, calls)
    metrics = list(dict.fromkeys(s.name for s in skill.data.metrics))
    findings += coverage_findings(event, gathered, window, targets, metrics, skill.window.step)
    notes = [f"{signal} (compare: history): no data a day or a week before the window, so judged against the "
             "window's own reference instead" for signal in signals_without_history(skill, gathered, window)]
    return {"findings": [f.model_dump(mode="json") for f in number_findings(merge_repeated(findings))],
            **({"notes": [*state.get("notes", []), *notes]} if notes else {})}
