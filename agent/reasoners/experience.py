"""Experience that changes answers: past corrected cases re-weigh the offline ranking, boundedly.

A case is remembered as *lessons* about the **shape** of services relative to the alert, never by
their names: where a service sits from the alerted one (the alerted service itself, N hops down or up
the call graph), which kinds of Findings it showed (``cpu_saturation:up``, ``slow_dependency/call:up``,
``error_logs``...) and how other services' Findings implicate it, with how many do (``implicated:slow_calls:2``:
two callers' calls to it got slower; ``implicated:less_work:1``: a callee did less work), a change made to it
shortly before its onset (``change:deploy``), plus the whole incident's pattern (``position:kind`` of every
significant Finding).
A case whose truth is known teaches (see :mod:`agent.reasoners.lessons`):

- the true cause's shape is a *cause* shape (with the fault kind the engineer named);
- the shapes of services the agent ranked above the true cause are *victim* shapes (a wrong pick), but for
  those of the cause's very shape (the case shows that shape both ways).

For a new event, every candidate among the ``CONSIDERED`` best of the offline ranking (and any below them that a
cause lesson fits) is compared with the lessons of the same position whose kinds overlap at least
``MIN_SIMILARITY`` (Jaccard) and that agree with it on a change before the onset (both had one, or neither). A
lesson counts with that similarity times the likeness of its incident to this one (Jaccard of the patterns, to
the power ``CONTEXT_POWER``). The candidate's score moves by
``EXPERIENCE_WEIGHT x (cause support - victim support) / (cause support + victim support + PRIOR)``:
one lesson moves it by at most a third of the weight, no number of lessons by the weight; a cause lesson
that fits several of the event's services is shared among them (it cannot say which look-alike is the
cause); a candidate with no significant Finding that nothing implicates either is never boosted (an empty
shape is recognised by nothing). Every move is noted on the candidate and cited in the verdict
("2 corrected case(s) with this shape had the cause here: ..."). The constants were chosen on nezha-ob's
first day against its second and the reverse, and checked on a simulated set (docs/evolution.md); they are
not tuned per case.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from agent.evidence import ChangeNote, Lesson
from agent.findings import Finding, FindingKind
from agent.reasoners.blame import call_slowness
from agent.reasoners.faults import LOG_KINDS, METRIC_KINDS, error_logs, metric_family
from agent.reasoners.ranking import blamed_evidence, changed_before_onset, changes_near_onset
from agent.reasoners.service_evidence import (
    SIGNIFICANT,
    ServiceEvidence,
    activity,
    caller_side,
    in_rank_order,
    less_work,
)
from agent.topology import Topology

EXPERIENCE_WEIGHT = 2.0  # bound of one candidate's move; offline scores run 0..~2, a clear cause ~1
PRIOR = 2.0  # support a move must overcome: one full-weight lesson moves a score by W / (1 + PRIOR)
CONTEXT_POWER = 0.5  # how much the likeness of the whole incident weighs a lesson (0: not at all)
MIN_SIMILARITY = 0.76  # Jaccard of Finding kinds for a lesson to count: nearly the same shape (3 of 4 alike is not)
CONSIDERED = 5  # only the top of the offline ranking is re-weighed
MAX_HOPS = 4
IMPLICATED = "implicated:"  # prefix of the kinds saying how other services' Findings implicate a service
CHANGED = "change:"  # prefix of the kind saying a change was made to a service shortly before its onset
ALERTED = "alerted"
UNRELATED = "unrelated"


def describe_lesson(lesson: Lesson) -> str:
    """A lesson's shape in words ("2 hop(s) downstream with cpu_saturation:up")."""
    if lesson.position == ALERTED:
        where = "the alerted service"
    elif lesson.position == UNRELATED:
        where = "a service unrelated to the alerted one"
    else:
        direction = "downstream" if lesson.position.startswith("down") else "upstream"
        where = f"{lesson.position.lstrip('downup')} hop(s) {direction}"
    return f"{where} with {', '.join(lesson.kinds) or 'no significant Finding'}"


@dataclass
class Move:
    """How experience moved one candidate, and which past cases said so."""

    service: str
    delta: float
    causes: list[Lesson]
    victims: list[Lesson]
    fault: str | None = None

    @property
    def cases(self) -> list[str]:
        """The past cases cited, cause lessons first."""
        return list(dict.fromkeys(lesson.case_id for lesson in [*self.causes, *self.victims]))

    def note(self) -> str:
        """The move in words, citing the past cases."""
        parts = []
        shape = describe_lesson((self.causes or self.victims)[0])
        if self.causes:
            ids = sorted({lesson.case_id for lesson in self.causes})
            parts.append(f"{len(ids)} corrected case(s) with this shape ({shape}) had the cause here "
                         f"({', '.join(ids)})")
        if self.victims:
            ids = sorted({lesson.case_id for lesson in self.victims})
            parts.append(f"{len(ids)} had a victim of this shape ranked above the true cause ({', '.join(ids)})")
        return f"experience {self.delta:+.2f}: " + "; ".join(parts)


def finding_kind(finding: Finding) -> str | None:
    """The kind a Finding counts as in a shape (None: not significant enough to describe a service).

    A deviation that had recovered before the alert (``service_evidence.activity``) is a past episode, not part of
    the service's shape now: the ranking discounts it, and a lesson must not recognise it either."""
    if finding.score * activity(finding) < SIGNIFICANT:
        return None
    if finding.kind in LOG_KINDS:
        return "error_logs" if error_logs(finding) else "logs"
    if finding.kind in METRIC_KINDS:
        family = metric_family(finding.metric) or "other"
        return f"{family}{'/call' if caller_side(finding.metric) else ''}:{finding.direction or 'both'}"
    if finding.kind == FindingKind.WENT_SILENT:  # it stopped answering: a shape of its own, whatever else it shows
        return FindingKind.WENT_SILENT.value
    return None


def shape_kinds(findings: Iterable[Finding], service: str,
                implicated: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The sorted kinds of the service's significant Findings, how others implicate it and a change made to it
    (``implicated``: service -> :func:`relational_kinds`)."""
    own = {k for f in findings if f.owner == service and (k := finding_kind(f)) is not None}
    return sorted(own | set((implicated or {}).get(service, ())))


def implicated_kinds(ev: ServiceEvidence) -> list[str]:
    """How other services' significant Findings implicate the service (``ServiceEvidence.blamed_by``, present at
    the alert), with how many do: ``implicated:slow_calls:2`` (two callers' calls to it got slower),
    ``implicated:less_work:1`` (a callee did less work: it stopped sending it). A cause with no Finding of its
    own has this shape, and the number tells it from a look-alike more (or less) services point at."""
    counts = Counter("less_work" if less_work(f) else "slow_calls"
                     for f in ev.blamed_by if call_slowness(f) >= SIGNIFICANT)
    return sorted(f"{IMPLICATED}{how}:{n}" for how, n in counts.items())


def implications(findings: Sequence[Finding], changes: Sequence[ChangeNote],
                 topology: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Service -> :func:`implicated_kinds`, as the offline ranking's blame sees the event (its blame alone: the
    ranking's rules do not change who implicates whom)."""
    return implicated_in(blamed_evidence(findings, changes, topology))


def change_kinds(ev: ServiceEvidence) -> list[str]:
    """``change:<type>`` of each kind of change made to the service shortly before its onset, as the ranking's change
    rule counts one (``change:deploy``): a cause that a deploy explains has a shape unlike the same symptoms with no
    change, and a lesson must not carry one to the other (:func:`fits`)."""
    if not changed_before_onset(ev):
        return []
    return sorted({f"{CHANGED}{c.type}" for c in changes_near_onset(ev) or ev.changes} or {f"{CHANGED}change"})


def implicated_in(evidence: Mapping[str, ServiceEvidence]) -> dict[str, list[str]]:
    """Service -> :func:`implicated_kinds` and :func:`change_kinds`, of evidence the blame has gone through
    (``blamed_evidence``): what a shape holds beside the service's own Findings."""
    return {service: kinds for service, ev in sorted(evidence.items()) if (kinds := relational_kinds(ev))}


def relational_kinds(ev: ServiceEvidence) -> list[str]:
    """What a shape holds beside the service's own Findings: how others implicate it, and a change made to it."""
    return implicated_kinds(ev) + change_kinds(ev)


def position(topology: Mapping[str, Sequence[str]], targets: Sequence[str], service: str) -> str:
    """Where ``service`` sits from the alerted services: fewest hops (at most ``MAX_HOPS``), calls followed down
    first."""
    return positions(topology, targets, [service])[service]


def positions(topology: Mapping[str, Sequence[str]], targets: Sequence[str], services: Iterable[str]
              ) -> dict[str, str]:
    """:func:`position` of each of ``services``, the call graph built once."""
    graph = Topology(topology)

    def place(service: str) -> str:
        if service in targets:
            return ALERTED
        down = graph.hops(targets, service, "downstream", MAX_HOPS)
        up = graph.hops(targets, service, "upstream", MAX_HOPS)
        if down is not None and (up is None or down <= up):
            return f"down{down}"
        return UNRELATED if up is None else f"up{up}"

    return {service: place(service) for service in services}


def event_context(findings: Sequence[Finding], topology: Mapping[str, Sequence[str]],
                  targets: Sequence[str]) -> list[str]:
    """The whole event's pattern relative to the alert: ``position:kind`` of every significant Finding."""
    places = positions(topology, targets, {f.owner for f in findings})
    return sorted({f"{places[f.owner]}:{k}" for f in findings if (k := finding_kind(f)) is not None})


def lessons_from(
    case_id: str, findings: Sequence[Finding], topology: Mapping[str, Sequence[str]], targets: Sequence[str],
    ranked: Sequence[str], cause: str, fault: str | None = None, implicated: Mapping[str, Sequence[str]] | None = None,
) -> list[Lesson]:
    """What one case with a known cause teaches: the cause's shape and the shapes ranked above it (``implicated``:
    how the case's services were implicated, :func:`implications`). A service ranked above with the cause's very
    shape teaches nothing: the case shows that shape both ways, and its cause lesson is shared among look-alikes."""
    context = event_context(findings, topology, targets)

    def lesson(service: str, is_cause: bool) -> Lesson:
        return Lesson(case_id=case_id, position=position(topology, targets, service),
                      kinds=shape_kinds(findings, service, implicated), cause=is_cause,
                      fault=fault if is_cause else None, context=context)

    above = ranked[: ranked.index(cause)] if cause in ranked else list(ranked[:1])
    taught = lesson(cause, True)
    victims = [lesson(s, False) for s in above[:CONSIDERED] if s != cause]
    return [taught, *(v for v in victims if (v.position, v.kinds) != (taught.position, taught.kinds))]


def similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Jaccard similarity of two kind sets (0 when either is empty)."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def fits(lesson: Lesson, pos: str, kinds: Sequence[str]) -> bool:
    """A lesson recognises a service at ``pos`` with ``kinds``: same position, kinds overlapping at least
    ``MIN_SIMILARITY``, and a change before the onset in both shapes or in neither (a deploy's symptoms teach
    nothing about a service nobody changed, however alike its Findings, nor the reverse)."""
    return (lesson.position == pos and changed(lesson.kinds) == changed(kinds)
            and similarity(kinds, lesson.kinds) >= MIN_SIMILARITY)


def changed(kinds: Sequence[str]) -> bool:
    """Does a shape hold a change made to its service before the onset (:func:`change_kinds`)?"""
    return any(kind.startswith(CHANGED) for kind in kinds)


def judge_candidate(service: str, pos: str, kinds: list[str], lessons: Sequence[Lesson],
                    context: Sequence[str] = (), fitting: Mapping[int, int] | None = None) -> Move | None:
    """The move experience makes on one candidate (None when no lesson resembles it).

    A lesson counts with its shape similarity, times the similarity of its case's whole pattern to this
    event's (``context``) when both are known: a like shape in an unlike incident says less. A cause
    lesson that ``fitting`` says fits several of this event's services (keyed by ``id(lesson)``) is shared
    among them: it says the cause had this shape, not which of the services that have it is the cause.
    """
    if not kinds:
        return None
    fitting = fitting or {}

    def shared(lesson: Lesson) -> int:  # how many services a cause lesson's support is divided among
        return max(1, fitting.get(id(lesson), 1)) if lesson.cause else 1

    near = [(lesson, similarity(kinds, lesson.kinds) * _context_weight(context, lesson) / shared(lesson))
            for lesson in lessons if fits(lesson, pos, kinds)]
    near = [(lesson, s) for lesson, s in near if s > 0]
    if not near:
        return None
    pro = sum(s for lesson, s in near if lesson.cause)
    con = sum(s for lesson, s in near if not lesson.cause)
    delta = EXPERIENCE_WEIGHT * (pro - con) / (pro + con + PRIOR)
    if abs(delta) < 1e-6:
        return None
    faults: dict[str, float] = {}
    for lesson, s in near:
        if lesson.cause and lesson.fault:
            faults[lesson.fault] = faults.get(lesson.fault, 0.0) + s
    fault = max(sorted(faults), key=faults.__getitem__) if faults else None
    return Move(service, round(delta, 3), [lesson for lesson, _ in near if lesson.cause],
                [lesson for lesson, _ in near if not lesson.cause], fault)


def _context_weight(context: Sequence[str], lesson: Lesson) -> float:
    if not context or not lesson.context:
        return 1.0
    return similarity(context, lesson.context) ** CONTEXT_POWER


def relevant_lessons(
    lessons: Sequence[Lesson], findings: Sequence[Finding], topology: Mapping[str, Sequence[str]],
    targets: Sequence[str], changes: Sequence[ChangeNote] = (),
) -> list[Lesson]:
    """The lessons that resemble a service of this event (what an evidence pack carries, not every lesson)."""
    if not lessons:
        return []
    implicated = implications(findings, changes, topology)
    places = positions(topology, targets, {f.owner for f in findings} | set(implicated))
    shapes = {(place, tuple(shape_kinds(findings, s, implicated))) for s, place in places.items()}
    return [lesson for lesson in lessons if any(fits(lesson, pos, kinds) for pos, kinds in shapes)]


def apply_experience(
    ranked: list[ServiceEvidence], findings: Sequence[Finding], topology: Mapping[str, Sequence[str]],
    targets: Sequence[str], lessons: Sequence[Lesson],
) -> tuple[list[ServiceEvidence], list[Move]]:
    """Re-weigh the top of an offline ranking with past lessons; the moves made, for citing.

    Applied after the offline ranking (see :func:`agent.reasoners.ranking.rank_services`): the scores of the
    ``CONSIDERED`` best candidates move, and of any candidate below them that a cause lesson fits (a cause lesson
    shared among look-alikes must reach each of them, not only those already near the top), each by at most
    ``EXPERIENCE_WEIGHT``.
    """
    if not lessons or not ranked:
        return ranked, []
    moves = []
    context = event_context(findings, topology, targets)
    implicated = {ev.service: relational_kinds(ev) for ev in ranked}
    places = positions(topology, targets, [ev.service for ev in ranked if ev.score > 0])
    shapes = {service: (place, shape_kinds(findings, service, implicated)) for service, place in places.items()}
    fitting = {id(lesson): sum(fits(lesson, pos, kinds) for pos, kinds in shapes.values()) for lesson in lessons}
    causes = [lesson for lesson in lessons if lesson.cause]
    for i, ev in enumerate(ranked):
        if ev.score <= 0:
            continue
        pos, kinds = shapes[ev.service]
        if i >= CONSIDERED and not any(fits(lesson, pos, kinds) for lesson in causes):
            continue
        move = judge_candidate(ev.service, pos, kinds, lessons, context, fitting)
        if move is None:
            continue
        ev.score = max(0.0, ev.score + move.delta)
        ev.notes.append(move.note())
        moves.append(move)
    order = in_rank_order(ranked)
    return order, moves
