"""Knowledge: the markdown handbook, experience notes and past cases in Chroma, with local embeddings.

Modules: ``embedding`` (Chroma embedding functions: local ONNX MiniLM, OpenAI-compatible),
``frontmatter`` and ``chunking`` (handbook markdown to chunks), ``store`` (``KnowledgeStore``).
"""
