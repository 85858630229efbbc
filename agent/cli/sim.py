"""``bianque sim``: generate simulated case bundles (one, a batch, or the curated examples)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.bundles.writer import NotABundleError
from agent.cli.common import print_table
from agent.cli.printable import printable_console
from agent.sim.batch import BENCHMARK_SEEDS, generate_batch
from agent.sim.curated import CURATED, write_curated
from agent.sim.openmetrics import write_openmetrics
from agent.sim.scenario import ScenarioError, build_scenario, fault_patterns, write_scenario

sim_app = typer.Typer(
    help="Generate simulated scenarios of the search/recommendation/ads system as case bundles.",
    invoke_without_command=True,
)
console = printable_console()
err_console = printable_console(stderr=True)

OutOption = Annotated[Path, typer.Option("--out", "-o", help="Directory to write.", file_okay=False)]


def register(app: typer.Typer) -> None:
    """Add the ``sim`` sub-app to the root CLI."""
    app.add_typer(sim_app, name="sim")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _list_faults(as_json: bool) -> None:
    table_data = fault_patterns()
    if as_json:
        typer.echo(json.dumps(table_data, indent=2))
        return
    table = Table(title="Simulated fault kinds")
    table.add_column("fault", no_wrap=True)
    table.add_column("patterns")
    for fault, patterns in table_data.items():
        table.add_row(fault, ", ".join(patterns))
    print_table(table, console)


@sim_app.callback()
def sim(
    ctx: typer.Context,
    fault: Annotated[str | None, typer.Option("--fault", "-f", help="Fault kind (see --list-faults).")] = None,
    pattern: Annotated[str, typer.Option("--pattern", "-p", help="rca | release_interception | inspection.")] = "rca",
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed: same seed, same bundle.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Bundle directory to write.",
                                             file_okay=False)] = None,
    openmetrics: Annotated[Path | None, typer.Option(
        "--openmetrics", help="Also write the series as OpenMetrics text (for promtool backfill).",
        dir_okay=False)] = None,
    variant: Annotated[str | None, typer.Option(
        "--variant", help="Release cases: block|hold (bad faults) or canary|config (healthy).")] = None,
    service: Annotated[str | None, typer.Option("--service", help="Inject the fault into this service.")] = None,
    list_faults: Annotated[bool, typer.Option("--list-faults", help="List fault kinds and their patterns.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --list-faults: print JSON.")] = False,
) -> None:
    """Write one simulated bundle: ``bianque sim --fault KIND --pattern P --seed N --out DIR``."""
    if ctx.invoked_subcommand is not None:
        return
    if list_faults:
        _list_faults(as_json)
        return
    if fault is None or out is None:
        if fault is None and out is None and openmetrics is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        raise _fail("give both --fault and --out (or --list-faults, or a subcommand: batch, curated)")
    try:
        scenario = build_scenario(pattern, fault, seed, variant=variant, service=service)
        path = write_scenario(scenario, out)
    except (ScenarioError, NotABundleError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {path} ({pattern}, {fault}, seed {seed})", highlight=False)
    if openmetrics is not None:
        write_openmetrics(openmetrics, scenario.series)
        console.print(f"wrote {openmetrics}", highlight=False)


@sim_app.command("batch")
def batch(
    out: OutOption,
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many bundles.")] = 50,
    seed_start: Annotated[int, typer.Option("--seed-start", help="First seed (>= 1000 for benchmarks).")]
    = BENCHMARK_SEEDS,
    pattern: Annotated[str | None, typer.Option("--pattern", "-p", help="Only this pattern.")] = None,
) -> None:
    """Write many bundles (case-NNNNN, cycling through every pattern and fault) for evaluation."""
    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("generating", total=count)
            paths = generate_batch(out, count, seed_start, pattern,
                                   progress=lambda _i, _p: progress.advance(task))
    except (ScenarioError, NotABundleError) as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {len(paths)} bundles under {out}", highlight=False)


@sim_app.command("curated")
def curated(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write.", file_okay=False)]
    = Path("examples/scenarios"),
) -> None:
    """Regenerate the curated example bundles exactly (examples/scenarios)."""
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console) as progress:
            task = progress.add_task("curated", total=len(CURATED))
            write_curated(out, progress=lambda _c, _p: progress.advance(task))
    except NotABundleError as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {len(CURATED)} bundles under {out}", highlight=False)
