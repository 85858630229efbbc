"""The LLM reasoner: the evidence pack as a redacted, delimited prompt; a validated verdict back."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agent.config import Settings
from agent.evidence import EvidencePack
from agent.llm.client import LLMClient
from agent.llm.jsontext import parse_json_object
from agent.llm.prompting import render_prompt
from agent.llm.redact import redact_messages
from agent.llm.types import LLMError, Usage
from agent.reasoners.base import ReasonerError, ReasonerResult
from agent.reasoners.failsafe import enforce_fail_safe
from agent.skills.schema import Skill
from agent.verdict import Verdict

FAULT_KINDS = (
    "bad_release", "bad_config", "slow_dependency", "cache_failure", "memory_leak", "traffic_spike",
    "disk_full", "cpu_saturation", "error_fault",
)
MAX_ECHO_CHARS = 4000


class VerdictRejected(ValueError):
    """The model's answer is not an acceptable verdict for this pack; the message says exactly why."""


def reason_messages(pack: EvidencePack, skill: Skill) -> list[dict[str, str]]:
    """The chat messages for one pack: system rules and the evidence, redacted."""
    user = render_prompt(
        "reason_user",
        pack=pack,
        instructions=pack.instructions or skill.analysis.instructions,
        fault_kinds=FAULT_KINDS,
    )
    return redact_messages([
        {"role": "system", "content": render_prompt("reason_system")},
        {"role": "user", "content": user},
    ])


def parse_verdict(text: str, pack: EvidencePack) -> Verdict:
    """The verdict in the model's ``text``, checked against ``pack``; raises ``VerdictRejected``."""
    try:
        data = parse_json_object(text)
    except ValueError as exc:
        raise VerdictRejected(str(exc)) from exc
    data.pop("reasoner", None)
    try:
        verdict = Verdict.model_validate(data)
    except ValidationError as exc:
        raise VerdictRejected(_pydantic_problems(exc)) from exc
    problems = _pattern_problems(verdict, pack) + _citation_problems(verdict, pack)
    if problems:
        raise VerdictRejected("; ".join(problems))
    return verdict


class LLMReasoner:
    """Asks an OpenAI-compatible model for the verdict; one retry with the exact validation error."""

    def __init__(self, client: LLMClient, *, attempts: int = 2) -> None:
        self.client = client
        self.attempts = max(1, attempts)
        self.name = f"llm:{client.model}"

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        """A validated verdict; raises ``ReasonerError`` (bad answers) or ``LLMError`` (endpoint failed)."""
        messages = reason_messages(pack, skill)
        usage = Usage()
        notes: list[str] = []
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                text, spent = self.client.complete_json(messages, "verdict")
            except LLMError as exc:
                exc.usage.add(usage)
                raise
            usage.add(spent)
            try:
                verdict = parse_verdict(text, pack)
            except VerdictRejected as exc:
                error = str(exc)
                notes.append(f"{self.name} answer {attempt} rejected: {error}")
                messages = [*messages, *self._correction(text, error, pack)]
                continue
            verdict.reasoner = self.name
            safe = enforce_fail_safe(verdict, pack)  # the model cannot turn "could not judge" into an all-clear
            if safe is not verdict:
                notes.append(f"{self.name}: the data could not answer the question; the fail-safe verdict applies")
            return ReasonerResult(safe, usage.prompt_tokens, usage.completion_tokens, notes)
        raise ReasonerError(
            f"{self.name} gave no valid verdict in {self.attempts} attempt(s): {error}", usage=usage
        )

    @staticmethod
    def _correction(answer: str, error: str, pack: EvidencePack) -> list[dict[str, str]]:
        retry = render_prompt(
            "reason_retry",
            error=error,
            pattern=pack.event.pattern.value,
            finding_ids=[f.id for f in pack.findings],
        )
        return redact_messages([
            {"role": "assistant", "content": answer[:MAX_ECHO_CHARS]},
            {"role": "user", "content": retry},
        ])


def llm_reasoner_from_settings(settings: Settings) -> LLMReasoner | None:
    """The LLM reasoner when ``settings`` name an endpoint (``BIANQUE_LLM_BASE_URL``), else None."""
    return LLMReasoner(LLMClient(settings)) if settings.llm_enabled else None


def _pydantic_problems(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{where}: {err['msg']}")
    return "the verdict does not match the schema: " + "; ".join(parts)


def _pattern_problems(verdict: Verdict, pack: EvidencePack) -> list[str]:
    expected = pack.event.pattern.value
    if verdict.pattern != expected:
        return [f"pattern must be {expected!r}, not {verdict.pattern!r}"]
    problems = []
    if expected == "release_interception" and verdict.decision is None:
        problems.append('decision is required: one of "pass", "hold", "block"')
    if expected != "release_interception" and verdict.decision is not None:
        problems.append(f"decision is only for release_interception; leave it out for {expected}")
    if expected == "rca" and verdict.needs_attention is None:
        problems.append("needs_attention (true or false) is required for rca")
    return problems


def _citation_problems(verdict: Verdict, pack: EvidencePack) -> list[str]:
    known = pack.finding_ids()
    cited = verdict.cited_ids()
    problems = []
    unknown = sorted(cited - known, key=_id_order)
    if unknown:
        problems.append(f"cites Finding ids that are not in the evidence: {', '.join(unknown)}")
    if known:
        if not cited:
            problems.append("cites no Finding: every claim must cite Finding ids from the evidence")
        claims: list[Any] = [*verdict.root_causes, *verdict.items]
        bare = [f"{c.service}" for c in claims if not c.evidence]
        if bare:
            problems.append(f"claims without evidence ids: {', '.join(bare)}")
    return problems


def _id_order(finding_id: str) -> tuple[int, str]:
    digits = "".join(ch for ch in finding_id if ch.isdigit())
    return (int(digits) if digits else 0, finding_id)
