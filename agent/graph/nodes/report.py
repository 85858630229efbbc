"""report: render the verdict and its evidence as markdown for people."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agent.detectors.wording import fmt_duration
from agent.events import Event, Pattern
from agent.findings import Finding, about
from agent.graph.gathered import no_data_of
from agent.graph.state import InvestigationState
from agent.graph.timing import evidence_window
from agent.graph.toolkit import Toolkit
from agent.phrases import listed, own_code_split
from agent.timeparse import to_rfc3339
from agent.verdict import RootCause, Verdict

MAX_FINDINGS_SHOWN = 12
VIA = " via "
CONFIDENCE_NOTE = ("_Confidence: how sure the top candidate is (its strongest evidence), scaled by each candidate's "
                   "ranking score relative to the top's; it falls down the list._")
VIA_NOTE = ("_`Fn via S`: a Finding about S cited as the evidence that implicates the candidate through the call "
            "graph (S's calls to it got slower, or S did less work once the candidate stopped calling it)._")
INFERRED_NOTE = ("_`fault (inferred from S)`: no Finding of the candidate's own names a fault kind; it is read off "
                 "S's calls to it (they got slower: slow_dependency; failed: error_fault)._")


LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")  # what str.splitlines() splits at
# What in text from the data (alert annotations, log lines, label values) would become markup: emphasis asterisks
# (metric globs), links and images, HTML and autolinks, code spans, table cells, math, and Streamlit's
# ``:directive[...]``, ``:emoji:`` and ``:material/icon:`` words (a colon ending a word, ``key: value``, stays).
MARKUP = re.compile(r"([\\*\[\]<>`|$]|(?<![\w:]):(?=\w)|(?<=:material)/)")


def literal(text: str) -> str:
    """``text`` as it reads, in markdown, on the line it is put on: nothing in it becomes emphasis, a link, an image,
    HTML, code, math or a new table cell, and no line break in it starts a heading or a list item of its own (an
    alert annotation is untrusted text). The code spans of our own advice (``phrases.command``: `bianque catalog`)
    in it stay code."""
    return "".join(piece if ours else MARKUP.sub(r"\\\1", piece)
                   for piece, ours in own_code_split(LINE_BREAKS.sub(" ", text)))


def _headline(verdict: Verdict, event: Event) -> str:
    unjudged = "" if verdict.judged else " (could not judge)"
    if verdict.pattern == "release_interception":
        return f"**Decision: {str(verdict.decision).upper()}**{unjudged}"
    if verdict.pattern == "rca":
        attention = "needs attention" if verdict.needs_attention else "no attention needed"
        alert = event.alert
        if alert is not None and alert.status == "resolved":  # said first: it no longer fires
            at = f" at {to_rfc3339(alert.ends_at)}" if alert.ends_at else ""
            return f"**Alert resolved**{at}; {attention}{unjudged} — {literal(verdict.attention_reason or '')}"
        return f"**Alert {attention}**{unjudged} — {literal(verdict.attention_reason or '')}"
    if not verdict.judged:
        return "**Inspection: COULD NOT JUDGE**"
    healthy = verdict.inspection_healthy()
    return f"**Inspection: {'HEALTHY' if healthy else str(verdict.inspection_level()).upper()}**"


def missing_lines(missing: Sequence[str]) -> list[str]:
    """The missing-data lines for people, the signals that found no data for the same services on one line
    (``metrics cpu, memory and disk: no data for api``) where the first of them stood: a system whose names no
    Skill knows would otherwise show every named signal of the Skill on a line of its own."""
    groups: dict[str, list[str]] = {}
    order: list[tuple[str, str]] = []  # ("line", text) or ("group", services)
    for line in missing:
        no_data = no_data_of(line)
        if no_data is None:
            order.append(("line", line))
            continue
        signal, services = no_data
        if services not in groups:
            groups[services] = []
            order.append(("group", services))
        groups[services].append(signal)
    return [text if what == "line" else
            f"metric{'s' if len(groups[text]) > 1 else ''} {listed(groups[text])}: no data for {text}"
            for what, text in order]


def _evidence_line(event: Event, window: Mapping[str, float]) -> str | None:
    """The release's evidence window in one line: from when the change began to the judgement's time (or, when that
    time is not after the start, the Skill's observation after it), and what it is compared with."""
    span = evidence_window(window)
    if span is None:
        return None
    start, end = span["start"], span["end"]
    until = ("the judgement's time" if end == window.get("time", end)
             else f"{fmt_duration(end - start)} after it, the Skill's window.after")  # time not after the start
    change = event.change
    if change is not None and change.canary and change.baseline:
        against = ", the canary compared with its baseline instances"
    else:
        against = f", compared with the {fmt_duration(start - window['start'])} before" if "start" in window else ""
    return f"_Evidence: the data from {to_rfc3339(start)} (the change began) to {to_rfc3339(end)} ({until}){against}._"


def _inspected_line(window: Mapping[str, float]) -> str | None:
    """What an inspection judged, in one line: how far back from when, and the reference before it when the Skill
    reads one; None when the window is not known."""
    if "start" not in window or "end" not in window:
        return None
    begin = window.get("reference_end", window["start"])
    against = (f", compared with the {fmt_duration(begin - window['start'])} before"
               if begin > window["start"] else "")
    return (f"_Inspected: {fmt_duration(window['end'] - begin)} of data, {to_rfc3339(begin)} to "
            f"{to_rfc3339(window['end'])}{against}._")


def cited_for(cause: RootCause, by_id: Mapping[str, Finding]) -> list[str]:
    """The cause's cited Finding ids, each about another service marked with that service (``F1 via frontend``):
    the evidence that implicates it through the call graph, not a deviation of its own."""
    return [i if i not in by_id or about(by_id[i], cause.service) else f"{i}{VIA}{by_id[i].owner}"
            for i in cause.evidence]


def fault_shown(cause: RootCause) -> str:
    """The cause's fault kind, marked as inferred from the services it was read off when it was
    (``RootCause.inferred_from``: their calls to it, the candidate having no Finding that names one):
    ``slow_dependency (inferred from frontend)``. A kind from its own evidence, a lesson or a model is left as it is."""
    if not cause.inferred_from:
        return cause.fault
    return f"{cause.fault} (inferred from {', '.join(cause.inferred_from)})"


def render_report(event: Event, skill: dict[str, Any], verdict: Verdict, findings: list[Finding],
                  missing: list[str], notes: list[str], window: Mapping[str, float] | None = None) -> str:
    """Markdown report: headline, summary (and a release's evidence window, an inspection's span), causes or items,
    evidence table, gaps, provenance."""
    about = event.about()
    title = f"# {event.pattern.value}: {literal(about)}" if about else f"# {event.pattern.value}"
    lines = [title, "", _headline(verdict, event), "", literal(verdict.summary), ""]
    if event.pattern == Pattern.RELEASE_INTERCEPTION and (evidence := _evidence_line(event, window or {})):
        lines += [evidence, ""]
    if event.pattern == Pattern.INSPECTION and (inspected := _inspected_line(window or {})):
        lines += [inspected, ""]
    if verdict.root_causes:
        lines += ["## Root-cause candidates", "", "| # | service | fault | confidence | evidence |",
                  "|---|---|---|---|---|"]
        by_id = {f.id: f for f in findings}
        cited = [cited_for(cause, by_id) for cause in verdict.root_causes]
        faults = [fault_shown(cause) for cause in verdict.root_causes]
        for rank, (cause, fault, ids) in enumerate(zip(verdict.root_causes, faults, cited, strict=True), start=1):
            lines.append(f"| {rank} | {literal(cause.service)} | {literal(fault)} | {cause.confidence:.2f} | "
                         f"{literal(', '.join(ids))} |")
        lines += ["", CONFIDENCE_NOTE, ""]
        if any(cause.explanation for cause in verdict.root_causes):  # why each ranks there: experience cites cases
            lines += ["Why, by rank:", "", *[f"{rank}. {literal(cause.service)}: {literal(' '.join(why.split()))}"
                                            for rank, cause in enumerate(verdict.root_causes, start=1)
                                            if (why := cause.explanation)], ""]  # one line each, whatever it holds
        if any(VIA in i for ids in cited for i in ids):
            lines += [VIA_NOTE, ""]
        if any(cause.inferred_from for cause in verdict.root_causes):
            lines += [INFERRED_NOTE, ""]
    if verdict.items:
        lines += ["## Findings by severity", "", "| severity | service | kind | evidence | summary |",
                  "|---|---|---|---|---|"]
        for item in verdict.items:
            lines.append(f"| {item.severity} | {literal(item.service)} | {literal(item.kind)} | "
                         f"{', '.join(item.evidence)} | {literal(item.summary)} |")
        lines.append("")
    if verdict.actions:
        lines += ["## Next steps", "", *[f"- {literal(a)}" for a in verdict.actions], ""]
    cited = verdict.cited_ids()
    shown = [f for f in findings if f.id in cited] + [f for f in findings if f.id not in cited]
    if shown:
        lines += ["## Evidence", "", "| id | kind | subject | score | onset | summary |", "|---|---|---|---|---|---|"]
        for f in shown[:MAX_FINDINGS_SHOWN]:
            onset = to_rfc3339(f.onset) if f.onset else ""
            lines.append(f"| {f.id} | {f.kind.value} | {literal(f.subject)} | {f.score:.2f} | {onset} | "
                         f"{literal(f.summary)} |")
        if len(shown) > MAX_FINDINGS_SHOWN:
            lines.append(f"\n_{len(shown) - MAX_FINDINGS_SHOWN} more findings not shown._")
        lines.append("")
    if missing:
        lines += ["## Missing data", "", *[f"- {literal(m)}" for m in missing_lines(missing)], ""]
    lines += [
        "## Provenance", "",
        f"- Skill: `{skill.get('name')}` v{skill.get('version')} "
        f"({skill.get('method')}: {literal(str(skill.get('reason')))})",
        f"- Reasoner: {verdict.reasoner}",
        *[f"- {literal(n)}" for n in notes],
    ]
    return "\n".join(lines) + "\n"


def report(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Render the markdown report."""
    event = Event.model_validate(state["event"])
    verdict = Verdict.model_validate(state["verdict"])
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    missing = state.get("gathered", {}).get("missing", [])
    text = render_report(event, state["skill"], verdict, findings, missing, state.get("notes", []),
                         state.get("window"))
    return {"report": text}
