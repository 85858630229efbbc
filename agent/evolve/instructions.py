"""Offline interpretation of simple refinement instructions (anything else needs the LLM).

Understood (case-insensitive, one instruction at a time):

- ``add metric NAME [as ID] [for dependencies]`` (also ``[also] pull|read [metric] NAME ...``): the bad
  direction is read off the name (:func:`agent.detectors.direction.infer_direction`; ``auto`` for a glob);
  a metric the Skill already reads is not added twice (``for dependencies`` extends it to them)
- ``raise|lower|set threshold of SIGNAL to VALUE`` (also ``min_effect``)
- ``raise|lower|set min_score of rule N to VALUE``
- ``add tag TAG`` / ``add knowledge tag TAG``
- ``set dependency depth to N``
"""

from __future__ import annotations

import re

from agent.detectors.direction import infer_direction
from agent.evolve.patch import Edit
from agent.skills.schema import Skill

_ADD_METRIC = re.compile(r"^(?:add (?:a )?metric|(?:also )?(?:pull|read)(?: (?:the )?metric)?) "
                         r"([A-Za-z_:*?\[\]][A-Za-z0-9_:*?\[\]]*)(?: as ([a-z][a-z0-9_\-]*))?"
                         r"(?P<deps> (?:for|on|including) (?:the |its )?dependencies)?\.?$")
_SIGNAL_VALUE = re.compile(r"^(?:raise|lower|set|change) (?:the )?(threshold|min_effect) of (?:signal )?"
                           r"([a-z][a-z0-9_\-]*) to (-?[0-9]+(?:\.[0-9]+)?)\.?$")
_RULE_SCORE = re.compile(r"^(?:raise|lower|set|change) (?:the )?min_score of rule ([0-9]+) "
                         r"to ([0-9]+(?:\.[0-9]+)?)\.?$")
_TAG = re.compile(r"^add (?:a )?(?:knowledge )?tag ([a-z0-9_\-]+)\.?$")
_DEPTH = re.compile(r"^set (?:the )?dependency depth to ([0-9]+)\.?$")
UNDERSTOOD = (
    '"add metric NAME [as ID] [for dependencies]" (or "also pull NAME ..."), "raise threshold of SIGNAL to VALUE", '
    '"set min_effect of SIGNAL to VALUE", "set min_score of rule N to VALUE", "add tag TAG", '
    '"set dependency depth to N"'
)


class InstructionNotUnderstood(ValueError):
    """The instruction is not one of the simple forms understood offline."""


class NothingToChange(ValueError):
    """The Skill already does what the instruction asks."""


def _unchanged(skill: Skill, what: str, current: float | None, wanted: float) -> None:
    """NothingToChange when the Skill has that value already: a patch of its version alone fixes nothing."""
    if current is not None and float(current) == wanted:
        raise NothingToChange(f"{what} in {skill.name} is {current} already; nothing to change")


def _signal_index(skill: Skill, signal_id: str) -> int:
    for i, signal in enumerate(skill.data.metrics):
        if signal.id == signal_id:
            return i
    known = ", ".join(m.id for m in skill.data.metrics) or "none"
    raise InstructionNotUnderstood(f"no metric signal {signal_id!r} in {skill.name}; its signals: {known}")


def _metric_id(skill: Skill, name: str, wanted: str | None) -> str:
    base = wanted or re.sub(r"[^a-z0-9_]+", "_", name.lower().replace("*", "")).strip("_") or "metric"
    if not base[0].isalpha():
        base = f"m_{base}"
    taken = {m.id for m in skill.data.metrics} | {q.id for q in skill.data.logs}
    if wanted and wanted in taken:
        raise InstructionNotUnderstood(f"signal id {wanted!r} is already used in {skill.name}")
    candidate, n = base[:60], 2
    while candidate in taken:
        candidate, n = f"{base[:56]}_{n}", n + 1
    return candidate


def _add_metric(skill: Skill, name: str, wanted_id: str | None, deps: bool, why: str) -> list[Edit]:
    """A baseline signal for metric ``name``, bad in the direction its name says; none when the Skill
    already reads it (only extended to the dependencies when that is asked and not yet so)."""
    for i, signal in enumerate(skill.data.metrics):
        if signal.name != name:
            continue
        if deps and not signal.dependencies:
            return [Edit("set", ("data", "metrics", i, "dependencies"), True, why)]
        where = " on its dependencies too" if signal.dependencies else ""
        raise NothingToChange(f"{skill.name} already reads {name}{where} (signal {signal.id!r}, direction "
                              f"{signal.direction.value}); nothing to change")
    direction = "auto" if any(c in name for c in "*?[") else infer_direction(name)
    signal = {"id": _metric_id(skill, name, wanted_id), "name": name, "labels": {"service": "{service}"},
              "compare": "baseline", "direction": direction, "min_effect": 0.3}
    if deps:
        signal["dependencies"] = True
    return [Edit("append", ("data", "metrics"), signal, why)]


def instruction_edits(skill: Skill, instruction: str) -> list[Edit]:
    """The edits a simple instruction asks for; InstructionNotUnderstood otherwise."""
    text = " ".join(instruction.strip().split())
    lowered = text.lower()
    if match := _ADD_METRIC.match(lowered):
        name = text[match.start(1):match.end(1)]  # the name's own case (the words before it are ASCII)
        return _add_metric(skill, name, match.group(2), bool(match.group("deps")), f"instruction: {text}")
    if match := _SIGNAL_VALUE.match(lowered):
        field, signal_id, value = match.group(1), match.group(2), float(match.group(3))
        index = _signal_index(skill, signal_id)
        signal = skill.data.metrics[index]
        to_threshold = field == "threshold" and signal.compare.value in ("baseline", "history")
        if not to_threshold:
            _unchanged(skill, f"the {field} of signal {signal_id!r}", getattr(signal, field), value)
        edits = [Edit("set", ("data", "metrics", index, field), value, f"instruction: {text}")]
        if to_threshold:
            edits.append(Edit("set", ("data", "metrics", index, "compare"), "threshold", "a threshold is compared"))
        return edits
    if match := _RULE_SCORE.match(lowered):
        number, value = int(match.group(1)), float(match.group(2))
        if not 1 <= number <= len(skill.decision.rules):
            count = len(skill.decision.rules)
            raise InstructionNotUnderstood(f"{skill.name} has {count} rule(s); rule {number} does not exist")
        _unchanged(skill, f"the min_score of rule {number}", skill.decision.rules[number - 1].when.min_score, value)
        return [Edit("set", ("decision", "rules", number - 1, "if", "min_score"), value, f"instruction: {text}")]
    if match := _TAG.match(lowered):
        tag = match.group(1)
        if tag in skill.knowledge.tags:
            raise InstructionNotUnderstood(f"{skill.name} already has knowledge tag {tag!r}")
        return [Edit("append", ("knowledge", "tags"), tag, f"instruction: {text}")]
    if match := _DEPTH.match(lowered):
        _unchanged(skill, "the dependency depth", skill.data.dependencies.depth, int(match.group(1)))
        return [Edit("set", ("data", "dependencies", "depth"), int(match.group(1)), f"instruction: {text}")]
    raise InstructionNotUnderstood(
        f"without an LLM endpoint only simple instructions are understood ({UNDERSTOOD}); "
        "set BIANQUE_LLM_BASE_URL for anything else"
    )
