"""Two signals reading the same series (a trend and a threshold on one metric, two catch-alls) fetch it once."""

from __future__ import annotations

import numpy as np

from agent.graph.nodes.gather import execute_plan
from agent.graph.plan import GatherPlan, MetricTask
from agent.graph.toolkit import Toolkit
from agent.series import Series
from agent.sources.base import MetricQuery, SourceResult


class CountingSource:
    name = "counting"

    def __init__(self) -> None:
        self.asked: list[MetricQuery] = []

    def query(self, query: MetricQuery) -> SourceResult[Series]:
        self.asked.append(query)
        series = Series(query.name, {"service": "a"}, np.array([0.0, 60.0]), np.array([1.0, 2.0]))
        return SourceResult.of(self.name, query.describe(), [series])


def _task(signal: str, name: str) -> MetricTask:
    return MetricTask(signal, "a", "target", "current", MetricQuery(name, {"service": "a"}, 0.0, 120.0))


def test_the_same_query_is_asked_once_and_answers_every_signal():
    source = CountingSource()
    plan = GatherPlan(start=0.0, end=120.0, anchor=120.0, variables={},
                      metric_tasks=[_task("disk", "disk_usage_ratio"), _task("cpu", "cpu_usage_ratio"),
                                    _task("disk_limit", "disk_usage_ratio")])
    toolkit = Toolkit(library=None, reasoner=None, metrics=source)
    gathered = execute_plan(plan, toolkit, skill_knowledge=None, event_text="")
    assert sorted(q.name for q in source.asked) == ["cpu_usage_ratio", "disk_usage_ratio"]
    assert [(s["signal"], s["metric"]) for s in gathered["series"]] == [
        ("disk", "disk_usage_ratio"), ("cpu", "cpu_usage_ratio"), ("disk_limit", "disk_usage_ratio")]
