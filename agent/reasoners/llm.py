"""The LLM reasoner: the evidence pack as a redacted, delimited prompt; a validated verdict back."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from agent.config import Settings
from agent.evidence import EvidencePack, missing_left_out, select_for_pack
from agent.llm.client import LLMClient
from agent.llm.jsontext import parse_json_object
from agent.llm.prompting import render_prompt
from agent.llm.redact import redact_messages
from agent.llm.types import LLMError, TimeBudget, Usage
from agent.reasoners.base import LLMRun, ReasonerError, ReasonerResult
from agent.reasoners.failsafe import enforce_fail_safe, fail_safe_over
from agent.reasoners.verdict_schema import FAULT_KINDS, verdict_schema
from agent.skills.schema import Skill
from agent.verdict import Verdict

MAX_ECHO_CHARS = 4000
ATTEMPTS = 3
FAIL_SAFE = "the data could not answer the question; the fail-safe verdict applies"


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
    for cause in data.get("root_causes") or []:  # only the offline reasoner infers a kind from callers
        if isinstance(cause, dict):
            cause.pop("inferred_from", None)
    try:
        verdict = Verdict.model_validate(data)
    except ValidationError as exc:
        raise VerdictRejected(_pydantic_problems(exc)) from exc
    problems = _pattern_problems(verdict, pack) + _citation_problems(verdict, pack)
    if problems:
        raise VerdictRejected("; ".join(problems))
    return verdict


class LLMReasoner:
    """Asks an OpenAI-compatible model for the verdict; rejected answers go back with the exact error.

    The answer is constrained to :func:`verdict_schema` when the endpoint supports it, validated
    either way, and asked for at most ``attempts`` times within ``time_limit_s`` seconds in all — or within what
    ``budget`` has left, the investigation's LLM time shared with the Skill choice (then ``time_limit_s`` is unused).
    """

    def __init__(
        self, client: LLMClient, *, attempts: int = ATTEMPTS, time_limit_s: float | None = None,
        max_findings: int | None = None, budget: TimeBudget | None = None,
    ) -> None:
        self.client = client
        self.attempts = max(1, attempts)
        self.time_limit_s = time_limit_s
        self.max_findings = max_findings
        self.budget = budget
        self.name = f"llm:{client.model}"

    def reason(self, pack: EvidencePack, skill: Skill) -> ReasonerResult:
        """A validated verdict; raises ``ReasonerError`` (bad answers) or ``LLMError`` (endpoint failed).

        Either error carries the :class:`LLMRun` so far (``run``) and the tokens spent (``usage``).
        The model is shown at most ``max_findings`` of the pack's Findings (strongest, round-robin).
        """
        pack = shown_pack(pack, self.max_findings, {m.id: m.weight for m in skill.data.metrics})
        budget = self.budget if self.budget is not None else TimeBudget(self.time_limit_s or None)
        with budget.spending() as deadline:
            return self._answer(pack, skill, deadline)

    def _answer(self, pack: EvidencePack, skill: Skill, deadline: float | None) -> ReasonerResult:
        """:meth:`reason`'s attempts, every one bounded by ``deadline`` (a ``time.monotonic()`` value)."""
        started = time.monotonic()
        messages = reason_messages(pack, skill)
        schema = verdict_schema(pack)
        usage = Usage()
        run = LLMRun(model=self.client.model)
        notes: list[str] = []
        error = ""
        for attempt in range(1, self.attempts + 1):
            try:
                text, spent = self.client.complete_json(messages, "verdict", schema=schema, deadline=deadline)
            except LLMError as exc:
                exc.usage.add(usage)
                _close(run, usage, self.client, "failed", started, str(exc))
                exc.run = run  # type: ignore[attr-defined]
                raise
            usage.add(spent)
            run.answers = attempt
            try:
                verdict = parse_verdict(text, pack)
            except VerdictRejected as exc:
                error = str(exc)
                run.reasons.append(f"answer {attempt}: {error}")
                notes.append(f"{self.name} answer {attempt} rejected: {error}")
                messages = [*messages, *self._correction(text, error, pack)]
                continue
            verdict.reasoner = self.name
            run.valid_at = attempt
            run.verdict = verdict.model_dump(mode="json")
            safe = enforce_fail_safe(verdict, pack)  # the model cannot turn "could not judge" into an all-clear
            if safe is verdict:
                _close(run, usage, self.client, "accepted", started)
            else:  # the answer is the fail-safe verdict, not the model's (kept in run.verdict)
                safe.reasoner = fail_safe_over(self.name)
                _close(run, usage, self.client, "fail_safe", started, f"{FAIL_SAFE}: {safe.summary}")
                notes.append(f"{self.name}: {FAIL_SAFE}")
            return ReasonerResult(safe, usage.prompt_tokens, usage.completion_tokens, notes, llm=run)
        _close(run, usage, self.client, "failed", started)
        raise ReasonerError(
            f"{self.name} gave no valid verdict in {self.attempts} attempt(s): {error}", usage=usage, run=run
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


def llm_reasoner_from_settings(settings: Settings, budget: TimeBudget | None = None) -> LLMReasoner | None:
    """The LLM reasoner when ``settings`` name an endpoint (``BIANQUE_LLM_BASE_URL``), else None; ``budget``: the
    investigation's LLM time, when the Skill choice draws on it too."""
    if not settings.llm_enabled:
        return None
    return LLMReasoner(LLMClient(settings), time_limit_s=settings.llm_investigation_timeout_s or None,
                       max_findings=settings.llm_max_findings, budget=budget)


def shown_pack(
    pack: EvidencePack, limit: int | None, signal_weights: Mapping[str, float] | None = None
) -> EvidencePack:
    """``pack`` with at most ``limit`` Findings (the missing-data ones first, then the strongest, round-robin, the
    Skill's signal weights first: see ``select_for_pack``); its ``missing`` says how many missing-data Findings were
    left out, if any."""
    if not limit or len(pack.findings) <= limit:
        return pack
    shown = select_for_pack(pack.findings, limit, signal_weights)
    return pack.model_copy(update={"findings": shown,
                                   "missing": [*pack.missing, *missing_left_out(pack.findings, shown, limit)]})


def _close(
    run: LLMRun, usage: Usage, client: LLMClient, outcome: str, started: float, reason: str = ""
) -> None:
    """Fill ``run``'s totals: wall-clock time since ``started``, tokens, the detected output format."""
    run.outcome = outcome
    run.seconds = round(time.monotonic() - started, 3)
    run.prompt_tokens, run.completion_tokens = usage.prompt_tokens, usage.completion_tokens
    run.structured = client.structured.label if client.structured is not None else ""
    if reason:
        run.reasons.append(reason)


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
