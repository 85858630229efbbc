"""``bianque bundle``: validate and summarise case bundles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import track
from rich.table import Table

from agent.bundles.errors import BundleWarning, InvalidBundleError
from agent.bundles.reader import CaseBundle, load_bundle
from agent.bundles.validate import check_bundle
from agent.cli.common import (
    DEFAULT_MAX_BUNDLES,
    JsonOption,
    MaxBundlesOption,
    bundles_or_exit,
    console,
    err_console,
    print_json,
    print_table,
    warn,
)
from agent.detectors.wording import fmt_duration
from agent.series import DEFAULT_STEP_S, sample_step
from agent.sources.resample import FINER
from agent.timeparse import to_rfc3339

if TYPE_CHECKING:
    from agent.sources.sqlstore import ObservabilityStore

bundle_app = typer.Typer(
    help="Validate, summarise and ingest case bundles (docs/bundle-format.md).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add the ``bundle`` sub-app to the root CLI."""
    app.add_typer(bundle_app, name="bundle")


@bundle_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Bundle directories, or directories holding bundles.",
                                                exists=True)],
    max_bundles: MaxBundlesOption = DEFAULT_MAX_BUNDLES,
    as_json: JsonOption = False,
) -> None:
    """Check every bundle (each directory holding an event.yaml) and print its problems; exit 1 on any.

    Warnings (what the readers ignore, such as an unknown key) are printed too; they do not fail the check.
    ``--json`` prints, per bundle, its path, whether it is valid, and its errors and warnings as file, line, field
    and message (for a CI step); the exit code is the same."""
    bundles = bundles_or_exit(paths, max_bundles)
    checking = track(bundles, description="checking", console=err_console, transient=True)  # terminals only
    checked = {path: check_bundle(path) for path in checking}
    bad = sum(bool(errors) for errors, _ in checked.values())
    warned = sum(bool(warnings) and not errors for errors, warnings in checked.values())
    summary = f"{len(bundles) - bad} of {len(bundles)} bundle(s) valid"
    summary += f", {warned} with warnings" if warned else ""
    if as_json:
        print_json([{"path": str(path), "valid": not errors, "errors": [asdict(e) for e in errors],
                     "warnings": [asdict(w) for w in warnings]} for path, (errors, warnings) in checked.items()])
        if bad:
            raise typer.Exit(1)
        return
    for errors, warnings in checked.values():
        for error in errors:
            _error(str(error))
        _warn(warnings)
    if bad:
        _error(summary)
        raise typer.Exit(1)
    console.print(summary, style="green", markup=False)


@bundle_app.command("show")
def show(
    path: Annotated[Path, typer.Argument(help="A case bundle directory.", exists=True)],
    as_json: JsonOption = False,
) -> None:
    """Summarise a bundle: its event, series, services, log lines and changes (never its label); its warnings go to
    stderr (and into the JSON)."""
    try:
        bundle = load_bundle(path)
    except InvalidBundleError as exc:
        _error(str(exc))
        raise typer.Exit(1) from None
    _warn(bundle.warnings)
    summary = bundle_summary(bundle)
    if as_json:
        print_json(summary)
        return
    table = Table(title=f"Case bundle {bundle.name}", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        if key == "warnings":  # printed above
            continue
        table.add_row(key.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    print_table(table)


@bundle_app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Bundle directories, or directories holding bundles.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Store a bundle whose logs and changes were ingested before again (its log lines twice).")
    ] = False,
    max_bundles: MaxBundlesOption = DEFAULT_MAX_BUNDLES,
    as_json: JsonOption = False,
) -> None:
    """Store bundles' logs and changes in the live SQL store that ``--alert/--change/--service`` runs read.

    The store is ``BIANQUE_OBSERVABILITY_URL`` (default SQLite ``$BIANQUE_HOME/observability.db``).
    Each bundle is one transaction: a malformed bundle is reported and stores nothing; a change
    whose id is already stored is replaced; log lines are appended. A bundle whose logs and changes were
    ingested before is skipped, saying when (``--force`` appends its lines again); a changed one is stored.
    What the readers ignore (a change's unknown key) is printed as a warning, as ``bundle validate`` does.
    """
    from agent.sources.sqlstore import ObservabilityStore

    bundles = bundles_or_exit(paths, max_bundles)
    store = ObservabilityStore()
    outcomes = []
    for path in track(bundles, description=f"ingesting into {store.where}", console=err_console):
        outcome = _ingest_one(store, path, force)
        outcomes.append(outcome)
        if as_json:
            continue
        if outcome["skipped"]:
            console.print(f"{path.name}: {outcome['skipped']}", style="yellow", markup=False, highlight=False,
                          soft_wrap=True)
        elif outcome["error"] is None:
            console.print(f"{path.name}: {outcome['logs']} log line(s), {outcome['changes']} change(s)", markup=False)
    if as_json:
        print_json(outcomes)
    failed = sum(outcome["error"] is not None for outcome in outcomes)
    if failed:
        _error(f"{failed} of {len(bundles)} bundle(s) not ingested")
        raise typer.Exit(1)


def _ingest_one(store: ObservabilityStore, path: Path, force: bool) -> dict[str, object]:
    """Ingest one bundle, printing its error and warnings to stderr; what ``ingest --json`` prints of it."""
    from agent.sources.sqlstore import StoreError

    warnings: list[BundleWarning] = []
    outcome: dict[str, object] = {"path": str(path), "logs": 0, "changes": 0, "skipped": None, "error": None}
    try:
        report = store.ingest_bundle(path, warnings, force=force)
    except (InvalidBundleError, StoreError, OSError) as exc:
        _error(str(exc))
        outcome["error"] = str(exc)
    else:
        outcome.update(logs=report.logs, changes=report.changes)
        if report.already is not None:
            earlier = report.already
            outcome["skipped"] = (
                f"already ingested on {to_rfc3339(earlier.ingested_at)} from {earlier.path} ({earlier.logs} log "
                f"line(s), {earlier.changes} change(s)); --force to append again"
            )
    _warn(warnings)
    return {**outcome, "warnings": [str(w) for w in warnings]}


def _error(text: str) -> None:
    err_console.print(text, style="red", markup=False, highlight=False, soft_wrap=True)


def _warn(warnings: Iterable[object]) -> None:
    for warning in warnings:
        warn(warning)


def _sampling(bundle: CaseBundle) -> str:
    """The metrics' sampling interval, and how Skills read it when it is finer than their step."""
    if not any(len(s) >= 2 for s in bundle.series):
        return "-"
    interval = sample_step(bundle.series)
    text = f"every {fmt_duration(interval)}"
    if interval <= FINER * DEFAULT_STEP_S:
        text += f" (read as means over each Skill's step, {fmt_duration(DEFAULT_STEP_S)} by default)"
    return text


def bundle_summary(bundle: CaseBundle) -> dict[str, object]:
    """The facts ``bundle show`` prints."""
    stamps = [float(s.timestamps[0]) for s in bundle.series if len(s)] + [
        float(s.timestamps[-1]) for s in bundle.series if len(s)
    ]
    levels: dict[str, int] = {}
    for record in bundle.logs:
        levels[record.level] = levels.get(record.level, 0) + 1
    return {
        "path": str(bundle.path),
        "event": bundle.event.describe(),
        "time": to_rfc3339(bundle.event.time),
        "series": len(bundle.series),
        "metrics": len({s.metric for s in bundle.series}),
        "samples": sum(len(s) for s in bundle.series),
        "metric_window": f"{to_rfc3339(min(stamps))} .. {to_rfc3339(max(stamps))}" if stamps else "-",
        "sampling": _sampling(bundle),
        "services": bundle.services(),
        "log_lines": len(bundle.logs),
        "log_levels": [f"{level}={n}" for level, n in sorted(levels.items())],
        "changes": [f"{c.id} ({c.type} {c.service} at {to_rfc3339(c.ts)})" for c in bundle.changes],
        "topology": f"{len(bundle.topology)} services" if bundle.topology is not None else "-",
        "warnings": [str(w) for w in bundle.warnings],
    }
