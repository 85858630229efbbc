"""Bian Que: an agentic ops assistant driven by YAML Skills."""

__version__ = "0.1.0"
