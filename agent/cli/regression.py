"""``bianque skills regression add | list | remove``: the labelled bundles every Skill patch must not break."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import JsonOption, fail, print_json
from agent.cli.evolve_support import evolve_errors, say
from agent.config import get_settings


def regression_add(directory: Annotated[Path, typer.Argument(help="A directory of labelled bundles.")]) -> None:
    """Add labelled bundles to the regression set every Skill patch must not break."""
    from agent.evolve.regression import add, registered

    with evolve_errors():
        home = get_settings().home
        already = directory.resolve() in registered(home)
        bundles = add(home, directory)
    if already:
        say(f"{directory.resolve()} is registered already: its {len(bundles)} labelled bundle(s) are in the "
            "regression set")
        return
    say(f"{len(bundles)} labelled bundle(s) under {directory.resolve()} join the regression set")


def regression_remove(directory: Annotated[Path, typer.Argument(help="A registered directory.")]) -> None:
    """Remove a directory from the regression set."""
    from agent.evolve.regression import remove

    with evolve_errors():
        removed = remove(get_settings().home, directory)
    if not removed:
        fail(f"{directory.resolve()} is not registered (see `bianque skills regression list`)")
    say(f"{directory.resolve()} left the regression set")


def regression_list(as_json: JsonOption = False) -> None:
    """The labelled bundles every Skill patch is replayed against (the curated scenarios by default)."""
    from agent.evolve.regression import registered, regression_bundles, summary

    with evolve_errors():
        home = get_settings().home
        dirs, bundles = registered(home), regression_bundles(home)
    if as_json:
        print_json(summary(home))
        return
    if not dirs:
        say("nothing registered: the curated scenarios are the regression set, each for the Skills it selects")
    for d in dirs:
        say(f"registered: {d}")
    for b in bundles:
        say(f"  {b}")
