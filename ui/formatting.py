"""Pure presentation helpers: verdict badges, table rows and error messages (no Streamlit calls).

The one-line verdict and correction texts are the CLI's (``agent.cli.cases``), so both faces say the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.detectors.wording import fmt_duration
from agent.findings import Finding
from agent.graph.nodes.report import cited_for, fault_shown
from agent.memory import MemoryStoreError
from agent.memory.lines import SHORT_PATTERN, answer_line
from agent.memory.records import CaseRecord, ScheduleRunRecord
from agent.phrases import own_code_split
from agent.scheduler.overview import ScheduleState, next_run_label, services_label, status_label
from agent.skills.loader import LoadedSkill
from agent.timeparse import to_rfc3339
from agent.verdict import Verdict

DECISION_COLOURS = {"pass": "green", "hold": "orange", "block": "red"}
SEVERITY_COLOURS = {"critical": "red", "warning": "orange", "info": "blue"}
# Errors the library raises on purpose, with messages written for the user (file, line, field).
EXPECTED_ERRORS = (ValueError, LookupError, OSError, RuntimeError, MemoryStoreError)
# Characters that start markdown anywhere in a line: emphasis, code, links and images, HTML, tables, math,
# strikethrough, Streamlit's directives (``:red[...]``) and emoji shortcodes.
INLINE_MARKUP = re.compile(r"([\\`*_\[\]<>|$~:!])")
# What starts markdown only at the beginning of a line: headings, lists, quotes, setext underlines.
LINE_MARKUP = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([#+=.)-])", re.MULTILINE)


@dataclass(frozen=True)
class Badge:
    """One coloured label (a Streamlit colour name)."""

    label: str
    colour: str

    def markdown(self) -> str:
        """The badge as a Streamlit Markdown directive; brackets in the label cannot break out of it."""
        text = self.label.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return f":{self.colour}-badge[{text}]"


def plain(text: str) -> str:
    """Markdown that shows ``text`` as written: for text from the data (alert annotations, log lines, service
    names), a model or a person, which must not become links, images, HTML, code or colour on the page."""
    escaped = LINE_MARKUP.sub(r"\1\\\2", "".join(piece if ours else INLINE_MARKUP.sub(r"\\\1", piece)
                                                for piece, ours in own_code_split(text)))
    return escaped.replace("\\:material/", "\\:material\\/")  # Streamlit's icons ignore an escaped colon


def code(text: str) -> str:
    """Markdown showing ``text`` as one code span, as written whatever it holds (a backtick: a longer fence; a line
    break: a blank), for a command naming a value from the data."""
    text = " ".join(text.splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def verdict_badges(verdict: Verdict) -> list[Badge]:
    """The decision at a glance: pass/hold/block, needs attention or not, or the worst inspection severity."""
    badges: list[Badge] = []
    if verdict.decision:
        badges.append(Badge(f"Decision: {verdict.decision.upper()}", DECISION_COLOURS[verdict.decision]))
    if verdict.needs_attention is not None:
        badges.append(
            Badge("Needs attention", "red") if verdict.needs_attention else Badge("No action needed", "green")
        )
    if not verdict.judged:
        badges.append(Badge("Could not judge", "orange"))
    if verdict.pattern == "inspection" and verdict.judged:
        worst = verdict.inspection_level()
        badges.append(
            Badge(f"Inspection: {worst} ({len(verdict.items)} items)", SEVERITY_COLOURS[worst])
            if not verdict.inspection_healthy()
            else Badge("Inspection: healthy", "green")
        )
    badges.append(Badge(f"confidence {verdict.confidence:.0%}", "gray"))
    if verdict.reasoner:
        badges.append(Badge(f"reasoner: {verdict.reasoner}", "violet"))
    return badges


def badges_markdown(badges: list[Badge]) -> str:
    """Badges on one line."""
    return " ".join(b.markdown() for b in badges)


def root_cause_rows(verdict: Verdict, findings: Sequence[Finding] = ()) -> list[dict[str, Any]]:
    """The ranked root-cause candidates as table rows; with the ``findings``, a cited Finding about another
    service is marked with it (``F1 via frontend``), and a fault kind the reasoner read off its callers' calls to
    it (``RootCause.inferred_from``) is marked inferred, as in the report."""
    by_id = {f.id: f for f in findings}
    return [
        {
            "rank": rank,
            "service": cause.service,
            "fault": fault_shown(cause),
            "confidence": round(cause.confidence, 2),
            "evidence": ", ".join(cited_for(cause, by_id)),
            "explanation": cause.explanation,
        }
        for rank, cause in enumerate(verdict.root_causes, start=1)
    ]


def inspection_rows(verdict: Verdict) -> list[dict[str, Any]]:
    """The inspection items worth reporting as table rows, most severe first as the reasoner ranked them."""
    return [
        {
            "severity": item.severity,
            "service": item.service,
            "kind": item.kind,
            "evidence": ", ".join(item.evidence),
            "summary": item.summary,
        }
        for item in verdict.items
    ]


def finding_rows(findings: list[Finding]) -> list[dict[str, Any]]:
    """Findings as table rows."""
    return [
        {
            "id": f.id,
            "kind": f.kind.value,
            "subject": f.subject,
            "score": round(f.score, 2),
            "onset": to_rfc3339(f.onset) if f.onset is not None else "",
            "summary": f.summary,
        }
        for f in findings
    ]


def skill_label(case: CaseRecord) -> str:
    """The Skill that answered a case, with its version."""
    if not case.skill:
        return "-"
    return f"{case.skill} v{case.skill_version}" if case.skill_version is not None else case.skill


def case_rows(cases: list[CaseRecord]) -> list[dict[str, Any]]:
    """Stored cases as table rows; ✓/✗ marks the latest correction (confirmed / corrected as wrong)."""
    rows = []
    for case in cases:
        latest = case.latest_correction
        marked = "" if latest is None else (" ✓" if latest.correct else " ✗")
        rows.append(
            {
                "id": case.id,
                "created (UTC)": to_rfc3339(case.created_at).replace("T", " ").removesuffix("Z"),
                "pattern": SHORT_PATTERN.get(case.pattern, case.pattern),
                "service": case.service or "-",
                "skill": skill_label(case),
                "status": case.status + marked,
                "verdict": answer_line(case.verdict) if case.status != "failed" else (case.error or "")[:200],
            }
        )
    return rows


def case_option(case: CaseRecord) -> str:
    """A case in one short line, for pickers."""
    what = answer_line(case.verdict) if case.verdict else case.status
    return f"{case.id} · {SHORT_PATTERN.get(case.pattern, case.pattern)} · {case.service or '-'} · {what}"


def skill_rows(skills: list[LoadedSkill]) -> list[dict[str, Any]]:
    """Skills as table rows: name, pattern, version, scope and the file it came from."""
    rows = []
    for loaded in sorted(skills, key=lambda s: (s.skill.pattern.value, s.name)):
        skill = loaded.skill
        scope = ", ".join(skill.scope.services)
        rows.append(
            {
                "name": loaded.name,
                "pattern": SHORT_PATTERN.get(skill.pattern.value, skill.pattern.value),
                "version": skill.version,
                "generic": skill.generic,
                "business": skill.scope.business or "*",
                "source": loaded.source,
                "schedule": skill.schedule or "",
                "services": scope,
            }
        )
    return rows


def _utc(ts: float | None) -> str:
    return to_rfc3339(ts) if ts is not None else "-"


def schedule_rows(schedules: list[ScheduleState]) -> list[dict[str, Any]]:
    """Schedules as table rows, in the words of ``bianque schedule list``; the last run's reason (untrusted text) as
    a cell's text."""
    return [
        {
            "job id": s.job_id,
            "skill": s.skill,
            "cron": s.cron,
            "services": services_label(s.services),
            "enabled": s.enabled,
            "next run": next_run_label(s),
            "last run": _utc(s.last_run),
            "status": status_label(s),
            "case": s.last_case_id or "-",
            "reason": s.last_reason or "",
        }
        for s in schedules
    ]


def run_rows(runs: list[ScheduleRunRecord]) -> list[dict[str, Any]]:
    """A schedule's runs as table rows, as ``bianque schedule history`` shows them (the reason whole)."""
    return [
        {
            "started": _utc(run.started_at),
            "took": "-" if run.took is None else fmt_duration(run.took),
            "status": run.status,
            "trigger": run.trigger or "-",
            "case": run.case_id or "-",
            "reason": run.reason or "",
        }
        for run in runs
    ]


IMAGE = re.compile(r"(?<!\\)!\[")  # an image's opening ``![`` that no backslash escapes


def report_markdown(markdown: str) -> str:
    """A stored report as shown under the page's headings (``demote_headings``), with no image in it: reports
    write data's text escaped, but one stored before they did may hold an alert annotation's ``![x](url)``, which
    the browser would fetch."""
    return demote_headings(IMAGE.sub(r"!\\[", markdown))


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Markdown with every heading ``levels`` deeper (at most h6), so a report nests under the page's own."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#{1,6})(\s)", line)):
            depth = min(len(match.group(1)) + levels, 6)
            line = "#" * depth + line[len(match.group(1)) :]
        out.append(line)
    return "\n".join(out)


def friendly_error(exc: BaseException) -> str:
    """A message for the user: the library's own message for the errors it raises on purpose."""
    message = str(exc).strip()
    if isinstance(exc, EXPECTED_ERRORS) and message:
        return message
    detail = f": {message}" if message else ""
    return f"unexpected {type(exc).__name__}{detail} (the details are in the server log)"
