"""memory: store the finished case (findings, verdict, report, provenance) and, for a live run, what it read."""

from __future__ import annotations

import logging
from typing import Any

from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit

log = logging.getLogger(__name__)


def remember(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Persist the case when memory is configured and the caller opened one, with its event as triage resolved it
    (a release's change named by id alone: the type, service and start of its own line); a live run's data is kept
    as the case's bundle (``toolkit.case_data``), so a correction of it can be replayed."""
    case_id = state.get("case_id")
    if toolkit.memory is None or not case_id:
        return {}
    timings = state.get("timings", {})
    toolkit.memory.finish_case(
        case_id,
        findings=state.get("findings", []),
        verdict=state.get("verdict", {}),
        report=state.get("report", ""),
        reasoner=state.get("reasoner", ""),
        prompt_tokens=state.get("prompt_tokens", 0),
        duration_ms=int(sum(timings.values()) * 1000),
        evidence=state.get("pack", {}),
        skill=state.get("skill", {}).get("name"),
        skill_version=state.get("skill", {}).get("version"),
        selection_reason=state.get("skill", {}).get("reason", ""),
        event=state.get("event"),
        bundle_path=_keep_data(state, toolkit, case_id),
    )
    return {}


def plain_folder_name(name: str) -> bool:
    """Whether ``name`` names a folder of its own right under another (no separator, not ``..``, not hidden: the
    staged folders of case data start with a dot)."""
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name and "\0" not in name


def _keep_data(state: InvestigationState, toolkit: Toolkit, case_id: str) -> str | None:
    """The bundle path of what the run read, written under ``toolkit.case_data`` (whose cases past their time that no
    one corrected are removed first, unless a process pruned for this database within the hour); None when no data is
    kept, the run read nothing, or it could not be written (logged: the case is stored all the same, only not
    replayable)."""
    kept, memory = toolkit.case_data, toolkit.memory
    if kept is None or memory is None or not state.get("gathered") or not state.get("event"):
        return None
    if not plain_folder_name(case_id):  # Memory.start_case(case_id=...) takes any id: none may reach another folder
        log.warning("case %r: its data is not kept, the id is no plain folder name", case_id)
        return None
    from agent.bundles.captured import capture_bundle
    from agent.bundles.case_data import prune_when_due

    try:
        kept.root.mkdir(parents=True, exist_ok=True)
        prune_when_due(kept, memory.prunable_among, store=memory.url)
    except Exception as exc:  # noqa: BLE001 - housekeeping (its folder, its database read): the run is kept anyway
        log.warning("case data in %s: old cases' data could not be pruned: %s", kept.root, exc)
    try:
        path = capture_bundle(kept.root / case_id, state["event"], state["gathered"], toolkit.topology)
    except (OSError, ValueError) as exc:
        log.warning("case %s: its data could not be kept as a bundle, so it cannot be replayed: %s", case_id, exc)
        return None
    return str(path) if path is not None else None

