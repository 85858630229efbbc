"""Skills written by the LLM: a patch from a correction, a refinement from an instruction, a new Skill.

The model answers ``{"summary": "...", "skill_yaml": "<the whole Skill>"}``. The YAML must parse,
pass the schema, keep the Skill's name (and pattern, for a patch) and name only data the catalog
knows; otherwise the exact error goes back to the model, up to three answers in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.evolve.llm_loop import ask_until_valid, text_fields_schema
from agent.evolve.patch import PatchedSkill, load_raw, replace_text, set_version
from agent.evolve.prompts import render
from agent.llm.jsontext import parse_json_object
from agent.llm.prompting import one_line
from agent.skills.lint import check_against_catalog
from agent.skills.loader import plain

MAX_SKILL_CHARS = 12000


@dataclass
class Generated:
    """A validated Skill the model wrote, its one-line summary and how many answers it took."""

    patched: PatchedSkill
    summary: str
    tries: int


def catalog_text(catalog: Any) -> str:
    """The data catalog as prompt lines: metric, labels, services, help; log and change services."""
    if catalog is None:
        return "(no catalog available: use only metric names already in the Skill or in the examples)"
    def names(values: Any) -> str:
        return ", ".join(one_line(v, 200) for v in values)

    lines = []
    for m in catalog.metrics:
        lines.append(f"- metric {one_line(m.name, 200)} labels [{names(m.labels)}] services [{names(m.services)}]"
                     + (f": {one_line(m.help, 300)}" if m.help else ""))
    if catalog.log_services:
        lines.append(f"- logs of services: {names(catalog.log_services)}")
    if catalog.change_services:
        lines.append(f"- changes of services: {names(catalog.change_services)}")
    return "\n".join(lines)


def make_parser(
    *, old_text: str, version: int, name: str | None, pattern: str | None, catalog: Any, file: str,
    taken: frozenset[str] = frozenset(),
):
    """The validator of one answer: returns the PatchedSkill or raises ValueError saying what is wrong."""

    def parse(answer: str) -> tuple[PatchedSkill, str]:
        data = parse_json_object(answer)
        text = data.get("skill_yaml")
        if not isinstance(text, str) or not text.strip():
            raise ValueError('field "skill_yaml": required, the whole Skill as YAML text')
        patched = replace_text(old_text, text, version=version, file=file)  # SkillLoadError is a ValueError
        skill = patched.loaded.skill
        if name is not None and skill.name != name:
            raise ValueError(f"{file}:1: name: must stay {name!r}, got {skill.name!r}")
        if name is None and skill.name in taken:
            raise ValueError(f"{file}:1: name: {skill.name!r} is taken by an existing Skill; choose a new name")
        if pattern is not None and skill.pattern.value != pattern:
            raise ValueError(f"{file}: pattern: must be {pattern}, got {skill.pattern.value}")
        if catalog is not None:
            problems = check_against_catalog(skill, catalog)
            if problems:
                raise ValueError("the data catalog does not know: " + "; ".join(f"{file}: {p}" for p in problems))
        if old_text and _same_skill(old_text, patched, file):
            raise ValueError("the Skill is unchanged: make the change that was asked for")
        summary = data.get("summary")
        return patched, summary.strip() if isinstance(summary, str) and summary.strip() else "generated"

    return parse


def _same_skill(old_text: str, patched: PatchedSkill, file: str) -> bool:
    """True when the new text is the old one apart from layout and the version number."""
    old = load_raw(old_text, file)
    set_version(old, patched.new_version)
    return plain(old) == plain(patched.loaded.raw)


def generate_skill(
    client: Any,
    prompt: str,
    variables: dict[str, Any],
    *,
    old_text: str,
    version: int,
    name: str | None,
    pattern: str | None,
    catalog: Any,
    purpose: str,
    taken: frozenset[str] = frozenset(),
) -> Generated:
    """Ask the model for a whole Skill with prompt ``prompt``; GenerationFailed after three bad answers."""
    user = render(prompt, catalog=catalog_text(catalog), **variables)
    messages = [{"role": "system", "content": render("system")}, {"role": "user", "content": user}]
    parse = make_parser(old_text=old_text, version=version, name=name, pattern=pattern, catalog=catalog,
                        file=f"<{name or 'new Skill'} from the model>", taken=taken)
    schema = text_fields_schema(summary=200, skill_yaml=MAX_SKILL_CHARS)
    (patched, summary), tries = ask_until_valid(client, messages, parse, purpose=purpose, schema=schema)
    return Generated(patched, summary, tries)
