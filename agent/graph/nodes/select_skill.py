"""select_skill: choose the Skill for the event and record why."""

from __future__ import annotations

from typing import Any

from agent.events import Event
from agent.graph.state import InvestigationState
from agent.graph.toolkit import Toolkit
from agent.memory.skill_versions import text_sha256
from agent.skills.library import SkillLibrary, no_generic_advice
from agent.skills.loader import LoadedSkill
from agent.skills.selector import passed_over_reason, rank_candidates
from agent.skills.selector import select_skill as choose


def known_skill(name: str, library: SkillLibrary) -> LoadedSkill:
    """The loaded Skill ``name`` (LookupError naming it, why it did not load, and the known ones when none)."""
    loaded = library.get(name)
    if loaded is None:
        raise LookupError(f"no Skill named {name!r}{library.not_loaded(name)}; known: {sorted(library.skills)}")
    return loaded


def check_override(name: str | None, library: SkillLibrary, event: Event) -> None:
    """A Skill chosen by the caller must exist and be of the event's pattern; without one, some Skill must fit the
    event: a specific one, else the pattern's generic one (LookupError saying what is wrong when not).

    Callers may check before they start an investigation, so a mistyped ``--skill``, or a Skill library without a
    generic Skill (``skills_dirs`` set to one's own folder alone), leaves no failed case.
    """
    if not name:
        skills = [loaded.skill for loaded in library.skills.values()]
        if library.generic(event.pattern) is None and not rank_candidates(skills, event):
            advice = no_generic_advice([event.pattern])
            raise LookupError(f"no Skill fits this {event.pattern.value} event{passed_over_reason(skills, event)}, "
                              f"and {advice}")
        return
    loaded = known_skill(name, library)
    if loaded.skill.pattern != event.pattern:
        raise LookupError(
            f"Skill {name!r} is for {loaded.skill.pattern.value} events; this is {event.pattern.with_article} event"
        )


def stored_version_of(toolkit: Toolkit, name: str, declared: int) -> int:
    """The number of the stored version whose text the Skill's file holds (the active one first), else the file's
    ``version:`` (``declared``): a rollback writes an old text back byte for byte, its ``version:`` naming the old
    number, and a recorded hand edit rarely bumps it, so the field alone can name another version's text."""
    loaded = toolkit.library.get(name)
    if toolkit.memory is None or loaded is None or loaded.path is None:
        return declared
    try:
        digest = text_sha256(loaded.path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError):
        return declared
    holding = [v for v in toolkit.memory.skill_versions(name) if v.sha256 == digest]
    return max(holding, key=lambda v: (v.active, v.version)).version if holding else declared


def select_skill(state: InvestigationState, toolkit: Toolkit) -> dict[str, Any]:
    """Scope + trigger match, similarity rank, optional LLM pick among the top three, generic fallback."""
    event = Event.model_validate(state["event"])
    skills = [loaded.skill for loaded in toolkit.library.skills.values()]
    check_override(state.get("skill_override"), toolkit.library, event)
    selection = choose(
        skills,
        event,
        similarity=toolkit.similarity,
        chooser=toolkit.chooser,
        override=state.get("skill_override"),
    )
    stand_in = toolkit.library.stand_in(selection.skill.name)
    return {
        **({"notes": [*state.get("notes", []), stand_in]} if stand_in else {}),
        "skill": {
            "name": selection.skill.name,
            "version": stored_version_of(toolkit, selection.skill.name, selection.skill.version),
            "reason": selection.reason,
            "method": selection.method,
            "candidates": [
                {"name": c.skill.name, "score": round(c.score, 3), "reasons": c.reasons}
                for c in selection.candidates[:5]
            ],
            **({"passed_over": selection.passed_over} if selection.passed_over else {}),
        }
    }
