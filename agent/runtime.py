"""Assemble a Toolkit from settings: for a case bundle (offline) or for live sources."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NamedTuple

from agent.config import Settings, get_settings
from agent.graph.toolkit import Toolkit


def load_skills(settings: Settings):
    """Built-in Skills overridden by the user's, as one library (reloaded only when a file changed)."""
    from agent.skills.library import load_default_library

    return load_default_library(settings)


QUESTION_LISTING_TIMEOUT_S = 2.0  # how long routing a question waits for a server to list its services


LISTING_KEPT_S = 60.0  # how long routing questions reuses a listing of the sources' services


class KeptListings:
    """Each configuration of live sources' service listing (:func:`listed_services`), reused while younger than
    ``kept_s`` (``clock``: seconds, monotonic), so routing a question does not ask the servers and the log store (a
    ``SELECT DISTINCT`` over it) every time. A listing a source did not answer is reused only while younger than
    ``unanswered_kept_s`` (default none: the next question asks again; one command, which waits for a silent server
    once, keeps it as long as it keeps the others: :func:`agent.scheduler.service.services_listing`)."""

    def __init__(self, kept_s: float = LISTING_KEPT_S, *, unanswered_kept_s: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kept_s, self.unanswered_kept_s, self.clock = kept_s, unanswered_kept_s, clock
        self._kept: dict[tuple[Any, ...], tuple[float, ListedServices]] = {}
        self._lock = threading.Lock()

    def listing(self, settings: Settings, timeout_s: float) -> ListedServices:
        """The services the settings' sources list, each server asked within ``timeout_s``, or the kept listing."""
        key = (settings.prometheus_url, settings.service_label, settings.resolved_observability_url,
               str(settings.topology_file or ""), timeout_s)
        now = self.clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < (self.unanswered_kept_s if kept[1].unanswered else self.kept_s):
            return kept[1]
        listing = listed_services(settings, timeout_s=timeout_s)
        with self._lock:
            self._kept[key] = (now, listing)
        return listing

    def known(self, settings: Settings, timeout_s: float) -> list[str]:
        """The services of :meth:`listing`."""
        return list(self.listing(settings, timeout_s).known)


LISTINGS = KeptListings()


def known_services(settings: Settings, *, timeout_s: float = QUESTION_LISTING_TIMEOUT_S,
                   listings: KeptListings = LISTINGS) -> list[str]:
    """Service names a question may name: the topology file's and those the metric server and the log store list
    (:func:`listed_services`, each server asked within ``timeout_s``; kept a minute by ``listings``), so a system
    without a topology file is routed by its services too. A server that does not answer adds none."""
    return listings.known(settings, timeout_s)


class ListedServices(NamedTuple):
    """What :func:`listed_services` found: the services known, and each source that did not answer (why)."""

    known: list[str]
    unanswered: list[str]


def listed_services(settings: Settings, *, timeout_s: float | None = None) -> ListedServices:
    """Services the configured live sources know, sorted: the topology file's, the PromQL server's and the log
    store's (what a scheduled inspection reads), each server asked with ``timeout_s`` (default the setting
    ``source_timeout_s``). ``known`` is empty when none lists any (none configured, an empty store): then nothing
    can be said of a name. ``unanswered``: ``prometheus did not answer (<why>)`` for a server that could not list
    them, which may know a name the others do not."""
    if timeout_s is not None:
        settings = settings.model_copy(update={"source_timeout_s": timeout_s})
    toolkit = live_toolkit(settings)
    failures: dict[str, str] = {}  # reported by the caller, once: not in the log as well
    found = set(toolkit.data_services(failures=failures))
    if toolkit.topology is not None:
        found.update(toolkit.topology.services())
    return ListedServices(sorted(found), [f"{name} did not answer ({why})" for name, why in failures.items()])


def open_knowledge(settings: Settings, *, ingest: bool = True, lock: Any = None,
                   progress: Callable[[int, int, str], None] | None = None):
    """The knowledge store, with the configured handbook (``settings.knowledge_dir``) ingested when none of its
    chunks is stored (``progress`` told of the chunks embedded then, ``KnowledgeStore.ingest_handbook``: the first
    run of a new store embeds the whole handbook); other directories' chunks (``bianque knowledge ingest DIR``) do
    not count.

    ``lock`` (one shared by several processes opening the same store): they open it one at a time, since
    the first open of a new store creates its tables (two at once fail with "table … already exists")
    and only the first should embed the handbook.
    """
    from agent.knowledge.store import KnowledgeStore

    with lock or nullcontext():
        store = KnowledgeStore(settings)
        if ingest and settings.knowledge_dir.is_dir() and not store.has_handbook():
            store.ingest_handbook(settings.knowledge_dir, progress=progress)
    return store


def investigation_toolkit(settings: Settings, bundle: Any = None, *, memory: Any = None, knowledge: Any = None,
                          progress: Callable[[int, int, str], None] | None = None) -> Toolkit:
    """A toolkit with memory (``memory``, else the settings' database, opened first: one that cannot be used is said
    before any embedding) and a knowledge store (``knowledge``, else the settings' one, its handbook embedded on
    first use, ``progress`` told: :func:`open_knowledge`), over ``bundle``'s data (a path or a loaded
    ``CaseBundle``) or, without one, the live sources."""
    memory = memory if memory is not None else open_memory(settings)
    knowledge = knowledge if knowledge is not None else open_knowledge(settings, progress=progress)
    if bundle is not None:
        return bundle_toolkit(bundle, settings, knowledge=knowledge, memory=memory)
    return live_toolkit(settings, knowledge=knowledge, memory=memory)


def open_memory(settings: Settings):
    from agent.memory.repository import Memory

    return Memory(settings.resolved_database_url)


def skill_similarity(knowledge: Any):
    """Event-to-Skill similarity through the knowledge store's embedding function, when there is one."""
    if knowledge is None:
        return None
    from agent.skills.similarity import EmbeddingSimilarity

    return EmbeddingSimilarity(knowledge.embedding_function)


def _reasoners(settings: Settings) -> dict[str, Any]:
    from agent.reasoners.offline import OfflineReasoner

    parts: dict[str, Any] = {"reasoner": OfflineReasoner()}
    if settings.llm_enabled:
        from agent.llm.skill_choice import make_chooser
        from agent.llm.types import TimeBudget
        from agent.reasoners.llm import llm_reasoner_from_settings

        budget = TimeBudget(settings.llm_investigation_timeout_s or None)  # one toolkit, one investigation
        reasoner = llm_reasoner_from_settings(settings, budget)
        parts["llm_reasoner"] = reasoner
        parts["chooser"] = make_chooser(reasoner.client, budget)
    return parts


def bundle_toolkit(
    bundle: Any,
    settings: Settings | None = None,
    *,
    library: Any = None,
    knowledge: Any = None,
    memory: Any = None,
    experience: list | None = None,
) -> Toolkit:
    """Everything needed to investigate one case bundle (a path or a loaded ``CaseBundle``); a live case's bundle is
    investigated as its live run was (``capture.yaml``, :mod:`agent.bundles.capture`).

    Pass shared parts (library, knowledge, memory) to reuse them across bundles. ``experience``: the
    lessons of past corrected cases (default: learned from ``memory`` when given, else none).
    """
    from agent.bundles.reader import load_bundle
    from agent.sources.base import QueryLimits
    from agent.sources.bundle import BundleChangeSource, BundleLogSource, BundleMetricSource

    settings = settings or get_settings()
    if isinstance(bundle, str | Path):
        bundle = load_bundle(Path(bundle))
    calls_read = bundle.capture.calls_read if bundle.capture is not None else None
    return Toolkit(
        library=library if library is not None else load_skills(settings),
        metrics=BundleMetricSource(bundle, limits=QueryLimits.from_settings(settings)),
        logs=BundleLogSource(bundle),
        changes=BundleChangeSource(bundle),
        # a live case's topology.yaml holds the calls its run read off the data: replayed as read, not as given
        topology=None if calls_read is not None and calls_read.calls else bundle.topology,
        calls_read=calls_read,
        knowledge=knowledge,
        memory=memory,
        similarity=skill_similarity(knowledge),
        experience=_experience(memory, experience),
        input_warnings=[str(w) for w in bundle.warnings],
        **_query_limits(settings),
        **_reasoners(settings),
    )


def _query_limits(settings: Settings) -> dict[str, Any]:
    """The Toolkit's bounds on what one investigation asks its sources for, from the settings."""
    return {"source_timeout_s": settings.source_timeout_s, "gather_deadline_s": settings.resolved_gather_deadline_s,
            "max_series_per_signal": settings.max_series_per_signal, "max_log_lines": settings.max_log_lines}


def _experience(memory: Any, given: list | None) -> list:
    """The lessons an investigation weighs its ranking with: ``given``, else those learned from memory."""
    if given is not None or memory is None:
        return list(given or [])
    from agent.reasoners.lessons import cached_memory_lessons

    return cached_memory_lessons(memory)


def load_topology(path: Path, warnings: list[str] | None = None):
    """The topology file (``BIANQUE_TOPOLOGY_FILE``); a missing or unreadable file is a ``TopologyError`` too. The
    keys it ignores (``calls:`` for ``depends_on:``) are added to ``warnings`` when given, worded as for a bundle's
    ``topology.yaml``."""
    from agent.topology import Topology, TopologyError

    try:
        topology = Topology.from_file(path)
    except OSError as exc:
        raise TopologyError([((), f"cannot read it: {exc.strerror or exc}")], f"topology file {path}") from exc
    if warnings is not None:
        warnings += topology_warnings(path)
    return topology


def topology_warnings(path: Path) -> list[str]:
    """The keys the topology file at ``path`` ignores, each with its line (none when it cannot be read: loading it
    says why)."""
    from agent.bundles.reader import read_topology

    found: list = []
    read_topology(Path(path), str(path), found)
    return [str(w) for w in found]


def live_toolkit(
    settings: Settings | None = None, *, knowledge: Any = None, memory: Any = None, experience: list | None = None
) -> Toolkit:
    """Toolkit over the configured live sources (PromQL server, SQL log/change store, topology file)."""
    from agent.sources.sqlstore import SqlChangeSource, SqlLogSource

    settings = settings or get_settings()
    metrics = None
    if settings.prometheus_url:
        from agent.sources.base import QueryLimits
        from agent.sources.prometheus import PrometheusMetricSource

        metrics = PrometheusMetricSource(settings.prometheus_url, timeout=settings.source_timeout_s,
                                         service_label=settings.service_label,
                                         limits=QueryLimits.from_settings(settings))
    settings.ensure_home()
    store_url = settings.resolved_observability_url
    warnings: list[str] = []
    topology = load_topology(settings.topology_file, warnings) if settings.topology_file else None
    return Toolkit(
        library=load_skills(settings),
        metrics=metrics,
        logs=SqlLogSource(store_url),
        changes=SqlChangeSource(store_url),
        topology=topology,
        knowledge=knowledge,
        memory=memory,
        similarity=skill_similarity(knowledge),
        experience=_experience(memory, experience),
        input_warnings=warnings,
        case_data=settings.case_data,
        **_query_limits(settings),
        **_reasoners(settings),
    )
