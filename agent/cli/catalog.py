"""``bianque catalog``: which metrics, log sources and change sources exist."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agent.bundles.errors import InvalidBundleError
from agent.cli.common import BundleOption, JsonOption, console, err_console, print_json, print_table
from agent.config import get_settings
from agent.detectors.counters import counter_name
from agent.detectors.direction import infer_direction
from agent.detectors.histograms import read_as
from agent.reasoners.faults import metric_family
from agent.sources.catalog import Catalog, CatalogError, catalog_from_bundle, catalog_from_prometheus
from agent.status_labels import status_label

PrometheusOption = Annotated[
    str | None,
    typer.Option("--prometheus", help="PromQL HTTP API base URL (default: BIANQUE_PROMETHEUS_URL)."),
]


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` command to the root CLI."""
    app.command("catalog")(catalog)


def catalog(bundle: BundleOption = None, prometheus: PrometheusOption = None, as_json: JsonOption = False) -> None:
    """List the data a Skill can name: metrics (type, labels, services, help), log and change services."""
    result = build_catalog(bundle, prometheus)
    if as_json:
        data = result.to_dict()
        for metric in data["metrics"]:  # what the ranking reads it as (agent.reasoners.faults)
            metric["fault_family"] = metric_family(metric["name"])
            metric["status_label"] = status_label(metric["labels"])  # its 5xx series read as errors
            metric["read_as"] = read_as(metric["name"], metric["labels"])  # a latency histogram's quantiles
        print_json(data)
    else:
        render(result)
    if bundle is None and (hint := service_label_hint(result, get_settings().service_label)):
        err_console.print(f"note: {hint}", style="yellow", markup=False, highlight=False, soft_wrap=True)


def service_label_hint(result: Catalog, label: str) -> str | None:
    """Why no metric of a server lists a service, when none does: its series carry no label ``label``
    (``BIANQUE_SERVICE_LABEL``), and every Skill's query for a service would find nothing; the labels they carry."""
    if not result.metrics or any(m.services for m in result.metrics):
        return None
    held = sorted({name for m in result.metrics for name in m.labels})
    return (f"no series names its service by the label {label!r} (BIANQUE_SERVICE_LABEL), so no investigation of a "
            f"service would find its metrics; the series carry {', '.join(held) or 'no labels'}: set "
            "BIANQUE_SERVICE_LABEL to the one that names your services (README, \"Live sources\")")


def build_catalog(bundle: Path | None, prometheus: str | None) -> Catalog:
    """The catalog of the bundle or Prometheus asked for (exactly one); exits 2 with a message on failure."""
    if bundle is not None and prometheus is not None:
        _fail("give either --bundle or --prometheus, not both")
    url = prometheus or get_settings().prometheus_url
    if bundle is None and not url:
        _fail("no data source: give --bundle DIR or --prometheus URL (or set BIANQUE_PROMETHEUS_URL)")
    try:
        if bundle is not None:
            return catalog_from_bundle(bundle)
        return catalog_from_prometheus(str(url), get_settings().service_label)
    except (InvalidBundleError, CatalogError) as exc:
        _fail(str(exc))
    raise AssertionError("unreachable")


def _fail(message: str) -> None:
    err_console.print(f"error: {message}", style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def render(result: Catalog) -> None:
    """Print the catalog as rich tables."""
    headers = ("metric", "type", "bad when", "family", "labels", "services", "help")
    rows = []
    for m in result.metrics:  # "bad when": the direction `direction: auto` reads off the name
        bad_when = _BAD_WHEN[infer_direction(m.name)] + (" (its per-second rate)" if counter_name(m.name) else "")
        if label := status_label(m.labels):
            bad_when += f"; by {label}: a 5xx series is failures, bad when it rises"
        bad_when = read_as(m.name, m.labels) or bad_when  # a latency histogram's part
        family = metric_family(m.name) or "-"  # the fault family the ranking reads it as
        rows.append((m.name, m.type, bad_when, family, ", ".join(m.labels), _short(m.services), m.help))
    shown = [i for i, name in enumerate(headers) if name == "metric" or any(row[i] for row in rows)]  # no empty help
    table = Table(title=f"Metrics ({len(result.metrics)})")
    for i in shown:
        table.add_column(headers[i], overflow="fold", no_wrap=headers[i] == "metric")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    print_table(table)
    if result.metrics:
        console.print(LEGEND, markup=False, highlight=False, soft_wrap=True)
    console.print(f"log sources: {', '.join(result.log_sources) or '-'}", markup=False)
    console.print(f"log services: {', '.join(result.log_services) or '-'}", markup=False)
    console.print(f"change services: {', '.join(result.change_services) or '-'}", markup=False)


LEGEND = ("bad when: the way a signal with `direction: auto` (the generic Skills' catch-all) judges it, read off its "
          "name alone: 'moves either way' where the name says nothing (set `direction` in your Skill); family: the "
          "fault kind the ranking reads it as ('-': none). How names are read: docs/skills.md, "
          "data.metrics[].direction")
_BAD_WHEN = {"up": "rises", "down": "falls", "both": "moves either way"}


def _short(items: tuple[str, ...], keep: int = 3) -> str:
    shown = list(items[:keep]) + ([f"+{len(items) - keep}"] if len(items) > keep else [])
    return ", ".join(shown)
