"""Bian Que: an agentic ops assistant driven by YAML Skills."""

from agent.version import __version__

__all__ = ["__version__"]
