"""The LLM layer: an OpenAI-compatible client, secret redaction and prompt templates.

Names are imported lazily so that ``agent.llm.types`` (used by every reasoner) does not pull in the
``openai`` SDK for offline-only runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "LLMClient": "agent.llm.client",
    "LLMError": "agent.llm.types",
    "Usage": "agent.llm.types",
    "PromptError": "agent.llm.prompting",
    "render_prompt": "agent.llm.prompting",
    "redact": "agent.llm.redact",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agent.llm' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
