"""Render the self-evolution prompt templates in ``agent/evolve/prompts/`` (Jinja2).

The same environment and filters as the reasoner's prompts (:mod:`agent.llm.prompting`): untrusted
text (alert annotations, engineers' notes, log lines) only ever goes into delimited data blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.llm.prompting import render_template

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


def render(name: str, **variables: Any) -> str:
    """Render ``prompts/<name>.j2`` with ``variables``; PromptError names the template on failure."""
    return render_template(PROMPTS_DIR, name, **variables)
