"""``bianque llm local``: the bundled small model behind an OpenAI-compatible server on loopback."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.children import run_child, stop_on_sigterm
from agent.cli.common import console, err_console, fail
from agent.cli.ui import port_in_use

LOCAL_LLM_PORT = 8766  # beside `bianque serve` (8765) and `bianque ui` (8501): all three run at once with defaults

llm_app = typer.Typer(help="The LLM: a local model server for trying the LLM path without a key.",
                      no_args_is_help=True)


@llm_app.command("local")
def local(
    command: Annotated[list[str] | None, typer.Argument(
        help="A command to run with the settings set (after --); the server stops when it ends.")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port on 127.0.0.1.")] = LOCAL_LLM_PORT,
    context: Annotated[int, typer.Option(min=512, help="Context window, tokens.")] = 8192,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads (default: llama.cpp's choice).")] = None,
    log: Annotated[Path | None, typer.Option(help="Server log file (default: a temp file).")] = None,
) -> None:
    """Serve the bundled SmolLM2-135M-Instruct on http://127.0.0.1:PORT/v1 and print the settings to use.

    Without a command it runs until Ctrl-C; ``bianque llm local -- bianque demo`` runs the demo
    through it and stops it. Any other OpenAI-compatible endpoint works with the same three settings.
    """
    from agent.llm.local import LocalServer, LocalServerError

    if port_in_use(port):
        fail(f"port {port} on 127.0.0.1 is already in use; pick another with --port")
    log = log or Path(tempfile.gettempdir()) / f"bianque-llm-{port}.log"
    server = LocalServer(port=port, context=context, threads=threads, log_path=log)
    err_console.print(f"starting the model server on {server.base_url} (log: {log}) ...")
    try:
        server.start()
    except LocalServerError as exc:
        fail(str(exc))
    try:
        env = server.env()
        for key, value in env.items():
            console.print(f"export {key}={value}", soft_wrap=True, highlight=False)
        if command:
            raise typer.Exit(run_child(command, env={**os.environ, **env}))
        err_console.print("ready; Ctrl-C stops it")
        stop_on_sigterm()
        while server.proc is not None and server.proc.poll() is None:
            time.sleep(1)
        fail(f"the model server exited with code {server.proc.returncode if server.proc else '?'}; see {log}")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add ``llm`` to the root CLI."""
    app.add_typer(llm_app, name="llm")
