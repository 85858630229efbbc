"""``/skills/regression``: the labelled bundles every Skill patch is replayed against (list, add, remove).

The same registry as ``bianque skills regression``; directories are paths on the server, absolute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AfterValidator, Field

from agent.api.errors import invalid_request
from agent.api.schemas import StrictBody
from agent.api.state import ServiceState, require_token, service
from agent.api.text import text_only_request
from agent.evolve import regression

router = APIRouter(
    prefix="/skills/regression", tags=["skills"], dependencies=[Depends(require_token), Depends(text_only_request)]
)
State = Annotated[ServiceState, Depends(service)]


def server_directory(value: str) -> str:
    """An absolute path without control characters (ValueError saying which rule it breaks)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    if not Path(value).is_absolute():
        raise ValueError(f"must be an absolute path on the server, got {value!r}")
    return value


ServerDirectory = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(server_directory)]


class RegressionAdd(StrictBody):
    """A directory of labelled bundles to add to the regression set."""

    directory: ServerDirectory = Field(description="Absolute path on the server.")


@router.get("")
def list_regression(state: State) -> dict[str, Any]:
    """Registered directories, whether the curated scenarios are the set (nothing registered), its bundles."""
    return regression.summary(state.settings.home, confinement(state))


@router.post("", status_code=201)
def add_regression(body: RegressionAdd, state: State) -> dict[str, Any]:
    """Register a directory: 422 naming ``directory`` when it lies outside ``BIANQUE_REGRESSION_ROOTS``, is
    missing, holds no labelled bundle or too many folders or bundles; 500 when the registry cannot be written (a
    problem of the server, not of the directory)."""
    try:
        bundles = regression.add(state.settings.home, Path(body.directory), confinement(state))
    except regression.RegistryWriteError as exc:
        raise HTTPException(status_code=500, detail=f"registry: {exc}") from exc
    except regression.RegressionError as exc:
        raise invalid_request((("body", "directory"), str(exc))) from exc
    return {**regression.summary(state.settings.home, confinement(state)),
            "directory": str(Path(body.directory).resolve()), "added": [str(b) for b in bundles]}


def confinement(state: ServiceState) -> regression.Confinement:
    """Where a caller of the service may point it, at registration and each time the set is searched again."""
    return regression.Confinement.of(state.settings)


@router.delete("")
def remove_regression(
    state: State, directory: Annotated[ServerDirectory, Query(description="A registered directory.")],
) -> dict[str, Any]:
    """Unregister a directory: 404 when it is not registered."""
    if not regression.remove(state.settings.home, Path(directory)):
        raise HTTPException(status_code=404, detail=f"directory: {Path(directory).resolve()} is not registered "
                                                    "(see GET /skills/regression)")
    return {**regression.summary(state.settings.home, confinement(state)), "removed": str(Path(directory).resolve())}
