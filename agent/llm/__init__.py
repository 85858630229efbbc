"""The LLM layer: an OpenAI-compatible client, secret redaction and prompt templates.

Names are imported lazily so that ``agent.llm.types`` (used by every reasoner) does not pull in the
``openai`` SDK for offline-only runs.
"""

from __future__ import annotations

from agent.lazy_exports import lazy_getattr

_EXPORTS = {
    "LLMClient": "agent.llm.client",
    "LLMError": "agent.llm.types",
    "Usage": "agent.llm.types",
    "PromptError": "agent.llm.prompting",
    "render_prompt": "agent.llm.prompting",
    "redact": "agent.llm.redact",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
