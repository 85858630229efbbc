"""``bianque skills``: list, show, validate and export the schema of Skills."""

from __future__ import annotations

import difflib
import io
import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from agent.cli.common import print_syntax, print_table, warn
from agent.cli.printable import printable_console
from agent.cli.skill_catalog import CatalogReport, catalog_report
from agent.config import get_settings
from agent.skills.library import (
    SkillLibrary,
    library_root,
    load_default_library,
    load_library,
    load_order,
    no_generic_advice,
    same_name_siblings,
    skill_error,
)
from agent.skills.lint import CatalogLike, located_skill_warnings
from agent.skills.loader import LoadedSkill, SkillError, SkillLoadError, display_path, load_skill, locate
from agent.skills.schema import skill_json_schema
from agent.skills.templates import Loc

skills_app = typer.Typer(
    help="Inspect and validate Skills (the YAML unit of orchestration).", no_args_is_help=True
)
console = printable_console()
err_console = printable_console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the ``skills`` sub-app to the root CLI."""
    app.add_typer(skills_app, name="skills")


def _scope(loaded: LoadedSkill) -> str:
    scope = loaded.skill.scope
    shown = list(scope.services)
    if len(shown) > 3:
        shown = [*shown[:2], f"+{len(shown) - 2}"]
    services = ", ".join(shown)
    return f"{scope.business}: {services}" if scope.business else services


def _fail(message: str, code: int) -> typer.Exit:
    """Print ``message`` to stderr; return the Exit to raise (1: a check failed, 2: bad input)."""
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _print_errors(errors: list[SkillError], out: Console) -> None:
    for error in errors:
        out.print(str(error), style="red", markup=False, highlight=False, soft_wrap=True)


@skills_app.command("list")
def list_skills() -> None:
    """List the loaded Skills and the files that failed to load."""
    library = load_default_library()
    table = Table(title="Skills")
    table.add_column("name", no_wrap=True)
    table.add_column("pattern", no_wrap=True)
    table.add_column("version", justify="right")
    table.add_column("scope")
    table.add_column("source file", overflow="fold")
    ordered = sorted(library.skills.values(), key=lambda s: (s.skill.pattern.value, s.skill.generic, s.name))
    for loaded in ordered:
        source = loaded.source + (f" (overrides {loaded.overrides})" if loaded.overrides else "")
        name = loaded.name + (" [generic]" if loaded.skill.generic else "")
        table.add_row(name, loaded.skill.pattern.value, str(loaded.skill.version), _scope(loaded), source)
    print_table(table, console)
    failed = library.failed_files()
    if failed:
        console.print(f"[bold red]{len(failed)} file(s) failed to load:[/]")
        _print_errors(library.errors, console)
    for warning in _library_warnings(library):
        warn(warning)


def _library_warnings(library: SkillLibrary) -> list[str]:
    """What the configured library lacks: a generic Skill for each pattern (else an event no specific Skill fits
    fails)."""
    missing = library.missing_generics()
    return [no_generic_advice(missing)] if missing else []


@skills_app.command("show")
def show(name: str = typer.Argument(..., help="Skill name.")) -> None:
    """Print one Skill's YAML, with where it comes from (on stderr out of a terminal: ``skills show NAME > f.yaml``
    writes the Skill's file as it is)."""
    library = load_default_library()
    loaded = library.get(name)
    if loaded is None:
        close = difflib.get_close_matches(name, list(library.skills), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise _fail(f"No Skill named {name!r}{library.not_loaded(name)}.{hint} See `bianque skills list`.", 2)
    header = f"# {loaded.source}" + (f" (overrides {loaded.overrides})" if loaded.overrides else "")
    (console if console.is_terminal else err_console).print(header, markup=False, highlight=False, soft_wrap=True)
    if (stand_in := library.stand_in(name)) is not None and not _only_stdout_failed(library.failed_as(name)):
        warn(stand_in)
    text = loaded.path.read_bytes().decode("utf-8") if loaded.path else ""  # its line ends too
    print_syntax(text, "yaml", console)


def _only_stdout_failed(failed: list[SkillError]) -> bool:
    """Whether the files that did not load are all the one standard output writes to: `skills show NAME >
    $BIANQUE_HOME/skills/NAME.yaml` (the documented way to copy a built-in Skill) finds that file just made empty by
    the shell, which is no mistake of the user's to warn of."""
    try:
        out = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False
    for error in failed:
        try:
            if not os.path.samestat(os.stat(error.file), out):
                return False
        except OSError:
            return False
    return bool(failed)


def _validate_paths(paths: list[Path]) -> tuple[list[LoadedSkill], list[SkillError]]:
    directories = [p for p in paths if p.is_dir()]
    loaded: list[LoadedSkill] = []
    errors: list[SkillError] = []
    if directories:
        library: SkillLibrary = load_library(directories)
        loaded.extend(library.skills.values())
        errors.extend(library.errors)
    given = {p.resolve() for p in paths}
    for path in paths:
        if path.is_dir() or any(path.resolve().is_relative_to(d.resolve()) for d in directories):
            continue  # a directory given is checked whole, subfolders and duplicates too
        try:
            skill = load_skill(path)
        except SkillLoadError as exc:
            errors.extend(exc.errors)
            continue
        duplicates, loads = _duplicates(skill, given)
        errors.extend(duplicates)
        if loads:
            loaded.append(skill)
    return loaded, errors


def _duplicates(skill: LoadedSkill, given: set[Path]) -> tuple[list[SkillError], bool]:
    """A file validated on its own that shares its name with other files of its Skill directory's tree (the
    configured directory holding it, else its folder), which loading the directory rejects but the first
    (:func:`load_order`; said once when both are validated, at the one not loading), and whether this file would
    load."""
    errors, loads = [], True
    if skill.path is None:
        return errors, loads
    settings = get_settings()
    root = library_root(skill.path, [*settings.skills_dirs, settings.resolved_user_skills_dir])
    for other in same_name_siblings(skill, root):
        duplicate = f"duplicate Skill name {skill.name!r}: also defined in {display_path(other)}"
        if load_order(other, root) < load_order(skill.path, root):
            errors.append(skill_error(skill, f"{duplicate}, which loads first: this file would not"))
            loads = False
        elif other.resolve() not in given:
            errors.append(skill_error(skill, f"{duplicate}, which would then not load"))
    return errors, loads


@skills_app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(None, help="Skill files or directories; default the configured ones.",
                                       exists=True),
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Also check metric and log names against this case bundle's catalog."
    ),
    prometheus: str | None = typer.Option(
        None, "--prometheus", help="Also check metric names and labels against this PromQL server's catalog "
        "(its URL; BIANQUE_SERVICE_LABEL names its service label)."
    ),
) -> None:
    """Validate Skills; print every error and exit 1 if there is any, or if nothing was checked (a path that does
    not exist: exit 2, bad input)."""
    warnings: list[str] = []
    if paths:
        loaded, errors = _validate_paths(paths)
    else:
        library = load_default_library()
        loaded, errors = list(library.skills.values()), list(library.errors)
        warnings.extend(_library_warnings(library) if loaded else [])
    if not loaded and not errors:
        where = ", ".join(str(p) for p in paths) if paths else "the configured Skill directories"
        raise _fail(f"no Skill files found in {where}: nothing was checked", 1)
    warnings.extend(f"{s.source}:{line}: {field}: {warning}" for s in loaded
                    for line, field, warning in _located(s, located_skill_warnings(s.skill)))
    if bundle is not None and prometheus is not None:
        raise _fail("give either --bundle or --prometheus, not both", 2)
    count = len(warnings)
    report, gaps = _catalog_gaps(loaded, bundle, prometheus)
    warnings.extend(report.lines)
    count += report.count
    _print_errors(errors, console)
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    if gaps:
        console.print(gaps, style="yellow", markup=False, highlight=False, soft_wrap=True)
    summary = f"{len(loaded)} Skill(s) valid, {len(errors)} error(s), {count} warning(s)"
    console.print(summary, style="red" if errors else "green", markup=False, highlight=False, soft_wrap=True)
    if errors:
        raise typer.Exit(1)


def _catalog_gaps(loaded: list[LoadedSkill], bundle: Path | None,
                  prometheus: str | None) -> tuple[CatalogReport, str | None]:
    """What the Skills name that the bundle's or the server's catalog lacks, grouped per Skill, and its summary line
    (none without a catalog, or with nothing missing)."""
    if bundle is not None:
        catalog, origin, option = _bundle_catalog(bundle), f"bundle {bundle}", f"--bundle {bundle}"
    elif prometheus is not None:
        catalog, origin, option = _prometheus_catalog(prometheus), prometheus, f"--prometheus {prometheus}"
    else:
        return CatalogReport(), None
    report = catalog_report(loaded, catalog)
    return report, report.summary(f"the catalog of {origin}", f"`bianque catalog {option}`")


def _bundle_catalog(bundle: Path) -> CatalogLike:
    """The catalog of the case bundle at ``bundle``; exit 2 when it cannot be read."""
    try:
        from agent.sources.catalog import catalog_from_bundle
    except ImportError as exc:
        raise _fail(f"--bundle needs the data catalog (agent.sources.catalog): {exc}", 2) from exc
    if not bundle.is_dir():
        raise _fail(f"--bundle {bundle}: not a directory", 2)
    try:
        catalog = catalog_from_bundle(bundle)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot read the catalog of bundle {bundle}: {exc}", 2) from exc
    return catalog


def _prometheus_catalog(url: str) -> CatalogLike:
    """The catalog of the PromQL server at ``url``; exit 2 when it cannot say what it has."""
    from agent.sources.catalog import CatalogError, catalog_from_prometheus

    try:
        return catalog_from_prometheus(url, get_settings().service_label)
    except CatalogError as exc:
        raise _fail(f"--prometheus {url}: {exc}", 2) from exc


def _located(loaded: LoadedSkill, warnings: list[tuple[Loc, str]]) -> list[tuple[int, str, str]]:
    """(line, field, warning) of each of a Skill's located warnings."""
    return [(*locate(loaded.raw, loc), warning) for loc, warning in warnings]


@skills_app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout.")) -> None:
    """Write the JSON Schema of a Skill (point your editor's YAML plugin at it)."""
    text = json.dumps(skill_json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}", markup=False, highlight=False, soft_wrap=True)
