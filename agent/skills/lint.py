"""Check a Skill against a data catalog: warn about metrics, labels and log services it does not know.

Warnings, not errors: a catalog built from one bundle or one Prometheus only knows what is there.
"""

from __future__ import annotations

from typing import Protocol

from agent.skills.schema import Skill
from agent.skills.templates import Loc, variables_in
from agent.sources.base import MetricInfo, name_matches


class CatalogLike(Protocol):
    """What lint needs of :class:`agent.sources.catalog.Catalog`."""

    @property
    def log_services(self) -> list[str]: ...

    def find_metrics(self, pattern: str) -> list[MetricInfo]: ...


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
