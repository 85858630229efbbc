"""The version of Bian Que (``pyproject.toml`` says the same; ``tests/test_version.py`` keeps them equal)."""

__version__ = "0.1.0"
