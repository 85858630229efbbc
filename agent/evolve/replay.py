"""Replay a patched Skill against its corrected cases and a regression set before it is accepted.

Two parts, both shown in the replay table:

- **corrected**: the Skill's stored cases whose latest correction says the answer was wrong;
- **regression**: every other case with a known truth (a correction confirming the answer, or the
  bundle's ``label.yaml``) plus the labelled bundles of the regression set
  (:mod:`agent.evolve.regression`: registered with ``bianque skills regression add DIR``, the curated
  scenarios by default) of the Skill's pattern.

Each is investigated twice, offline and without memory writes: with the current Skill ("before") and
the patched one ("after"), both forced to answer with ``skill=<name>``. The patch is accepted only when
it fixes at least one corrected case **and** no case of either part that passed before fails after; a
patch fixing nothing is rejected whatever else it does. Fault kinds are compared through the team's
learned vocabulary when one is given (:class:`agent.reasoners.lessons.Vocabulary`), a stored case through what
the other corrected cases taught (:meth:`~agent.reasoners.lessons.Vocabulary.same_for`): none vouches for itself.

Replay uses the offline evidence reasoner by default (deterministic and free); ``use_llm=True``
replays with the configured LLM reasoner instead.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.bundles.case_data import kept_folder_present
from agent.bundles.reader import CaseBundle, load_bundle, read_bundle
from agent.bundles.validate import real_path
from agent.memory.cases import MAX_LIST_LIMIT
from agent.memory.records import CaseRecord
from agent.memory.skill_versions import text_sha256
from agent.memory.truth import FaultMatch, Judgement, Truth, case_skill, judge, truth_for_case
from agent.skills.library import SkillLibrary
from agent.skills.loader import LoadedSkill
from agent.verdict import Verdict

Runner = Callable[[CaseRecord, SkillLibrary, str], Verdict]
ROLES = ("corrected", "regression")


@dataclass
class CaseReplay:
    """One case, before and after the patch."""

    case_id: str
    truth: str
    role: str = "regression"  # corrected (answered wrong, a fix is wanted) | regression (must not break)
    before: Judgement | None = None
    after: Judgement | None = None
    skipped: str = ""

    @property
    def status(self) -> str:
        if self.skipped or self.before is None or self.after is None:
            return "skipped"
        if self.before.passed and not self.after.passed:
            return "regressed"
        if not self.before.passed and self.after.passed:
            return "fixed"
        return "pass" if self.after.passed else "fail"

    def row(self) -> dict[str, str]:
        """One line of a replay table (CLI, API, UI): case, truth, before, after, result."""
        before = self.before.detail if self.before else self.skipped
        after = self.after.detail if self.after else ""
        return {"case": self.case_id, "truth": self.truth, "before": before, "after": after, "result": self.status}


@dataclass
class ReplayReport:
    """Per-case results and the acceptance decision with its reason."""

    skill: str
    target_case: str | None
    cases: list[CaseReplay] = field(default_factory=list)
    accepted: bool = False
    reason: str = ""
    notes: list[str] = field(default_factory=list)  # what the faces say beside the tables (the regression set's)

    def count(self, status: str, role: str | None = None) -> int:
        return sum(1 for c in self.cases if c.status == status and (role is None or c.role == role))

    def part(self, role: str) -> list[CaseReplay]:
        """The cases of one part of the replay: ``corrected`` or ``regression``."""
        return [c for c in self.cases if c.role == role]

    @property
    def regressions(self) -> list[CaseReplay]:
        return [c for c in self.cases if c.status == "regressed"]

    def rows(self) -> dict[str, list[dict[str, str]]]:
        """The replay table of each part, ``corrected`` then ``regression``."""
        return {role: [c.row() for c in self.part(role)] for role in ROLES}


def replace_skill(library: SkillLibrary, loaded: LoadedSkill, source: Path | None = None) -> SkillLibrary:
    """A copy of ``library`` in which ``loaded`` replaces the Skill of the same name."""
    patched = dataclasses.replace(loaded, path=source) if source is not None else loaded
    return dataclasses.replace(library, skills={**library.skills, loaded.name: patched})


def investigate_runner(
    settings: Any, *, use_llm: bool = False, knowledge: Any = None, bundles: BundleCache | None = None
) -> Runner:
    """Run a case's bundle through the graph with a given library, no memory, answering with one Skill.

    ``bundles``: where the bundles already read are kept (the :class:`Replayer`'s, so its check that a case can be
    replayed, every replay and the proposal's context share one read); none: each run reads its bundle."""
    from agent.investigate import investigate
    from agent.runtime import bundle_toolkit

    run_settings = settings if use_llm else settings.model_copy(update={"llm_base_url": None})

    def run(case: CaseRecord, library: SkillLibrary, skill: str) -> Verdict:
        # a bundle refused now raises as the loader does, naming its problems
        bundle = (bundles.get(case) if bundles is not None else None) or load_bundle(Path(case.bundle_path or ""))
        toolkit = bundle_toolkit(bundle, run_settings, library=library, knowledge=knowledge, memory=None)
        return investigate(case.event, toolkit, skill=skill, source="replay").verdict

    return run


REFUSALS_SHOWN = 3  # problems of a refused bundle named in why it cannot be replayed (`bundle validate` lists all)


def replay_bundle(case: CaseRecord) -> tuple[CaseBundle | None, str | None]:
    """The case's bundle as the bundle loader reads it (``read_bundle``), or None and why the case cannot be replayed:
    its bundle moved or deleted, it was investigated on live sources and has none, or the loader refuses the bundle
    now (its event.yaml: a release event naming no change, stored before such a bundle was invalid; a data file:
    a metrics.csv row that is not a number), its first problems named."""
    if not case.bundle_path:
        return None, "no bundle to replay from"
    path = Path(case.bundle_path)
    if not kept_folder_present(path):  # set aside by a prune under way: what it leaves
        return None, "its bundle is gone"
    bundle, errors = read_bundle(path)
    if bundle is not None:
        return bundle, None
    shown = "; ".join(map(str, errors[:REFUSALS_SHOWN]))
    more = f"; more: `bianque bundle validate {path}` lists them all" if len(errors) > REFUSALS_SHOWN else ""
    return None, f"its bundle is refused now: {shown}{more}"


def unreplayable(case: CaseRecord) -> str | None:
    """Why a case cannot be replayed (see :func:`replay_bundle`); None when it can."""
    return replay_bundle(case)[1]


MAX_KEPT_BUNDLE_BYTES = 256 * 1024 * 1024  # parsed bundles a BundleCache keeps, as _parsed_bytes reckons them
# What a parsed record holds beside its arrays, about (measured on the nezha bundles: 0.6 to 0.95 KB a log line
# with its fields; the files on disk say little, gzipped logs take 15 times their size once parsed).
RECORD_BYTES = {"series": 512, "logs": 1024, "changes": 512}


def _parsed_bytes(bundle: CaseBundle) -> int:
    """About how much memory a parsed bundle holds: its series' arrays and so much a record."""
    arrays = sum(s.timestamps.nbytes + s.values.nbytes for s in bundle.series)
    return arrays + sum(size * len(getattr(bundle, part)) for part, size in RECORD_BYTES.items())


class BundleCache:
    """The bundles of replayed cases, each read and parsed once (:func:`replay_bundle`) while it is kept.

    A search replays every corrected case and the regression set for each change it tries; the check that a case
    can be replayed, each replay and a proposal's context all want the same bundle. Parsed bundles are kept least
    recently used first out, up to about ``max_bytes`` parsed (the last one read is always kept), so a
    large regression set is read again rather than held whole; why a case cannot be replayed is kept for the
    cache's life (a few words a case), so the answer does not change in the middle of a search.
    """

    def __init__(self, max_bytes: int = MAX_KEPT_BUNDLE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, tuple[CaseBundle, int]] = OrderedDict()
        self._why: dict[str | None, str | None] = {}

    def get(self, case: CaseRecord) -> CaseBundle | None:
        """The case's parsed bundle, or None when it cannot be replayed (:meth:`unreplayable` says why)."""
        path = case.bundle_path
        if path in self._kept:
            self._kept.move_to_end(path)
            return self._kept[path][0]
        if self._why.get(path) is not None:
            return None
        bundle, why = replay_bundle(case)
        self._why.setdefault(path, why)
        if bundle is not None and path:
            self._keep(path, bundle)
        return bundle

    def unreplayable(self, case: CaseRecord) -> str | None:
        """Why ``case`` cannot be replayed (:func:`replay_bundle`), found once; None when it can."""
        if case.bundle_path not in self._why:
            self.get(case)
        return self._why[case.bundle_path]

    def _keep(self, path: str, bundle: CaseBundle) -> None:
        self._kept[path] = (bundle, _parsed_bytes(bundle))
        total = sum(size for _, size in self._kept.values())
        while total > self.max_bytes and len(self._kept) > 1:
            _, (_, size) = self._kept.popitem(last=False)
            total -= size


def replay_role(case: CaseRecord) -> str:
    """``corrected`` when the case's latest correction says its answer was wrong, else ``regression``."""
    correction = case.latest_correction
    return "corrected" if correction is not None and not correction.correct else "regression"


def replay_identity(case: CaseRecord) -> tuple[str, str]:
    """What a replay's answer depends on besides the Skill text: the case's bundle (its real path) and its event.
    Several stored cases of one bundle (investigated again, or also a registered bundle of the regression set) share
    it, so they are run once (:class:`Replayer`)."""
    bundle = real_path(Path(case.bundle_path)) if case.bundle_path else Path(f"<case {case.id}>")
    return str(bundle), text_sha256(case.event.model_dump_json())


class Replayer:
    """Replays cases; remembers "before" results per (Skill text, case) so several patches share them, and each run's
    answer per (Skill text, bundle, event) so several cases of one bundle and event are run once (each is judged
    against its own truth)."""

    def __init__(self, runner: Runner, same_fault_for: Callable[[str], FaultMatch] | None = None,
                 bundles: BundleCache | None = None) -> None:
        self.runner = runner
        self.same_fault_for = same_fault_for  # case id -> how its fault kinds are compared (default: equal names)
        self.bundles = bundles if bundles is not None else BundleCache()  # the runner's too when given it
        self._cache: dict[tuple[str, str], Judgement] = {}
        self._answers: dict[tuple[str, str, str], Verdict | Exception] = {}
        self.runs = 0  # investigations run (a case whose bundle and event were run already is not run again)

    def unreplayable(self, case: CaseRecord) -> str | None:
        """Why ``case`` cannot be replayed (:func:`unreplayable`), found once per case (:class:`BundleCache`): it reads
        the whole bundle, and a search replays every case for each change it tries."""
        return self.bundles.unreplayable(case)

    def judge_case(self, case: CaseRecord, truth: Truth, library: SkillLibrary, name: str, key: str) -> Judgement:
        """Run one case with ``library`` and judge it; results are cached under ``key`` (the Skill text)."""
        cached = self._cache.get((key, case.id))
        if cached is not None:
            return cached
        same_fault = self.same_fault_for(case.id) if self.same_fault_for is not None else None
        answer = self._answer(case, library, name, key)
        if isinstance(answer, Exception):  # a case that cannot be replayed fails, it must not stop the replay
            result = Judgement(False, f"replay failed: {type(answer).__name__}: {answer}")
        else:
            result = judge(answer, truth, same_fault)
        self._cache[(key, case.id)] = result
        return result

    def _answer(self, case: CaseRecord, library: SkillLibrary, name: str, key: str) -> Verdict | Exception:
        """The verdict of ``case`` run with ``library`` (or the exception the run raised), once per (``key``, bundle,
        event): :func:`replay_identity`."""
        identity = (key, *replay_identity(case))
        if identity not in self._answers:
            self.runs += 1
            try:
                self._answers[identity] = self.runner(case, library, name)
            except Exception as exc:
                self._answers[identity] = exc
        return self._answers[identity]

    def replay(
        self,
        cases: list[CaseRecord],
        library: SkillLibrary,
        patched: LoadedSkill,
        *,
        current_text: str,
        patched_text: str,
        target_case: str | None = None,
        bundles: Sequence[CaseRecord] = (),
        quick: bool = False,
    ) -> ReplayReport:
        """Before/after for every replayable case and regression bundle, and whether the patch may be accepted.

        Corrected cases are replayed first; with ``quick``, the regression set is skipped (and shown so)
        when none of them is fixed, since such a patch is rejected whatever the regression set says.
        """
        name = patched.name
        after_library = replace_skill(library, patched)
        report = ReplayReport(skill=name, target_case=target_case)
        before_key, after_key = text_sha256(current_text), text_sha256(patched_text)
        ordered = sorted([*cases, *bundles], key=lambda c: replay_role(c) != "corrected")
        for case in ordered:
            truth = truth_for_case(case)
            entry = CaseReplay(case.id, truth.describe() if truth else "", replay_role(case))
            if quick and entry.role == "regression" and report.count("fixed", "corrected") == 0:
                entry.skipped = "not replayed: the patch fixes no corrected case"
            elif (why := self.unreplayable(case)) is not None:
                entry.skipped = f"cannot replay: {why}"
            elif truth is None:
                entry.skipped = "no correction and no label"
            else:
                entry.before = self.judge_case(case, truth, library, name, before_key)
                entry.after = self.judge_case(case, truth, after_library, name, after_key)
            report.cases.append(entry)
        report.accepted, report.reason = decide(report)
        return report


def decide(report: ReplayReport) -> tuple[bool, str]:
    """Accept only when at least one corrected case is fixed and no case that passed before fails after."""
    corrected = [c for c in report.part("corrected") if c.status != "skipped"]
    regression = [c for c in report.part("regression") if c.status != "skipped"]
    fixed = [c for c in corrected if c.status == "fixed"]
    regressions = report.regressions
    tally = (f"{len(fixed)} of {len(corrected)} corrected case(s) fixed; "
             f"{len(regressions)} of {len(corrected) + len(regression)} replayed case(s) broken "
             f"({len(regression)} in the regression set)")
    if regressions:
        ids = ", ".join(c.case_id for c in regressions)
        return False, f"rejected: {len(regressions)} case(s) that passed before now fail ({ids}); {tally}"
    if not corrected:
        target = next((c for c in report.cases if c.case_id == report.target_case), None)
        why = f" (the corrected case {report.target_case}: {target.skipped})" if target and target.skipped else ""
        return False, f"rejected: no corrected case of this Skill could be replayed{why}: it shows no fix"
    if not fixed:
        still = next((c for c in corrected if c.case_id == report.target_case), corrected[0])
        detail = still.after.detail if still.after else still.skipped
        return False, (f"rejected: it fixes none of the {len(corrected)} corrected case(s) "
                       f"({still.case_id} after: {detail}); {tally}")
    return True, f"accepted: {tally}"


def replay_cases(memory: Any, name: str, target_case: str | None = None) -> list[CaseRecord]:
    """Every finished case of Skill ``name``, oldest first (the target case included in any case).

    Cases whose record names no Skill are matched by their evidence pack's Skill.
    """
    cases = memory.cases_for_skill(name)
    seen = {c.id for c in cases}
    unnamed = [c for c in memory.list_cases(status="done", limit=MAX_LIST_LIMIT)
               if c.skill is None and c.id not in seen and case_skill(c) == name]
    cases = sorted([*cases, *unnamed], key=lambda c: (c.created_at, c.id))
    if target_case is not None and all(c.id != target_case for c in cases):
        cases.append(memory.get_case(target_case))
    return cases
