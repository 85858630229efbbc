"""A template's copy made for another module: what of the template names its own module, and what it is replaced by.

A Skill copied for ``--module`` keeps its signals, rules and guidance, but the template's *module* — the words of its
``scope`` (services, business) that the new scope does not share — must not survive in what selects the copy or in
what the reasoner reads as being about the target:

- a trigger naming it (the alert glob ``*Order*``, the keyword ``order``, a label value) is dropped; when one was, the
  new scope's services are added as keywords (keywords match the event text, which names the event's services, so
  every event on the module hits them: the template's author had tied the Skill to its module's name, the copy is
  tied to its own). Triggers about the fault (``*Latency*``, ``memory``) are kept;
- a knowledge tag naming it, or naming another service a Skill of the library is scoped to (the template's
  neighbours: ``feature-store``), gives way to the new scope's service names;
- the instructions are kept, prefixed with what the Skill is for and, when they name the template's services (or
  another Skill's, by their whole names), which: they are the template's, to be read as the new scope, and edited.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.scalarstring import LiteralScalarString

from agent.detectors.direction import name_tokens
from agent.evolve.patch import to_node
from agent.skills.schema import Skill
from agent.sources.promql import is_glob

# words any service name may have: not a module of its own
_SERVICE_WORDS = frozenset({"service", "svc", "server", "srv", "api", "app"})
_CLASS = re.compile(r"\[!?([^\]])[^\]]*\]")  # a glob's character class, read as its first character
_GLOB_PARTS = re.compile(r"\*|\?|\[[^\]]*\]")


def fold(word: str) -> str:
    """A word with its plural folded (``disks`` -> ``disk``; ``class`` stays)."""
    return word[:-1] if word.endswith("s") and not word.endswith("ss") and len(word) > 3 else word


def tokens(text: str) -> set[str]:
    """The words of a name, glob or phrase: camelCase and separators split, ``[Ll]atency`` read as ``latency``."""
    return {fold(t) for t in name_tokens(_CLASS.sub(r"\1", text))}


def scope_words(services: Iterable[str], business: str | None) -> set[str]:
    """The words naming a scope's module: of its services (not ``*``) and business, less any service's words."""
    names = [s for s in services if s != "*"] + ([business] if business else [])
    return {w for name in names for w in tokens(name)} - _SERVICE_WORDS


def keyword_for(pattern: str) -> str | None:
    """A keyword every event on a service of ``pattern`` carries: a plain name itself, a glob's longest literal part
    (``speed-*``: ``speed``); None for one too short to say anything (``*``)."""
    if not is_glob(pattern):
        return pattern
    literal = max((p.strip("-_. ") for p in _GLOB_PARTS.split(pattern)), key=len, default="")
    return literal if len(literal) >= 3 else None


@dataclass
class Retargeted:
    """What :func:`retarget` changed, for the preview."""

    dropped: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)


def _names(value: Any, words: set[str]) -> bool:
    return isinstance(value, str) and bool(tokens(value) & words)


def _drop(seq: Any, words: set[str], names: Collection[str] = ()) -> list[str]:
    """Remove the items of a sequence that name one of ``words`` or are one of ``names`` (in place, comments kept);
    the removed ones."""
    gone = [i for i, v in enumerate(seq) if _names(v, words) or v in names]
    removed = [str(seq[i]) for i in gone]
    for i in reversed(gone):
        del seq[i]
    return removed


def _retarget_triggers(triggers: Any, words: set[str], keywords: Sequence[str], done: Retargeted) -> None:
    for key in ("alerts", "keywords"):
        if isinstance(triggers.get(key), list):
            done.dropped += _drop(triggers[key], words)
    labels = triggers.get("labels")
    for label in [k for k, v in (labels or {}).items() if _names(v, words)]:
        done.dropped.append(f"{label}={labels.pop(label)}")
    if done.dropped:
        have = {str(k).lower() for k in triggers.get("keywords") or []}
        done.added = [k for k in dict.fromkeys(keywords) if k.lower() not in have]
        if isinstance(triggers.get("keywords"), list):
            triggers["keywords"].extend(done.added)
        elif done.added:
            triggers["keywords"] = to_node(done.added, "keywords")
    for key in [k for k, v in triggers.items() if not v]:
        triggers.pop(key)


def _mentions(text: str, names: Iterable[str]) -> list[str]:
    """The names a text mentions as whole words (any case), in the order of their first mention."""
    found = {}
    for name in names:
        hit = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE)
        if hit:
            found.setdefault(name, hit.start())
    return sorted(found, key=lambda n: (found[n], n))


def _brace_free(text: str) -> str:
    """User text inside a template field: braces as parentheses, so no ``{word}`` reads as a placeholder."""
    return text.translate(str.maketrans("{}", "()"))


def retarget(raw: Any, *, template: Skill, template_name: str, description: str, services: Sequence[str],
             business: str | None, known_services: Iterable[str]) -> Retargeted:
    """Make the copied Skill ``raw`` (a round-trip map) about its new scope (``services``, ``business``) instead of
    ``template``'s (a Skill); ``known_services`` are the services the library's Skills name, looked for in the
    instructions. Changes ``raw`` in place."""
    done = Retargeted()
    new_words = scope_words(services, business)
    words = scope_words(template.scope.services, template.scope.business) - new_words
    keywords = [k for k in (keyword_for(s) for s in services) if k]
    if words and isinstance(raw.get("triggers"), dict):
        _retarget_triggers(raw["triggers"], words, keywords, done)
        if not raw["triggers"]:
            raw.pop("triggers")
    # the services of the template's system by whole name: a word of one ("order" of ts-order-service) is also a word
    # of the language
    others = {s for s in [*template.scope.services, *known_services, template.scope.business or "*"]
              if not is_glob(s) and s not in services and s != business and not tokens(s) <= new_words}
    tags = (raw.get("knowledge") or {}).get("tags")
    if isinstance(tags, list) and _drop(tags, words, others):
        tags.extend(s for s in services if not is_glob(s) and s not in tags)
    analysis = raw.get("analysis")
    instructions = str(analysis.get("instructions") or "") if isinstance(analysis, dict) else ""
    done.named = _mentions(instructions, others)
    head = [f"This Skill is for: {_brace_free(' '.join(description.split()))}"]
    if done.named:
        head.append(f"The guidance below was copied from {template_name} and names its services "
                    f"({', '.join(done.named)}): read them as {', '.join(_brace_free(s) for s in services)} and the "
                    "services around it, and edit what does not fit.")
    if instructions:
        head = [textwrap.fill(line, 100, break_on_hyphens=False) for line in head]
        raw["analysis"]["instructions"] = LiteralScalarString("\n".join([*head, instructions]))
    return done
