"""The LLM path against any OpenAI-compatible endpoint, beside the offline reasoner, on labelled cases.

Cases: the curated scenarios (``examples/scenarios``), ``--count`` fresh simulator scenarios per
pattern (seeds from ``--seed-start``, >= 1000), and optionally the first ``--real-cases`` cases of
each ``--real SET`` in ``../shared/data``. Each case is investigated twice through the graph: offline
only, then with the model (Skill choice and verdict, the floor rule applied). Per pattern it prints:
answers valid at the first try, after retries, set aside by the floor rule, failed, replaced by the
fail-safe verdict (the data could not answer); agreement of the model's own verdict with the offline
one; the pass rate of the offline verdict, of the model's own verdict and of the final (floored) one;
latency and tokens per investigation.

The endpoint: ``--local`` starts the bundled SmolLM2-135M (``bianque llm local``), else
``--base-url``/``--model``/``--api-key`` or the ``BIANQUE_LLM_*`` settings. A larger model later::

    BIANQUE_LLM_BASE_URL=http://localhost:8000/v1 BIANQUE_LLM_MODEL=Qwen/Qwen2.5-7B-Instruct \\
        .venv/bin/python benchmarks/llm_reasoner.py --count 3

Usage::

    .venv/bin/python benchmarks/llm_reasoner.py --local [--count 2] [--curated N] [--max-tokens 512]
        [--max-findings 8] [--real nezha-ob --real-cases 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import BenchResult, add_common_arguments, bench_settings, emit, fraction, fresh_scenarios, progress_bar
from rich.table import Table

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, Settings
from agent.eval.runner import find_bundles
from agent.investigate import investigate
from agent.runtime import bundle_toolkit
from agent.scoring import SEVERE, score_case
from agent.sim.scenario import PATTERNS
from agent.verdict import Verdict

CURATED = PROJECT_ROOT / "examples" / "scenarios"
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@dataclass
class Row:
    """One case: what the model did and how each verdict scored."""

    case: str
    source: str
    pattern: str
    outcome: str  # accepted | set_aside | failed | fail_safe | none (the model was not asked)
    valid_at: int | None
    agrees: bool | None  # the model's own verdict agrees with the offline one (None: it gave none)
    offline_pass: bool
    model_pass: bool | None
    final_pass: bool
    seconds: float
    tokens: int
    reasons: list[str] = field(default_factory=list)


def gist(verdict: Verdict) -> tuple:
    """What two verdicts must share to agree: the decision and what it points at."""
    if verdict.pattern == "rca":
        top = verdict.root_causes[0].service if verdict.needs_attention and verdict.root_causes else None
        return bool(verdict.needs_attention), top
    if verdict.pattern == "release_interception":
        return (verdict.decision,)
    return (frozenset(i.service for i in verdict.items if i.severity in SEVERE),)


def run_case(path: Path, source: str, offline_settings: Settings, llm_settings: Settings) -> Row | None:
    """Investigate ``path`` offline and with the model; None when it has no label."""
    label = load_label(path)
    if label is None:
        return None
    bundle = load_bundle(path)
    offline = investigate(bundle.event, bundle_toolkit(bundle, offline_settings), source="eval")
    result = investigate(bundle.event, bundle_toolkit(bundle, llm_settings), source="eval")
    offline_score = score_case(path.name, offline.skill["name"], offline.verdict, label)
    final_score = score_case(path.name, result.skill["name"], result.verdict, label)
    run = result.llm or {}
    own = Verdict.model_validate(run["verdict"]) if run.get("verdict") else None
    return Row(
        case=path.name, source=source, pattern=offline.verdict.pattern, outcome=run.get("outcome", "none"),
        valid_at=run.get("valid_at"),
        agrees=None if own is None else gist(own) == gist(offline.verdict),
        offline_pass=offline_score.passed,
        model_pass=None if own is None else score_case(path.name, result.skill["name"], own, label).passed,
        final_pass=final_score.passed,
        seconds=round(result.timings.get("reason", 0.0) + result.timings.get("select_skill", 0.0), 2),
        tokens=int(run.get("prompt_tokens", 0)) + int(run.get("completion_tokens", 0)),
        reasons=list(run.get("reasons", []))[-2:],
    )


def interleaved(bundles: list[Path]) -> list[Path]:
    """The bundles taking turns by name prefix (``rca-``, ``release-``, ...), so any first N mix the patterns."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in bundles:
        groups[path.name.split("-")[0]].append(path)
    turns = [(i, prefix, path) for prefix, paths in groups.items() for i, path in enumerate(paths)]
    return [path for _, _, path in sorted(turns, key=lambda t: (t[0], t[1]))]


def cases(args: argparse.Namespace, scratch: Path) -> list[tuple[Path, str]]:
    """(bundle, source) for every case asked for."""
    out = [(p, "curated") for p in interleaved(find_bundles(CURATED))][: args.curated]
    patterns = [p for p in args.patterns.split(",") if p]
    if args.count:
        for bundles in fresh_scenarios(scratch / "fresh", patterns, args.count, args.seed_start).values():
            out += [(p, "fresh") for p in bundles]
    for name in args.real:
        root = SHARED_DATA / name
        if not root.is_dir():
            raise SystemExit(f"no data set {root}")
        out += [(p, name) for p in find_bundles(root)[: args.real_cases]]
    return out


def summarise(rows: list[Row]) -> dict[str, object]:
    """The measures of a group of rows."""
    asked = [r for r in rows if r.outcome != "none"]
    own = [r for r in rows if r.model_pass is not None]
    seconds = [r.seconds for r in asked]
    return {
        "cases": len(rows),
        "valid_first": sum(1 for r in asked if r.valid_at == 1),
        "valid_after_retries": sum(1 for r in asked if r.valid_at and r.valid_at > 1),
        "set_aside": sum(1 for r in asked if r.outcome == "set_aside"),
        "failed": sum(1 for r in asked if r.outcome == "failed"),
        "fail_safe": sum(1 for r in asked if r.outcome == "fail_safe"),
        "accepted": sum(1 for r in asked if r.outcome == "accepted"),
        "agree": sum(1 for r in own if r.agrees), "own": len(own),
        "offline_pass": sum(r.offline_pass for r in rows),
        "model_pass": sum(1 for r in own if r.model_pass),
        "final_pass": sum(r.final_pass for r in rows),
        "median_s": statistics.median(seconds) if seconds else None,
        "max_s": max(seconds) if seconds else None,
        "mean_tokens": round(statistics.fmean([r.tokens for r in asked])) if asked else None,
    }


def table(groups: dict[str, dict[str, object]], title: str) -> Table:
    out = Table(title=title)
    columns = ("group", "cases", "valid 1st try", "valid after retries", "set aside (floor)", "failed",
               "fail-safe (could not judge)",
               "model agrees w/ offline", "offline pass", "model's own pass", "final pass",
               "s / investigation (median, max)", "tokens / investigation")
    for column in columns:
        out.add_column(column)
    for name, s in groups.items():
        n = int(s["cases"])
        latency = "—" if s["median_s"] is None else f"{s['median_s']:.1f}, {s['max_s']:.1f}"
        out.add_row(
            name, str(n), fraction(int(s["valid_first"]), n), fraction(int(s["valid_after_retries"]), n),
            fraction(int(s["set_aside"]), n), fraction(int(s["failed"]), n), fraction(int(s["fail_safe"]), n),
            fraction(int(s["agree"]), int(s["own"])), fraction(int(s["offline_pass"]), n),
            fraction(int(s["model_pass"]), int(s["own"])), fraction(int(s["final_pass"]), n), latency,
            "—" if s["mean_tokens"] is None else str(s["mean_tokens"]),
        )
    return out


@contextlib.contextmanager
def endpoint(args: argparse.Namespace, scratch: Path) -> Iterator[dict[str, str]]:
    """The BIANQUE_LLM_* settings to use: a local server started here, or the flags and environment."""
    if args.local:
        from agent.llm.local import LocalServer

        with LocalServer(log_path=scratch / "llm-server.log") as server:
            yield server.env()
        return
    env = {k: v for k, v in os.environ.items() if k.startswith("BIANQUE_LLM_")}
    for flag, key in (("base_url", "BIANQUE_LLM_BASE_URL"), ("model", "BIANQUE_LLM_MODEL"),
                      ("api_key", "BIANQUE_LLM_API_KEY")):
        if getattr(args, flag):
            env[key] = getattr(args, flag)
    if not env.get("BIANQUE_LLM_BASE_URL"):
        raise SystemExit("no endpoint: pass --local, or --base-url (or set BIANQUE_LLM_BASE_URL)")
    yield env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="start the bundled model on a local llama.cpp server")
    parser.add_argument("--base-url", help="OpenAI-compatible base URL (default BIANQUE_LLM_BASE_URL)")
    parser.add_argument("--model", help="model name (default BIANQUE_LLM_MODEL)")
    parser.add_argument("--api-key", help="API key (default BIANQUE_LLM_API_KEY)")
    parser.add_argument("--max-tokens", type=int, default=512, help="cap on one answer's tokens (default 512)")
    parser.add_argument("--max-findings", type=int, default=None,
                        help="Findings shown to the model (default BIANQUE_LLM_MAX_FINDINGS or 30)")
    parser.add_argument("--count", type=int, default=2, help="fresh simulator scenarios per pattern (default 2)")
    parser.add_argument("--seed-start", type=int, default=1000)
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--curated", type=int, default=None,
                        help="take only the first N of examples/scenarios (default all; 0: none)")
    parser.add_argument("--real", action="append", default=[], help="a data set in ../shared/data (repeatable)")
    parser.add_argument("--real-cases", type=int, default=3, help="cases taken from each --real set (default 3)")
    add_common_arguments(parser, knowledge=False)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> BenchResult:
    """Investigate every case offline and with the model; print the table."""
    args = parse_args(argv)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bianque-llm-bench-") as tmp, bench_settings(args.home) as offline:
        scratch = Path(tmp)
        todo = cases(args, scratch)
        with endpoint(args, scratch) as env:
            values = {key.removeprefix("BIANQUE_").lower(): value for key, value in env.items()}
            update = {**values, "llm_max_tokens": args.max_tokens}
            if args.max_findings:
                update["llm_max_findings"] = args.max_findings
            llm_settings = Settings.model_validate({**offline.model_dump(), **update})  # coerces the strings
            with progress_bar(f"investigating with {llm_settings.llm_model}", len(todo)) as advance:
                for path, source in todo:
                    row = run_case(path, source, offline, llm_settings)
                    if row is not None:
                        rows.append(row)
                    advance()
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.pattern].append(row)
        groups[f"source: {row.source}"].append(row)
    summary = {name: summarise(group) for name, group in groups.items()}
    summary["all"] = summarise(rows)
    model = llm_settings.llm_model
    result = BenchResult(
        tables={"llm": table(summary, f"LLM path ({model} at {llm_settings.llm_base_url}, answers <= "
                                      f"{args.max_tokens} tokens, <= {llm_settings.llm_max_findings} Findings shown) "
                                      "vs the offline reasoner")},
        data={"model": model, "base_url": llm_settings.llm_base_url, "max_tokens": args.max_tokens,
              "max_findings": llm_settings.llm_max_findings,
              "summary": summary, "cases": [asdict(r) for r in rows]},
    )
    emit(result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
