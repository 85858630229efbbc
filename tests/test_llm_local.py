"""The local model server's wrapper, without starting it: the model lookup, the command line, the CLI's errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import Settings
from agent.llm import local
from agent.llm.local import MODEL_ALIAS, LocalServer, LocalServerError


def test_the_printed_settings_are_the_ones_bianque_reads(monkeypatch) -> None:
    server = LocalServer(port=8123, model=Path("/models/m.gguf"))
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.llm_base_url == "http://127.0.0.1:8123/v1" and settings.llm_model == MODEL_ALIAS
    assert settings.llm_api_key is not None


def test_the_server_listens_on_loopback_only_with_the_given_model() -> None:
    args = LocalServer(port=8123, model=Path("/models/m.gguf"), context=4096, threads=2).command()
    assert args[1:3] == ["-m", "llama_cpp.server"]
    pairs = dict(zip(args[3::2], args[4::2], strict=True))
    assert pairs == {"--model": "/models/m.gguf", "--model_alias": MODEL_ALIAS, "--host": "127.0.0.1",
                     "--port": "8123", "--n_ctx": "4096", "--n_threads": "2"}


def test_a_missing_model_package_names_the_install_script(monkeypatch) -> None:
    monkeypatch.setattr(local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LocalServerError, match="scripts/install-llm.sh"):
        local.bundled_model()


def test_the_cli_refuses_a_port_in_use_and_a_missing_server(monkeypatch) -> None:
    runner = CliRunner()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        result = runner.invoke(app, ["llm", "local", "--port", str(taken)])
    assert result.exit_code == 2 and "already in use" in result.output
    monkeypatch.setattr(local, "server_installed", lambda: False)
    result = runner.invoke(app, ["llm", "local", "--port", str(local.free_port())])
    assert result.exit_code == 2 and "llama-cpp-python[server] is not installed" in result.output


def test_the_local_model_server_the_api_and_the_ui_default_to_different_ports() -> None:
    """`bianque llm local` and `bianque serve` both defaulted to 8765: started side by side, the second refused."""
    import typer

    root = typer.main.get_command(app)
    commands = {"serve": root.commands["serve"], "ui": root.commands["ui"],
                "llm local": root.commands["llm"].commands["local"]}
    ports = {name: next(p.default for p in command.params if p.name == "port") for name, command in commands.items()}
    assert len(set(ports.values())) == 3, ports
