"""Self-evolution commands: ``bianque correct``, ``bianque knowledge distill`` and
``bianque skills history|diff|rollback|record|refine|new|regression``.

``register`` adds ``correct`` to the root and the others to the existing ``knowledge`` and ``skills``
groups (created when their modules are absent). The commands live in ``corrections``, ``skill_versions``,
``refine`` and ``regression``; what they share in ``evolve_support``.
"""

from __future__ import annotations

import typer

from agent.cli.corrections import correct, distill_command, forget_case_command, kinds_command
from agent.cli.refine import new_command, refine_command
from agent.cli.regression import regression_add, regression_list, regression_remove
from agent.cli.skill_versions import diff_command, history_command, record_command, rollback_command


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app ``name`` already registered on ``app``, or a new one."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def register(app: typer.Typer) -> None:
    """Add ``correct`` to the root, ``distill`` to ``knowledge`` and the versioning commands to ``skills``."""
    app.command("correct")(correct)
    knowledge = _group(app, "knowledge", "The knowledge store: handbook, experience notes, past cases.")
    knowledge.command("distill")(distill_command)
    knowledge.command("kinds")(kinds_command)
    knowledge.command("forget-case")(forget_case_command)
    skills = _group(app, "skills", "Inspect and validate Skills (the YAML unit of orchestration).")
    skills.command("history")(history_command)
    numbers = {"ignore_unknown_options": True}  # '-1' is a version number to refuse, not an unknown option
    skills.command("diff", context_settings=numbers)(diff_command)
    skills.command("rollback", context_settings=numbers)(rollback_command)
    skills.command("record")(record_command)
    skills.command("refine")(refine_command)
    skills.command("new")(new_command)
    regression = _group(skills, "regression", "The labelled bundles every Skill patch must not break.")
    regression.command("add")(regression_add)
    regression.command("remove")(regression_remove)
    regression.command("list")(regression_list)
