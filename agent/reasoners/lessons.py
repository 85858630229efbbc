"""What stored cases with a known truth teach the offline ranking, and the team's fault-kind vocabulary.

``case_lessons`` turns one RCA case whose truth names a root-cause service into lessons (the shape of
the true cause, and of every service the answer ranked above it; see :mod:`agent.reasoners.experience`).
``memory_lessons`` gathers them, and each case's alert lesson (was the alert real?
:mod:`agent.reasoners.alert_history`), over every corrected case; investigations get them through
``Toolkit.experience`` (``cached_memory_lessons``: rebuilt only when the corrections changed) and cite
the cases that moved their ranking or their judgement of the alert.

The fault-kind vocabulary is open: a correction may name the team's own kind (``network_delay``). A
:class:`Vocabulary` learns, from corrected cases, which kinds the agent's own classification gave the
true cause when the team named a kind, and the Finding shapes each team kind showed; replay judges a
fault through it (a verdict saying ``slow_dependency`` where the team says ``network_delay`` passes once
corrections have shown that the team calls that ``network_delay``), each corrected case through what the
*other* corrected cases taught (:meth:`Vocabulary.same_for`).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from agent.evidence import Lesson
from agent.memory.records import CaseRecord
from agent.memory.truth import FaultMatch, Truth, truth_for_case
from agent.reasoners.alert_history import alert_lesson
from agent.reasoners.attribution import fault_for
from agent.reasoners.experience import implicated_in, implications, lessons_from, position, shape_kinds
from agent.reasoners.faults import CHANGE_FAULTS, METRIC_FAMILIES
from agent.reasoners.ranking import blamed_evidence
from agent.reasoners.service_evidence import ServiceEvidence

AGENT_KINDS = frozenset({fault for fault, _, _ in METRIC_FAMILIES} | set(CHANGE_FAULTS.values()))


def case_lessons(case: CaseRecord, truth: Truth | None = None) -> list[Lesson]:
    """The lessons of one RCA case whose truth names the root-cause service (empty otherwise)."""
    truth = truth or truth_for_case(case)
    pack = case.evidence
    if truth is None or truth.pattern != "rca" or not truth.service or pack is None:
        return []
    ranked = [c.service for c in case.verdict.root_causes] if case.verdict is not None else []
    implicated = implications(pack.findings, pack.changes, pack.topology)
    return lessons_from(case.id, pack.findings, pack.topology, pack.target_services, ranked, truth.service,
                        truth.fault, implicated)


def memory_lessons(memory: object, *, exclude: Iterable[str] = ()) -> list[Lesson]:
    """Lessons of every corrected case in memory that is experience (``experience_cases``: not kept out by
    ``correct --no-index``; cases in ``exclude`` left out too), oldest first: the shapes of causes and victims, and
    whether the case's alert needed attention (:mod:`agent.reasoners.alert_history`)."""
    skip = set(exclude)
    out: list[Lesson] = []
    for case in memory.experience_cases():  # type: ignore[attr-defined]
        truth = truth_for_case(case) if case.id not in skip else None
        if truth is None:
            continue
        out.extend(case_lessons(case, truth))
        alert = alert_lesson(case, truth)
        if alert is not None:
            out.append(alert)
    return out


_CACHE: dict[str, tuple[tuple[int, int], list[Lesson]]] = {}  # database URL -> (corrections' state, lessons)
_CACHE_LOCK = threading.Lock()


def _cacheable(url: str) -> bool:
    """A database shared by every handle on the URL (an in-memory SQLite database is not)."""
    return not url.rstrip("/").endswith(("sqlite:", ":memory:"))


def cached_memory_lessons(memory: object) -> list[Lesson]:
    """``memory_lessons(memory)``, rebuilt only when memory's corrections changed since the last call.

    Keyed by the database URL and the corrections' state (their number and highest id), read from the
    database on every call, so a correction stored by any process or thread invalidates it.
    """
    url = str(getattr(memory, "url", ""))
    if not url or not _cacheable(url):
        return memory_lessons(memory)
    state = memory.corrections_state()  # type: ignore[attr-defined]
    with _CACHE_LOCK:
        hit = _CACHE.get(url)
    if hit is not None and hit[0] == state:
        return list(hit[1])
    lessons = memory_lessons(memory)  # a correction landing meanwhile changes the state: rebuilt next call
    with _CACHE_LOCK:
        _CACHE[url] = (state, lessons)
    return list(lessons)


def agent_kind(case: CaseRecord, service: str, evidence: Mapping[str, ServiceEvidence] | None = None) -> str:
    """The fault kind the agent gives ``service`` in a case: the verdict's when it ranked it, else the kind the
    offline ranking names it by (``attribution.fault_for``: its own Findings, series other services report too left
    out, and changes before its onset; for one with no Finding of its own, what its callers' calls to it name)."""
    for cause in case.verdict.root_causes if case.verdict is not None else []:
        if cause.service == service:
            return cause.fault
    pack = case.evidence
    if pack is None:
        return fault_for(ServiceEvidence(service, findings=[f for f in case.findings if f.owner == service]))
    if evidence is None:
        evidence = blamed_evidence(pack.findings, pack.changes, pack.topology)
    return fault_for(evidence.get(service, ServiceEvidence(service)))


@dataclass
class Vocabulary:
    """Team fault kinds learned from corrections: the agent kinds they were seen as, and their shapes."""

    seen_as: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    shapes: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    taught: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    """Case id -> what it taught (the truth's fault kind, the agent kind it was seen as, its signature)."""

    def learn(self, case: CaseRecord, truth: Truth) -> None:
        """Record what the truth's fault kind looked like in this case."""
        if truth.pattern != "rca" or not truth.fault or not truth.service or case.evidence is None:
            return
        pack = case.evidence
        evidence = blamed_evidence(pack.findings, pack.changes, pack.topology)
        pos = position(pack.topology, pack.target_services, truth.service)
        kinds = shape_kinds(pack.findings, truth.service, implicated_in(evidence))
        self._count(case.id, truth.fault, agent_kind(case, truth.service, evidence),
                    f"{pos}: {', '.join(kinds) or 'no significant Finding'}")

    def _count(self, case_id: str, fault: str, seen_as: str, signature: str) -> None:
        self.seen_as[fault][seen_as] += 1
        self.shapes[fault][signature] += 1
        self.taught[case_id] = (fault, seen_as, signature)

    def without(self, case_id: str) -> Vocabulary:
        """The vocabulary the other corrected cases teach (``case_id``'s own lesson left out)."""
        if case_id not in self.taught:
            return self
        rest = Vocabulary()
        for other, taught in self.taught.items():
            if other != case_id:
                rest._count(other, *taught)
        return rest

    def same_for(self, case_id: str) -> FaultMatch:
        """:meth:`same` as replay judges case ``case_id`` by it: through the vocabulary of the *other* corrected
        cases, so no case vouches for its own fault kind (one correction naming a team kind does not make its own
        replay pass, and a tie counts as any of its kinds only as far as other cases make it one)."""
        return self.without(case_id).same

    def learned(self) -> list[dict[str, object]]:
        """Every fault kind corrections named, most corrected first: how often, the agent kinds it was seen as and
        its signatures (where the cause sat from the alerted service, and the shape of its evidence), each with a
        count, most frequent first."""
        rows = [{"kind": kind, "team": kind not in AGENT_KINDS, "corrections": sum(seen.values()),
                 "seen_as": dict(seen.most_common()), "signatures": dict(self.shapes[kind].most_common())}
                for kind, seen in self.seen_as.items()]
        return sorted(rows, key=lambda row: (-row["corrections"], row["kind"]))  # type: ignore[operator]

    @property
    def kinds(self) -> list[str]:
        """Every team fault kind learned (the agent's own kinds left out), sorted."""
        return sorted(k for k in self.seen_as if k not in AGENT_KINDS)

    def same(self, said: str | None, truth: str | None) -> bool:
        """Does the agent's kind ``said`` name the team's kind ``truth``?

        Equal kinds match. A kind of the agent's own (``memory_leak``...) matches only itself; a team kind
        also matches the agent kind most often seen as it in corrected cases.
        """
        if not truth or said == truth:
            return True
        if truth in AGENT_KINDS:
            return False
        seen = self.seen_as.get(truth)
        if not said or not seen:
            return False
        top = max(seen.values())
        return seen.get(said, 0) == top


def memory_vocabulary(memory: object) -> Vocabulary:
    """The vocabulary learned from every corrected case in memory that is experience (``experience_cases``: a
    case ``correct --no-index`` keeps out teaches no fault kind, as it teaches no lesson)."""
    vocabulary = Vocabulary()
    for case in memory.experience_cases():  # type: ignore[attr-defined]
        truth = truth_for_case(case)
        if truth is not None:
            vocabulary.learn(case, truth)
    return vocabulary
