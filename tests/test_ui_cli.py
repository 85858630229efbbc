"""``bianque ui``: launches ``streamlit run ui/app.py`` on the loopback address."""

from __future__ import annotations

import socket
import sys

from typer.testing import CliRunner

from agent.cli import ui as ui_cli
from agent.cli.app import app

runner = CliRunner()


def test_ui_runs_streamlit_on_loopback(monkeypatch):
    calls = []
    monkeypatch.setattr(ui_cli, "run_child", lambda cmd: calls.append(cmd) or 0)
    monkeypatch.setattr(ui_cli, "port_in_use", lambda port: False)
    result = runner.invoke(app, ["ui", "--port", "8611", "--headless"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8611" in result.output
    (cmd,) = calls
    assert cmd[:4] == [sys.executable, "-m", "streamlit", "run"] and cmd[4].endswith("ui/app.py")
    options = dict(zip(cmd[5::2], cmd[6::2], strict=True))
    assert options == {
        "--server.address": "127.0.0.1",
        "--server.port": "8611",
        "--server.headless": "true",
        "--browser.gatherUsageStats": "false",
        "--client.toolbarMode": "minimal",
    }


def test_ui_passes_streamlit_exit_code(monkeypatch):
    monkeypatch.setattr(ui_cli, "run_child", lambda cmd: 3)
    monkeypatch.setattr(ui_cli, "port_in_use", lambda port: False)
    assert runner.invoke(app, ["ui"]).exit_code == 3


def test_ui_refuses_a_busy_port(monkeypatch):
    monkeypatch.setattr(ui_cli, "run_child", lambda cmd: _must_not_start())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert ui_cli.port_in_use(port)
        result = runner.invoke(app, ["ui", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.output


def test_ui_rejects_an_invalid_port():
    result = runner.invoke(app, ["ui", "--port", "0"])
    assert result.exit_code == 2


def test_ui_explains_a_missing_app(monkeypatch, tmp_path):
    monkeypatch.setattr(ui_cli, "UI_APP", tmp_path / "ui" / "app.py")
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == 2 and "the Streamlit app is missing" in result.output


def _must_not_start() -> int:
    raise AssertionError("streamlit must not start")
