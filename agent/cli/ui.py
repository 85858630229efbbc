"""``bianque ui``: the Streamlit app (chat, cases and corrections, Skills) on the loopback address."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.children import run_child
from agent.cli.common import console, fail
from agent.config import PROJECT_ROOT

UI_APP = PROJECT_ROOT / "ui" / "app.py"
ADDRESS = "127.0.0.1"


def streamlit_command(app: Path, port: int, *, headless: bool = False) -> list[str]:
    """The ``streamlit run`` command line serving ``app`` on the loopback address only."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", ADDRESS,
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def port_in_use(port: int, host: str = ADDRESS) -> bool:
    """True when something already listens on ``host:port``."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port on 127.0.0.1.")] = 8501,
    headless: Annotated[bool, typer.Option("--headless", help="Do not open a browser.")] = False,
) -> None:
    """Serve the web UI on http://127.0.0.1:PORT (see docs/ui.md); Ctrl-C or SIGTERM stops it."""
    if not UI_APP.is_file():
        fail(f"the Streamlit app is missing: {UI_APP} (bianque ui runs from a source checkout)")
    if port_in_use(port):
        fail(f"port {port} on {ADDRESS} is already in use; pick another with --port")
    console.print(f"Bian Que UI on http://{ADDRESS}:{port} (Ctrl-C stops it)")
    raise typer.Exit(run_child(streamlit_command(UI_APP, port, headless=headless)))


def register(app: typer.Typer) -> None:
    """Add ``ui`` to the root CLI."""
    app.command("ui")(ui)
