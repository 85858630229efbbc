"""``bianque rca | intercept | inspect | ask``: one investigation, from a bundle or live sources."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from agent.cli.common import (
    BAD_INPUT_EXIT,
    COULD_NOT_JUDGE_EXIT,
    BundleOption,
    JsonOption,
    SkillOption,
    errors_about,
    exit_if_not_judged,
    fail,
    first_use_progress,
    knowledge_errors,
    print_json,
    print_markdown,
    user_errors,
    warn,
)
from agent.cli.steps import interrupted_case_named, investigation_steps
from agent.config import get_settings
from agent.events import Event, InspectionScope, Pattern
from agent.inputs import InputError, describe_validation, event_from_change_file, events_from_alert_file
from agent.phrases import first_of

NOTHING_TO_INVESTIGATE = {  # what each command takes, said when it is given nothing
    Pattern.RCA: "--alert FILE (an alert) or --bundle DIR",
    Pattern.RELEASE_INTERCEPTION: "--change FILE (a change event) or --bundle DIR",
    Pattern.INSPECTION: "--service NAME (inspects the live sources) or --bundle DIR; every service an inspection "
                        "Skill's scope covers, now: `bianque schedule run SKILL`",
}
EMBEDDING_HANDBOOK = "embedding the handbook (first use of this knowledge store)"


def _run(event: Event | None, bundle: Path | None, skill: str | None, as_json: bool, expect: Pattern,
         adjust: Callable[[Event], Event] | None = None, origin: str | None = None) -> None:
    """Investigate ``event`` (read from ``origin``, a file, for messages), else the ``bundle``'s event; print the
    result and exit as it judged."""
    result = _investigate(event, bundle, skill, expect, adjust, origin)
    _show(result, as_json)
    exit_if_not_judged(result.verdict)


def _investigate(event: Event | None, bundle: Path | None, skill: str | None, expect: Pattern,
                 adjust: Callable[[Event], Event] | None = None, origin: str | None = None) -> Any:
    """The investigation of ``event``, else of the ``bundle``'s event (exit 2 for bad input)."""
    from agent.bundles.errors import InvalidBundleError
    from agent.bundles.event_file import change_problem
    from agent.graph.nodes.select_skill import check_override
    from agent.investigate import investigate_checkpointed
    from agent.runtime import investigation_toolkit, load_skills, open_memory
    from agent.topology import TopologyError

    settings = get_settings()
    with user_errors(InvalidBundleError, InputError, KeyError, LookupError, TopologyError, *knowledge_errors()):
        loaded = None
        if bundle is not None:  # cheap checks first: opening knowledge may embed the whole handbook
            from agent.bundles.reader import load_bundle

            loaded = load_bundle(bundle)
            if event is None:
                event = adjust(loaded.event) if adjust is not None else loaded.event
                origin = f"{bundle / 'event.yaml'}: change"
                if adjust is not None:  # --service names what the bundle holds: a typo is not "could not judge"
                    _check_services(event, loaded, bundle)
        if event is None:
            fail(f"nothing to investigate: give {NOTHING_TO_INVESTIGATE[expect]}")
        if event.pattern != expect:
            fail(f"the bundle's event is {event.pattern.with_article} event; use `bianque {_command(event.pattern)}`")
        problem = change_problem(event, "event.yaml")  # the gate judges a change, not whatever its service did
        if problem is not None:
            fail(f"{origin}: {problem}")
        check_override(skill, load_skills(settings), event)  # a mistyped --skill stores no failed case
        memory = open_memory(settings)  # first: a database that cannot be used is said before any embedding
        with first_use_progress(EMBEDDING_HANDBOOK) as progress:
            toolkit = investigation_toolkit(settings, loaded, memory=memory, progress=progress)
        with interrupted_case_named(), investigation_steps() as on_step:
            result = investigate_checkpointed(event, toolkit, settings, skill=skill, source="cli", on_step=on_step,
                                              bundle_path=str(bundle.resolve()) if bundle else None)
    return result


def _show(result: Any, as_json: bool) -> None:
    """One investigation's result: its JSON, else its report and how to correct its case."""
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    print_markdown(result.report)
    if result.case_id:
        typer.echo(f"case {result.case_id} — correct it with: bianque correct {result.case_id} --help")


def _check_services(event: Event, loaded: Any, bundle: Path) -> None:
    """Exit 2 when the rescoped event names a service nothing in the bundle has."""
    held = loaded.services()
    unknown = [s for s in event.services if s not in held]
    if unknown:
        fail(f"{bundle}: --service {unknown[0]!r}: the bundle has no such service (it has: {first_of(held, 8)})")


def _command(pattern: Pattern) -> str:
    return {Pattern.RCA: "rca", Pattern.RELEASE_INTERCEPTION: "intercept", Pattern.INSPECTION: "inspect"}[pattern]


def rca(
    bundle: BundleOption = None,
    alert: Annotated[Path | None, typer.Option(help="Alertmanager webhook JSON/YAML or one alert.")] = None,
    skill: SkillOption = None,
    as_json: JsonOption = False,
) -> None:
    """Alert root-cause analysis: does it need attention, why did it fire, what to do.

    An --alert file holding several firing alerts (an Alertmanager group) gets one investigation per firing
    alert, their reports one after the other (--json: a list of results); its resolved alerts are then left
    out, said on stderr (the webhook investigates no resolution either). A file of resolved alerts only is
    investigated alert by alert, each report saying its alert has resolved.

    Exit code 3 when it could not judge (no metric data and no log lines; the verdict's "judged" is
    false): the alert is then reported as needing attention; with several alerts, 3 when any could not be
    judged. 2 for bad input; with several alerts, one that fails for bad input is said naming it (``error: alert
    2 of 3 (DiskFull, service gateway): …``), the others are still investigated, and the exit code is 2 at the end
    (before 3).
    """
    if alert is None:
        _run(None, bundle, skill, as_json, Pattern.RCA)
        return
    with user_errors(InputError, ValueError):
        events = events_from_alert_file(alert, time.time(), get_settings().service_label)
    chosen = _alerts_to_investigate(events, alert)
    if len(chosen) == 1:
        _run(chosen[0], bundle, skill, as_json, Pattern.RCA)
        return
    results, failed = [], []
    for number, event in enumerate(chosen, 1):
        subject = f"alert {number} of {len(chosen)} ({_alert_label(event)})"
        try:
            with errors_about(subject):
                results.append(_investigate(event, bundle, skill, Pattern.RCA))
        except typer.Exit as exc:
            if exc.exit_code != BAD_INPUT_EXIT:  # Ctrl-C (130): the rest is not wanted
                raise
            failed.append(subject)  # its error is said, naming it: the next alert is investigated
    if as_json:
        print_json([result.model_dump(mode="json") for result in results])
    else:
        for i, result in enumerate(results):
            if i:
                typer.echo("")
            _show(result, as_json)
    if failed:
        warn(f"{len(failed)} of the {len(chosen)} alerts could not be investigated (bad input, said above; exit code "
             f"{BAD_INPUT_EXIT}): {'; '.join(failed)}")
        raise typer.Exit(BAD_INPUT_EXIT)
    unjudged = [result for result in results if not result.verdict.judged]
    if unjudged:
        warn(f"{len(unjudged)} of the {len(results)} alerts could not be judged (exit code {COULD_NOT_JUDGE_EXIT})")
        raise typer.Exit(COULD_NOT_JUDGE_EXIT)


def _alert_label(event: Event) -> str:
    """An alert as a failure names it: its name and service (``DiskFull, service gateway``)."""
    name = event.alert.name if event.alert is not None else None
    parts = [name or "unnamed"] + ([f"service {event.service}"] if event.service else [])
    return ", ".join(parts)


def _alerts_to_investigate(events: list[Event], path: Path) -> list[Event]:
    """The file's firing alerts (its resolved ones said to be left out), else its resolved ones."""
    firing = [e for e in events if e.alert is not None and e.alert.status == "firing"]
    if firing and len(firing) < len(events):
        left = len(events) - len(firing)
        warn(f"{path}: {left} resolved alert{'s' if left > 1 else ''} left out: only firing alerts are investigated")
    return firing or events


def intercept(
    bundle: BundleOption = None,
    change: Annotated[Path | None, typer.Option(help="A change event (JSON/YAML).")] = None,
    skill: SkillOption = None,
    as_json: JsonOption = False,
) -> None:
    """Release interception: pass, hold or block a change, with the regressions behind it.

    Exit code 3 when it could not judge (no data, less than 5 minutes of the service's data since
    the change began, or a change naming no service whose id no change record holds; the verdict's "judged" is
    false): the decision is then hold. 2 for bad input (a release event naming no change).
    """
    event, origin = None, str(change)
    if change is not None:
        with user_errors(InputError, ValueError):
            event = event_from_change_file(change, time.time())
        origin = _change_origin(change, event)
        _warn_ignored_change_keys(change, event)
    _run(event, bundle, skill, as_json, Pattern.RELEASE_INTERCEPTION, origin=origin)


def _warn_ignored_change_keys(path: Path, event: Event) -> None:
    """Warn of each key of a change file that no field reads (``servce:`` beside an ``id``), at its line, as a
    bundle's event.yaml and the API do: the change is judged without it."""
    from agent.bundles.event_file import ignored_keys
    from agent.bundles.yaml_lines import line_in_file

    for warning in ignored_keys(event):
        key, _, message = warning.removeprefix("event.change.").partition(": ")
        line = line_in_file(path, [key])
        warn(f"{path}{f':{line}' if line else ''}: {key}: {message}")


def _change_origin(path: Path, event: Event) -> str:
    """A change file as messages name it: ``path``, with the line of a key that misspells the change's service or
    id (``servce``, see ``event_file.change_problem``) when it has one."""
    from agent.bundles.event_file import misspelt_change_key
    from agent.bundles.yaml_lines import line_in_file

    typed = misspelt_change_key(event.change)
    line = line_in_file(path, [typed[0]]) if typed else None
    return f"{path}:{line}" if line else str(path)


def inspect(
    bundle: BundleOption = None,
    service: Annotated[list[str] | None, typer.Option(help="Service to inspect (repeatable).")] = None,
    window: Annotated[str | None, typer.Option(
        help="How far back to look, e.g. 2h (default: the look-back of the Skill that answers, --skill's or the "
             "one chosen, as its schedule reads; with --bundle, the bundle's scope.window, else that look-back).",
    )] = None,
    skill: SkillOption = None,
    as_json: JsonOption = False,
) -> None:
    """Proactive inspection: findings ranked by severity.

    With --bundle, --service and --window narrow or widen the bundle's own inspection (its time stays);
    without, they inspect the live sources now. Exit code 3 when it could not judge (no metric data and no
    log lines; the verdict's "judged" is false): the summary then says so instead of "Healthy". 2 for bad input.
    """
    if bundle is not None:
        adjust = (lambda base: _rescoped(base, service, window)) if service or window else None
        _run(None, bundle, skill, as_json, Pattern.INSPECTION, adjust)
        return
    event = None
    if service:
        event = Event(pattern=Pattern.INSPECTION, time=time.time(), service=service[0],
                      scope=_scope(service, window))
    _run(event, bundle, skill, as_json, Pattern.INSPECTION)


def _scope(services: list[str], window: str | float | None) -> InspectionScope:
    """An inspection scope from the command line, its problems named by option."""
    try:
        return InspectionScope(services=services, window=window)
    except ValidationError as exc:
        text = describe_validation(exc, "bianque inspect")
        fail(text.replace(": services: ", ": --service: ").replace(": window: ", ": --window: "))


def _rescoped(base: Event, services: list[str] | None, window: str | None) -> Event:
    """A bundle's inspection with the services and window the command line gives (the rest, and its time, kept)."""
    if base.pattern != Pattern.INSPECTION:
        return base  # refused by the pattern check that follows
    scope = base.scope or InspectionScope()
    chosen = services or list(scope.services)
    checked = _scope(chosen, window if window is not None else scope.window)
    rescoped = scope.model_copy(update={"services": checked.services, "window": checked.window})
    return base.model_copy(update={"scope": rescoped, "service": chosen[0] if services else base.service})


def ask(
    question: Annotated[str, typer.Argument(help="A question in plain words.")],
    bundle: BundleOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a free-text question: routed to the right pattern and Skill, answered with evidence."""
    from agent.ask import answer_question

    settings = get_settings()
    with (user_errors(InputError, KeyError, LookupError, ValueError, *knowledge_errors()),
          first_use_progress(EMBEDDING_HANDBOOK) as progress, interrupted_case_named(),
          investigation_steps() as on_step):
        answer = answer_question(question, settings, bundle=bundle, progress=progress, on_step=on_step)
    if as_json:
        print_json(answer.model_dump(mode="json"))
    else:
        print_markdown(answer.text)


def register(app: typer.Typer) -> None:
    app.command()(rca)
    app.command()(intercept)
    app.command()(inspect)
    app.command()(ask)
