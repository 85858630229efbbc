"""The compact evidence pack a reasoner sees: Findings and knowledge, never raw dumps."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from agent.events import Event
from agent.findings import (
    COVERAGE_DETECTOR,
    LOGS_ONLY_DETECTOR,
    STALE_DATA_DETECTOR,
    THIN_REFERENCE_DETECTOR,
    Finding,
    FindingKind,
)


class KnowledgeSnippet(BaseModel):
    """One retrieved handbook chunk, experience note or past case."""

    model_config = ConfigDict(extra="forbid")

    id: str
    collection: str
    title: str
    text: str
    tags: list[str] = Field(default_factory=list)
    score: float = 0.0


class ChangeNote(BaseModel):
    """A change event in the window, as the reasoner sees it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    ts: float
    service: str
    type: str
    description: str = ""
    version: str | None = None


class Lesson(BaseModel):
    """One service's shape in a past case with a known truth, and whether it was the cause there.

    The shape is relative to the alert, never a name: where the service sat from the alerted one and
    which kinds of Findings it showed (see :mod:`agent.reasoners.experience`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    position: str = Field(description="alerted | down<N> | up<N> | unrelated, relative to the alerted service; "
                                      "alert for an alert lesson (agent.reasoners.alert_history)")
    kinds: list[str] = Field(default_factory=list, description="significant Finding kinds on the service")
    cause: bool = Field(description="True: the true cause had this shape; False: a service wrongly ranked above it; "
                                    "an alert lesson: whether the alert needed attention")
    fault: str | None = Field(default=None, description="the fault kind the engineer named (cause lessons)")
    context: list[str] = Field(
        default_factory=list, description="the whole event's pattern: position:kind of every significant Finding"
    )
    alert: str | None = Field(default=None, description="an alert lesson: the alert's identity (alertname@services)")


class EvidencePack(BaseModel):
    """Everything the reasoner is shown for one investigation."""

    model_config = ConfigDict(extra="forbid")

    event: Event
    skill: str
    skill_version: int
    instructions: str = ""
    target_services: list[str] = Field(default_factory=list)
    topology: dict[str, list[str]] = Field(default_factory=dict, description="service -> depends_on")
    findings: list[Finding] = Field(default_factory=list)
    changes: list[ChangeNote] = Field(default_factory=list)
    knowledge: list[KnowledgeSnippet] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="Data that could not be gathered, and why.")
    experience: list[Lesson] = Field(
        default_factory=list, description="Lessons of past corrected cases whose shapes resemble this event's services."
    )

    def finding_ids(self) -> set[str]:
        return {f.id for f in self.findings}


def select_for_pack(
    findings: list[Finding], limit: int, signal_weights: Mapping[str, float] | None = None
) -> list[Finding]:
    """At most ``limit`` of ``findings``, strongest first: the ``missing_data`` Findings (what says the answer is
    incomplete) come first, however weak, two about one subject alike; those the fail-safe rule reads before the
    others (a coverage gap, then the caveats in the order it reads them: :data:`FAIL_SAFE_GAPS`), so the rule
    decides on the shown pack as on the whole one, then the strongest. Then, in the room left, the strongest other
    Findings, round-robin across (service, metric) so every service and signal is represented. The missing-data
    Findings left out are counted by :func:`missing_left_out`.

    Instances of one service repeating the same metric come after every other service's best evidence.
    ``signal_weights`` (the Skill's signal ``weight``s) scale a Finding's score for this choice only,
    relative to the heaviest signal, so the signals a Skill calls important are shown first (a Finding several
    signals reported, by the heaviest of them).
    """
    weights = signal_weights or {}
    heaviest = max(weights.values(), default=1.0)

    def priority(f: Finding) -> float:
        return f.score * max((weights.get(s, heaviest) for s in f.signals), default=heaviest) / heaviest

    strongest = sorted(findings, key=lambda f: -f.score)  # the pack's order: the fail-safe rule reads the first
    missing = sorted((f for f in strongest if f.kind == FindingKind.MISSING_DATA), key=_gap_rank)[:max(0, limit)]
    ranked = sorted((f for f in findings if f.kind != FindingKind.MISSING_DATA), key=lambda f: -priority(f))
    position: dict[tuple[str, str], int] = {}
    order = []
    for f in ranked:
        key = (f.service or f.subject, f.metric or f.kind.value)
        position[key] = position.get(key, 0) + 1
        order.append((position[key], -priority(f), f))
    room = max(0, limit - len(missing))
    chosen = {id(f) for f in missing} | {id(item[2]) for item in sorted(order, key=lambda item: item[:2])[:room]}
    return [f for f in strongest if id(f) in chosen]


# The missing-data Findings the fail-safe rule reads, in its order: a coverage gap says the data could not answer
# (``could_not_judge``), then the caveats that keep a verdict from clearing (``cannot_clear``).
FAIL_SAFE_GAPS = (COVERAGE_DETECTOR, THIN_REFERENCE_DETECTOR, LOGS_ONLY_DETECTOR, STALE_DATA_DETECTOR)
_GAP_RANK = {detector: at for at, detector in enumerate(FAIL_SAFE_GAPS)}


def _gap_rank(finding: Finding) -> int:
    """Where a missing-data Finding comes in the pack's choice: by the kinds the fail-safe rule reads, in its order
    (it reads the first of a kind: the strongest, which a stable sort keeps first), then the others."""
    return _GAP_RANK.get(finding.detector or "", len(FAIL_SAFE_GAPS))


def missing_left_out(findings: list[Finding], shown: list[Finding], limit: int) -> list[str]:
    """What the pack says (a line of its ``missing``) of the missing-data Findings of ``findings`` not ``shown``
    (:func:`select_for_pack` with ``limit``): none when every one is shown."""
    left = (sum(f.kind == FindingKind.MISSING_DATA for f in findings)
            - sum(f.kind == FindingKind.MISSING_DATA for f in shown))
    if left <= 0:
        return []
    return [f"{left} more missing_data Finding(s) not shown (the pack shows at most {limit} Findings): data is missing "
            "in more places than the Findings say"]
