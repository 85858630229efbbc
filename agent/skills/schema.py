"""The Skill schema: which data and knowledge to look at for one kind of event, and how to decide."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.detectors.direction import infer_direction
from agent.events import Pattern
from agent.findings import FindingKind
from agent.names import name_problem
from agent.series import ChangeType, canonical_level
from agent.timeparse import parse_duration

IDENT = r"^[a-z][a-z0-9_\-]*$"
Ident = Annotated[str, Field(pattern=IDENT, max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _duration(value: Any) -> float:
    return parse_duration(value)


class Compare(StrEnum):
    """How a metric is judged."""

    BASELINE = "baseline"  # canary vs baseline, or after vs before the change/event
    HISTORY = "history"  # against the same time yesterday / last week
    THRESHOLD = "threshold"  # against a fixed limit
    TREND = "trend"  # steady growth towards a limit (leaks, disks)


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"
    BOTH = "both"
    AUTO = "auto"  # read off each metric's name (latency, errors, queues -> up; success, hit ratio -> down; else both)


class Scope(Strict):
    """Which business and services a Skill is for (globs allowed)."""

    business: str | None = None
    services: list[str] = Field(default_factory=lambda: ["*"])


class Triggers(Strict):
    """Which events a Skill answers: alert names, alert labels, change types, keywords (globs)."""

    alerts: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    change_types: list[ChangeType] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class Window(Strict):
    """Time ranges around the event: look-back, observation after a change, history offsets."""

    lookback: float = Field(default=3600.0, gt=0.0, description="How far back from the event to read (a scope's "
                            "window when the event gives none).")
    after: float = 0.0
    history: list[float] = Field(default_factory=lambda: [86400.0, 604800.0])
    step: float = Field(default=60.0, gt=0.0, description="Seconds between the samples asked for.")
    reference: float | None = Field(
        default=None, gt=0.0,
        description="Inspections: how much data before the inspected window is the reference (default: the "
                    "first half of the window is the reference for the second).",
    )

    _parse = field_validator("lookback", "after", "step", mode="before")(_duration)

    @field_validator("reference", mode="before")
    @classmethod
    def _reference(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @field_validator("history", mode="before")
    @classmethod
    def _offsets(cls, value: Any) -> list[float]:
        if not isinstance(value, list):
            raise ValueError("must be a list of durations, e.g. [1d, 7d]")
        return [parse_duration(v) for v in value]


def unreachable_fall(compare: Any, direction: Any, min_effect: Any) -> str | None:
    """Why a signal judging only falls against a reference (``baseline``, ``history``) never reports one with this
    ``min_effect`` (a fraction of the reference: a fall is at most all of it, 1), else None."""
    if compare not in (Compare.BASELINE, Compare.HISTORY) or direction != Direction.DOWN:
        return None
    if isinstance(min_effect, bool) or not isinstance(min_effect, int | float) or min_effect <= 1:
        return None
    return (f"{min_effect:g} ({min_effect * 100:g} %) can never be reached by a fall (direction: down), which is at "
            f"most all of the reference (1, a fall to zero); min_effect is a fraction: {min_effect / 100:g} = "
            f"{min_effect:g} %")


class MetricSignal(Strict):
    """One metric to pull and how to judge it."""

    id: Ident
    name: str = Field(min_length=1, description="Metric name, exact or a glob such as *latency_p99*.")
    labels: dict[str, str] = Field(default_factory=dict, description="Label matchers; values may be templates.")
    query: str | None = Field(default=None, description="Raw PromQL, used only against a PromQL server.")
    compare: Compare = Compare.BASELINE
    direction: Direction = Direction.UP
    threshold: float | None = None
    min_effect: float = Field(default=0.2, ge=0.0, description="Smallest relative change that counts.")
    dependencies: bool = Field(default=False, description="Also pull it for the service's dependencies.")
    objective: float | None = Field(
        default=None, gt=0.0, lt=1.0, description="SLO objective (e.g. 0.999) of an error ratio: judge budget burn."
    )
    weight: float = Field(default=1.0, gt=0.0)
    catch_all: bool = Field(
        default=False,
        description="Every metric of the service that no other signal of the Skill selects (name is a glob, "
                    "usually '*'): a system whose metric names no Skill knows is still examined.",
    )
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(f"must be a metric name or a glob of one: {problem}")
        return value

    @model_validator(mode="after")
    def _threshold_needed(self) -> MetricSignal:
        if self.compare == Compare.THRESHOLD and self.threshold is None:
            raise ValueError("compare: threshold needs a threshold value")
        if self.direction == Direction.AUTO and self.compare in (Compare.THRESHOLD, Compare.TREND):
            raise ValueError(f"direction: auto needs compare: baseline or history, not {self.compare.value}")
        if (problem := unreachable_fall(self.compare, self.direction, self.min_effect)) is not None:
            raise ValueError(problem)
        return self

    def direction_for(self, metric: str) -> str:
        """The bad direction for one metric: the signal's own, or read off the name for ``auto``."""
        if self.direction == Direction.AUTO:
            return infer_direction(metric)
        return self.direction.value


class LogQuery(Strict):
    """Log lines to pull."""

    id: Ident
    source: str = "default"
    services: list[str] = Field(default_factory=lambda: ["{service}"])
    levels: list[Literal["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]] = Field(
        default_factory=lambda: ["WARN", "ERROR", "FATAL"]
    )
    patterns: list[str] = Field(default_factory=list, description="Substrings; a line must match one.")
    limit: int = Field(default=2000, ge=1, le=100000)
    dependencies: bool = False
    traces: bool = Field(
        default=False,
        description="Judge where traces leave the reference's paths (trace_divergence) instead of counting "
                    "templates; wants lines of every level that carry trace ids.",
    )

    @field_validator("levels", mode="before")
    @classmethod
    def _level_names(cls, value: Any) -> Any:
        """``warning``, ``Error``, ``TRACE`` ... read as the level they name (an unknown name fails as given)."""
        if not isinstance(value, list):
            return value
        return [canonical_level(v) or v if isinstance(v, str) else v for v in value]


class ChangeQuery(Strict):
    """Change events to pull."""

    services: list[str] = Field(default_factory=lambda: ["{service}"])
    types: list[Literal["deploy", "config", "flag", "canary", "rollback"]] = Field(
        default_factory=lambda: ["deploy", "config", "flag", "canary", "rollback"]
    )
    window: float = 7200.0
    dependencies: bool = True

    _parse = field_validator("window", mode="before")(_duration)


class Dependencies(Strict):
    """How far along the topology to look."""

    depth: int = Field(default=1, ge=0, le=5)
    direction: Literal["downstream", "upstream", "both"] = "downstream"


class DataSpec(Strict):
    metrics: list[MetricSignal] = Field(default_factory=list)
    logs: list[LogQuery] = Field(default_factory=list)
    changes: ChangeQuery | None = None
    dependencies: Dependencies = Field(default_factory=Dependencies)

    @model_validator(mode="after")
    def _unique_ids(self) -> DataSpec:
        seen: set[str] = set()
        for item in [*self.metrics, *self.logs]:
            if item.id in seen:
                raise ValueError(f"duplicate signal id {item.id!r}")
            seen.add(item.id)
        return self


class KnowledgeSpec(Strict):
    collections: list[Literal["handbook", "experience", "cases"]] = Field(
        default_factory=lambda: ["handbook", "experience"]
    )
    tags: list[str] = Field(default_factory=list)
    query: str = "{service} {alertname} {summary}"
    top_k: int = Field(default=4, ge=0, le=20)


class Analysis(Strict):
    instructions: str = ""


Outcome = Literal["pass", "hold", "block", "critical", "warning", "info", "attention", "no_attention"]
PATTERN_OUTCOMES: dict[Pattern, set[str]] = {
    Pattern.RELEASE_INTERCEPTION: {"pass", "hold", "block"},
    Pattern.INSPECTION: {"critical", "warning", "info"},
    Pattern.RCA: {"attention", "no_attention"},
}


class Condition(Strict):
    """Which Findings a rule matches: all given fields must hold for at least ``min_count`` Findings."""

    kind: list[FindingKind] = Field(default_factory=list)
    signals: list[str] = Field(default_factory=list)
    subject: Literal["target", "dependency", "any"] = "any"
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    min_count: int = Field(default=1, ge=0)
    max_count: int | None = Field(default=None, ge=0, description="Match when at most this many Findings hold.")

    @field_validator("kind", "signals", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Rule(Strict):
    """``if`` Findings match, ``then`` this outcome; the first matching rule wins."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    when: Condition = Field(alias="if")
    then: Outcome
    reason: str = ""


class Decision(Strict):
    rules: list[Rule] = Field(default_factory=list)
    default: Outcome


class Skill(Strict):
    """One Skill file."""

    name: Ident
    version: int = Field(default=1, ge=1)
    description: str = Field(min_length=10)
    pattern: Pattern
    generic: bool = Field(default=False, description="The pattern's fallback Skill.")
    scope: Scope = Field(default_factory=Scope)
    triggers: Triggers = Field(default_factory=Triggers)
    schedule: str | None = Field(default=None, description="Cron (5 fields) for scheduled inspections.")
    window: Window = Field(default_factory=Window)
    data: DataSpec = Field(default_factory=DataSpec)
    knowledge: KnowledgeSpec = Field(default_factory=KnowledgeSpec)
    analysis: Analysis = Field(default_factory=Analysis)
    decision: Decision

    @field_validator("window", mode="before")
    @classmethod
    def _window_shorthand(cls, value: Any) -> Any:
        return {"lookback": value} if isinstance(value, str | int | float) else value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from agent.cron import cron_trigger

        try:
            cron_trigger(value)
        except ValueError as exc:
            raise ValueError(f"not a valid cron expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Skill:
        allowed = PATTERN_OUTCOMES[self.pattern]
        outcomes = [self.decision.default, *(r.then for r in self.decision.rules)]
        bad = sorted({o for o in outcomes if o not in allowed})
        if bad:
            raise ValueError(
                f"decision outcomes {bad} do not fit pattern {self.pattern.value}; use {sorted(allowed)}"
            )
        signal_ids = {m.id for m in self.data.metrics} | {q.id for q in self.data.logs}
        for rule in self.decision.rules:
            unknown = [s for s in rule.when.signals if s not in signal_ids]
            if unknown:
                raise ValueError(f"decision rule names unknown signals {unknown}; known: {sorted(signal_ids)}")
        if self.schedule and self.pattern != Pattern.INSPECTION:
            raise ValueError("schedule is only for inspection Skills")
        return self


def _duration_json() -> dict[str, Any]:
    text = {"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"}  # Prometheus form; the loader reads more
    return {"anyOf": [{"type": "number"}, text]}


def skill_json_schema() -> dict[str, Any]:
    """JSON Schema of a Skill file as authored in YAML (durations may be ``30m``, ``2h``, ``1d``)."""
    schema = Skill.model_json_schema(by_alias=True)
    defs = schema["$defs"]
    for model, names in (("Window", ("lookback", "after", "step", "reference")), ("ChangeQuery", ("window",))):
        for name in names:
            prop = defs[model]["properties"][name]
            prop.pop("type", None)
            prop.update(_duration_json())
    defs["Window"]["properties"]["history"]["items"] = _duration_json()
    defs["Window"]["properties"]["reference"]["anyOf"].append({"type": "null"})  # optional: null means unset
    schema["properties"]["window"] = {"anyOf": [{"$ref": "#/$defs/Window"}, *_duration_json()["anyOf"]]}
    for name in ("kind", "signals"):
        prop = defs["Condition"]["properties"][name]
        as_list = {k: v for k, v in prop.items() if k != "title"}
        defs["Condition"]["properties"][name] = {"anyOf": [prop["items"], as_list]}
    return schema
