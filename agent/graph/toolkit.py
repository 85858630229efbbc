"""The dependencies nodes need, passed in (never imported by the nodes themselves)."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.config import gather_deadline
from agent.evidence import Lesson
from agent.graph.deadline import GatherDeadline, ask

if TYPE_CHECKING:
    from agent.bundles.capture import CallsRead
    from agent.config import CaseData
    from agent.knowledge.store import KnowledgeStore
    from agent.memory.repository import Memory
    from agent.reasoners.base import Reasoner
    from agent.skills.library import SkillLibrary
    from agent.skills.schema import Skill
    from agent.skills.selector import Similarity
    from agent.sources.base import ChangeSource, LogSource, MetricSource
    from agent.topology import Topology

Chooser = Callable[..., Any]
log = logging.getLogger(__name__)


@dataclass
class Toolkit:
    """Sources, Skills, knowledge, memory and reasoners for one run of the graph."""

    library: SkillLibrary
    reasoner: Reasoner
    metrics: MetricSource | None = None
    logs: LogSource | None = None
    changes: ChangeSource | None = None
    topology: Topology | None = None  # the given call graph; without edges, gather reads one off the data
    calls_read: CallsRead | None = None  # a live case's replay: the calls its live run read off the data, as read
    knowledge: KnowledgeStore | None = None
    memory: Memory | None = None
    llm_reasoner: Reasoner | None = None
    similarity: Similarity | None = None
    chooser: Chooser | None = None
    source_timeout_s: float = 15.0
    # all waits of one investigation on its sources (settings.resolved_gather_deadline_s); None: that many timeouts
    gather_deadline_s: float | None = None
    max_series_per_signal: int = 200  # per signal and service (settings.max_series_per_signal)
    max_log_lines: int = 20000  # per log request (settings.max_log_lines)
    max_findings: int | None = None  # Findings kept in the evidence pack; None: all (the model sees llm_max_findings)
    experience: list[Lesson] = field(default_factory=list)  # lessons of past corrected cases (agent.reasoners.lessons)
    # what reading the input ignored (a bundle's warnings, the topology file's ignored keys)
    input_warnings: list[str] = field(default_factory=list)
    # live sources: where and how long the memory step keeps each case's gathered data as a bundle
    case_data: CaseData | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    deadline: GatherDeadline = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.deadline = GatherDeadline(gather_deadline(self.gather_deadline_s, self.source_timeout_s))

    def for_investigation(self) -> Toolkit:
        """This toolkit with a deadline of its own (the same sources and parts): another run on the same toolkit
        (a benchmark's repeats, a resumed run) starts with the whole ``gather_deadline_s``."""
        return dataclasses.replace(self)

    def ask(self, calls: Mapping[str, Callable[[], Any]], timeout: float | None = None, *,
            before_data: bool = False) -> dict[str, Any]:
        """``calls`` to the sources run in parallel, each within ``timeout`` (default ``source_timeout_s``) and all
        within what is left of the investigation's deadline: each key's result, or why there is none (a ``str``;
        :func:`agent.graph.deadline.ask`). ``before_data``: questions asked on the way to the Skill's own data (the
        call graph, the services with data) leave it one source timeout of the deadline (half, at most)."""
        keep = min(self.source_timeout_s, self.deadline.limit_s / 2) if before_data else 0.0
        return ask(calls, self.source_timeout_s if timeout is None else timeout, self.deadline, keep)

    def services_in(self, start: float, end: float, notes: list[str], *, before_data: bool = False,
                    listed: list[dict[str, Any]] | None = None) -> list[str]:
        """``data_services(start, end)`` asked through :meth:`ask` (the sources in turn, each within the source
        timeout); none, and a note saying why, when the listing did not come. ``listed``: where to add what was
        listed (``{"asked": [start, end], "services": [...]}``, for a live case's bundle: ``capture.yaml``)."""
        listers = sum(hasattr(source, "services") for source in (self.metrics, self.logs))
        found = self.ask({"services": lambda: self.data_services(start, end)},
                         self.source_timeout_s * max(1, listers), before_data=before_data)["services"]
        if isinstance(found, str):
            notes.append(f"the services with data were not listed ({found})")
            return []
        if listed is not None and all(before["asked"] != [start, end] for before in listed):
            listed.append({"asked": [start, end], "services": list(found)})
        return found

    def data_services(self, start: float | None = None, end: float | None = None, *,
                      failures: dict[str, str] | None = None) -> list[str]:
        """Services the metric and log sources hold data for (in ``[start, end]`` when given), sorted:
        the neighbourhood when no call graph says who calls whom. A source that cannot list them (it raised, or kept
        why in ``last_error``) adds none and says why in the log, or, given ``failures``, there (source name: why)
        for the caller to report instead."""
        found: set[str] = set()
        for source in (self.metrics, self.logs):
            lister = getattr(source, "services", None)
            if lister is None:
                continue
            try:
                found.update(str(s) for s in lister(start, end) if s)
                why = getattr(source, "last_error", None)
            except Exception as exc:  # a source must never crash the investigation
                why = str(exc)
            if not why:
                continue
            name = str(getattr(source, "name", source))
            if failures is None:
                log.warning("%s: cannot list services: %s", name, why)
            else:
                failures[name] = why
        return sorted(found)

    def skill(self, name: str) -> Skill:
        """The library's Skill ``name``; ``LookupError`` when it is gone (e.g. removed before a resume)."""
        loaded = self.library.get(name)
        if loaded is None:
            raise LookupError(f"Skill {name!r} chosen for this investigation is no longer in the Skill library")
        return loaded.skill
