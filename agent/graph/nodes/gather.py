"""gather: fetch only what the Skill names, in parallel; failures become missing-data notes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from agent.call_labels import CONVENTIONS, CallLabels, LabelledCalls, ReadCalls, calls_from_labels
from agent.events import Event
from agent.findings import ABSENT_SERVICE_LABEL
from agent.graph.call_graph import call_graph, entry_points, may_read_calls, union, why_read
from agent.graph.deadline import DeadlineReason
from agent.graph.gathered import Gaps, no_data_line
from agent.graph.plan import (
    MAX_PEERS,
    GatherPlan,
    MetricTask,
    build_plan,
    call_graph_covers,
    reads_dependencies,
    time_window,
)
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit
from agent.phrases import first_of
from agent.sources.base import LogRequest, SourceResult, as_asked
from agent.sources.promql import classic_label
from agent.topology import Topology
from agent.topology_inference import MIN_LINES, MIN_TRACES, calls_from_traces, calls_named

log = logging.getLogger(__name__)

NO_DATA = "no data in the window"  # a signal's reason when its query found no series


def _series_json(task: MetricTask, result: SourceResult) -> list[dict[str, Any]]:
    return [
        {
            "signal": task.signal,
            "service": task.service,
            "role": task.role,
            "period": task.period,
            "metric": s.metric,
            "labels": dict(s.labels),
            "t": s.timestamps.tolist(),
            "v": s.values.tolist(),
            "source": f"{result.source}:{s.key()}",
        }
        for s in result.data
    ]


def _first_asker(tasks: dict[str, MetricTask]) -> dict[str, str]:
    """Each task's key -> the key of the first task asking the same query: two signals reading the same
    series (a Skill's trend and threshold on one metric, two catch-alls) fetch it once."""
    first: dict[str, str] = {}
    return {key: first.setdefault(repr(task.query), key) for key, task in tasks.items()}


def _failed(gaps: Gaps, key: str, tasks: dict[str, MetricTask], problem: str, source: str | None = None) -> None:
    """Record that call ``key`` brought nothing because of ``problem`` (``source``'s answer, when it answered)."""
    said = f" from {source}: {problem}" if source else f": {problem}"
    reason = f"{source}: {problem}" if source else problem
    if key in tasks:
        task = tasks[key]
        current = task.period == "current"
        gaps.add(f"metric {task.signal} ({task.service}{'' if current else f', {task.period}'}){said}", "metrics",
                 task.signal, reason if current else f"{reason} ({task.period})", [task.service])
    elif key.startswith("log:"):
        log_id = key.split(":", 1)[1]
        gaps.add(f"logs {log_id}{said}", "logs", log_id, reason)
    else:
        gaps.add(f"{key}{said}", key, key, reason)


def _where(source: Any) -> str | None:
    """Where the metric source's data is, in words (its ``where``: the bundle's metrics.csv, the server the
    settings name), for what a could-not-judge verdict tells people to check; None without a source."""
    return None if source is None else getattr(source, "where", None) or f"the metric source {source.name}"


def execute_plan(plan: GatherPlan, toolkit: Toolkit, skill_knowledge: Any, event_text: str) -> dict[str, Any]:
    """Fetch metrics, logs, changes and knowledge for a plan."""
    calls: dict[str, Any] = {}
    gaps = Gaps()
    tasks = {f"m{i}": task for i, task in enumerate(plan.metric_tasks)}
    asked_by = _first_asker(tasks)
    if toolkit.metrics is not None:
        for key in dict.fromkeys(asked_by.values()):
            calls[key] = lambda q=tasks[key].query: toolkit.metrics.query(q)
    elif tasks:
        gaps.add("metrics: no metric source configured", "metrics", "metrics", "no metric source configured")
    if toolkit.logs is not None:
        for log_id, request in plan.log_requests.items():
            calls[f"log:{log_id}"] = lambda r=request: toolkit.logs.query(r)
        if plan.log_requests:
            span_asked = _requests_span(plan.log_requests.values())
            calls["log_span"] = lambda: _log_line_span(toolkit.logs, span_asked)
    elif plan.log_requests:
        gaps.add("logs: no log source configured", "logs", "logs", "no log source configured")
    if plan.change_request is not None:
        if toolkit.changes is not None:
            calls["changes"] = lambda r=plan.change_request: toolkit.changes.query(r)
        else:
            gaps.add("changes: no change source configured", "changes", "changes", "no change source configured")
    if toolkit.knowledge is not None and skill_knowledge.top_k > 0:
        calls["knowledge"] = lambda: toolkit.knowledge.search(
            f"{plan.knowledge_query} {event_text}".strip(),
            collections=list(skill_knowledge.collections),
            tags=list(skill_knowledge.tags) or None,
            top_k=skill_knowledge.top_k,
            in_question=sorted({*plan.targets, *plan.dependencies, *(t.service for t in plan.metric_tasks)}) or None,
        )
    ran = toolkit.ask(calls)
    results = {**{key: ran[asked_by[key]] for key in tasks if asked_by[key] in ran},
               **{key: result for key, result in ran.items() if key not in tasks}}

    gathered: dict[str, Any] = {"series": [], "logs": [], "changes": [], "knowledge": [], "metric_source":
                                _where(toolkit.metrics), "truncated_logs": [], "truncated_metrics": []}
    empty_signals: dict[str, list[str]] = {}
    gathered["log_span_asked"] = list(span_asked) if "log_span" in results else None
    gathered["log_span"] = results.pop("log_span", None)
    if isinstance(gathered["log_span"], str):  # could not tell which part of the window the store covers
        log.info("log coverage unknown: %s", gathered["log_span"])
        gathered["log_span"] = None
    for key, result in results.items():
        if isinstance(result, str):
            _failed(gaps, key, tasks, result)
            continue
        if key == "knowledge":
            gathered["knowledge"] = [s.model_dump(mode="json") for s in result]
            continue
        if result.status == "error":
            _failed(gaps, key, tasks, str(result.error), result.source)
            continue
        if key.startswith("m"):
            task = tasks[key]
            if result.status == "no_data" and task.period == "current":
                empty_signals.setdefault(task.signal, []).append(task.service)
            gathered["series"].extend(_series_json(task, result))
            if result.truncated:
                reason = f"only the first {task.query.limit} series were read (BIANQUE_MAX_SERIES_PER_SIGNAL)"
                gaps.add(f"metric {task.signal} of {task.service}: {reason}", "metrics", task.signal, reason,
                         [task.service])
                if task.query.asked() not in gathered["truncated_metrics"]:  # two signals asking it: kept once
                    gathered["truncated_metrics"].append(task.query.asked())
        elif key.startswith("log:"):
            log_id = key.split(":", 1)[1]
            gathered["logs"].extend({**_log_json(r), "query": log_id} for r in result.data)
            if result.truncated:
                limit = plan.log_requests[log_id].limit
                spread = "whole traces" if plan.log_requests[log_id].whole_traces else "lines"
                reason = (f"only about {limit} lines were read, a share of the {spread} spread evenly over the window "
                          "(the Skill's limit or BIANQUE_MAX_LOG_LINES)")
                gaps.add(f"logs {log_id}: {reason}", "logs", log_id, reason)
                gathered["truncated_logs"].append(as_asked(plan.log_requests[log_id]))
        elif key == "changes":
            gathered["changes"] = [_change_json(c) for c in result.data]
    gathered["unmeasured"] = _sort_out_empty(empty_signals, tasks, gathered["series"], gaps)
    if empty_signals and not any(s.get("period", "current") == "current" for s in gathered["series"]):
        absent = _absent_service_label(toolkit, list(tasks.values()))
        if absent is not None:
            gathered[ABSENT_SERVICE_LABEL] = absent
            gaps.add(absent, "metrics", "service label", absent)
    gathered["missing"], gathered["gaps"] = gaps.lines, gaps.records
    return gathered


def _absent_service_label(toolkit: Toolkit, tasks: list[MetricTask]) -> str | None:
    """Why every metric query found nothing when the server's series carry no label named as its service label
    (``BIANQUE_SERVICE_LABEL``), with the labels they do carry; None when they do, or the source cannot say (one
    ``label_names`` request over the queries' window)."""
    label = getattr(toolkit.metrics, "service_label", None)
    lister = getattr(toolkit.metrics, "label_names", None)
    if not label or lister is None or not tasks:
        return None
    start, end = min(t.query.start for t in tasks), max(t.query.end for t in tasks)
    names = toolkit.ask({"label names": lambda: lister(start, end)})["label names"]
    if not isinstance(names, set) or not names or label in names:
        return None
    held = sorted(n for n in names if not n.startswith("__"))
    return (f"no series carries the label {label!r} (BIANQUE_SERVICE_LABEL); the server's labels include "
            f"{first_of(held, 8)}")


def _sort_out_empty(empty_signals: dict[str, list[str]], tasks: dict[str, MetricTask],
                    series: list[dict[str, Any]], gaps: Gaps) -> dict[str, list[str]]:
    """Add a missing-data line for each signal that found no data, for the services it is a gap of; return the
    families (glob signals) each service does not measure, leaving them out of the lines. A service whose other
    series were read does not measure a family that matches none of them: that is no gap in its data (a generic
    Skill names families a system may not have), nor is a catch-all left nothing by the named signals. Where no
    series of the service came at all, and for a metric the Skill names exactly, it is a gap as before."""
    measured = {item["service"] for item in series if item.get("period", "current") == "current"}
    kinds = {task.signal: task for task in tasks.values()}
    unmeasured: dict[str, list[str]] = {}
    for signal, services in empty_signals.items():
        task = kinds[signal]
        empty = services if not (task.family or task.catch_all) else [s for s in services if s not in measured]
        if task.family:
            for service in services:
                if service in measured:
                    unmeasured.setdefault(service, []).append(signal)
        if empty:
            gaps.add(no_data_line(signal, empty), "metrics", signal, NO_DATA, sorted(set(empty)))
    return unmeasured


def unmeasured_notes(unmeasured: dict[str, list[str]]) -> list[str]:
    """One line for the services that measure none of the same metric families (``_sort_out_empty``)."""
    by_families: dict[tuple[str, ...], list[str]] = {}
    for service, families in unmeasured.items():
        by_families.setdefault(tuple(families), []).append(service)
    return [f"metric famil{'ies' if len(families) > 1 else 'y'} {first_of(families)}: not measured on "
            f"{first_of(services)} (no series there matches; the other series there were examined)"
            for families, services in by_families.items()]


def _requests_span(requests: Iterable[LogRequest]) -> tuple[float, float]:
    """From the first request's start to the last one's end."""
    requests = list(requests)
    return min(r.start for r in requests), max(r.end for r in requests)


def _log_line_span(source: Any, asked: tuple[float, float]) -> tuple[float, float] | None:
    """When the log store's first and last lines (any service or level) in ``asked`` were written; None when unknown
    (a source without ``line_span``) or there is none."""
    line_span = getattr(source, "line_span", None)
    return None if line_span is None else line_span(*asked)


def _log_json(record: Any) -> dict[str, Any]:
    line = {"ts": record.ts, "service": record.service, "level": record.level, "message": record.message,
            "instance": record.instance}
    return {**line, "trace_id": record.trace_id} if getattr(record, "trace_id", None) else line


def _change_json(record: Any) -> dict[str, Any]:
    return {"ts": record.ts, "service": record.service, "type": record.type, "id": record.id,
            "description": record.description, "version": record.version,
            "canary": dict(record.canary) if record.canary else None,
            "baseline": dict(record.baseline) if record.baseline else None}


def gather(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Build the plan from the selected Skill and execute it. Without a call graph with edges, the one the
    window's metric labels and log traces show is this investigation's (``calls``, see :func:`_calls_read`); when
    no graph covers the targets, every other service with data is a possible dependency of a Skill that reads
    dependencies."""
    event = Event.model_validate(state["event"])
    skill = toolkit.skill(state["skill"]["name"])
    started = state.get("window", {}).get("anchor")  # triage found when a change began
    start, end, _anchor = time_window(skill, event, started)
    notes: list[str] = []
    # asked of the sources once, if at all
    listed = list(state.get("services_listed", []))  # what triage listed, then what this step lists
    services = cache(lambda: toolkit.services_in(start, end, notes, before_data=True, listed=listed))
    calls_read = _calls_read(state, toolkit, start, end, services)
    read, entry_notes = _with_calls(state, calls_read["calls"] if calls_read else {})
    notes += [*(calls_read["notes"] if calls_read else []), *entry_notes]
    topology = call_graph({**state, **read}, toolkit)
    targets = read.get("targets", state.get("targets", []))
    peers: list[str] = []
    if reads_dependencies(skill) and not call_graph_covers(topology, targets):
        peers = services()
        shown = [p for p in peers if p not in targets]
        if shown:
            notes.append(f"no call graph covers {', '.join(targets) or 'the event'}: every other service with "
                         f"data ({min(len(shown), MAX_PEERS)} of {len(shown)}) examined as a possible dependency")
    plan = build_plan(skill, event, targets, topology, started=started,
                      max_series=toolkit.max_series_per_signal, max_log_lines=toolkit.max_log_lines, peers=peers)
    gathered = execute_plan(plan, toolkit, skill.knowledge, event.describe())
    gathered["dependencies"] = plan.dependencies
    gathered["calls_read"], gathered["services_listed"] = calls_read, listed
    notes += unmeasured_notes(gathered["unmeasured"])
    return {
        **read,
        **({"notes": [*state.get("notes", []), *notes]} if notes else {}),
        "gathered": gathered,
        "window": {**state.get("window", {}), "start": plan.start, "end": plan.end, "anchor": plan.anchor,
                   **({"reference_end": plan.reference_end} if plan.reference_end is not None else {})},
    }


def _calls_read(state: InvestigationState, toolkit: Toolkit, start: float, end: float,
                services: Callable[[], list[str]]) -> dict[str, Any] | None:
    """The calls read off the window's data and the notes saying how (``{"calls": ..., "notes": [...]}``, calls
    empty when none shows), when the investigation has no call graph with edges (none, or the Toolkit's names no
    call); None when it has one. The calls are those its metric series' labels name and those the traces of its log
    lines show and the services with data (``services``) those lines name, joined. A replay of a live case takes
    what the live run read (``toolkit.calls_read``): the data it read them off was not all kept."""
    if not may_read_calls(state, toolkit):
        return None
    if toolkit.calls_read is not None:
        return {"calls": dict(toolkit.calls_read.calls), "notes": list(toolkit.calls_read.notes)}
    labelled, notes = _calls_from_metric_labels(toolkit, start, end, services)
    read_off_logs = _calls_from_logs(toolkit, start, end, services, notes) if toolkit.logs is not None else []
    found = [calls for calls in (labelled, *read_off_logs) if calls is not None]
    if not found:
        return {"calls": {}, "notes": notes}
    calls = union(*(c.depends_on for c in found)) if len(found) > 1 else found[0].depends_on
    notes += [c.describe(why_read(toolkit)) for c in found]
    if len(found) > 1:
        notes.append(f"the call graph joins both: {sum(map(len, calls.values()))} call(s)")
    return {"calls": calls, "notes": notes}


def _with_calls(state: InvestigationState, calls: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """The state update of the calls read (none: nothing) and its notes: for an event naming no service, their entry
    points as its targets."""
    if not calls:
        return {}, []
    if state.get("targets"):
        return {"calls": calls}, []
    targets, started_from = entry_points(Topology(calls))
    return {"calls": calls, "targets": targets}, started_from


def _askable(toolkit: Toolkit, start: float, end: float) -> list[CallLabels]:
    """The conventions worth a question: those whose labels the source has in the window, when it can list its label
    names (``label_names``: one cheap request instead of a query per convention on a source that has none), else
    every one with classic label names (a dotted one, ``service.name``, only where the source lists it: a server
    without UTF-8 names would answer it with a syntax error). The listing is asked within the source timeout."""
    lister = getattr(toolkit.metrics, "label_names", None)
    names = (toolkit.ask({"label names": lambda: lister(start, end)}, before_data=True)["label names"]
             if lister is not None else None)
    if isinstance(names, str):  # the source warns of its own failure (naming its URL): said once, not here too
        log.debug("%s: cannot list label names: %s", toolkit.metrics.name, names)
        names = None
    if names is None:
        return [c for c in CONVENTIONS if all(map(classic_label, c.named_labels))]
    return [c for c in CONVENTIONS if c.named_labels <= names]


def _calls_from_metric_labels(toolkit: Toolkit, start: float, end: float, services: Callable[[], list[str]],
                              ) -> tuple[LabelledCalls | None, list[str]]:
    """The calls the labels of the metric series with samples in ``[start, end]`` name between services with data
    (one question per convention of ``agent.call_labels``, in parallel, each within the source timeout), and a note
    when some could not be asked; None when the source cannot say (no ``calls``) or names no such call."""
    reader = getattr(toolkit.metrics, "calls", None)
    if reader is None:
        return None, []
    conventions = _askable(toolkit, start, end)
    ran = toolkit.ask({c.name: (lambda c=c: reader(c, start, end)) for c in conventions}, before_data=True)
    seen, failed = [], []
    for convention in conventions:
        result = ran[convention.name]
        if isinstance(result, str) or result.status == "error":
            failed.append(f"{convention.name}: {result if isinstance(result, str) else result.error}")
        else:
            seen.extend((convention, caller, callee) for caller, callee in result.data)
    notes = [f"calls not read off the metric labels of {len(failed)} of {len(conventions)} conventions "
             f"({'; '.join(failed[:2])}{'; …' if len(failed) > 2 else ''})"] if failed else []
    if not seen:
        return None, notes
    labelled = calls_from_labels(seen, set(services()))
    if not labelled.depends_on:
        log.debug("no call graph read off the metric labels: the %d pair(s) they name are not services with data",
                  labelled.left_out)
        return None, notes
    return labelled, notes


def _calls_from_logs(toolkit: Toolkit, start: float, end: float, services: Callable[[], list[str]],
                     notes: list[str]) -> list[ReadCalls]:
    """The calls the log lines in ``[start, end]`` show (every service and level, up to ``max_log_lines`` lines,
    traces kept whole): the order of their traces' lines, and the services with data their lines name; nothing,
    and why in the debug log, when the log source cannot answer or its lines show no call (in ``notes`` when the
    investigation's deadline was why)."""
    request = LogRequest((), start, end, levels=(), limit=toolkit.max_log_lines, whole_traces=True)
    result = toolkit.ask({"calls": lambda: toolkit.logs.query(request)}, before_data=True)["calls"]
    if isinstance(result, DeadlineReason):
        notes.append(f"calls not read off the log lines ({result})")
    if isinstance(result, str) or result.status == "error":
        log.debug("no call graph read off the logs: %s", result if isinstance(result, str) else result.error)
        return []
    found = [calls for calls in (calls_from_traces(result.data),
                                 calls_named(result.data, services())) if calls.calls]
    if not found:
        log.debug("no call graph read off the logs: the %d lines show no call in %d+ traces and name none in %d+ "
                  "lines", len(result.data), MIN_TRACES, MIN_LINES)
    return found
