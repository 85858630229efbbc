"""Distil corrected cases into short experience notes (collection ``experience``).

Cases are grouped by what they teach, never by service name: same Skill, same truth (fault kind,
noise, release decision or inspection finding kind) and same signature (for RCA, where the true cause
sat from the alerted service and which kinds of Findings it showed: ``down1: cpu_saturation:up``), so
cases on different services with the same pattern merge into one note. Each group has exactly one
note, with a stable id derived from the group, linked to its source cases in metadata. Re-running
changes nothing; a new case that joins a group rewrites that group's note; a group left empty (its
cases re-corrected, or kept out of experience by ``correct --no-index``) loses its note.
Notes are written by the LLM when a client is given (validated JSON, errors sent back), else by a
deterministic template.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.casebase import verdict_line
from agent.evolve.llm_loop import GenerationFailed, ask_until_valid, text_fields_schema
from agent.evolve.prompts import render
from agent.llm.jsontext import parse_json_object
from agent.llm.types import LLMError
from agent.memory.records import CaseRecord
from agent.memory.truth import Truth, case_skill, truth_for_case
from agent.reasoners.experience import describe_lesson
from agent.reasoners.lessons import case_lessons

ORIGIN = "distill"
NOTE_PREFIX = "exp-"
MAX_NOTE_CHARS = 800
LESSONS: dict[str, str] = {
    "memory_leak": "check memory for a steady rise over hours (a trend), not only latency; GC pauses and "
    "OOM kills in the logs confirm a leak",
    "disk_full": "check disk usage growing towards full and 'no space left' write errors",
    "cache_failure": "check the cache hit ratio: its collapse raises callers' latency and backend load",
    "traffic_spike": "compare the request rate with its baseline: load explains the rise, not a defect",
    "slow_dependency": "look further down the dependency graph: the earliest latency rise is the cause",
    "bad_release": "look for a deploy or canary on that service shortly before the onset",
    "bad_config": "look for a config push or flag flip shortly before the onset; config errors in logs confirm it",
    "noise": "this alert fires without a sustained deviation: treat it as noise unless latency or errors move",
    "block": "regressions like these should block the release",
    "hold": "regressions like these call for a longer observation (hold)",
    "pass": "movements like these are noise for this release; pass it",
    "clean": "nothing here was worth reporting",
}


@dataclass(frozen=True)
class Group:
    """What a set of cases teaches: Skill, the kind of truth and its signature (never a service name)."""

    skill: str
    signature: str
    kind: str

    @property
    def note_id(self) -> str:
        digest = hashlib.sha1(f"{self.skill}|{self.signature}|{self.kind}".encode()).hexdigest()[:12]
        return f"{NOTE_PREFIX}{digest}"


@dataclass
class NoteResult:
    """One note after a distillation: what happened to it and why."""

    id: str
    group: Group
    cases: list[str]
    action: str  # created | updated | unchanged | removed
    writer: str = ""
    title: str = ""


@dataclass
class DistillReport:
    """Every note touched by one distillation, and notes on fallbacks."""

    notes: list[NoteResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for n in self.notes if n.action == action)


def signature(case: CaseRecord, truth: Truth) -> str:
    """An RCA truth's signature: where the cause sat from the alerted service and its Finding kinds."""
    cause = next((lesson for lesson in case_lessons(case, truth) if lesson.cause), None)
    if cause is None:
        return "no root-cause service named"
    return f"{describe_lesson(cause)}"


def group_of(case: CaseRecord, truth: Truth) -> Group:
    """The group a corrected case belongs to."""
    skill = case_skill(case) or "unknown"
    if truth.pattern == "release_interception":
        return Group(skill, "release", truth.decision or "pass")
    if truth.pattern == "inspection":
        first = truth.findings[0] if truth.findings else None
        return Group(skill, "inspection", first["kind"] or "anomaly" if first else "clean")
    if truth.needs_attention is False:
        return Group(skill, "alert without a sustained deviation", "noise")
    return Group(skill, signature(case, truth), truth.fault or "unknown")


def _sources_hash(cases: list[CaseRecord]) -> str:
    """Changes when a case joins or leaves a group, or is corrected again."""
    keys = sorted(f"{c.id}:{c.latest_correction.id if c.latest_correction else 0}" for c in cases)
    return hashlib.sha1("|".join(keys).encode()).hexdigest()[:16]


def template_note(group: Group, cases: list[CaseRecord], truths: list[Truth]) -> tuple[str, str]:
    """(title, text) of a note written without a model."""
    count = len(cases)
    alerts = sorted({c.event.alert.name for c in cases if c.event.alert and c.event.alert.name})
    truth = truths[-1].describe()
    services = sorted({s for t in truths for s in ([t.service] if t.service else [])})
    title = f"{group.kind}: {group.signature} ({count} corrected case{'s' if count > 1 else ''})"
    answered = Counter(verdict_line(c) for c in cases)
    lines = [
        f"{count} corrected case{'s' if count > 1 else ''} of Skill {group.skill}, signature {group.signature}"
        + (f" (alerts {', '.join(alerts)})" if alerts else "")
        + (f", on {', '.join(services)}" if services else "")
        + f": the truth was {truth}.",
        "The agent had answered: " + "; ".join(f"{a} ({n}x)" for a, n in answered.most_common(3)) + ".",
    ]
    lesson = LESSONS.get(group.kind)
    if lesson:
        lines.append(f"Lesson: {lesson}.")
    notes = list(dict.fromkeys(t.note.strip() for t in truths if t.note.strip()))[:3]
    if notes:
        lines.append("Engineers noted: " + " | ".join(notes))
    return title, "\n".join(lines)[:MAX_NOTE_CHARS]


def _parse_note(text: str) -> tuple[str, str]:
    data = parse_json_object(text)
    title, note = data.get("title"), data.get("note")
    if not isinstance(title, str) or not title.strip():
        raise ValueError('field "title": required, a non-empty string')
    if not isinstance(note, str) or not note.strip():
        raise ValueError('field "note": required, a non-empty string')
    if len(note) > MAX_NOTE_CHARS:
        raise ValueError(f'field "note": {len(note)} characters, at most {MAX_NOTE_CHARS} allowed; shorten it')
    return title.strip()[:120], note.strip()


def llm_note(client: Any, group: Group, cases: list[CaseRecord], truths: list[Truth]) -> tuple[str, str]:
    """(title, text) of a note written by the model (GenerationFailed after three bad answers)."""
    from agent.evolve.casebase import case_text

    prompt = render(
        "distill_note",
        group=group,
        cases=[{"id": c.id, "text": case_text(c, t)} for c, t in zip(cases, truths, strict=True)],
        max_chars=MAX_NOTE_CHARS,
    )
    messages = [{"role": "system", "content": render("system")}, {"role": "user", "content": prompt}]
    schema = text_fields_schema(title=120, note=MAX_NOTE_CHARS)
    note, _tries = ask_until_valid(client, messages, _parse_note, purpose="experience note", schema=schema)
    return note


def _existing_notes(knowledge: Any, skill: str | None) -> dict[str, dict[str, Any]]:
    where: dict[str, Any] = {"origin": ORIGIN}
    if skill is not None:
        where = {"$and": [where, {"skill": skill}]}
    got = knowledge.collection("experience").get(where=where, include=["metadatas"])
    return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"] or [], strict=False)}


def collect_groups(cases: list[CaseRecord]) -> dict[Group, list[tuple[CaseRecord, Truth]]]:
    """Corrected cases grouped by what they teach, oldest first within a group."""
    groups: dict[Group, list[tuple[CaseRecord, Truth]]] = {}
    for case in cases:
        truth = truth_for_case(case)
        if truth is not None and case.latest_correction is not None:
            groups.setdefault(group_of(case, truth), []).append((case, truth))
    return groups


def distill(
    memory: Any,
    knowledge: Any,
    *,
    client: Any = None,
    skill: str | None = None,
    min_cases: int = 1,
) -> DistillReport:
    """Write, update or remove experience notes so there is one per group of corrected cases (those that are
    experience: a case whose latest correction said ``--no-index`` is left out).

    ``client`` (an LLMClient) writes the notes; without it, or when the model fails three times,
    the template does (and for every later group once the endpoint itself failed). A note whose source
    cases did not change is left alone, unless it was written by the template and a model is now
    available. A group of fewer than ``min_cases`` cases gets no new note, and the note it has is kept
    as it is: only a group left empty loses its note.
    """
    report = DistillReport()
    existing = _existing_notes(knowledge, skill)
    cases = [c for c in memory.experience_cases() if skill is None or case_skill(c) == skill]
    groups = collect_groups(cases)
    for small in [g for g, members in groups.items() if len(members) < min_cases]:
        existing.pop(small.note_id, None)
        del groups[small]
    for group, members in groups.items():
        cases = [c for c, _ in members]
        truths = [t for _, t in members]
        sources = _sources_hash(cases)
        old = existing.pop(group.note_id, None)
        if old and old.get("sources_hash") == sources and (client is None or old.get("writer") != "template"):
            report.notes.append(NoteResult(group.note_id, group, [c.id for c in cases], "unchanged",
                                           str(old.get("writer", "")), str(old.get("title", ""))))
            continue
        try:
            title, text, writer = _write(group, cases, truths, client, report)
        except LLMError as exc:  # the endpoint failed (down, timed out): no point asking it for the next groups
            report.messages.append(f"{group.note_id}: {exc}; the template wrote this note and the rest instead")
            client = None
            title, text, writer = _write(group, cases, truths, client, report)
        services = sorted({s for c, t in members for s in (t.service, c.service) if s})
        metadata = {
            "title": title, "origin": ORIGIN, "skill": group.skill, "signature": group.signature,
            "kind": group.kind, "source_cases": ",".join(c.id for c in cases), "count": len(cases),
            "sources_hash": sources, "writer": writer, "services": services or ["unknown"],
            "tags": [group.kind, cases[0].pattern],
        }
        knowledge.add("experience", group.note_id, text, metadata)
        action = "updated" if old else "created"
        report.notes.append(NoteResult(group.note_id, group, [c.id for c in cases], action, writer, title))
    for note_id, meta in existing.items():
        knowledge.delete("experience", note_id)
        group = Group(str(meta.get("skill", "")), str(meta.get("signature", meta.get("service", ""))),
                      str(meta.get("kind", "")))
        report.notes.append(NoteResult(note_id, group, [], "removed", str(meta.get("writer", "")),
                                       str(meta.get("title", ""))))
    return report


def _write(
    group: Group, cases: list[CaseRecord], truths: list[Truth], client: Any, report: DistillReport
) -> tuple[str, str, str]:
    if client is not None:
        try:
            title, text = llm_note(client, group, cases, truths)
            return title, text, f"llm:{getattr(client, 'model', 'model')}"
        except GenerationFailed as exc:
            report.messages.append(f"{group.note_id}: {exc}; the template wrote the note instead")
    title, text = template_note(group, cases, truths)
    return title, text, "template"


def refresh_note_for(memory: Any, knowledge: Any, case: CaseRecord) -> str | None:
    """Re-distil (template only) the notes of a case's Skill; the id of the case's note, if any."""
    report = distill(memory, knowledge, skill=case_skill(case))
    return next((n.id for n in report.notes if case.id in n.cases), None)


def notes_json(report: DistillReport) -> str:
    """The report as JSON (for ``--json``)."""
    return json.dumps(
        {
            "notes": [
                {"id": n.id, "action": n.action, "skill": n.group.skill, "signature": n.group.signature,
                 "kind": n.group.kind, "cases": n.cases, "writer": n.writer, "title": n.title}
                for n in report.notes
            ],
            "messages": report.messages,
        },
        indent=2,
    )
