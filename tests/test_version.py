"""One version: the package's metadata, ``bianque --version`` and the API's OpenAPI document say the same."""

from __future__ import annotations

import tomllib

from typer.testing import CliRunner

from agent import __version__
from agent.cli.app import app
from agent.config import PROJECT_ROOT


def test_pyproject_and_the_package_name_one_version() -> None:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["project"]["version"] == __version__


def test_bianque_version_prints_it_and_runs_no_command() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"bianque {__version__}"


def test_the_api_document_carries_the_version(memory, investigator) -> None:
    from fastapi.testclient import TestClient

    from agent.api.app import create_app
    from agent.config import get_settings

    with TestClient(create_app(get_settings(), investigator, memory=memory)) as client:
        assert client.get("/openapi.json").json()["info"]["version"] == __version__
