"""``/skills``: the loaded Skill library, the files that failed to load, and every Skill's stored versions
(history, one version with the diff a rollback makes, rollback)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response

from agent.api.refinements import AppliedView, RollbackRequest
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.evolve import versions
from agent.memory import SkillVersionRecord
from agent.runtime import load_skills
from agent.skills.loader import LoadedSkill, dump_skill_yaml

router = APIRouter(prefix="/skills", tags=["skills"], dependencies=[Depends(require_token), Depends(text_only_request)])
State = Annotated[ServiceState, Depends(service)]


def _summary(loaded: LoadedSkill) -> dict[str, Any]:
    skill = loaded.skill
    return {
        "name": skill.name,
        "version": skill.version,
        "pattern": skill.pattern.value,
        "generic": skill.generic,
        "description": skill.description,
        "scope": skill.scope.model_dump(mode="json"),
        "schedule": skill.schedule,
        "source": loaded.source,
        "overrides": str(loaded.overrides) if loaded.overrides else None,
    }


@router.get("")
def list_skills(state: State) -> dict[str, Any]:
    """Every loaded Skill (by name) and every file that did not load, with file, line, field and message."""
    library = load_skills(state.settings)
    return {
        "skills": [_summary(library.skills[name]) for name in sorted(library.skills)],
        "errors": [{"file": e.file, "line": e.line, "field": e.field, "message": e.message} for e in library.errors],
    }


@router.get("/{name}")
def get_skill(name: str, state: State) -> dict[str, Any]:
    """One Skill: its summary, the validated definition and its YAML text (comments kept)."""
    library = load_skills(state.settings)
    loaded = library.get(name)
    if loaded is None:
        raise _unknown(name, library.not_loaded(name))
    return {**_summary(loaded), "definition": loaded.skill.model_dump(mode="json"), "yaml": dump_skill_yaml(loaded.raw)}


def _unknown(name: str, why: str = "") -> HTTPException:
    """404 for a name no Skill has; ``why`` is ``SkillLibrary.not_loaded``'s reason, when there is one."""
    return HTTPException(status_code=404, detail=f"no Skill named {name!r}{why} (see GET /skills)")


@router.get("/{name}/versions", response_model=list[SkillVersionRecord],
            response_model_exclude={"__all__": {"yaml_text", "created"}})
def list_versions(name: str, state: State) -> list[SkillVersionRecord]:
    """Every stored version of a Skill, oldest first (empty when Bian Que never changed it; 404 unknown Skill)."""
    found = versions.history(state.memory, name)
    if not found and load_skills(state.settings).get(name) is None:
        raise _unknown(name)
    return found


@router.get("/{name}/versions/{version}")
def get_version(name: str, version: int, state: State) -> dict[str, Any]:
    """One stored version: its record, its YAML text, and the diff a rollback to it makes to the current text."""
    record = versions.stored_version(state.memory, name, version)
    current = load_skills(state.settings).get(name)
    return {**record.model_dump(mode="json", exclude={"created"}),
            "rollback_diff": versions.rollback_preview(state.memory, name, version, current,
                                                       state.settings.resolved_user_skills_dir)}


@router.post("/{name}/rollback", response_model=AppliedView, status_code=201)
def rollback(name: str, body: RollbackRequest, state: State, response: Response) -> AppliedView:
    """Restore a stored version byte for byte: a new active history entry, written to the user's Skill directory.

    200 and ``written: false`` when its text is already the active one (nothing written or stored); 404 unknown
    version; 409 when the file cannot be written (another Skill's file in the way; nothing is stored).
    """
    with state.skill_writes:
        current = load_skills(state.settings).get(name)
        done = versions.rollback(state.memory, state.settings.resolved_user_skills_dir, name, body.version,
                                 author=body.author, current=current)
    if not done.written:
        response.status_code = 200
    return AppliedView.of(done)
