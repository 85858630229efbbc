"""``/skills``: the loaded Skill library, and the files that failed to load."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from agent.api.state import ServiceState, require_token, service
from agent.runtime import load_skills
from agent.skills.loader import LoadedSkill, dump_skill_yaml

router = APIRouter(prefix="/skills", tags=["skills"], dependencies=[Depends(require_token)])
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
    loaded = load_skills(state.settings).get(name)
    if loaded is None:
        raise HTTPException(status_code=404, detail=f"no Skill named {name!r} (see GET /skills)")
    return {**_summary(loaded), "definition": loaded.skill.model_dump(mode="json"), "yaml": dump_skill_yaml(loaded.raw)}
