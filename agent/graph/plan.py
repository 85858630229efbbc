"""What to fetch for one investigation: a pure function of Skill, event, targets and topology."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent.detectors.trend import SEASONAL_PERIOD_S
from agent.events import Event, Pattern
from agent.graph.timing import change_start, release_window
from agent.skills.schema import Compare, Skill
from agent.skills.templates import escape_glob, render, render_glob, render_matchers, render_promql
from agent.sources.base import ChangeRequest, LogRequest, MetricQuery
from agent.sources.promql import is_glob
from agent.topology import Topology

MAX_PEERS = 100  # services examined as possible dependencies when no call graph says which


@dataclass(frozen=True)
class MetricTask:
    """One metric query: which signal, for which service, in which period."""

    signal: str
    service: str
    role: str  # target | dependency
    period: str  # current | history:<offset seconds>
    query: MetricQuery
    catch_all: bool = False  # the Skill's catch-all: every metric of the service no other signal reads

    @property
    def family(self) -> bool:
        """A named signal whose metric name is a glob (``*[Mm]emory*``): a family a system may not measure at all."""
        return not self.catch_all and is_glob(self.query.name)


@dataclass
class GatherPlan:
    start: float
    end: float
    anchor: float
    variables: dict[str, str]
    metric_tasks: list[MetricTask] = field(default_factory=list)
    log_requests: dict[str, LogRequest] = field(default_factory=dict)
    change_request: ChangeRequest | None = None
    knowledge_query: str = ""
    dependencies: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # the services investigated (the dependencies' callers)
    reference_end: float | None = None  # inspections with a reference before the window: where it ends


def event_variables(event: Event, service: str | None) -> dict[str, str]:
    """The only values templates may use."""
    alert = event.alert
    change = event.change
    return {
        "service": service or "",
        "namespace": (alert.labels.get("namespace", "") if alert else ""),
        "alertname": alert.name if alert else "",
        "business": event.business or "",
        "version": (change.version or "") if change else "",
        "change_id": change.id if change else "",
        "summary": (alert.annotations.get("summary", "") if alert else "") or (change.description if change else ""),
        "question": event.question or "",
        "canary_version": ((change.canary or {}).get("version", "") if change else ""),
        "baseline_version": ((change.baseline or {}).get("version", "") if change else ""),
    }


def time_window(skill: Skill, event: Event, started: float | None = None) -> tuple[float, float, float]:
    """(start, end, anchor): for releases the anchor is when the change began (``started``, else what
    the event says, see ``timing.change_start``) and the evidence ends at the event time; else the
    anchor is the event time."""
    window = skill.window
    if event.pattern == Pattern.RELEASE_INTERCEPTION:
        return release_window(window, event.time, started if started is not None else change_start(event))
    if event.pattern == Pattern.INSPECTION:
        lookback = inspected_span(skill, event)
        return event.time - lookback - (window.reference or 0.0), event.time, event.time
    return event.time - window.lookback, event.time + window.after, event.time


def inspected_span(skill: Skill, event: Event) -> float:
    """How far back an inspection looks: the request's scope window, else the Skill's look-back."""
    return event.scope.window if event.scope and event.scope.window else skill.window.lookback


def reference_end(skill: Skill, event: Event) -> float | None:
    """Where an inspection's reference ends (its window begins) when the Skill asks for a reference before it."""
    if event.pattern != Pattern.INSPECTION or skill.window.reference is None:
        return None
    return event.time - inspected_span(skill, event)


def reads_dependencies(skill: Skill) -> bool:
    """True when the Skill asks for anything of the dependencies (a metric, a log query or the changes)."""
    data = skill.data
    return data.dependencies.depth > 0 and (
        any(m.dependencies for m in data.metrics) or any(q.dependencies for q in data.logs)
        or (data.changes is not None and data.changes.dependencies))


def call_graph_covers(topology: Topology | None, targets: Sequence[str]) -> bool:
    """True when a call graph with edges names at least one of the targets: it can say who their neighbours are."""
    return topology is not None and topology.has_edges() and any(t in topology for t in targets)


def dependency_services(skill: Skill, targets: list[str], topology: Topology | None,
                        peers: Sequence[str] = ()) -> list[str]:
    """Neighbours of the targets per the Skill's dependency policy, targets excluded.

    Without a call graph that covers the targets nobody knows who calls whom, so every other service the
    data holds (``peers``, at most ``MAX_PEERS``, in order) may be a dependency.
    """
    if skill.data.dependencies.depth == 0:
        return []
    if not call_graph_covers(topology, targets):
        return [p for p in peers if p not in targets][:MAX_PEERS]
    found: list[str] = []
    for target in targets:
        for service in topology.neighbours(
            target, depth=skill.data.dependencies.depth, direction=skill.data.dependencies.direction
        ):
            if service not in targets and service not in found:
                found.append(service)
    return found


def _render_services(
    patterns: list[str], targets: list[str], variables: dict[str, str], deps: list[str]
) -> tuple[str, ...]:
    """Service globs of a log or change request; substituted names and ``deps`` match only themselves."""
    out: list[str] = []
    for pattern in patterns:
        if "{service}" in pattern:
            rendered = [render_glob(pattern, {**variables, "service": t}) for t in targets]
        else:
            rendered = [render_glob(pattern, variables)]
        out.extend(s for s in rendered if s and s not in out)
    return tuple(dict.fromkeys([*out, *map(escape_glob, deps)]))


def _read_elsewhere(skill: Skill, role: str) -> tuple[str, ...]:
    """Metric names the Skill's named signals already read whole for a service in ``role``: a catch-all
    leaves them out of its query (signals with other label matchers or raw PromQL read only part)."""
    return tuple(dict.fromkeys(
        m.name for m in skill.data.metrics
        if not m.catch_all and m.query is None and set(m.labels) <= {"service"}
        and (role == "target" or m.dependencies)
    ))


def build_plan(
    skill: Skill, event: Event, targets: list[str], topology: Topology | None, max_series: int = 200,
    started: float | None = None, max_log_lines: int | None = None, peers: Sequence[str] = (),
) -> GatherPlan:
    """Every query the Skill asks for, bounded by its window and limits (``started``: see ``time_window``).

    ``max_series`` bounds each metric query; ``max_log_lines`` caps every log request below the Skill's own
    ``limit``; ``peers``: the services the data holds, the neighbourhood when no call graph covers the targets.
    """
    start, end, anchor = time_window(skill, event, started)
    variables = event_variables(event, targets[0] if targets else None)
    deps = dependency_services(skill, targets, topology, peers)
    plan = GatherPlan(start=start, end=end, anchor=anchor, variables=variables, dependencies=deps,
                      targets=list(targets), reference_end=reference_end(skill, event))
    step = skill.window.step
    for signal in skill.data.metrics:
        services = [(t, "target") for t in targets] + ([(d, "dependency") for d in deps] if signal.dependencies else [])
        periods = [("current", 0.0)]
        if signal.compare == Compare.HISTORY:
            periods += [(f"history:{int(off)}", off) for off in skill.window.history]
        elif event.pattern == Pattern.RELEASE_INTERCEPTION and skill.window.history:
            cycle = min(skill.window.history)  # the same hours a day before: the daily cycle (change_impact)
            periods.append((f"history:{int(cycle)}", cycle))
        elif signal.compare == Compare.TREND and event.pattern == Pattern.INSPECTION and (
                skill.window.reference or 0.0) < SEASONAL_PERIOD_S:
            # the same hours a day before, which a reference of a day or more holds already: a trend they showed
            # too is the daily cycle (trend._seasonal), not a leak
            periods.append((f"history:{int(SEASONAL_PERIOD_S)}", SEASONAL_PERIOD_S))
        for service, role in services:
            exclude = _read_elsewhere(skill, role) if signal.catch_all else ()
            svc_vars = {**variables, "service": service}
            matchers = render_matchers(signal.labels, svc_vars)
            matchers.setdefault("service", escape_glob(service))
            promql = render_promql(signal.query, svc_vars) if signal.query else None
            for period, offset in periods:
                query = MetricQuery(
                    name=signal.name, matchers=matchers, start=start - offset, end=end - offset,
                    step=step, promql=promql, limit=max_series, exclude=exclude,
                )
                plan.metric_tasks.append(MetricTask(signal.id, service, role, period, query, signal.catch_all))
    for log in skill.data.logs:
        services = _render_services(log.services, targets, variables, deps if log.dependencies else [])
        plan.log_requests[log.id] = LogRequest(
            services=services, start=start, end=end,
            levels=tuple(log.levels), patterns=tuple(log.patterns),
            limit=min(log.limit, max_log_lines) if max_log_lines is not None else log.limit,
            whole_traces=log.traces,
        )
    if skill.data.changes is not None:
        changes = skill.data.changes
        services = _render_services(changes.services, targets, variables, deps if changes.dependencies else [])
        plan.change_request = ChangeRequest(
            services=services, start=anchor - changes.window, end=end, types=tuple(changes.types)
        )
    plan.knowledge_query = render(skill.knowledge.query, variables).strip()
    return plan
