"""Render the self-evolution prompt templates in ``agent/evolve/prompts/`` (Jinja2).

The same filters as the reasoner's prompts (:mod:`agent.llm.prompting`): untrusted text (alert
annotations, engineers' notes, log lines) only ever goes into delimited data blocks.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agent.llm.prompting import CLOSE, OPEN, PromptError, data_block, data_filter, one_line

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(PROMPTS_DIR),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(one_line=one_line, data=data_filter)
    env.globals.update(data_block=data_block, open_delimiter=OPEN, close_delimiter=CLOSE)
    return env


def render(name: str, **variables: Any) -> str:
    """Render ``prompts/<name>.j2`` with ``variables``; PromptError names the template on failure."""
    try:
        return _environment().get_template(f"{name}.j2").render(**variables).strip() + "\n"
    except Exception as exc:  # jinja2 raises many kinds; name the template
        raise PromptError(f"prompt template {name}.j2: {type(exc).__name__}: {exc}") from exc
