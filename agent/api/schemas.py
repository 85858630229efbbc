"""Request and response bodies of the HTTP API (the events and records themselves are reused)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from agent.ask import MAX_QUESTION_CHARS
from agent.events import Event, read_alert_of
from agent.inputs.checks import overlong_alert_texts, overlong_names
from agent.memory import CaseRecord, CorrectionRecord
from agent.memory.corrections import NAME_RULE, NOTE_MAX_CHARS, name_length_problem
from agent.names import MAX_NAME_CHARS


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvestigateRequest(StrictBody):
    """An event in ``event.yaml`` form, and optionally the Skill to use; an event without ``time`` is judged as of
    the request's arrival (live sources: the evidence runs up to now), an alert's as of its ``startsAt``."""

    event: Event
    skill: str | None = Field(default=None, max_length=64, description="Use this Skill instead of selecting one.")
    _time_said: bool = PrivateAttr(default=True)

    @field_validator("event")
    @classmethod
    def _names_fit(cls, event: Event) -> Event:
        """No service or alert name longer than the memory holds (PostgreSQL answered 500 after the request was
        taken), no alert label or annotation longer than the webhook takes (``inputs.checks.overlong_alert_texts``); a
        refusal names the field (``event.scope.services[1]``, ``event.alert.labels.team``)."""
        too_long = [(loc, MAX_NAME_CHARS) for loc in overlong_names(event)]
        if event.alert is not None:
            too_long += [(("alert", *loc), most) for loc, most in overlong_alert_texts(event.alert)]
        refused = [InitErrorDetails(type=PydanticCustomError("value_error", f"longer than {most} characters"),
                                    loc=loc, input="") for loc, most in too_long]
        if refused:  # pydantic puts these errors under the field's own location: event.<loc>
            raise ValidationError.from_exception_data("event", refused)
        return event

    @model_validator(mode="wrap")
    @classmethod
    def _now_by_default(cls, data: Any, handler: ModelWrapValidatorHandler[InvestigateRequest]) -> InvestigateRequest:
        """An event without ``time`` is timed now, and the request remembers that it said none (``event_read``)."""
        event = data.get("event") if isinstance(data, dict) else None
        unsaid = isinstance(event, dict) and "time" not in event
        request = handler({**data, "event": {**event, "time": time.time()}} if unsaid else data)
        request._time_said = not unsaid
        return request

    def event_read(self, service_label: str = "service") -> Event:
        """The event with what it leaves unsaid read off its alert as every door reads an alert
        (``events.read_alert_of``): its service (``service_label``), business and, without ``time``, ``startsAt``."""
        return read_alert_of(self.event, service_label, self._time_said)


class AskRequest(StrictBody):
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)


class CorrectionRequest(StrictBody):
    """An engineer's judgement of a case; give the truth when the answer was wrong."""

    correct: StrictBool
    root_cause_service: str | None = Field(default=None, description=NAME_RULE)
    root_cause_fault: str | None = Field(default=None, description=NAME_RULE)
    decision: Literal["pass", "hold", "block"] | None = None
    needs_attention: StrictBool | None = None
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)
    author: str | None = Field(default=None, description=NAME_RULE)
    index: StrictBool = Field(default=True, description="Make the case retrievable as experience (knowledge store); "
                              "false is stored with the correction: distillation and the ranking's lessons skip "
                              "the case too.")
    as_given: StrictBool = Field(default=False, description="Store root_cause_service as given though the case never "
                                 "mentions it and one of its names is close (refused otherwise as a likely typo): a "
                                 "cause outside the case's data.")

    @field_validator("root_cause_service", "root_cause_fault", "author")
    @classmethod
    def _name_fits(cls, value: str | None) -> str | None:
        """Memory's rule for a name, checked here so that the 422 names the field; the value goes on as given."""
        problem = name_length_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class CaseSummary(BaseModel):
    """One line of ``GET /cases``."""

    id: str
    created_at: float
    status: str
    pattern: str
    service: str | None = None
    skill: str | None = None
    skill_version: int | None = None
    summary: str | None = None
    needs_attention: bool | None = None
    decision: str | None = None
    corrections: int = 0
    error: str | None = None

    @classmethod
    def of(cls, case: CaseRecord) -> CaseSummary:
        verdict = case.verdict
        return cls(
            id=case.id,
            created_at=case.created_at,
            status=case.status,
            pattern=case.pattern,
            service=case.service,
            skill=case.skill,
            skill_version=case.skill_version,
            summary=verdict.summary if verdict else None,
            needs_attention=verdict.needs_attention if verdict else None,
            decision=verdict.decision if verdict else None,
            corrections=len(case.corrections),
            error=case.error,
        )


class CorrectionResponse(BaseModel):
    """The stored correction, the truth it states, and what was indexed for retrieval."""

    correction: CorrectionRecord
    truth: str | None = Field(default=None, description="The truth in a few words, e.g. 'cache/disk_full'.")
    indexed: list[str] = Field(default_factory=list, description="Knowledge ids written (case, experience note).")
    removed: list[str] = Field(default_factory=list, description="Knowledge ids removed: the case's record, when "
                                                                 "`index: false` keeps it out of experience.")
    notes: list[str] = Field(default_factory=list)
    repeated: bool = Field(default=False, description="The case's latest correction already said exactly this: "
                                                      "nothing new was stored (answered 200, not 201).")
