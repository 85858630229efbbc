"""Evaluation in worker processes: the same report as in one process, failures kept per case."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest

from agent.bundles.errors import BundleError, InvalidBundleError
from agent.config import PROJECT_ROOT
from agent.eval import cases
from agent.eval.runner import evaluate, find_bundles
from agent.skills.loader import SkillError, SkillLoadError
from agent.topology import TopologyError

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"


@pytest.fixture
def mixed(tmp_path) -> list[Path]:
    """Four scenarios of the three patterns, a bundle without a label and a broken one."""
    root = tmp_path / "cases"
    for name in ("rca-slow-dependency", "release-good-canary", "inspection-disk-full", "rca-cache-failure"):
        shutil.copytree(SCENARIOS / name, root / name)
    shutil.copytree(SMALL, root / "unlabelled")
    (root / "unlabelled" / "label.yaml").unlink()
    shutil.copytree(SMALL, root / "broken")
    (root / "broken" / "event.yaml").write_text("pattern: nonsense\ntime: 2026-03-02T10:15:00Z\n")
    return find_bundles(root)


def test_workers_report_exactly_what_one_process_reports(mixed):
    arrived: list[str] = []
    alone = evaluate(mixed).to_dict()
    spread = evaluate(mixed, jobs=2, on_case=lambda path, _score: arrived.append(path.name)).to_dict()
    assert spread == alone
    assert [c["case"] for c in spread["cases"]] == [p.name for p in mixed if p.name not in ("broken", "unlabelled")]
    assert sorted(arrived) == sorted(p.name for p in mixed)  # every case reported as it finished
    assert spread["errors"]["unlabelled"] == "no label.yaml" and "pattern" in spread["errors"]["broken"]


def test_each_worker_opens_the_configured_knowledge_store_itself(mixed, monkeypatch, tmp_path):
    opened = tmp_path / "opened"
    opened.mkdir()

    def open_here(settings, lock=None, **_kwargs):
        (opened / f"{os.getpid()}-{'check' if lock is None else 'worker'}").touch()  # workers take turns
        return None

    monkeypatch.setattr("agent.runtime.open_knowledge", open_here)
    evaluate(mixed, knowledge=cases.OPEN_CONFIGURED, jobs=2)
    workers = {p.name for p in opened.iterdir() if p.name.endswith("-worker")}
    checks = {p.name for p in opened.iterdir() if p.name.endswith("-check")}
    assert 1 <= len(workers) <= 2 and len(checks) == 1  # once before the workers (check_knowledge_store), once in each
    assert not any(p.name.startswith(f"{os.getpid()}-") for p in opened.iterdir())  # never in this process
    evaluate(mixed, knowledge=cases.OPEN_CONFIGURED, jobs=1)
    assert {p.name for p in opened.iterdir()} == workers | checks | {f"{os.getpid()}-check"}


def test_a_store_made_ready_before_the_evaluation_is_not_opened_again_before_the_workers(mixed, monkeypatch,
                                                                                       tmp_path):
    """``bianque eval`` makes the store ready before its progress line; the workers' evaluation does not check it a
    second time (each check opens it, embedding model and all, in a process of its own)."""
    from agent.config import get_settings

    opened = tmp_path / "opened"
    opened.mkdir()

    def open_here(settings, lock=None, **_kwargs):
        (opened / f"{os.getpid()}-{'check' if lock is None else 'worker'}").touch()
        return None

    monkeypatch.setattr("agent.runtime.open_knowledge", open_here)
    knowledge = cases.ready_knowledge(get_settings(), mixed, jobs=2)
    assert knowledge is cases.OPEN_CHECKED and len(list(opened.iterdir())) == 1
    evaluate(mixed, knowledge=knowledge, jobs=2)
    assert len([p for p in opened.iterdir() if p.name.endswith("-check")]) == 1


def test_an_open_store_cannot_be_shared_with_workers(mixed):
    with pytest.raises(ValueError, match="knowledge=True"):
        evaluate(mixed, knowledge=object(), jobs=2)


def test_a_dead_worker_fails_the_cases_it_leaves_not_the_evaluation(mixed, monkeypatch):
    scored = cases.score_bundle

    def die_on_broken(path, context):
        if path.name == "inspection-disk-full":
            os._exit(3)
        return scored(path, context)

    monkeypatch.setattr(cases, "score_bundle", die_on_broken)
    report = evaluate(mixed, jobs=2)
    assert "worker process died" in report.errors["inspection-disk-full"]
    assert len(report.scores) + len(report.errors) == len(mixed)


def test_a_bad_label_skips_only_its_case_in_workers_and_alone(tmp_path):
    for name in ("good-a", "good-b", "bad-label"):
        shutil.copytree(SMALL, tmp_path / name)
    (tmp_path / "bad-label" / "label.yaml").write_text("root_cause:\n  - {fault: slow_dependency}\n")
    bundles = find_bundles(tmp_path)
    for jobs in (1, 2):
        report = evaluate(bundles, jobs=jobs)
        assert sorted(s.case for s in report.scores) == ["good-a", "good-b"]
        assert f"{tmp_path}/bad-label/label.yaml:2: root_cause.0.service" in report.errors["bad-label"]


def test_an_error_raised_in_a_worker_comes_back_as_its_cases_error(mixed, monkeypatch):
    scored = cases.score_bundle

    def raise_on_one(path, context):
        if path.name == "inspection-disk-full":
            raise InvalidBundleError(str(path), [BundleError("x/metrics.csv", "not a number", 3, "value")])
        return scored(path, context)

    monkeypatch.setattr(cases, "score_bundle", raise_on_one)
    report = evaluate(mixed, jobs=2)
    assert "x/metrics.csv:3: value: not a number" in report.errors["inspection-disk-full"]
    assert len(report.scores) == len(mixed) - 3  # the broken and unlabelled bundles, and this one


@pytest.mark.parametrize("error", [
    InvalidBundleError("case", [BundleError("case/label.yaml", "required", 2, "kind")]),
    SkillLoadError([SkillError("s.yaml", 3, "name", "required")]),
    TopologyError([(("services", "a"), "must be a mapping")], source="case/topology.yaml"),
])
def test_load_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and vars(copy) == vars(error)


def test_one_worker_a_core_when_there_are_enough_bundles(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert cases.auto_jobs([Path(str(i)) for i in range(100)]) == cases.MAX_AUTO_JOBS
    assert cases.auto_jobs([Path(str(i)) for i in range(2 * cases.BUNDLES_PER_JOB)]) == 2
    assert cases.auto_jobs([Path(str(i)) for i in range(cases.BUNDLES_PER_JOB - 1)]) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cases.auto_jobs([Path(str(i)) for i in range(100)]) == 1


class _SharedHandbook:
    """A stand-in for the Chroma store several processes open: the handbook chunks they all see."""

    chunks = 0
    ingested = 0

    def __init__(self, settings):
        pass

    def has_handbook(self) -> bool:
        return _SharedHandbook.chunks > 0

    def ingest_handbook(self, directory, progress=None) -> None:
        _SharedHandbook.ingested += 1
        _SharedHandbook.chunks = 10


class _FillingLock:
    """A lock during whose wait another process finished embedding the handbook."""

    def __enter__(self):
        _SharedHandbook.chunks = 10

    def __exit__(self, *exc):
        return False


def test_the_handbook_is_embedded_once_whoever_opens_the_store(monkeypatch):
    from agent import runtime
    from agent.config import Settings

    monkeypatch.setattr("agent.knowledge.store.KnowledgeStore", _SharedHandbook)
    monkeypatch.setattr(_SharedHandbook, "chunks", 0)
    monkeypatch.setattr(_SharedHandbook, "ingested", 0)
    settings = Settings(knowledge_dir=PROJECT_ROOT / "knowledge")
    runtime.open_knowledge(settings, lock=_FillingLock())  # the other worker ingested while this one waited
    assert _SharedHandbook.ingested == 0
    _SharedHandbook.chunks = 0
    runtime.open_knowledge(settings, lock=nullcontext())
    runtime.open_knowledge(settings, lock=nullcontext())
    assert _SharedHandbook.ingested == 1


_OPEN_TOGETHER = """
import sys
from pathlib import Path
from agent.config import Settings
from agent.eval import cases
from agent.eval.runner import evaluate, find_bundles
home, handbook, bundles = sys.argv[1:]
settings = Settings(home=Path(home), knowledge_dir=Path(handbook), llm_base_url=None, database_url=None,
                    chroma_url=None, user_skills_dir=None)
report = evaluate(find_bundles(Path(bundles)), settings, knowledge=cases.OPEN_CONFIGURED, jobs=2)
print(sorted(report.errors))
"""


def test_workers_opening_a_new_knowledge_store_together_all_get_it(mixed, tmp_path):
    """The first open of a store creates its tables: two workers doing it at once used to fail one of them.

    Run from a fresh interpreter, as ``bianque eval`` is: this process has used Chroma in other tests, and
    Chroma's state does not survive a fork."""
    empty_handbook = tmp_path / "handbook"
    empty_handbook.mkdir()
    for attempt in range(3):  # the race was lost about every other time
        done = subprocess.run([sys.executable, "-c", _OPEN_TOGETHER, str(tmp_path / f"home-{attempt}"),
                               str(empty_handbook), str(mixed[0].parent)], capture_output=True, text=True,
                              cwd=PROJECT_ROOT, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().splitlines()[-1] == "['broken', 'unlabelled']", done.stdout


def _unusable(settings, lock=None, **_kwargs):
    from agent.knowledge.store import KnowledgeStoreError

    raise KnowledgeStoreError("cannot open the knowledge store at /x/chroma: file is not a database")


def test_a_store_that_cannot_be_opened_stops_the_evaluation_before_any_worker_with_the_reason(mixed, monkeypatch):
    """Every case used to be skipped with "its worker process died ... try --jobs 1", never the reason."""
    from agent.knowledge.store import KnowledgeStoreError

    monkeypatch.setattr("agent.runtime.open_knowledge", _unusable)
    arrived: list[str] = []
    with pytest.raises(KnowledgeStoreError, match="file is not a database"):
        evaluate(mixed, knowledge=cases.OPEN_CONFIGURED, jobs=2, on_case=lambda path, _: arrived.append(path.name))
    assert arrived == []


def test_a_worker_that_cannot_open_the_store_fails_its_cases_with_the_reason(mixed, monkeypatch):
    """Opened once before the workers, then not in a worker (workers open it under a lock): its cases say why."""
    monkeypatch.setattr("agent.runtime.open_knowledge",
                        lambda settings, lock=None, **kwargs: None if lock is None else _unusable(settings))
    report = evaluate(mixed, knowledge=cases.OPEN_CONFIGURED, jobs=2)
    assert set(report.errors) == {p.name for p in mixed}
    assert set(report.errors.values()) == {"KnowledgeStoreError: cannot open the knowledge store at /x/chroma: file "
                                           "is not a database"}


@pytest.mark.parametrize("only_one", [False, True])
def test_eval_in_workers_exits_2_naming_a_store_that_cannot_be_opened_before_any_progress(mixed, tmp_path, only_one):
    """The "evaluating N bundles in 2 processes 0/N" line came first, the store's error after it (one bundle with
    --jobs 2 runs in this process, which opened the store only once the progress had started too)."""
    home = tmp_path / "home"
    (home / "chroma").mkdir(parents=True)
    (home / "chroma" / "chroma.sqlite3").write_bytes(b"not a database, " * 512)
    cases_dir = mixed[0].parent
    if only_one:
        cases_dir = tmp_path / "one"
        shutil.copytree(mixed[0], cases_dir / mixed[0].name)
    env = {**os.environ, "BIANQUE_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "agent.cli", "eval", "--cases", str(cases_dir), "--jobs", "2"],
                          capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.splitlines()[-1].startswith(f"error: cannot open the knowledge store at {home / 'chroma'}: ")
    assert "worker process died" not in done.stdout
    assert "evaluating" not in done.stdout + done.stderr  # no progress of an evaluation that never started


