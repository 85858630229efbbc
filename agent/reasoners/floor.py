"""The floor rule: a model's verdict may improve on the offline reasoner's, never make it worse.

The offline verdict is computed first. The model's validated verdict replaces it only when every
change it makes is backed by the Findings it cites; otherwise the offline verdict stands and the
report says the model's answer was set aside, and why. What counts as backing:

- a root cause or inspection item on service S cites at least one Finding about S;
- RCA: the model may re-order or re-rank the causes; a top cause the offline reasoner did not rank
  needs a cited Finding about it scoring at least ``SIGNIFICANT``; it may not say "no attention
  needed" for an alert the offline reasoner judged actionable (a missed alert is the worst error),
  nor drop every root cause of an actionable alert; it may raise an alert the offline reasoner
  called noise when it cites a Finding scoring at least ``SIGNIFICANT``;
- release interception: the decision may be more cautious than the offline one (pass < hold <
  block) when it cites a Finding about the changed service scoring at least ``SIGNIFICANT``; never
  less cautious (the Skill's decision rules are the floor);
- inspection: every service the offline reasoner flagged at warning or critical stays flagged at
  warning or above; a new warning or critical item cites a Finding about its service that the
  offline severity scale itself rates warning or worse (``WARNING_SCORE``), of a signal the Skill's rules judge
  (``decide.context_only``: a context signal makes the offline items info): a model may notice what
  the offline reasoner left out, never be more alarmed than the calibrated evidence (measured: with
  the weaker ``ITEM_FLOOR`` backing, SmolLM2-135M turned an info-level Finding into a false alarm);
  a service the offline reasoner flagged keeps one of the fault kinds the detectors gave it (the
  model may re-order and re-word, not re-classify: measured, a model flagging the right service
  under another kind turned a right inspection into a wrong one).
"""

from __future__ import annotations

import logging

from agent.evidence import EvidencePack
from agent.findings import Finding, about
from agent.llm.types import LLMError
from agent.reasoners.base import LLMRun, Reasoner, ReasonerError, ReasonerResult
from agent.reasoners.offline import SEVERITY_BY_SCORE
from agent.reasoners.service_evidence import SIGNIFICANT
from agent.scoring import same_kind
from agent.skills.decide import context_only, ruled_signals
from agent.skills.schema import Skill
from agent.verdict import SERIOUS, Verdict

log = logging.getLogger(__name__)

CAUTION = {"pass": 0, "hold": 1, "block": 2}
WARNING_SCORE = next(score for score, label in SEVERITY_BY_SCORE if label == "warning")


def _backing(pack: EvidencePack, cited: list[str], service: str) -> list[Finding]:
    """The cited Findings that are about ``service``."""
    ids = set(cited)
    return [f for f in pack.findings if f.id in ids and about(f, service)]


def _strongest(findings: list[Finding]) -> float:
    return max((f.score for f in findings), default=0.0)


def floor_problems(model: Verdict, offline: Verdict, pack: EvidencePack, skill: Skill | None = None) -> list[str]:
    """Why ``model`` would be worse than ``offline`` or is not backed by its Findings; empty: accept it (``skill``:
    the Skill that answered, whose context signals back no inspection item)."""
    if model.pattern == "rca":
        return _rca(model, offline, pack)
    if model.pattern == "release_interception":
        return _release(model, offline, pack)
    return _inspection(model, offline, pack, ruled_signals(skill.decision) if skill is not None else None)


def _unbacked(pack: EvidencePack, claims: list[tuple[str, list[str]]], what: str) -> list[str]:
    bare = [service for service, cited in claims if not _backing(pack, cited, service)]
    return [f"{what} cite no Finding about their service: {', '.join(dict.fromkeys(bare))}"] if bare else []


def _rca(model: Verdict, offline: Verdict, pack: EvidencePack) -> list[str]:
    problems = _unbacked(pack, [(c.service, c.evidence) for c in model.root_causes], "root causes")
    if offline.needs_attention and model.needs_attention is False:
        problems.append("it says no attention is needed for an alert the detectors flagged as actionable")
    if offline.needs_attention and offline.root_causes and model.needs_attention and not model.root_causes:
        problems.append("it drops every root cause of an actionable alert")
    if model.needs_attention and offline.needs_attention is False:
        cited = {f.id: f for f in pack.findings}
        if _strongest([cited[i] for i in model.cited_ids() if i in cited]) < SIGNIFICANT:
            problems.append(f"it raises an alert judged noise without citing a Finding scoring {SIGNIFICANT} or more")
    ranked = {c.service for c in offline.root_causes}
    if model.root_causes and model.root_causes[0].service not in ranked:
        top = model.root_causes[0]
        if _strongest(_backing(pack, top.evidence, top.service)) < SIGNIFICANT:
            problems.append(f"its top cause {top.service} is not among the offline candidates and cites no Finding "
                            f"about it scoring {SIGNIFICANT} or more")
    return problems


def _release(model: Verdict, offline: Verdict, pack: EvidencePack) -> list[str]:
    problems = _unbacked(pack, [(c.service, c.evidence) for c in model.root_causes], "root causes")
    ours, theirs = CAUTION[model.decision or "pass"], CAUTION[offline.decision or "pass"]
    if ours < theirs:
        problems.append(f"{model.decision!r} is less cautious than the Skill's decision rules ({offline.decision!r})")
    elif ours > theirs:
        change = pack.event.change
        services = [change.service] if change is not None and change.service else pack.target_services
        backing = [f for s in services for f in _backing(pack, sorted(model.cited_ids()), s)]
        if _strongest(backing) < SIGNIFICANT:
            problems.append(f"{model.decision!r} is more cautious than {offline.decision!r} without citing a Finding "
                            f"about {', '.join(services) or 'the changed service'} scoring {SIGNIFICANT} or more")
    return problems


def _inspection(model: Verdict, offline: Verdict, pack: EvidencePack, ruled: set[str] | None = None) -> list[str]:
    problems = _unbacked(pack, [(i.service, i.evidence) for i in model.items], "items")
    flagged: dict[str, list[str]] = {}  # service -> the kinds the detectors flagged it with
    for item in offline.items:
        if item.severity in SERIOUS:
            flagged.setdefault(item.service, []).append(item.kind)
    kept = {i.service for i in model.items if i.severity in SERIOUS}
    dropped = sorted(set(flagged) - kept)
    if dropped:
        problems.append(f"it drops the warnings the detectors raised on {', '.join(dropped)}")
    renamed = [f"{i.service} ({' / '.join(flagged[i.service])} -> {i.kind})" for i in model.items
               if i.severity in SERIOUS and i.service in flagged
               and not any(same_kind(i.kind, k) for k in flagged[i.service])]
    if renamed:
        problems.append(f"it re-classifies what the detectors found on {', '.join(renamed)}")
    weak = [i.service for i in model.items if i.severity in SERIOUS and i.service not in flagged
            and _strongest([f for f in _backing(pack, i.evidence, i.service)
                            if not context_only(f, ruled)]) < WARNING_SCORE]
    if weak:
        problems.append(f"it flags {', '.join(dict.fromkeys(weak))} without citing a Finding scoring {WARNING_SCORE} "
                        "or more about it (what the detectors themselves would call a warning) of a signal the "
                        "Skill's rules judge")
    return problems


def reason_with_floor(model: Reasoner, offline: Reasoner, pack: EvidencePack, skill: Skill) -> ReasonerResult:
    """The offline verdict, replaced by the model's when :func:`floor_problems` finds nothing wrong with it.

    A model that fails (no valid answer, endpoint down, time limit) leaves the offline verdict too.
    The result's notes say which reasoner answered and why; ``result.llm`` records the model's run.
    """
    base = offline.reason(pack, skill)
    try:
        answer = model.reason(pack, skill)
    except (ReasonerError, LLMError) as exc:
        log.warning("reasoner %s failed, the %s verdict stands: %s", model.name, offline.name, exc)
        run = getattr(exc, "run", None) or LLMRun(model=model.name.removeprefix("llm:"), outcome="failed",
                                                  reasons=[str(exc)])
        return _offline_stands(base, run, f"{model.name} failed ({exc}); answered by {offline.name} instead",
                               getattr(exc, "usage", None))
    run = answer.llm or LLMRun(model=model.name.removeprefix("llm:"))
    problems = floor_problems(answer.verdict, base.verdict, pack, skill)
    if problems:
        run.outcome = "set_aside"
        run.reasons.extend(problems)
        note = (f"{model.name}'s answer was set aside, the {offline.name} verdict stands: {'; '.join(problems)}")
        result = _offline_stands(base, run, note, None)
        result.prompt_tokens += answer.prompt_tokens
        result.completion_tokens += answer.completion_tokens
        return result
    answer.notes = [*answer.notes, run.describe()]
    return answer


def _offline_stands(base: ReasonerResult, run: LLMRun, note: str, spent: object) -> ReasonerResult:
    prompt = getattr(spent, "prompt_tokens", 0)
    completion = getattr(spent, "completion_tokens", 0)
    return ReasonerResult(
        verdict=base.verdict,
        prompt_tokens=base.prompt_tokens + prompt,
        completion_tokens=base.completion_tokens + completion,
        notes=[note, run.describe(), *base.notes],
        llm=run,
    )
