"""Corrected cases as retrievable knowledge: one record per case in the ``cases`` collection.

The record's text is what a reasoner needs to recognise a similar incident: the event, the strongest
Findings, what the agent said and what the truth was. Gather retrieves it for Skills whose
``knowledge.collections`` list ``cases``; every Skill sees the distilled experience notes.
"""

from __future__ import annotations

from typing import Any

from agent.evidence import KnowledgeSnippet
from agent.memory.records import CaseRecord
from agent.memory.truth import Truth, case_skill, truth_for_case

TOP_FINDINGS = 5
CASE_PREFIX = "case-"


def case_doc_id(case_id: str) -> str:
    """The id of a case's record in the ``cases`` collection."""
    return f"{CASE_PREFIX}{case_id}"


def verdict_line(case: CaseRecord) -> str:
    """What the agent answered, in a few words."""
    verdict = case.verdict
    if verdict is None:
        return f"no answer ({case.status})"
    parts: list[str] = []
    if verdict.decision:
        parts.append(f"decision {verdict.decision}")
    if verdict.needs_attention is not None:
        parts.append("needs attention" if verdict.needs_attention else "no attention")
    if verdict.root_causes:
        top = verdict.root_causes[0]
        parts.append(f"root cause {top.service}/{top.fault}")
    for item in verdict.items[:2]:
        parts.append(f"{item.severity} {item.service}/{item.kind}")
    return ", ".join(parts) or verdict.summary


def case_text(case: CaseRecord, truth: Truth) -> str:
    """The searchable text of a corrected case: event, top Findings, the answer given and the truth."""
    lines = [f"Event: {case.event.describe()}"]
    top = sorted(case.findings, key=lambda f: -f.score)[:TOP_FINDINGS]
    if top:
        lines.append("Findings: " + "; ".join(f.summary for f in top))
    correction = case.latest_correction
    judged = "right" if correction is not None and correction.correct else "wrong"
    lines.append(f"Agent answered ({case_skill(case) or 'no Skill'}): {verdict_line(case)} — judged {judged}.")
    lines.append(f"Truth: {truth.describe()}.")
    if truth.note:
        lines.append(f"Engineer's note: {truth.note}")
    return "\n".join(lines)


def case_metadata(case: CaseRecord, truth: Truth) -> dict[str, Any]:
    """Filterable metadata: case id, Skill, pattern, the services and fault kind involved."""
    services = [s for s in (truth.service, case.service, *[f["service"] for f in truth.findings]) if s]
    tags = [t for t in (truth.fault, case.pattern, "noise" if truth.needs_attention is False else None) if t]
    tags += [f["kind"] for f in truth.findings if f.get("kind")]
    return {
        "title": f"Past case {case.id}: {truth.describe()}",
        "case_id": case.id,
        "skill": case_skill(case),
        "pattern": case.pattern,
        "truth": truth.describe(),
        "correct": bool(case.latest_correction and case.latest_correction.correct),
        "created_at": case.created_at,
        "services": list(dict.fromkeys(services)),
        "tags": list(dict.fromkeys(tags)),
    }


def index_case(knowledge: Any, case: CaseRecord, truth: Truth | None = None) -> str:
    """Upsert a corrected case into the ``cases`` collection; return its record id (idempotent)."""
    truth = truth or truth_for_case(case)
    if truth is None:
        raise ValueError(f"case {case.id} has neither a correction nor a label: nothing to index")
    doc_id = case_doc_id(case.id)
    knowledge.add("cases", doc_id, case_text(case, truth), case_metadata(case, truth))
    return doc_id


def forget_case(knowledge: Any, case_id: str) -> str | None:
    """Remove a case's record from the ``cases`` collection; its id, or None when there was none."""
    doc_id = case_doc_id(case_id)
    if knowledge.get("cases", doc_id) is None:
        return None
    knowledge.delete("cases", doc_id)
    return doc_id


def similar_cases(
    knowledge: Any, text: str, *, top_k: int = 3, services: list[str] | None = None, min_score: float = 0.3
) -> list[KnowledgeSnippet]:
    """Past corrected cases and experience notes most similar to ``text`` (an event description)."""
    return knowledge.search(
        text, collections=["experience", "cases"], services=services, top_k=top_k, min_score=min_score
    )
