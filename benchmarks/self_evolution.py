"""Self-evolution benchmark: correct one half of a set as an SRE team would, score the other half.

The protocol (``agent.evolve.protocol``) on every real development set whose RCA incidents span more
than one day or batch (``../shared/data``: nezha-ob by day, nezha-tt-dev by day) and on a simulated
set (by halves). The simulated set is investigated with a Skill library that has a blind spot
(``memory-pressure-rca`` without its memory metric), so there is something for Skill patches to fix.

For each set: the first half is investigated into a fresh memory; every miss (strict: a "no
attention" verdict is never a hit) is corrected with the labelled service and fault, a right service
with a differently named kind is corrected too, a right answer is confirmed. Rule-based patches and
the offline parameter search go through the replay gate (fix at least one corrected case, break none
of the regression set). The second half is then scored before (original library, no experience) and
after (evolved library + lessons of the corrected cases), strict top-1; the first half is scored
again to count cases lost. Offline reasoner, no LLM, unless asked for the LLM variant:

``--llm-local`` (the bundled SmolLM2-135M on llama.cpp, started here) or ``--llm`` (the ``BIANQUE_LLM_*``
endpoint) runs the same protocol with the model where the project routes to it: each miss's Skill patch
(at most ``--llm-patches`` misses; the replay gate decides as for rule patches, which it replaces),
experience notes (at most ``--llm-notes`` groups; validated and counted) and, with ``--llm-reason``,
every investigation's verdict (the offline verdict its floor). ``--reverse`` swaps the halves: the later day (or
half) is corrected and the first scored. Usage::

    .venv/bin/python benchmarks/self_evolution.py [--data DIR] [--sets nezha-ob,nezha-tt-dev,sim]
        [--sim-count 5] [--no-search] [--reverse] [--json]
        [--llm-local | --llm] [--llm-reason] [--llm-patches 3] [--llm-notes 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from common import SHARED_DATA, BenchResult, add_common_arguments, bench_settings, emit, err_console, fraction
from pydantic import SecretStr
from rich.table import Table

from agent.config import PROJECT_ROOT, Settings
from agent.eval.runner import find_bundles
from agent.evolve.protocol import ProtocolReport, event_day, run_protocol
from agent.evolve.protocol_llm import LLMPlan
from agent.evolve.regression import bundle_event
from agent.memory import Memory
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.loader import dump_skill_yaml, new_yaml

BLIND_SKILL = "memory-pressure-rca"
SIM_FAULTS = ("memory_leak", "slow_dependency", "traffic_spike", "noisy_alert")
SIM_SEED = 1000  # seeds >= 1000 are reserved for benchmarks
# The goals, in points of strict top-1 on the scored half (benchmarks may name data sets).
GOALS = {"nezha-ob": 10.0, "sim": 20.0}


def blind_library_dir(root: Path) -> Path:
    """A copy of the default Skills whose memory-pressure-rca reads no memory metric."""
    target = root / "skills"
    shutil.copytree(PROJECT_ROOT / "skills", target)
    path = target / f"{BLIND_SKILL}.yaml"
    raw = new_yaml().load(path.read_text(encoding="utf-8"))
    raw["data"]["metrics"] = [m for m in raw["data"]["metrics"] if m["id"] != "memory"]
    raw["decision"]["rules"] = [r for r in raw["decision"]["rules"] if "memory" not in r["if"].get("signals", [])]
    path.write_text(dump_skill_yaml(raw), encoding="utf-8")
    return target


def simulated_set(root: Path, count: int) -> list[Path]:
    """``2 x count`` RCA scenarios per fault kind, interleaved: each half holds ``count`` of every kind."""
    out = []
    for i in range(2 * count):
        for fault in SIM_FAULTS:
            scenario = build_scenario("rca", fault, SIM_SEED + i)
            out.append(write_scenario(scenario, root / f"{i:03d}-{fault}"))
    return out


def rca_bundles(directory: Path) -> list[Path]:
    """The labelled RCA bundles of a set."""
    return [b for b in find_bundles(directory)
            if (b / "label.yaml").is_file() and bundle_event(b).pattern.value == "rca"]


# The LLM variant's limits, for a small local model on a shared 2-core machine: one request at a time
# (llama.cpp keeps computing a request whose client gave up, so no retries), answers long enough for a
# whole Skill, the evidence pack cut to the strongest Findings.
LLM_LIMITS = {"llm_timeout_s": 300.0, "llm_max_retries": 0, "llm_max_tokens": 1536, "llm_max_findings": 8,
              "llm_investigation_timeout_s": 600.0}


@contextlib.contextmanager
def llm_endpoint(args: argparse.Namespace, scratch: Path) -> Iterator[dict[str, str] | None]:
    """The BIANQUE_LLM_* settings of the LLM variant (a local server started here), or None offline."""
    if args.llm_local:
        from agent.llm.local import LocalServer

        with LocalServer(log_path=scratch / "llm-server.log") as server:
            yield server.env()
        return
    if args.llm:
        env = {k: v for k, v in os.environ.items() if k.startswith("BIANQUE_LLM_")}
        if not env.get("BIANQUE_LLM_BASE_URL"):
            raise SystemExit("--llm: set BIANQUE_LLM_BASE_URL (or use --llm-local)")
        yield env
        return
    yield None


def llm_plan(settings: Settings, env: dict[str, str] | None, args: argparse.Namespace) -> LLMPlan | None:
    """The LLM variant's plan on ``settings`` (None offline)."""
    if env is None:
        return None
    update = {**LLM_LIMITS, "llm_base_url": env["BIANQUE_LLM_BASE_URL"],
              "llm_model": env.get("BIANQUE_LLM_MODEL", settings.llm_model)}
    if env.get("BIANQUE_LLM_API_KEY"):
        update["llm_api_key"] = SecretStr(env["BIANQUE_LLM_API_KEY"])
    return LLMPlan(settings.model_copy(update=update), reason=args.llm_reason, max_patches=args.llm_patches,
                   max_notes=args.llm_notes)


def one_set(name: str, bundles: list[Path], home: Path, *, skills_dir: Path | None, search: bool,
            by_day: bool, llm: dict[str, str] | None = None, args: argparse.Namespace | None = None,
            reverse: bool = False) -> ProtocolReport:
    """Run the protocol on one set with its own fresh home and memory (the LLM variant when ``llm``)."""
    with bench_settings(home) as settings:
        if skills_dir is not None:
            settings = settings.model_copy(update={"skills_dirs": [skills_dir]})
        plan = llm_plan(settings, llm, args) if args is not None else None
        with Memory(settings.resolved_database_url) as memory:
            return run_protocol(bundles, settings, memory, search=search, by_day=by_day, llm=plan, reverse=reverse,
                                progress=lambda m: err_console.print(f"[dim]{name}: {m}[/dim]"))


def rate(passes: Sequence[bool]) -> str:
    return fraction(sum(passes), len(passes))


def points(report: ProtocolReport) -> float:
    n = len(report.scored_before) or 1
    return 100.0 * (sum(report.scored_after) - sum(report.scored_before)) / n


LLM_OUTCOMES = {"patch": ("valid", "failed", "error"), "note": ("valid", "failed", "error"),
                "verdict": ("accepted", "set_aside", "failed", "fail_safe")}


def llm_table(results: dict[str, ProtocolReport]) -> Table | None:
    """What the model answered per set: Skill patches and notes valid / failed / endpoint error, verdicts."""
    rows = {name: r.llm for name, r in results.items() if r.llm is not None}
    if not rows:
        return None
    table = Table(title="LLM variant: the model's answers (valid = parsed and passed validation)")
    for column in ("set", "patches valid / failed / error", "notes valid / failed / error",
                   "verdicts accepted / set aside / failed / fail-safe", "model time"):
        table.add_column(column)
    for name, tally in rows.items():
        cells = [" / ".join(str(tally.get(purpose, o)) for o in outcomes) for purpose, outcomes in LLM_OUTCOMES.items()]
        table.add_row(name, *cells, f"{tally.seconds:.0f} s")
    return table


def tables(results: dict[str, ProtocolReport], seconds: dict[str, float], variant: str = "offline"
           ) -> dict[str, Table]:
    """The summary table and one details table per set."""
    summary = Table(title=f"Self-evolution: correct one half, score the other (strict top-1, {variant})")
    for column in ("set", "split", "scored half before", "after", "change", "goal", "with fault kind before / after",
                   "lost (corrected half)",
                   "lost (scored half)", "corrections", "patches accepted / rejected", "lessons", "time"):
        summary.add_column(column)
    for name, r in results.items():
        goal = GOALS.get(name)
        change = points(r)
        verdict = "-" if goal is None else (f"+{goal:.0f} pts: " + ("met" if change >= goal and r.lost == 0
                                                                     else "not met"))
        corrections = r.counts["corrected: misses"] + r.counts["corrected: wrong kind only"]
        summary.add_row(
            name, f"{len(r.corrected_half)} / {len(r.scored_half)}", rate(r.scored_before), rate(r.scored_after),
            f"{change:+.1f} pts", verdict, f"{rate(r.kind_before)} / {rate(r.kind_after)}",
            f"{r.lost} of {sum(r.corrected_before)}",
            f"{r.scored_lost} of {sum(r.scored_before)}",
            f"{corrections} (+{r.counts['confirmed right']} confirmed)",
            f"{r.counts['patches accepted']} / {r.counts['patches rejected']}", str(r.lessons),
            f"{seconds[name]:.0f} s")
    out = {"summary": summary}
    llm = llm_table(results)
    if llm is not None:
        out["llm"] = llm
    for name, r in results.items():
        details = Table(title=f"{name}: what happened")
        details.add_column("item")
        details.add_column("value")
        for key, value in sorted(r.counts.items()):
            details.add_row(key, str(value))
        details.add_row("corrected half right before / after",
                        f"{rate(r.corrected_before)} / {rate(r.corrected_after)}")
        details.add_row("scored-half answers citing experience at the top", str(r.cited))
        details.add_row("team fault kinds learned", ", ".join(r.team_kinds) or "-")
        for line in r.patches:
            details.add_row("accepted patch", line)
        for line in r.llm.errors if r.llm is not None else []:
            details.add_row("model answer refused", line)
        out[name] = details
        if r.tried:
            tried = Table(title=f"{name}: offline parameter search, every candidate through the replay gate")
            for column in ("Skill", "change", "corrected cases fixed", "cases broken", "gate"):
                tried.add_column(column)
            for skill, change, fixed, broken, accepted in r.tried:
                tried.add_row(skill, change, str(fixed), str(broken), "accepted" if accepted else "rejected")
            out[f"{name}-search"] = tried
    return out


def main(argv: Sequence[str] | None = None) -> BenchResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="directory of the real sets")
    parser.add_argument("--sets", default="nezha-ob,nezha-tt-dev,sim",
                        help="real sets under --data and/or 'sim' (comma-separated)")
    parser.add_argument("--sim-count", type=int, default=5, help="simulated scenarios per fault kind and half")
    parser.add_argument("--no-search", action="store_true", help="skip the offline parameter search")
    parser.add_argument("--limit", type=int, default=0, help="at most this many bundles per set (0: all)")
    parser.add_argument("--reverse", action="store_true", help="correct the later half, score the first")
    llm = parser.add_mutually_exclusive_group()
    llm.add_argument("--llm-local", action="store_true", help="LLM variant: the bundled model, started here")
    llm.add_argument("--llm", action="store_true", help="LLM variant: the BIANQUE_LLM_* endpoint")
    parser.add_argument("--llm-reason", action="store_true", help="LLM variant: the model answers every verdict too")
    parser.add_argument("--llm-patches", type=int, default=3, help="LLM variant: misses whose patch the model writes")
    parser.add_argument("--llm-notes", type=int, default=3, help="LLM variant: experience notes the model writes")
    add_common_arguments(parser, knowledge=False)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="bianque-evolution-"))
    results: dict[str, ProtocolReport] = {}
    seconds: dict[str, float] = {}
    try:
        with llm_endpoint(args, root) as env:
            run_sets(args, root, env, results, seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    data = {name: {"scored_before": sum(r.scored_before), "scored_after": sum(r.scored_after),
                   "scored": len(r.scored_before), "points": round(points(r), 1), "lost": r.lost,
                   "kind_before": sum(r.kind_before), "kind_after": sum(r.kind_after),
                   "scored_lost": r.scored_lost, "scored_lost_cases": r.scored_lost_cases,
                   "counts": dict(r.counts), "patches": r.patches,
                   "lessons": r.lessons, "team_kinds": r.team_kinds, "cited": r.cited, "search": r.tried,
                   "llm": None if r.llm is None else {"answers": dict(r.llm.counts), "seconds": round(r.llm.seconds),
                                                      "errors": r.llm.errors}}
            for name, r in results.items()}
    variant = "offline" if not (args.llm or args.llm_local) else \
        "LLM patches and notes" + (" and verdicts" if args.llm_reason else ", offline verdicts")
    variant += ", halves swapped" if args.reverse else ""
    return BenchResult(tables=tables(results, seconds, variant), data=data)


def run_sets(args: argparse.Namespace, root: Path, env: dict[str, str] | None, results: dict[str, ProtocolReport],
             seconds: dict[str, float]) -> None:
    """Run the protocol on every set asked for, filling ``results`` and ``seconds``."""
    for name in [s for s in args.sets.split(",") if s]:
        started = time.perf_counter()
        skills_dir = None
        if name == "sim":
            bundles = simulated_set(root / "sim", args.sim_count)
            skills_dir = blind_library_dir(root / "sim-skills")
        else:
            bundles = rca_bundles(args.data / name)
            if len({event_day(b) for b in bundles}) < 2 and len(bundles) < 4:
                err_console.print(f"{name}: skipped (fewer than two days or batches of RCA cases)")
                continue
        if args.limit:
            bundles = bundles[: args.limit]
        home = (args.home / name) if args.home else root / f"home-{name}"
        results[name] = one_set(name, bundles, home, skills_dir=skills_dir, search=not args.no_search,
                                by_day=name != "sim", llm=env, args=args, reverse=args.reverse)
        seconds[name] = time.perf_counter() - started


if __name__ == "__main__":
    cli_args = sys.argv[1:]
    emit(main(cli_args), "--json" in cli_args)
