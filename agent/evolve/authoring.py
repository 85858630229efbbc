"""New Skills from a description: offline from the closest existing Skill, or written by the LLM.

Offline, the template is the existing Skill of the requested pattern whose scope names the module
(service or business) and whose description and triggers share the most words with the new description; the
pattern's generic Skill when none is closer. Given a bundle's data catalog, only the Skills whose metric signals find
the most series in it are considered (on a system whose names no specific Skill knows: the generic one). It is
copied with its comments, renamed, re-described and re-scoped (what of it named the template's module made about the
new one: :mod:`agent.evolve.retarget`), at version 1.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.evolve.patch import Edit, PatchedSkill, load_raw, patch_skill
from agent.evolve.retarget import Retargeted, fold, retarget, tokens
from agent.skills.library import SkillLibrary
from agent.skills.loader import LoadedSkill, dump_skill_yaml
from agent.skills.schema import IDENT, Skill
from agent.skills.templates import escape_glob
from agent.sources.promql import is_glob

PATTERN_WORDS = {
    "release_interception": ("release", "canary", "deploy", "rollout", "config push", "intercept", "rollback"),
    "inspection": ("inspect", "inspection", "patrol", "daily", "scheduled", "saturation", "capacity", "trend"),
}
PATTERN_SUFFIX = {"rca": "rca", "release_interception": "release", "inspection": "inspection"}
_WORD = re.compile(r"[a-z][a-z0-9]+")
STOP_WORDS = frozenset({"the", "of", "and", "on", "for", "with", "in", "to", "an", "or", "its", "at", "by", "from"})
# words every Skill of a pattern could say of itself: they tell no template from another (a checkout latency Skill
# had been copied from the traffic-spike one, whose description says "service", over the latency one)
# (folded as the words they are compared with are: "analysis" is read as "analysi")
SAY_NOTHING = frozenset(fold(w) for w in ("service", "alert", "rca", "root", "cause", "analysis", "skill", "incident",
                                          "issue", "inspection", "inspect", "release"))
NAME_WEIGHT = 0.5  # what a word of a Skill's name counts, beside 1 for a word its description or triggers say


class AuthoringError(ValueError):
    """A new Skill cannot be made as asked (no template of that pattern, name taken, bad name)."""


@dataclass
class NewSkill:
    """A validated new Skill and what it was made from."""

    name: str
    patched: PatchedSkill
    template: str | None
    source: str
    notes: list[str] = field(default_factory=list)
    """What the preview should point out (the template's triggers replaced, its instructions naming its services)."""


def guess_pattern(description: str) -> str:
    """The pattern a description most likely asks for (rca unless it speaks of releases or inspections)."""
    text = description.lower()
    for pattern, words in PATTERN_WORDS.items():
        if any(w in text for w in words):
            return pattern
    return "rca"


def _words(text: str) -> set[str]:
    """Lower-case words, plurals folded ("disks" -> "disk")."""
    return {fold(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS}


def _in_scope(loaded: LoadedSkill, module: str) -> bool:
    scope = loaded.skill.scope
    return scope.business == module or any(fnmatch.fnmatchcase(module, s) and s != "*" for s in scope.services)


def skill_words(skill: Skill) -> set[str]:
    """What a Skill says it is about, as words: its description and its triggers (keywords, alert globs, label and
    change-type values). Its name counts less (:data:`NAME_WEIGHT`): the word ``failure`` of ``cache-failure-rca``,
    which neither its description nor its triggers say, had made it the template of "RCA of payment failures",
    counted twice, over ``search-errors-rca``, triggered by ``failure``."""
    trig = skill.triggers
    said = [skill.description, *trig.keywords, *trig.change_types]
    globs = [*trig.alerts, *trig.labels.values()]
    return (_words(" ".join(said)) | {w for g in globs for w in tokens(g)}) - SAY_NOTHING


def closest_skill(library: SkillLibrary, description: str, pattern: str, module: str | None,
                  catalog: Any = None) -> LoadedSkill:
    """The template: same pattern, module in scope first, then the most words of the description in common with a
    Skill's description and triggers (:func:`skill_words`), each weighed by how few Skills say it; given a data
    ``catalog``, only among the Skills (the generic one too) whose metric signals find the most series in it. Skills
    in scope tied: the one naming fewest services, then by name; out of scope, words said alike by several Skills (or
    by none): the generic one."""
    candidates = library.for_pattern(pattern)
    generic = library.generic(pattern)
    if not candidates and generic is None:
        raise AuthoringError(f"the Skill library has no {pattern} Skill to start from")
    if catalog is not None:
        everyone = [*candidates, *([generic] if generic is not None and generic not in candidates else [])]
        reads = {s.name: sum(bool(catalog.find_metrics(m.name)) for m in s.skill.data.metrics) for s in everyone}
        most = max(reads.values())
        if most > 0:
            candidates = [s for s in everyone if reads[s.name] == most]
            generic = generic if generic in candidates else None
    wanted = _words(description) - SAY_NOTHING
    said = {s.name: skill_words(s.skill) for s in candidates}
    named = {s.name: _words(s.name.replace("-", " ")) - SAY_NOTHING for s in candidates}
    frequency = Counter(w for s in candidates for w in said[s.name] | named[s.name])

    def score(loaded: LoadedSkill) -> tuple[bool, float, int]:
        # words shared with few Skills say more than words every description has ("alerts", "service"); a word
        # counts 1 when the description or a trigger says it, and NAME_WEIGHT more when the name does ("latency" of
        # search-latency-rca: its focus, where other Skills list latency among their triggers; "failure" of
        # cache-failure-rca, said nowhere else in it, that weight alone)
        mine, name = said[loaded.name], named[loaded.name]
        # fsum: exact whatever the order the sets give (it varies with the hash seed), so ties are ties, and the
        # same inputs give the same template in every process
        overlap = math.fsum(math.log((1 + len(candidates)) / frequency[w]) * ((w in mine) + NAME_WEIGHT * (w in name))
                            for w in wanted & (mine | name))
        in_scope = bool(module) and _in_scope(loaded, module)
        return (in_scope, overlap, -len(loaded.skill.scope.services) if in_scope else 0)

    scores = {s.name: score(s) for s in candidates}
    ranked = sorted(candidates, key=lambda s: (*(-x for x in scores[s.name]), s.name))
    best = scores[ranked[0].name] if ranked else (False, 0.0, 0)
    tied = len(ranked) > 1 and scores[ranked[1].name] == best
    # in the module's scope: the one naming fewest services (the most about it), then by name; else the words must
    # single one Skill out ("errors and timeouts", said by several Skills' triggers alike, had picked the last of
    # them by name): the generic one
    if best[0] or (best[1] > 0 and not tied):
        return ranked[0]
    return generic or ranked[0]


def default_name(description: str, pattern: str, module: str | None, library: SkillLibrary) -> str:
    """A free Skill name from the module (or the description's first words) and the pattern."""
    ordered = [w for w in _WORD.findall(description.lower()) if w not in STOP_WORDS]
    stem = module or "-".join(list(dict.fromkeys(ordered))[:2])
    stem = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "custom"
    if not stem[0].isalpha():
        stem = f"s-{stem}"
    base = f"{stem}-{PATTERN_SUFFIX[pattern]}"[:56]
    name, n = base, 2
    while name in library.skills:
        name, n = f"{base}-{n}", n + 1
    return name


def check_new_name(name: str, library: SkillLibrary) -> list[str]:
    """AuthoringError when ``name`` is not a Skill name or is taken; else what the preview should say of it: a file of
    that Skill that does not load (a half-finished hand edit), with its first error."""
    if not re.fullmatch(IDENT, name):
        raise AuthoringError(f"name: {name!r} is not a Skill name (lowercase letters, digits, '-', '_')")
    if name in library.skills:
        raise AuthoringError(f"a Skill named {name!r} exists; refine it with `bianque skills refine {name}`")
    why = library.not_loaded(name)
    return [f"a file of Skill {name!r} exists and does not load{why}"] if why else []


def module_scope(module: str, catalog: Any = None) -> str:
    """The ``scope.services`` pattern of ``--module``, read as the Skill's own scope is: a glob (``*``, ``?``, ``[``:
    ``speed-*``) covers every service it matches; a plain name, or a name the data ``catalog`` has as a service's
    own (free text: ``pay [eu]*? v1.2``), only itself (escaped)."""
    known = set() if catalog is None else {s for m in catalog.metrics for s in m.services} | \
        set(catalog.log_services) | set(catalog.change_services)
    return module if is_glob(module) and module not in known else escape_glob(module)


def _template_text(template: LoadedSkill) -> str:
    if template.path is not None and template.path.is_file():
        return template.path.read_text(encoding="utf-8")
    return dump_skill_yaml(template.raw)


def from_template(
    library: SkillLibrary, description: str, *, pattern: str | None = None, module: str | None = None,
    name: str | None = None, catalog: Any = None,
) -> NewSkill:
    """A new Skill copied from the closest existing one (:func:`closest_skill`), renamed, re-described and
    re-scoped."""
    pattern = pattern or guess_pattern(description)
    template = closest_skill(library, description, pattern, module, catalog)
    name = name or default_name(description, pattern, module, library)
    notes = check_new_name(name, library)
    if len(description.strip()) < 10:
        raise AuthoringError("description: at least 10 characters, it is used to select the Skill")
    edits = [
        Edit("set", ("name",), name, "new name"),
        Edit("set", ("description",), " ".join(description.split()), "new description"),
    ]
    raw = load_raw(_template_text(template), template.source)
    if "generic" in raw:
        raw.pop("generic")
    if module:
        scope, said = _retargeted(raw, library, template, description, module, catalog)
        edits.append(Edit("set", ("scope",), scope, "scoped to the module"))
        notes += said
    raw.yaml_set_start_comment(f"Generated from {template.name} for: {' '.join(description.split())[:200]}")
    patched = patch_skill(dump_skill_yaml(raw), edits, version=1, file=f"<new Skill {name}>")
    if catalog is None:
        notes += unchecked_notes(template.name, patched.loaded.skill)
    return NewSkill(name, patched, template.name, "template", notes)


def _retargeted(raw: Any, library: SkillLibrary, template: LoadedSkill, description: str, module: str,
                catalog: Any, *, copied: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The copy's scope for ``module``, and what :func:`retarget` (changing ``raw``, the template's round-trip map, in
    place) changed of it, as the preview says it."""
    business = any(s.skill.scope.business == module for s in library.skills.values())
    scope = {"business": module, "services": list(template.skill.scope.services)} if business else \
        {"services": [module_scope(module, catalog)]}
    known = {s for loaded in library.skills.values() for s in loaded.skill.scope.services}
    return scope, _retarget_notes(template.name, retarget(
        raw, template=template.skill, template_name=template.name, description=description,
        services=scope["services"], business=scope.get("business"), known_services=known), copied=copied)


def unchecked_notes(template: str, skill: Skill) -> list[str]:
    """What the preview of a copy no data catalog checked says: the template was chosen by words alone (a ``--bundle``
    may choose another), and the exact metric names it brought may not exist on this system."""
    exact = list(dict.fromkeys(m.name for m in skill.data.metrics if not is_glob(m.name)))
    notes = [f"no --bundle: {template} was chosen by the description's words alone; with --bundle DIR the template is "
             "chosen among the Skills whose metric names that data holds, and may be another (the same inputs, "
             "--bundle included, give the same Skill)"]
    if exact:
        notes.append(f"these metric names come from template {template} and no data checked them: {', '.join(exact)}; "
                     "check them with `bianque catalog --bundle DIR` (what your data holds) or `bianque skills "
                     "validate --bundle DIR` (the names it lacks), against a live server with `--prometheus URL` "
                     "instead of `--bundle DIR`, and edit them")
    return notes


def _retarget_notes(template: str, done: Retargeted, *, copied: bool = True) -> list[str]:
    """What the preview says of :func:`retarget`'s changes (``copied``: False, what the model writing a Skill from the
    template as its example is told)."""
    notes = []
    if done.dropped:
        added = f"; added keyword(s) {', '.join(done.added)}, which every event on the module carries" \
            if done.added else ""
        notes.append(f"triggers of {template} naming its own module dropped: {', '.join(done.dropped)}{added}")
    if done.named:
        notes.append(f"the instructions are {template}'s and name {', '.join(done.named)}: edit them for this module"
                     + (" (a note at their top says so to the reasoner)" if copied else ""))
    return notes


def from_llm(
    client: Any, library: SkillLibrary, description: str, *, pattern: str | None = None,
    module: str | None = None, catalog: Any = None,
) -> NewSkill:
    """A new Skill written by the model, shown the closest existing Skill as an example and, for a ``module`` other
    than the example's, what of the example is about its own module (the notes a template's copy shows: the triggers
    naming it, the services its instructions name), so the model does not copy them."""
    from agent.evolve.generate import generate_skill

    pattern = pattern or guess_pattern(description)
    example = closest_skill(library, description, pattern, module, catalog)
    text = _template_text(example)
    about = _retargeted(load_raw(text, example.source), library, example, description, module, catalog,
                        copied=False)[1] if module else []
    generated = generate_skill(
        client, "new_skill",
        {"description": description, "pattern": pattern, "module": module, "example_yaml": text,
         "example_notes": about},
        old_text="", version=1, name=None, pattern=pattern, catalog=catalog, purpose="new Skill",
        taken=frozenset(library.skills),
    )
    notes = check_new_name(generated.patched.loaded.name, library)
    return NewSkill(generated.patched.loaded.name, generated.patched, example.name,
                    f"llm:{getattr(client, 'model', 'model')}", notes)
