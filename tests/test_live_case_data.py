"""A live investigation keeps what it read as its case's bundle, so that a correction of it can be replayed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import event
from typer.testing import CliRunner

from agent.bundles import case_data
from agent.bundles.case_data import PRUNE_EVERY_S, prune_case_data, prune_marker, prune_when_due
from agent.bundles.reader import load_bundle
from agent.cli.app import app
from agent.config import CaseData, get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.replay import unreplayable
from agent.investigate import investigate
from agent.memory import Memory
from agent.runtime import bundle_toolkit
from tests.fixtures.graph.world import alert_event, graph_library
from tests.test_live_call_graph import live

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_a_live_case_keeps_its_data_as_a_bundle_that_answers_as_the_live_run_did(memory):
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path == str(get_settings().home / "case-data" / case.id)
    assert sorted(os.listdir(case.bundle_path)) == ["capture.yaml", "changes.jsonl", "event.yaml", "logs.jsonl.gz",
                                                    "metrics.csv.gz", "topology.yaml"]
    assert unreplayable(case) is None
    bundle = load_bundle(case.bundle_path)
    assert {s.metric for s in bundle.series} and bundle.logs
    replayed = investigate(case.event, bundle_toolkit(bundle, get_settings(), library=graph_library()),
                           source="replay")
    assert [c.service for c in replayed.verdict.root_causes] == [c.service for c in result.verdict.root_causes]
    assert replayed.verdict.needs_attention == result.verdict.needs_attention


def test_case_data_days_0_keeps_none(memory, monkeypatch):
    monkeypatch.setenv("BIANQUE_CASE_DATA_DAYS", "0")
    get_settings.cache_clear()
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    case = memory.get_case(result.case_id)
    assert case.bundle_path is None and unreplayable(case) == "no bundle to replay from"
    assert not (get_settings().home / "case-data").exists()


def age(root, *case_ids, days=8.0):
    """Make the kept data of ``case_ids`` (all of it when none) look last written ``days`` ago."""
    old = time.time() - days * 86400
    for name in case_ids or os.listdir(root):
        os.utime(root / name, (old, old))


def test_data_past_its_days_goes_unless_its_case_was_corrected(memory, monkeypatch):
    toolkit = replace(live(), memory=memory)
    first, second = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, first, correct=False, service="db", fault="slow_dependency")
    kept = get_settings().case_data
    assert kept is not None and kept.keep_s == 7 * 86400
    age(kept.root, first, second)
    no_prune_yet(monkeypatch, kept.root)  # a new process's first run prunes
    third = investigate(alert_event(), toolkit, source="api").case_id  # its memory step prunes
    assert sorted(os.listdir(kept.root)) == sorted([first, third])
    assert unreplayable(memory.get_case(second)) == "its bundle is gone"
    assert prune_case_data(CaseData(kept.root, 0.0), memory.prunable_among, now=time.time() + 1) == [third]


def test_a_live_run_prunes_old_case_data_at_most_once_an_hour_in_a_process(memory):
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    first = investigate(alert_event(), toolkit, source="api").case_id  # the process's first prune: nothing old
    age(kept.root)
    second = investigate(alert_event(), toolkit, source="api").case_id  # within the hour: no second prune
    assert sorted(os.listdir(kept.root)) == sorted([first, second])
    assert prune_when_due(kept, memory.prunable_among, store=memory.url) is None
    assert prune_when_due(kept, memory.prunable_among, now=time.time() + PRUNE_EVERY_S, store=memory.url) == [first]


def test_one_shot_runs_prune_once_an_hour_between_them_not_each(memory, monkeypatch):
    """A process kept the time of its last prune in memory only: every one-shot ``rca --alert`` pruned at its run."""
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    first = investigate(alert_event(), toolkit, source="api").case_id  # the first run prunes (nothing old yet)
    age(kept.root)
    monkeypatch.setattr(case_data, "_last_pruned", {})  # the next one-shot run: a new process
    second = investigate(alert_event(), toolkit, source="api").case_id  # within the hour of the first's prune
    assert sorted(os.listdir(kept.root)) == sorted([first, second])
    monkeypatch.setattr(case_data, "_last_pruned", {})
    assert prune_when_due(kept, lambda _ids: [], store="sqlite:///another.db") == []  # its prunes are apart
    monkeypatch.setattr(case_data, "_last_pruned", {})
    assert prune_when_due(kept, memory.prunable_among, now=time.time() + PRUNE_EVERY_S, store=memory.url) == [first]
    prune_marker(kept.root, memory.url).write_text("not a time")
    monkeypatch.setattr(case_data, "_last_pruned", {})
    assert prune_when_due(kept, memory.prunable_among, store=memory.url) == []  # an unreadable marker: due
    assert float(prune_marker(kept.root, memory.url).read_text()) > 0


def no_prune_yet(monkeypatch, root) -> None:
    """As if no process had pruned ``root`` yet: none in this one, no marker of another."""
    monkeypatch.setattr(case_data, "_last_pruned", {})
    for marker in root.parent.glob(f".{root.name}{case_data.MARKER}*"):
        marker.unlink()


def test_a_prune_asks_the_memory_about_its_old_cases_once_however_many_there_are(memory):
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    statements: list[str] = []
    listen = partial(event.listen, memory.engine, "before_cursor_execute")
    listen(lambda _conn, _cursor, sql, *_args: statements.append(sql))

    def statements_of_a_prune_after(cases: int) -> int:
        for n in range(cases):
            case_id = investigate(alert_event(), toolkit, source="api").case_id
            if n % 2:
                correct_case(memory, case_id, correct=False, service="db", fault="slow_dependency")
        age(kept.root)
        statements.clear()
        prune_case_data(kept, memory.prunable_among)
        return len(statements)

    assert statements_of_a_prune_after(2) == statements_of_a_prune_after(6)  # not a read per old case
    assert len(os.listdir(kept.root)) == 1 + 3  # the corrected ones


def test_a_case_corrected_between_the_prunes_check_and_its_removal_keeps_its_data(memory):
    toolkit = replace(live(), memory=memory)
    first, second = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    kept = get_settings().case_data
    assert kept is not None
    age(kept.root)
    asked: list[list[str]] = []

    def checked_then_corrected(case_ids: list[str]) -> set[str]:
        found = memory.prunable_among(case_ids)
        if not asked:  # the correction arrives right after the prune's check, before its removal
            correct_case(memory, second, correct=False, service="db", fault="slow_dependency")
        asked.append(sorted(case_ids))
        return found

    assert prune_case_data(kept, checked_then_corrected) == [first]
    assert asked == [sorted([first, second])] * 2
    assert os.listdir(kept.root) == [second]
    assert unreplayable(memory.get_case(second)) is None


def test_a_folder_a_killed_prune_set_aside_is_put_back_by_the_next(tmp_path):
    (tmp_path / f"{case_data.ASIDE}left").mkdir()
    (tmp_path / f"{case_data.ASIDE}left" / "event.yaml").write_text("x")
    assert prune_case_data(CaseData(tmp_path, 86400.0), lambda cases: cases) == []
    assert os.listdir(tmp_path) == ["left"] and (tmp_path / "left" / "event.yaml").read_text() == "x"


class Racer(threading.Thread):
    """A second prune (or reader) of the folder, run while the first is stopped in the middle of its work: ``ready``
    is set once it is about to wait for the first's prune lock, or has finished without (no lock to wait for)."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.ready, self.result = work, threading.Event(), None

    def run(self):
        try:
            self.result = self.work()
        finally:
            self.ready.set()

    def about_to_wait(self, monkeypatch):
        """Set ``ready`` as this thread takes a prune lock (waits for the first one's)."""
        taken = case_data._pruning

        def pruning(root, **kwargs):
            if threading.current_thread() is self:
                self.ready.set()
            return taken(root, **kwargs)

        monkeypatch.setattr(case_data, "_pruning", pruning)


def test_a_prune_waits_for_one_under_way_and_never_puts_back_a_half_removed_folder(tmp_path, monkeypatch):
    """A second prune took the folder the first was removing for a killed prune's leftover and put it back: the
    case's data half removed, in place, said neither removed nor failed."""
    (tmp_path / "old").mkdir()
    for part in ("event.yaml", "metrics.csv.gz"):
        (tmp_path / "old" / part).write_text("x")
    age(tmp_path)
    second = Racer(lambda: prune_case_data(CaseData(tmp_path, 86400.0), lambda cases: cases))
    second.about_to_wait(monkeypatch)
    remove = case_data._remove

    def half_then_the_rest(folder):
        (folder / "event.yaml").unlink()  # half removed: the second prune starts now
        second.start()
        second.ready.wait()
        return remove(folder)

    monkeypatch.setattr(case_data, "_remove", half_then_the_rest)
    assert prune_case_data(CaseData(tmp_path, 86400.0), lambda cases: cases) == ["old"]
    second.join()
    assert second.result == [] and os.listdir(tmp_path) == []


def test_a_reader_of_a_folder_a_prune_has_set_aside_waits_for_what_the_prune_leaves(memory, monkeypatch):
    """A correction (or replay) arriving while the prune had its folder set aside read the data as gone: the
    correction was stored with "its data is gone", and the prune then put the folder back, its case corrected."""
    toolkit = replace(live(), memory=memory)
    case_id = investigate(alert_event(), toolkit, source="api").case_id
    kept = get_settings().case_data
    assert kept is not None
    age(kept.root)
    reader = Racer(lambda: correct_case(memory, case_id, correct=False, service="db", fault="slow_dependency"))
    reader.about_to_wait(monkeypatch)
    looks: list[list[str]] = []

    def corrected_meanwhile(case_ids):
        looks.append(case_ids)
        if len(looks) == 2:  # the folder set aside: the correction arrives
            reader.start()
            reader.ready.wait()
            assert not (kept.root / case_id).exists()
        return memory.prunable_among(case_ids)

    assert prune_case_data(kept, corrected_meanwhile) == []
    reader.join()
    assert reader.result is not None and not [n for n in reader.result.notes if "gone" in n], reader.result.notes
    assert os.listdir(kept.root) == [case_id] and unreplayable(memory.get_case(case_id)) is None


def test_a_reader_puts_back_a_folder_a_killed_prune_left_set_aside(memory):
    kept = get_settings().case_data
    assert kept is not None
    case_id = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    os.rename(kept.root / case_id, kept.root / f"{case_data.ASIDE}{case_id}")  # then the prune was killed
    assert unreplayable(memory.get_case(case_id)) is None
    assert os.listdir(kept.root) == [case_id]


def test_a_prune_whose_second_look_fails_puts_every_folder_back(tmp_path):
    (tmp_path / "old").mkdir()
    age(tmp_path)
    answers = iter([["old"]])

    def fails_the_second_time(_cases):
        return next(answers)  # StopIteration the second time: the database went away

    with pytest.raises(StopIteration):
        prune_case_data(CaseData(tmp_path, 86400.0), fails_the_second_time)
    assert os.listdir(tmp_path) == ["old"]


def test_prunable_among_names_the_uncorrected_known_ones_of_more_ids_than_one_query_binds(memory):
    toolkit = replace(live(), memory=memory)
    corrected, other = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, corrected, correct=False, service="db", fault="slow_dependency")
    unknown = [f"{i:012x}" for i in range(1200)]
    assert memory.prunable_among([*unknown, other, corrected, other]) == {other}
    assert memory.prunable_among([]) == set()


def test_a_prune_leaves_the_data_of_another_databases_cases_in_a_shared_home_alone(memory, tmp_path):
    kept = get_settings().case_data
    assert kept is not None
    with Memory(f"sqlite:///{tmp_path / 'other.db'}") as other:
        ours = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
        theirs = investigate(alert_event(), replace(live(), memory=other), source="api").case_id
        age(kept.root)
        assert prune_case_data(kept, memory.prunable_among) == [ours]  # theirs is not corrected in *our* store
        assert os.listdir(kept.root) == [theirs]
        assert unreplayable(other.get_case(theirs)) is None
        assert prune_case_data(kept, other.prunable_among) == [theirs]


def test_cases_prune_data_says_what_would_go_and_removes_it_unless_dry_run(memory):
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    old, corrected = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, corrected, correct=False, service="db", fault="slow_dependency")
    age(kept.root)
    dry = CliRunner().invoke(app, ["cases", "prune-data", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"dry_run": True, "cases": [old], "failed": {}, "orphans": [],
                                      "orphans_removed": False}
    assert sorted(os.listdir(kept.root)) == sorted([old, corrected])
    done = CliRunner().invoke(app, ["cases", "prune-data"])
    assert done.exit_code == 0, done.output
    assert "removed the kept data of 1 uncorrected case(s) older than 7 day(s)" in " ".join(done.stdout.split())
    assert os.listdir(kept.root) == [corrected]


def test_cases_prune_data_prunes_once_when_asked_and_counts_as_the_databases_prune_of_the_hour(memory, monkeypatch):
    """The command pruned the folder twice (the uncorrected cases, then the orphans: two listings, two looks at the
    database each) and left the hourly marker as it was: the next live run pruned again at once."""
    toolkit = replace(live(), memory=memory)
    kept = get_settings().case_data
    assert kept is not None
    old = investigate(alert_event(), toolkit, source="api").case_id  # its memory step pruned: within the hour now
    age(kept.root)
    listings: list[str] = []
    leftovers = case_data._put_back_leftovers
    monkeypatch.setattr(case_data, "_put_back_leftovers", lambda root: listings.append(root) or leftovers(root))
    before = time.time()
    done = CliRunner().invoke(app, ["cases", "prune-data", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["cases"] == [old] and listings == [kept.root]
    assert float(prune_marker(kept.root, memory.url).read_text()) >= before
    monkeypatch.setattr(case_data, "_last_pruned", {})  # another process: the marker alone says so
    assert prune_when_due(kept, memory.prunable_among, store=memory.url) is None


def test_a_look_at_which_old_cases_data_may_go_is_one_select(memory):
    """Each look read the asked cases, then every corrected case's bundle: two SELECTs where one does."""
    toolkit = replace(live(), memory=memory)
    uncorrected, corrected = (investigate(alert_event(), toolkit, source="api").case_id for _ in range(2))
    correct_case(memory, corrected, correct=False, service="db", fault="slow_dependency")
    selects: list[str] = []
    event.listen(memory.engine, "before_cursor_execute",
                 lambda _conn, _cursor, sql, *_args: selects.append(sql) if sql.lstrip().startswith("SELECT") else None)
    assert memory.prunable_among([uncorrected, corrected, "unknown"]) == {uncorrected} and len(selects) == 1
    of = memory.kept_data_of([uncorrected, corrected, "unknown"])  # what the command asks: both kinds in one look
    assert (of.prunable, of.orphans) == ({uncorrected}, {"unknown"}) and len(selects) == 2


ANOTHER_PROCESS = """import sys
from pathlib import Path
from agent.bundles.case_data import prune_when_due
from agent.config import CaseData
print(prune_when_due(CaseData(Path(sys.argv[1]), 86400.0), lambda cases: cases, store="db"))
"""


def test_two_processes_finding_the_hourly_prune_due_at_once_prune_once(tmp_path, monkeypatch):
    """The marker was read, then written, with nothing between processes: two one-shot runs starting together both
    found the prune due (neither had written it yet) and both pruned."""
    root = tmp_path / "case-data"
    (root / "old").mkdir(parents=True)
    age(root)
    others: list[str] = []
    marked = case_data._marked

    def read_then_another_process_looks(marker):
        last = marked(marker)
        others.append(subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(root)], cwd=PROJECT_ROOT,
                                     capture_output=True, text=True, check=True).stdout.strip())
        return last

    monkeypatch.setattr(case_data, "_marked", read_then_another_process_looks)
    assert prune_when_due(CaseData(root, 86400.0), lambda cases: cases, store="db") == ["old"]
    assert others == ["None"]  # a prune under way: not due for it
    monkeypatch.setattr(case_data, "_marked", marked)
    assert subprocess.run([sys.executable, "-c", ANOTHER_PROCESS, str(root)], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=True).stdout.strip() == "None"  # within the hour of the marker


def test_cases_prune_data_with_none_kept_says_so(monkeypatch):
    monkeypatch.setenv("BIANQUE_CASE_DATA_DAYS", "0")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["cases", "prune-data", "--dry-run"])
    assert result.exit_code == 2 and "BIANQUE_CASE_DATA_DAYS is 0" in " ".join(result.stderr.split())


def test_the_scheduler_prunes_old_case_data_at_its_start_and_hourly(memory, monkeypatch):
    from agent.scheduler.housekeeping import PRUNE_JOB, scheduled_prune
    from agent.scheduler.service import LOCAL, start_scheduler

    kept = get_settings().case_data
    assert kept is not None
    old = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    age(kept.root)
    no_prune_yet(monkeypatch, kept.root)
    assert scheduled_prune() == [old]
    assert scheduled_prune() is None  # within the hour
    scheduler = start_scheduler(get_settings(), paused=True)
    try:
        job = scheduler.get_job(PRUNE_JOB, jobstore=LOCAL)
        assert job.trigger.interval.total_seconds() == PRUNE_EVERY_S and job.func is scheduled_prune
    finally:
        scheduler.shutdown(wait=True)


def test_a_case_folder_another_replica_pruned_since_it_was_listed_is_passed_over(tmp_path, monkeypatch):
    for name in ("gone", "stays"):
        (tmp_path / name).mkdir()
    old = time.time() - 8 * 86400
    os.utime(tmp_path / "stays", (old, old))

    @contextmanager
    def listed_then_pruned(root):
        with os.scandir(root) as entries:
            listed = list(entries)
        shutil.rmtree(tmp_path / "gone")  # the other replica's prune, between the listing and the look at its age
        yield iter(listed)

    monkeypatch.setattr(case_data, "_put_back_leftovers", lambda _root: None)  # its own listing: not the one here
    monkeypatch.setattr(case_data, "os", SimpleNamespace(scandir=listed_then_pruned, rename=os.rename))
    assert prune_case_data(CaseData(tmp_path, 86400.0), lambda cases: cases) == ["stays"]


def test_a_prune_that_fails_costs_the_run_none_of_its_data(memory, monkeypatch):
    def denied(*_args):
        raise PermissionError("case-data: permission denied")

    monkeypatch.setattr(case_data, "prune_case_data", denied)
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    assert unreplayable(memory.get_case(result.case_id)) is None


def test_the_kept_log_lines_are_the_lines_each_query_read_each_as_often():
    from agent.bundles.captured import captured_logs

    line = {"ts": 100.0, "service": "db", "level": "ERROR", "message": "connection refused", "instance": "db-1"}
    other_trace = {**line, "trace_id": "t2"}
    read = [{**line, "query": "errors"}, {**line, "query": "errors"}, {**other_trace, "query": "errors"},
            {**line, "query": "all"}, {**line, "ts": 99.0, "query": "all"}]
    kept = captured_logs(read)
    assert [(r.ts, r.trace_id) for r in kept] == [(99.0, None), (100.0, None), (100.0, None), (100.0, "t2")]


def test_a_series_label_named_as_a_metrics_column_is_kept_under_another_name_and_the_bundle_reads(tmp_path):
    from agent.bundles.captured import capture_bundle
    from agent.bundles.reader import read_bundle

    read = {"series": [{"metric": "probe_success", "labels": {"service": "api", "metric": "dns", "value": "a"},
                        "t": [940.0, 1000.0], "v": [1.0, 0.0]}]}
    capture_bundle(tmp_path / "case", {"pattern": "rca", "time": 1000.0, "service": "api"}, read)
    bundle, errors = read_bundle(tmp_path / "case")
    assert errors == [] and bundle is not None
    assert [s.labels for s in bundle.series] == [{"service": "api", "exported_metric": "dns", "exported_value": "a"}]


def test_a_case_id_that_is_no_plain_folder_name_keeps_no_data_and_reaches_no_other_folder(memory, monkeypatch):
    home = get_settings().home
    (home / "escaped").mkdir(parents=True)
    (home / "escaped" / "precious.txt").write_text("not case data")
    start_case = memory.start_case
    monkeypatch.setattr(memory, "start_case", partial(start_case, case_id="../escaped"))  # the Python API's own id
    result = investigate(alert_event(), replace(live(), memory=memory), source="api")
    assert result.case_id == "../escaped" and memory.get_case(result.case_id).bundle_path is None
    assert os.listdir(home / "escaped") == ["precious.txt"]


def test_a_prune_spares_the_data_a_corrected_case_investigated_from_it_reads(memory):
    """``bianque rca --bundle $BIANQUE_HOME/case-data/X`` stores a case whose bundle is X's folder: corrected, it is
    replayed from that folder, which had gone with X (uncorrected) once old, leaving the correction unreplayable."""
    kept = get_settings().case_data
    assert kept is not None
    live_case = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    folder = str((kept.root / live_case).resolve())
    again = investigate(load_bundle(folder).event, bundle_toolkit(folder, get_settings(), library=graph_library(),
                                                                  memory=memory), source="cli", bundle_path=folder)
    correct_case(memory, again.case_id, correct=False, service="db", fault="slow_dependency")
    age(kept.root)
    assert memory.prunable_among([live_case]) == set()
    assert prune_case_data(kept, memory.prunable_among) == []
    assert unreplayable(memory.get_case(again.case_id)) is None


def test_the_hourly_prune_job_runs_when_its_own_last_run_began_a_moment_less_than_an_hour_before(memory, monkeypatch):
    """The job fires every ``PRUNE_EVERY_S`` after the time it was first due; a run that began later after its due
    time than the next one (milliseconds of a busy thread pool, seconds of a scheduler starting) had made that one
    'within the hour' of it, and skipped: pruned every other hour."""
    from agent.scheduler.housekeeping import scheduled_prune

    kept = get_settings().case_data
    assert kept is not None
    old = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    age(kept.root)
    no_prune_yet(monkeypatch, kept.root)
    prune_marker(kept.root, memory.url).write_text(repr(time.time() - PRUNE_EVERY_S + 5))
    assert scheduled_prune() == [old]


def test_a_case_folder_that_cannot_be_removed_is_not_said_removed(memory, tmp_path):
    """The folders were removed ignoring every error, and all said removed: ``cases prune-data`` run by a user who may
    not delete them (or on a link, which rmtree refuses) reported data gone that stayed, and exited 0."""
    kept = get_settings().case_data
    assert kept is not None
    stuck, gone = (investigate(alert_event(), replace(live(), memory=memory), source="api").case_id for _ in range(2))
    elsewhere = tmp_path / "elsewhere"
    os.replace(kept.root / stuck, elsewhere)
    os.symlink(elsewhere, kept.root / stuck)
    age(kept.root)  # the link's target too
    failed: dict[str, str] = {}
    assert prune_case_data(kept, memory.prunable_among, failed=failed) == [gone]
    assert list(failed) == [stuck] and "symbolic link" in failed[stuck]
    result = CliRunner().invoke(app, ["cases", "prune-data"])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and f"{stuck}: not removed: " in said, said


def test_a_prune_whose_database_read_fails_costs_the_run_neither_its_case_nor_its_data(memory, monkeypatch):
    """Only an OSError of the housekeeping was caught: a database error asking which old cases may go (a connection
    dropped, SQLite busy) ended the memory step before the case was stored."""
    from sqlalchemy.exc import OperationalError

    asked: list[list[str]] = []

    def dropped(case_ids):
        asked.append(case_ids)
        raise OperationalError("SELECT cases.id ...", {}, Exception("server closed the connection unexpectedly"))

    toolkit = replace(live(), memory=memory)
    investigate(alert_event(), toolkit, source="api")  # an old case to ask about
    age(get_settings().home / "case-data")
    no_prune_yet(monkeypatch, get_settings().home / "case-data")
    monkeypatch.setattr(memory, "prunable_among", dropped)
    result = investigate(alert_event(), toolkit, source="api")
    case = memory.get_case(result.case_id)
    assert asked and case.status == "done" and unreplayable(case) is None


def test_cases_show_says_when_a_cases_kept_data_is_gone(memory):
    """``cases show`` named the folder of data pruned since as the case's data, as if it could still be replayed."""
    kept = get_settings().case_data
    assert kept is not None
    case_id = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    shown = CliRunner().invoke(app, ["cases", "show", case_id], terminal_width=300)
    assert f"data {kept.root / case_id}\n" in shown.stdout and "gone" not in shown.stdout
    shutil.rmtree(kept.root / case_id)
    shown = CliRunner().invoke(app, ["cases", "show", case_id], terminal_width=300)
    assert f"data {kept.root / case_id} (gone: the case cannot be replayed)" in shown.stdout, shown.stdout


def test_a_correction_of_a_case_whose_kept_data_is_gone_says_so_and_is_stored(memory):
    """``correct`` stored a correction of a case whose data was pruned without a word: the engineer then expected
    ``skills refine`` to replay it."""
    kept = get_settings().case_data
    assert kept is not None
    case_id = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    shutil.rmtree(kept.root / case_id)
    result = CliRunner().invoke(app, ["correct", case_id, "--wrong", "--service", "db", "--fault", "slow_dependency",
                                      "--no-index"])
    said = " ".join(result.stdout.split())
    assert result.exit_code == 0, result.output
    assert f"note: case {case_id}'s data is gone ({kept.root / case_id}: its kept data pruned" in said, said
    assert "replays cannot use the case" in said
    assert [c.root_cause_fault for c in memory.get_case(case_id).corrections] == ["slow_dependency"]
    kept_case = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    notes = correct_case(memory, kept_case, correct=False, service="db", fault="slow_dependency").notes
    assert not [note for note in notes if "gone" in note]


def test_cases_prune_data_lists_the_old_data_of_cases_this_database_does_not_hold_and_removes_it_with_orphans(
        memory, tmp_path):
    """The data of a case this database does not hold (its database reset, or another's sharing the home) was never
    pruned and never mentioned: it stayed for good, unseen."""
    kept = get_settings().case_data
    assert kept is not None
    with Memory(f"sqlite:///{tmp_path / 'gone.db'}") as other:
        orphan, read = (investigate(alert_event(), replace(live(), memory=other), source="api").case_id
                        for _ in range(2))
    folder = str(kept.root / read)  # ours read as a corrected case's bundle: spared
    again = investigate(load_bundle(folder).event, bundle_toolkit(folder, get_settings(), library=graph_library(),
                                                                  memory=memory), source="cli", bundle_path=folder)
    correct_case(memory, again.case_id, correct=False, service="db", fault="slow_dependency")
    ours = investigate(alert_event(), replace(live(), memory=memory), source="api").case_id
    age(kept.root)

    def prune(*args: str) -> str:
        result = CliRunner().invoke(app, ["cases", "prune-data", *args], terminal_width=300)
        assert result.exit_code == 0, result.output
        return " ".join(result.stdout.split())

    listed = json.loads(prune("--dry-run", "--json", "--orphans"))
    assert (listed["cases"], listed["orphans"], listed["orphans_removed"]) == ([ours], [orphan], False)
    said = prune()
    assert "kept the data of 1 case(s) older than 7 day(s) this database does not hold" in said, said
    assert f"--orphans removes it {orphan}" in said and sorted(os.listdir(kept.root)) == sorted([orphan, read])
    said = prune("--orphans")
    assert f"removed the kept data of 1 case(s) this database does not hold, older than 7 day(s) {orphan}" in said
    assert os.listdir(kept.root) == [read]
    assert json.loads(prune("--orphans", "--json"))["orphans"] == []


def test_a_prune_whose_time_cannot_be_written_leaves_no_staged_file_and_prunes_all_the_same(tmp_path, caplog):
    root = tmp_path / "case-data"
    (root / "old").mkdir(parents=True)
    age(root)
    prune_marker(root, "db").mkdir()  # something in the way of the marker file
    assert prune_when_due(CaseData(root, 86400.0), lambda cases: cases, store="db") == ["old"]
    beside = sorted([prune_marker(root, "db").name, case_data.prune_lock(root).name, "case-data"])
    assert sorted(p.name for p in tmp_path.iterdir()) == beside  # none staged
    assert "could not be written" in caplog.text
