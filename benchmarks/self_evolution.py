"""Self-evolution benchmark: a Skill library with a blind spot learns from engineers' corrections.

1. Copy ``skills/`` and blind one Skill: ``memory-pressure-rca`` loses its memory metric (and the
   decision rule on it), so it can no longer tell a memory leak from a slow service.
2. Training batch: simulated RCA scenarios of the studied fault kinds plus control kinds, investigated
   offline and stored in memory like real cases.
3. For every miss, the correction an engineer would give (the label's truth) is stored; unless an
   earlier accepted patch already fixes the case, a patch is proposed (rule-based, offline), replayed
   against every stored case of that Skill and accepted only without regressions.
4. Fresh batch: the same fault kinds with new seeds, run with the blind library, the evolved library
   and the intact library (reference). Also checks that no training case that passed now fails.

Pass = the attention judgement is right and, for an actionable alert, the top root cause names the
labelled service and fault kind. Usage::

    .venv/bin/python benchmarks/self_evolution.py [--train 10] [--test 10] [--faults memory_leak]
        [--control slow_dependency,traffic_spike,noisy_alert,healthy] [--control-n 4]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.config import PROJECT_ROOT, Settings
from agent.evolve.corrections import correct_case
from agent.evolve.proposals import NoProposal
from agent.evolve.truth import Truth, judge, truth_from_label
from agent.evolve.workbench import Workbench
from agent.investigate import investigate
from agent.memory import Memory
from agent.memory.skill_versions import text_sha256
from agent.runtime import bundle_toolkit, load_skills
from agent.sim.scenario import build_scenario, write_scenario
from agent.skills.library import SkillLibrary, load_library
from agent.skills.loader import dump_skill_yaml, new_yaml

BLIND_SKILL = "memory-pressure-rca"
TRAIN_SEED, TEST_SEED = 1000, 5000  # seeds >= 1000 are reserved for benchmarks


@dataclass
class Scenario:
    fault: str
    seed: int
    path: Path
    truth: Truth


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


def scenarios(root: Path, faults: list[str], count: int, seed: int) -> list[Scenario]:
    """``count`` RCA bundles per fault kind, seeds from ``seed``."""
    out = []
    for fault in faults:
        for s in range(seed, seed + count):
            path = write_scenario(build_scenario("rca", fault, s), root / f"{fault}-{s}")
            out.append(Scenario(fault, s, path, truth_from_label("rca", load_label(path))))
    return out


def run(scenario: Scenario, settings: Settings, library: SkillLibrary, memory: Memory | None = None):
    bundle = load_bundle(scenario.path)
    toolkit = bundle_toolkit(bundle, settings, library=library, memory=memory)
    return investigate(bundle.event, toolkit, source="benchmark", bundle_path=str(scenario.path))


def score(batch: list[Scenario], settings: Settings, library: SkillLibrary) -> list[bool]:
    """Pass/fail of every scenario, in batch order."""
    return [judge(run(s, settings, library).verdict, s.truth).passed for s in batch]


def by_fault(batch: list[Scenario], passes: list[bool]) -> dict[str, list[bool]]:
    grouped: dict[str, list[bool]] = defaultdict(list)
    for s, ok in zip(batch, passes, strict=True):
        grouped[s.fault].append(ok)
    return grouped


def correction_fields(truth: Truth) -> dict:
    if truth.needs_attention is False:
        return {"needs_attention": False}
    return {"service": truth.service, "fault": truth.fault}


def train(batch: list[Scenario], settings: Settings, memory: Memory) -> tuple[dict, Counter, list[str], Workbench]:
    """Investigate the batch into memory, then correct every miss and evolve the Skills."""
    library = load_skills(settings)
    first: dict[str, tuple[Scenario, str, bool]] = {}
    for s in batch:
        result = run(s, settings, library, memory)
        first[result.case_id] = (s, result.skill["name"], judge(result.verdict, s.truth).passed)
    bench = Workbench.from_settings(settings, memory)
    counts: Counter = Counter()
    accepted: list[str] = []
    for case_id, (s, skill, passed) in first.items():
        if passed:
            continue
        correct_case(memory, case_id, correct=False, note="benchmark correction", **correction_fields(s.truth))
        counts["corrections"] += 1
        case = memory.get_case(case_id)
        current = bench.skill(skill)
        key = text_sha256(dump_skill_yaml(current.raw))
        if bench.replayer.judge_case(case, s.truth, bench.library, skill, key).passed:
            counts["already fixed"] += 1
            continue
        try:
            proposal = bench.propose_for_case(case_id, skill=skill)
        except NoProposal:
            counts["no proposal"] += 1
            continue
        report = bench.replay(proposal)
        if report.accepted:
            bench.accept(proposal, author="benchmark")
            counts["accepted"] += 1
            accepted.append(f"{proposal.skill} v{proposal.patched.new_version}: {'; '.join(proposal.reasons)}")
        else:
            counts["rejected"] += 1
    return first, counts, accepted, bench


def rate(passes: list[bool]) -> str:
    return f"{sum(passes)}/{len(passes)} ({100 * sum(passes) / len(passes):.0f} %)" if passes else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=10, help="training scenarios per studied fault kind")
    parser.add_argument("--test", type=int, default=10, help="fresh scenarios per studied fault kind")
    parser.add_argument("--faults", default="memory_leak", help="studied fault kinds (comma-separated)")
    parser.add_argument("--control", default="slow_dependency,traffic_spike,noisy_alert,healthy",
                        help="control fault kinds, to show nothing else breaks")
    parser.add_argument("--control-n", type=int, default=4, help="scenarios per control kind and batch")
    args = parser.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    control = [f for f in args.control.split(",") if f]
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="bianque-evolution-"))
    try:
        settings = Settings(home=root / "home", skills_dirs=[blind_library_dir(root)], llm_base_url=None,
                            database_url=None, chroma_url=None, user_skills_dir=None)
        train_batch = scenarios(root / "train", faults, args.train, TRAIN_SEED) + \
            scenarios(root / "train", control, args.control_n, TRAIN_SEED)
        test_batch = scenarios(root / "test", faults, args.test, TEST_SEED) + \
            scenarios(root / "test", control, args.control_n, TEST_SEED)
        blind = load_skills(settings)
        with Memory(settings.resolved_database_url) as memory:
            first, counts, accepted, _bench = train(train_batch, settings, memory)
        evolved = load_skills(settings)
        intact = load_library([PROJECT_ROOT / "skills"])
        fresh = [score(test_batch, settings, lib) for lib in (blind, evolved, intact)]
        train_after = score(train_batch, settings, evolved)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    before, after, reference = (by_fault(test_batch, passes) for passes in fresh)
    train_first = [ok for _s, _skill, ok in first.values()]  # same order as train_batch
    regressed = sum(1 for was, now in zip(train_first, train_after, strict=True) if was and not now)
    fresh_regressed = sum(1 for was, now in zip(fresh[0], fresh[1], strict=True) if was and not now)
    report(faults, control, before, after, reference, train_first, train_after, counts, accepted,
           regressed, fresh_regressed, time.perf_counter() - started)


def report(faults, control, before, after, reference, train_first, train_after, counts, accepted,
           regressed, fresh_regressed, seconds) -> None:
    """Print the tables."""
    print(f"## Self-evolution: {BLIND_SKILL} without its memory metric (offline reasoner, rule-based patches)\n")
    print("| fresh batch (new seeds) | cases | blind library | after corrections | intact library |")
    print("|---|---:|---:|---:|---:|")
    for fault in [*faults, *control]:
        kind = "studied" if fault in faults else "control"
        print(f"| {fault} ({kind}) | {len(before[fault])} | {rate(before[fault])} | {rate(after[fault])} "
              f"| {rate(reference[fault])} |")
    all_before = [p for f in before.values() for p in f]
    all_after = [p for f in after.values() for p in f]
    all_ref = [p for f in reference.values() for p in f]
    print(f"| **all** | {len(all_before)} | {rate(all_before)} | {rate(all_after)} | {rate(all_ref)} |")
    print(f"| fresh cases passing with the blind library that fail after | | | {fresh_regressed} | |\n")
    print("| training batch | value |")
    print("|---|---:|")
    print(f"| cases | {len(train_first)} |")
    print(f"| passed when first investigated | {rate(train_first)} |")
    print(f"| corrections used (one per miss) | {counts['corrections']} |")
    print(f"| patches accepted / rejected by replay | {counts['accepted']} / {counts['rejected']} |")
    print(f"| misses with no rule-based patch | {counts['no proposal']} |")
    print(f"| misses already fixed by an earlier patch | {counts['already fixed']} |")
    print(f"| passing after evolution | {rate(train_after)} |")
    print(f"| previously passing cases that regressed | {regressed} of {sum(train_first)} |\n")
    for line in accepted:
        print(f"- accepted {line}")
    verdict = "no regression" if regressed == fresh_regressed == 0 else "REGRESSIONS FOUND"
    print(f"\n{verdict}; took {seconds:.0f} s")


if __name__ == "__main__":
    main()
