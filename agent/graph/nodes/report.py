"""report: render the verdict and its evidence as markdown for people."""

from __future__ import annotations

from typing import Any

from agent.events import Event
from agent.findings import Finding
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit
from agent.timeparse import to_rfc3339
from agent.verdict import Verdict

MAX_FINDINGS_SHOWN = 12


def _headline(verdict: Verdict) -> str:
    unjudged = "" if verdict.judged else " (could not judge)"
    if verdict.pattern == "release_interception":
        return f"**Decision: {str(verdict.decision).upper()}**{unjudged}"
    if verdict.pattern == "rca":
        attention = "needs attention" if verdict.needs_attention else "no attention needed"
        return f"**Alert {attention}**{unjudged} — {verdict.attention_reason or ''}"
    if not verdict.judged:
        return "**Inspection: COULD NOT JUDGE**"
    worst = next((i.severity for i in verdict.items), "healthy")
    return f"**Inspection: {worst.upper() if worst != 'healthy' else 'HEALTHY'}**"


def render_report(event: Event, skill: dict[str, Any], verdict: Verdict, findings: list[Finding],
                  missing: list[str], notes: list[str]) -> str:
    """Markdown report: headline, summary, causes or items, evidence table, gaps, provenance."""
    lines = [f"# {event.pattern.value}: {event.describe()}", "", _headline(verdict), "", verdict.summary, ""]
    if verdict.root_causes:
        lines += ["## Root-cause candidates", "", "| # | service | fault | confidence | evidence |",
                  "|---|---|---|---|---|"]
        for rank, cause in enumerate(verdict.root_causes, start=1):
            lines.append(f"| {rank} | {cause.service} | {cause.fault} | {cause.confidence:.2f} | "
                         f"{', '.join(cause.evidence)} |")
        lines.append("")
    if verdict.items:
        lines += ["## Findings by severity", "", "| severity | service | kind | evidence | summary |",
                  "|---|---|---|---|---|"]
        for item in verdict.items:
            lines.append(f"| {item.severity} | {item.service} | {item.kind} | {', '.join(item.evidence)} | "
                         f"{item.summary} |")
        lines.append("")
    if verdict.actions:
        lines += ["## Next steps", "", *[f"- {a}" for a in verdict.actions], ""]
    cited = verdict.cited_ids()
    shown = [f for f in findings if f.id in cited] + [f for f in findings if f.id not in cited]
    if shown:
        lines += ["## Evidence", "", "| id | kind | subject | score | onset | summary |", "|---|---|---|---|---|---|"]
        for f in shown[:MAX_FINDINGS_SHOWN]:
            onset = to_rfc3339(f.onset) if f.onset else ""
            lines.append(f"| {f.id} | {f.kind.value} | {f.subject} | {f.score:.2f} | {onset} | {f.summary} |")
        if len(shown) > MAX_FINDINGS_SHOWN:
            lines.append(f"\n_{len(shown) - MAX_FINDINGS_SHOWN} more findings not shown._")
        lines.append("")
    if missing:
        lines += ["## Missing data", "", *[f"- {m}" for m in missing], ""]
    lines += [
        "## Provenance", "",
        f"- Skill: `{skill.get('name')}` v{skill.get('version')} ({skill.get('method')}: {skill.get('reason')})",
        f"- Reasoner: {verdict.reasoner}",
        *[f"- {n}" for n in notes],
    ]
    return "\n".join(lines) + "\n"


def report(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Render the markdown report."""
    event = Event.model_validate(state["event"])
    verdict = Verdict.model_validate(state["verdict"])
    findings = [Finding.model_validate(f) for f in state.get("findings", [])]
    missing = state.get("gathered", {}).get("missing", [])
    text = render_report(event, state["skill"], verdict, findings, missing, state.get("notes", []))
    return {"report": text}
