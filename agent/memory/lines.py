"""Stored cases and corrections in a few words: shared by the CLI, the UI and the API."""

from __future__ import annotations

from pathlib import Path

from agent.bundles.case_data import kept_folder_present
from agent.memory.records import CorrectionRecord
from agent.timeparse import to_rfc3339
from agent.verdict import Verdict

SHORT_PATTERN = {"release_interception": "release", "inspection": "inspection", "rca": "rca"}


def data_gone(bundle_path: str | None) -> bool:
    """Whether a case's bundle is gone (its kept data pruned, or the folder moved away): no replay reads it. A case
    with none (investigated on live sources, no data kept) has nothing gone. A folder a prune under way has set aside
    is what the prune leaves of it (:func:`agent.bundles.case_data.kept_folder_present`)."""
    return bool(bundle_path) and not kept_folder_present(Path(bundle_path or ""))


def data_line(bundle_path: str) -> str:
    """A case's bundle, said gone when it is (:func:`data_gone`)."""
    return f"{bundle_path} (gone: the case cannot be replayed)" if data_gone(bundle_path) else bundle_path


def answer_line(verdict: Verdict | None) -> str:
    """The verdict in a few words: the decision, attention, top root cause or top item."""
    if verdict is None:
        return ""
    parts: list[str] = [] if verdict.judged else ["could not judge"]
    if verdict.decision:
        parts.append(verdict.decision)
    if verdict.needs_attention is not None:
        parts.append("needs attention" if verdict.needs_attention else "no action")
    if verdict.root_causes:
        top = verdict.root_causes[0]
        parts.append(f"{top.service}/{top.fault}")
    elif verdict.items:
        top = verdict.items[0]
        parts.append(f"{top.severity}: {top.service}/{top.kind}")
    return ", ".join(parts) or verdict.summary


def correction_line(correction: CorrectionRecord, no_index: str = "--no-index") -> str:
    """One correction as text: right/wrong, the truth given, whether it keeps the case out of experience (named as
    ``no_index``, the face's control that does it: the CLI's ``--no-index`` unless given), note, author and time."""
    parts = ["right" if correction.correct else "wrong"]
    if correction.root_cause_service:
        cause = correction.root_cause_service
        parts.append(
            f"root cause {cause}/{correction.root_cause_fault}" if correction.root_cause_fault else cause
        )
    if correction.decision:
        parts.append(f"decision {correction.decision}")
    if correction.needs_attention is not None:
        parts.append("needs attention" if correction.needs_attention else "no action needed")
    if correction.no_index:
        parts.append(f"kept out of experience ({no_index})")
    if correction.note:
        parts.append(f"“{correction.note}”")
    by = f" by {correction.author}" if correction.author else ""
    return f"#{correction.id} {to_rfc3339(correction.created_at)}{by}: " + "; ".join(parts)
