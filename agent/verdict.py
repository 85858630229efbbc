"""The structured answer every reasoner returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RootCause(BaseModel):
    """One ranked root-cause candidate."""

    model_config = ConfigDict(extra="forbid")

    service: str
    fault: str = Field(description="Fault kind, e.g. slow_dependency, bad_release, memory_leak.")
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list, description="Finding ids.")
    explanation: str = ""
    inferred_from: list[str] = Field(
        default_factory=list,
        description="The services whose calls to it named the fault kind, when the kind was read off them (none of "
                    "its own Findings names one); empty when its own evidence, a lesson or a model named it.")


SERIOUS = ("warning", "critical")  # inspection severities that flag a service: no clean bill of health
SEVERITIES = ("critical", "warning", "info")  # most severe first
Severity = Literal["critical", "warning", "info"]


def most_severe(levels: Iterable[str | None]) -> Severity | None:
    """The most severe of ``levels`` that is an inspection severity (others, e.g. a custom rule outcome, and None
    are ignored), or None."""
    given = set(levels)
    return next((level for level in SEVERITIES if level in given), None)


class InspectionItem(BaseModel):
    """One inspection finding worth reporting, ranked by severity."""

    model_config = ConfigDict(extra="forbid")

    service: str
    kind: str = Field(description="e.g. memory_leak, disk_full, error_burst, latency_trend.")
    severity: Severity
    evidence: list[str] = Field(default_factory=list)
    summary: str = ""


class Verdict(BaseModel):
    """A decision with its evidence; every cited id must be a Finding the reasoner was shown."""

    model_config = ConfigDict(extra="forbid")

    pattern: Literal["rca", "release_interception", "inspection"]
    summary: str
    decision: Literal["pass", "hold", "block"] | None = Field(default=None, description="Release interception.")
    needs_attention: bool | None = Field(default=None, description="RCA: does the alert need action?")
    attention_reason: str | None = Field(
        default=None, description="RCA: actionable, noise, recovered, benign or duplicate, and why."
    )
    root_causes: list[RootCause] = Field(default_factory=list)
    items: list[InspectionItem] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list, description="Finding ids the verdict rests on.")
    overall: Severity | None = Field(
        default=None, description="Inspection: the most severe of the Skill's decision-rule outcome and the items' "
        "severities (None: from the items alone)."
    )
    actions: list[str] = Field(default_factory=list, description="Runbook steps to take now.")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    judged: bool = Field(
        default=True,
        description="False when the data could not answer the question (no data at all, or too little "
        "since a change began): the answer is then the fail-safe one (attention / hold).",
    )
    reasoner: str = Field(default="", description="What decided: offline, llm:<model>, or fail-safe over llm:<model> "
                          "(the fail-safe verdict replaced the model's answer: the data could not answer).")

    def inspection_level(self) -> Severity | None:
        """An inspection's overall severity: the most severe of ``overall`` and its items' (None: no item and no
        overall). The report's headline, the UI's badge and the summary all say this one."""
        return most_severe([self.overall, *(item.severity for item in self.items)])

    def inspection_healthy(self) -> bool:
        """An inspection with nothing to show: no overall and no item, or an ``info`` overall with no item."""
        level = self.inspection_level()
        return level is None or (level == "info" and not self.items)

    def cited_ids(self) -> set[str]:
        ids = set(self.evidence)
        for cause in self.root_causes:
            ids.update(cause.evidence)
        for item in self.items:
            ids.update(item.evidence)
        return ids
