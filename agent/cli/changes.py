"""``bianque changes``: record deploys, config pushes, flag flips and canaries in the live change store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import console, fail, warn
from agent.inputs import InputError, change_record_from_file

changes_app = typer.Typer(
    help="Change events in the live SQL store (BIANQUE_OBSERVABILITY_URL) that live investigations read.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``changes`` sub-app to the root CLI."""
    app.add_typer(changes_app, name="changes")


@changes_app.command("add")
def add(
    files: Annotated[list[Path], typer.Argument(
        help="Change files (JSON/YAML, as `intercept --change` reads): id, service, type, started or ts (else now), "
             "version, description.", exists=True, dir_okay=False)],
) -> None:
    """Record changes (one of the same id is replaced), so that alerts investigated later see them near their onset
    and `intercept --change` finds when a change named by its id began. All of them or none (exit 2)."""
    from agent.sources.sqlstore import ObservabilityStore, StoreError

    now = time.time()
    ignored: list[str] = []
    try:
        records = [change_record_from_file(path, now, ignored) for path in files]
    except InputError as exc:
        fail(f"{exc}; nothing recorded")
    for message in ignored:
        warn(message)
    first: dict[str, int] = {}
    for i, record in enumerate(records):
        if first.setdefault(record.id, i) != i:  # the store keeps one change an id: which one was meant?
            fail(f"{files[i]}: id: {record.id!r} is also the id of {files[first[record.id]]} (given before it); "
                 "nothing recorded")
    store = ObservabilityStore()
    try:
        stored = store.ingest_changes(records)
    except StoreError as exc:
        fail(f"{store.where}: {exc}; nothing recorded")
    console.print(f"{stored} change(s) recorded in {store.where}", markup=False, highlight=False, soft_wrap=True)
