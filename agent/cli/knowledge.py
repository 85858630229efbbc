"""``bianque knowledge``: ingest the handbook, search knowledge, show collection sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from agent.cli.common import knowledge_errors, print_table, user_errors
from agent.cli.printable import printable_console
from agent.config import get_settings, masked_url
from agent.knowledge.store import COLLECTIONS, KnowledgeStore

knowledge_app = typer.Typer(help="The knowledge store: handbook, experience notes, past cases.", no_args_is_help=True)
console = printable_console()
err_console = printable_console(stderr=True)


def _store() -> KnowledgeStore:
    """The knowledge store of the settings; one that cannot be opened is an error line and exit 2."""
    with user_errors(*knowledge_errors()):
        return KnowledgeStore(get_settings())


@knowledge_app.command("ingest")
def ingest(
    directory: Annotated[
        Path | None, typer.Argument(help="Handbook directory (default: settings.knowledge_dir).")
    ] = None,
) -> None:
    """Mirror a markdown handbook directory into the ``handbook`` collection (only changed chunks are re-embedded).

    Only the chunks that came from this directory are added, updated or removed: the configured handbook
    (BIANQUE_KNOWLEDGE_DIR) and every other ingested directory keep theirs. `knowledge forget-dir DIR` removes a
    directory's chunks.
    """
    store = _store()
    target = directory or store.settings.knowledge_dir
    if not target.is_dir():
        err_console.print(f"[red]error:[/red] handbook directory not found: {escape(str(target))}")
        raise typer.Exit(2)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("ingesting", total=None)

        def advance(done: int, total: int, doc: str) -> None:
            progress.update(task, completed=done, total=total, description=escape(doc))

        with user_errors(*knowledge_errors()):
            report = store.ingest_handbook(target, progress=advance)
    whose = "the configured handbook" if report.configured else "only this directory's chunks; the others' stay"
    console.print(
        f"{escape(report.directory)} ({whose}): {report.documents} documents, {report.chunks} chunks: "
        f"[green]{report.added} added[/green], [yellow]{report.updated} updated[/yellow], "
        f"[red]{report.removed} removed[/red], {report.unchanged} unchanged", soft_wrap=True, highlight=False
    )
    for doc in report.removed_docs:
        console.print(f"  removed {escape(doc)}")
    for doc, error in report.errors.items():
        err_console.print(f"[red]skipped {escape(doc)}:[/red] {escape(error)}")
    if not report.ok:
        raise typer.Exit(1)


@knowledge_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="Prefer records with this tag.")] = None,
    collection: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help=f"One of {', '.join(COLLECTIONS)}.")
    ] = None,
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="Prefer this service.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=50)] = 5,
) -> None:
    """Semantic search; tag/service filters are relaxed when they match nothing."""
    unknown = [c for c in collection or [] if c not in COLLECTIONS]
    if unknown:
        err_console.print(f"[red]error:[/red] unknown collection {escape(repr(unknown[0]))}; "
                          f"expected {', '.join(COLLECTIONS)}")
        raise typer.Exit(2)
    store = _store()
    hits = store.search(query, collections=collection or COLLECTIONS, tags=tag, top_k=top_k, services=service)
    if not hits:
        console.print("no knowledge found (is the handbook ingested? bianque knowledge ingest)")
        return
    table = Table(show_lines=True)
    for name, style in (("score", "cyan"), ("collection", ""), ("title", "bold"), ("text", "")):
        table.add_column(name, style=style or None, overflow="fold")
    for hit in hits:
        text = hit.text if len(hit.text) <= 300 else hit.text[:300] + "…"
        # titles and texts hold what logs, alerts and engineers wrote: printed as written (print_table)
        table.add_row(f"{hit.score:.3f}", hit.collection, Text.assemble(hit.title, "\n", (hit.id, "dim")), text)
    print_table(table, console)


@knowledge_app.command("forget-dir")
def forget_dir(
    directory: Annotated[Path, typer.Argument(
        help="A directory ingested with `knowledge ingest DIR` (it may be gone since).")],
) -> None:
    """Remove the handbook chunks another directory's ingestion stored (the configured handbook's stay)."""
    store = _store()
    with user_errors(*knowledge_errors()):
        removed = store.forget_handbook_dir(directory)
    if not removed:
        err_console.print(f"no chunks of {directory.resolve()} are stored: nothing removed (`knowledge stats` lists "
                          "the ingested directories)", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"removed {removed} chunks of {directory.resolve()}", markup=False, highlight=False, soft_wrap=True)


@knowledge_app.command("stats")
def stats() -> None:
    """Number of records in each collection, and the handbook chunks of each ingested directory."""
    store = _store()
    table = Table()
    table.add_column("collection")
    table.add_column("records", justify="right")
    for name, count in store.stats().items():
        table.add_row(name, str(count))
    print_table(table, console)
    for directory, count in sorted(store.handbook_dirs().items()):
        where = directory or f"{store.settings.knowledge_dir} (the configured handbook)"
        console.print(f"handbook: {count} chunks from {where}", markup=False, highlight=False, soft_wrap=True)
    chroma_url = store.settings.chroma_url
    location = masked_url(chroma_url) if chroma_url else str(store.settings.home / "chroma")  # no basic-auth password
    console.print(f"[dim]store: {escape(location)}; embeddings: {store.embedding_function.name()}[/dim]")


def register(app: typer.Typer) -> None:
    """Add ``bianque knowledge`` to the root CLI."""
    app.add_typer(knowledge_app, name="knowledge")
