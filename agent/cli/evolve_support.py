"""What the self-evolution commands share: plain output lines, the author, clean errors, the stores."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import console, fail, print_syntax
from agent.config import get_settings

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Save without asking for confirmation.")]
BundleCatalog = Annotated[
    Path | None,
    typer.Option("--bundle", "-b", help="Check names against this case bundle's data catalog.",
                 exists=True, file_okay=False, dir_okay=True),
]


def say(message: str, style: str | None = None) -> None:
    """One plain line (no markup, no wrapping: it may hold ids and paths)."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def author() -> str | None:
    """Who is running the command, for the versions and corrections it records (None when unknown)."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None


@contextmanager
def evolve_errors() -> Iterator[None]:
    """Expected failures as clean messages: bad input, unknown names, model or file problems."""
    from agent.bundles.errors import InvalidBundleError
    from agent.evolve.llm_loop import GenerationFailed
    from agent.evolve.refinement import StaleRefinement
    from agent.evolve.versions import SkillFileError
    from agent.knowledge.embedding import EmbeddingModelError
    from agent.knowledge.store import KnowledgeStoreError
    from agent.llm.types import LLMError
    from agent.memory import DatabaseUnavailableError, DatabaseURLError, MemoryStoreError

    try:
        yield
    except (MemoryStoreError, DatabaseURLError, DatabaseUnavailableError, LLMError, GenerationFailed,
            SkillFileError, StaleRefinement, KnowledgeStoreError, EmbeddingModelError, InvalidBundleError,
            LookupError, ValueError) as exc:
        # a KeyError's str() is its repr (quoted); any other message is shown as it is
        fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc))


def memory_store():
    """The case memory of the current settings."""
    from agent.runtime import open_memory

    return open_memory(get_settings())


def knowledge_store():
    """The knowledge store of the current settings (the handbook not re-ingested)."""
    from agent.runtime import open_knowledge

    return open_knowledge(get_settings(), ingest=False)


def show_diff(text: str) -> None:
    """A unified diff: coloured and wrapped on a terminal, as it is in a file or a pipe (``patch`` can apply it)."""
    print_syntax(text, "diff")
