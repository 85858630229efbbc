"""Ground truth (``label.yaml``): read only by evaluation, never by the agent."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.bundles.errors import BundleError, BundleWarning, ErrorLog, InvalidBundleError
from agent.bundles.yaml_lines import load_yaml, report_validation, to_plain, warn_unknown_keys
from agent.phrases import listed

ANY_KIND = "anomaly"  # an expected finding's kind when the data set knows something was wrong, not what
PROVENANCE = ("sim",)  # keys saying where a case came from (the simulator's fault, seed, ...): not scored, not warned


def _blank(value: object) -> bool:
    """No value, or only whitespace: a key written without naming anything (``fault: ""``)."""
    return value is None or (isinstance(value, str) and not value.strip())


class RootCause(BaseModel):
    """A service and the fault that hit it (None, or a blank fault: the data set names the service only)."""

    model_config = ConfigDict(extra="allow")

    service: str
    fault: str | None = None

    @field_validator("fault", mode="before")
    @classmethod
    def _blank_is_none(cls, fault: object) -> object:
        return None if _blank(fault) else fault


class ExpectedFinding(BaseModel):
    """What a good inspection reports; no kind (or a blank one) is ``anomaly``: anything reported on the
    service."""

    model_config = ConfigDict(extra="allow")

    service: str
    kind: str = ANY_KIND

    @field_validator("kind", mode="before")
    @classmethod
    def _unnamed_is_anomaly(cls, kind: object) -> object:
        return ANY_KIND if _blank(kind) else kind


class GroundTruth(BaseModel):
    """The answer to a case: root causes (primary first), noise, a release decision, findings."""

    model_config = ConfigDict(extra="allow")

    root_cause: list[RootCause] = Field(default_factory=list)
    noise: bool = False
    decision: Literal["pass", "hold", "block"] | None = None
    findings: list[ExpectedFinding] = Field(default_factory=list)

    @property
    def primary(self) -> RootCause | None:
        return self.root_cause[0] if self.root_cause else None


def read_label(path: Path, label: str,
               warnings: list[BundleWarning] | None = None) -> tuple[GroundTruth | None, list[BundleError]]:
    """The ground truth in ``path`` (absent file: None) and every problem found; the keys evaluation ignores
    are added to ``warnings`` when given."""
    if not path.is_file():
        return None, []
    log = ErrorLog(label)
    ok, root = load_yaml(path, log)
    if not ok:
        return None, log.result()
    try:
        truth = GroundTruth.model_validate(to_plain(root) or {})
    except ValidationError as exc:
        report_validation(log, root, exc)
        return None, log.result()
    if warnings is not None and root:
        _warn_ignored(log, root)
        warnings += log.warnings
    return truth, []


def _warn_ignored(log: ErrorLog, root: dict) -> None:
    """Warn on the keys of a valid label that evaluation does not read (``root_causes:``, a finding's ``fault:``),
    saying what is scored instead."""
    warn_unknown_keys(log, root, (), [*GroundTruth.model_fields, *PROVENANCE],
                      "evaluation reads only " + listed(GroundTruth.model_fields))
    for i, cause in enumerate(root.get("root_cause") or []):
        unfaulted = ", so this cause's fault kind is not scored" if _blank(cause.get("fault")) else ""
        warn_unknown_keys(log, root, ("root_cause", i), RootCause.model_fields,
                          f"a root cause is read from {listed(RootCause.model_fields)}{unfaulted}")
    for i, finding in enumerate(root.get("findings") or []):
        unkinded = (f", so this finding's kind is {ANY_KIND} (anything reported counts)"
                    if _blank(finding.get("kind")) else "")
        warn_unknown_keys(log, root, ("findings", i), ExpectedFinding.model_fields,
                          f"a finding is read from {listed(ExpectedFinding.model_fields)}{unkinded}")


def load_label(path: str | Path, warnings: list[BundleWarning] | None = None) -> GroundTruth | None:
    """Ground truth of a bundle directory (or a label.yaml file); None when there is none. The keys evaluation
    ignores are added to ``warnings`` when given."""
    path = Path(path)
    file = path / "label.yaml" if path.is_dir() else path
    truth, errors = read_label(file, str(file), warnings)
    if errors:
        raise InvalidBundleError(str(path), errors)
    return truth
