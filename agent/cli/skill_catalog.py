"""``skills validate --bundle/--prometheus``: what the Skills name that a data catalog does not hold, per Skill.

Checked against a whole library, one warning per missing metric per Skill was a wall of near-identical lines; here
a Skill's metrics that match nothing are one line (its file at the first of them), its other gaps (a label, a fixed
service, a log service) a line each, and one summary names the missing metrics most Skills read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from agent.skills.lint import CatalogLike, located_catalog_warnings
from agent.skills.loader import LoadedSkill, locate
from agent.skills.templates import Loc

SHOWN = 5  # missing metric names the summary names


@dataclass
class CatalogReport:
    """The catalog's warnings for the Skills checked: ``lines`` to print, ``count`` of gaps (a missing metric of a
    Skill, a label, a fixed service, a log service: each counts once), ``missing``: each metric name or glob matching
    nothing, and the Skills that read it."""

    lines: list[str] = field(default_factory=list)
    count: int = 0
    missing: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def summary(self, origin: str, how_to_list: str) -> str | None:
        """One line: how many Skills name data ``origin`` lacks, the metric names most of them read, and the command
        listing what it holds; None when nothing is missing."""
        if not self.count:
            return None
        skills = {name for names in self.missing.values() for name in names}
        if not self.missing:
            return f"{origin}: {self.count} label or service gap(s) above; {how_to_list} lists what it holds"
        ranked = sorted(self.missing.items(), key=lambda item: (-len(item[1]), item[0]))
        named = ", ".join(f"{name} ({len(users)} Skill{'s' if len(users) > 1 else ''})"
                          for name, users in ranked[:SHOWN])
        more = f" and {len(ranked) - SHOWN} more" if len(ranked) > SHOWN else ""
        return (f"{origin} lacks {len(ranked)} metric name(s) or glob(s) that {len(skills)} Skill(s) read: "
                f"{named}{more}; {how_to_list} lists what it holds")


def catalog_report(loaded: list[LoadedSkill], catalog: CatalogLike) -> CatalogReport:
    """The warnings of each Skill in ``loaded`` against ``catalog``, grouped as the module says."""
    report = CatalogReport()
    for skill in loaded:
        found = located_catalog_warnings(skill.skill, catalog)
        report.count += len(found)
        unmatched = [loc for loc, _ in found if _names_nothing(loc)]
        if unmatched:
            report.lines.append(_unmatched_line(skill, unmatched))
            for loc in unmatched:
                report.missing[skill.skill.data.metrics[int(loc[2])].name].add(skill.name)
        report.lines += [f"{skill.source}:{locate(skill.raw, loc)[0]}: {warning}"
                         for loc, warning in found if not _names_nothing(loc)]
    return report


def _names_nothing(loc: Loc) -> bool:
    """The warning is about a metric signal's name matching no metric of the catalog."""
    return len(loc) == 4 and loc[:2] == ("data", "metrics") and loc[3] == "name"


def _unmatched_line(skill: LoadedSkill, unmatched: list[Loc]) -> str:
    """``file:line: N metric signal(s) match nothing in the catalog: name (id, line n), …`` for one Skill."""
    signals = [(skill.skill.data.metrics[int(loc[2])], locate(skill.raw, loc)[0]) for loc in unmatched]
    listed = ", ".join(f"{signal.name!r} ({signal.id}, line {line})" for signal, line in signals)
    return (f"{skill.source}:{signals[0][1]}: {skill.name}: {len(signals)} metric signal(s) match nothing in the "
            f"catalog: {listed}")
