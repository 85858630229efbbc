"""Warnings about a Skill that loads: settings that are valid but almost certainly not meant
(:func:`located_skill_warnings`), and what a data catalog does not know (metrics, labels, log services).

Warnings, not errors: a catalog built from one bundle or one Prometheus only knows what is there.
"""

from __future__ import annotations

from typing import Protocol

from agent.skills.schema import Compare, Skill
from agent.skills.templates import Loc, variables_in
from agent.sources.base import MetricInfo, name_matches
from agent.sources.promql import unclosed_class


class CatalogLike(Protocol):
    """What lint needs of :class:`agent.sources.catalog.Catalog`."""

    @property
    def log_services(self) -> list[str]: ...

    def find_metrics(self, pattern: str) -> list[MetricInfo]: ...


def located_skill_warnings(skill: Skill) -> list[tuple[Loc, str]]:
    """What in a Skill that loads is valid but almost certainly not meant, each with the field it is about: a
    specific Skill for every service (``*``), which fits events of any system and so shadows the generic Skill;
    a ``min_effect`` over 1 (more than 100 %), the way ``25`` meant as 25 % reads."""
    warnings: list[tuple[Loc, str]] = []
    shadows = ("this specific Skill fits every service, of any system: it answers events the pattern's generic "
               "Skill should; name its services (globs such as 'shop-*' allowed), or make it the generic one "
               "(generic: true)")
    if not skill.generic and "services" not in skill.scope.model_fields_set:
        warnings.append((("scope", "services"), f"not given, so '*': {shadows}"))
    elif not skill.generic:
        warnings += [(("scope", "services", i), f"{pattern!r}: {shadows}")
                     for i, pattern in enumerate(skill.scope.services) if set(pattern) == {"*"}]
    warnings += _unclosed_globs(skill)
    for i, signal in enumerate(skill.data.metrics):
        effect = signal.min_effect
        if effect <= 1 or signal.compare == Compare.THRESHOLD:
            continue
        asked = (f"growth by {effect * 100:g} % of the level within a day" if signal.compare == Compare.TREND else
                 f"a change of {effect * 100:g} % (to {effect + 1:g} times the reference, or more)")
        warnings.append((("data", "metrics", i, "min_effect"), (
            f"{effect:g} ({signal.id}) asks for {asked} before it counts; min_effect is a fraction "
            f"(0.2 = 20 %): for {effect:g} %, write {effect / 100:g}")))
    return warnings


def _unclosed_globs(skill: Skill) -> list[tuple[Loc, str]]:
    """A glob whose ``[`` no ``]`` closes (``[slow*``): read as a literal ``[``, it matches only names holding one,
    which is rarely meant (a literal is written ``[[]``)."""
    globs: list[tuple[Loc, str]] = [(("scope", "services", i), p) for i, p in enumerate(skill.scope.services)]
    globs += [(("triggers", "alerts", i), p) for i, p in enumerate(skill.triggers.alerts)]
    globs += [(("triggers", "labels", k), p) for k, p in skill.triggers.labels.items()]
    for i, signal in enumerate(skill.data.metrics):
        globs += [(("data", "metrics", i, "name"), signal.name)]
        globs += [(("data", "metrics", i, "labels", k), p) for k, p in signal.labels.items()]
    return [(loc, f"{pattern!r}: its '[' at {at + 1} opens a class no ']' closes, so it is read as a literal '[' "
                  "and matches only names holding one; close the class ('[Ss]low*'), or write a literal '[' as '[[]'")
            for loc, pattern in globs if (at := unclosed_class(pattern)) is not None]


def check_against_catalog(skill: Skill, catalog: CatalogLike) -> list[str]:
    """One warning per metric, label or log service of ``skill`` that ``catalog`` does not know."""
    return [warning for _, warning in located_catalog_warnings(skill, catalog)]


def located_catalog_warnings(skill: Skill, catalog: CatalogLike) -> list[tuple[Loc, str]]:
    """The warnings of :func:`check_against_catalog`, each with the Skill field it is about."""
    warnings: list[tuple[Loc, str]] = []
    for i, signal in enumerate(skill.data.metrics):
        where = f"data.metrics[{i}] ({signal.id})"
        found = catalog.find_metrics(signal.name)
        if not found:
            what = "no metric matches" if any(c in signal.name for c in "*?[") else "unknown metric"
            warnings.append((("data", "metrics", i, "name"), f"{where}: {what} {signal.name!r} in the catalog"))
            continue
        known_labels = {label for info in found for label in info.labels}
        missing = sorted(key for key in signal.labels if key not in known_labels and key != "service")
        if known_labels and missing:
            warnings.append((
                ("data", "metrics", i, "labels", missing[0]),
                f"{where}: {signal.name!r} has no label {', '.join(missing)} "
                f"(labels: {', '.join(sorted(known_labels))})",
            ))
        if (unmatched := _unmatched_service(signal.name, signal.labels.get("service"), found)) is not None:
            warnings.append((("data", "metrics", i, "labels", "service"), f"{where}: {unmatched}"))
    services = set(catalog.log_services)
    for i, logs in enumerate(skill.data.logs):
        for j, service in enumerate(logs.services):
            if services and not variables_in(service) and not any(name_matches(s, service) for s in services):
                warnings.append((
                    ("data", "logs", i, "services", j),
                    f"data.logs[{i}] ({logs.id}): no logs of service {service!r} in the catalog",
                ))
    return warnings


def _unmatched_service(name: str, pattern: str | None, found: list[MetricInfo]) -> str | None:
    """Why a fixed ``service`` label (no template, not ``""``) selects no series of the metrics ``name`` found, or
    None.

    It replaces the target service in every query (``labels: {service: cache}`` reads the cache's series
    whatever the event), so a value no series has leaves the signal without data on every event.
    """
    services = sorted({service for info in found for service in info.services})
    if not pattern or variables_in(pattern) or not services or any(name_matches(s, pattern) for s in services):
        return None
    shown = ", ".join(services[:5]) + (f" +{len(services) - 5}" if len(services) > 5 else "")
    return f"no series of {name!r} has service {pattern!r} (services: {shown})"
