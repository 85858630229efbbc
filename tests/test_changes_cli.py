"""``bianque changes add``: a CD pipeline records a change in the live store that later investigations read."""

from __future__ import annotations

from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.sources.base import ChangeRequest
from agent.sources.sqlstore import SqlChangeSource
from agent.timeparse import to_epoch

runner = CliRunner()
STARTED = to_epoch("2026-12-07T11:58:00Z")


def stored(services=("tariff-calc",)) -> list:
    source = SqlChangeSource(get_settings().resolved_observability_url)
    return source.query(ChangeRequest(services=services, start=STARTED - 3600, end=STARTED + 3600)).data


def test_a_change_file_is_recorded_and_read_back_by_the_live_change_source(bianque_home, tmp_path):
    change = tmp_path / "change.yaml"
    change.write_text("id: tariff-calc-4.2\nservice: tariff-calc\ntype: deploy\nversion: '4.2'\n"
                      "started: 2026-12-07T11:58:00Z\ndescription: new tariff tables\n")
    result = runner.invoke(app, ["changes", "add", str(change)])
    assert result.exit_code == 0, result.output
    assert "1 change(s) recorded in sqlite:///" in result.output
    [record] = stored()
    assert (record.id, record.ts, record.type, record.version) == ("tariff-calc-4.2", STARTED, "deploy", "4.2")
    change.write_text(change.read_text().replace("new tariff tables", "rolled out to all zones"))
    assert runner.invoke(app, ["changes", "add", str(change)]).exit_code == 0  # the same id: replaced
    assert [r.description for r in stored()] == ["rolled out to all zones"]


def test_a_change_without_id_or_of_an_unknown_type_is_bad_input_and_nothing_is_recorded(bianque_home, tmp_path):
    good = tmp_path / "good.json"
    good.write_text('{"id": "c1", "service": "tariff-calc", "ts": "2026-12-07T11:58:00Z"}')
    no_id, blank, odd = tmp_path / "no-id.yaml", tmp_path / "blank.yaml", tmp_path / "odd.yaml"
    no_id.write_text("service: tariff-calc\n")
    blank.write_text("id: '  '\nservice: tariff-calc\n")
    odd.write_text("id: c2\nservice: tariff-calc\ntype: redeploy\n")
    for bad, said in ((no_id, "no-id.yaml: id: required to record a change"),
                      (blank, "blank.yaml: id: required to record a change"),
                      (odd, "odd.yaml: type: 'redeploy' is none of deploy, config, flag, canary, rollback")):
        result = runner.invoke(app, ["changes", "add", str(good), str(bad)])
        assert result.exit_code == 2 and said in " ".join(result.stderr.split()), result.output
        assert "nothing recorded" in result.stderr
    assert stored() == []


def test_post_changes_records_one_where_live_investigations_read_it(memory):
    from tests.test_api_support import CountingInvestigator, make_client

    with make_client(memory, CountingInvestigator(memory)) as client:
        answer = client.post("/changes", json={"id": "tariff-calc-4.2", "service": "tariff-calc", "type": "deploy",
                                               "started": "2026-12-07T11:58:00Z", "version": "4.2"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["ts"] == STARTED
        for body in ({"service": "tariff-calc"}, {"id": " ", "service": "tariff-calc"}):
            refused = client.post("/changes", json=body)
            assert refused.status_code == 422 and "body: id: required to record a change" in refused.text
    assert [(r.id, r.version) for r in stored()] == [("tariff-calc-4.2", "4.2")]


def test_two_files_of_one_id_are_refused_naming_both_and_nothing_is_recorded(bianque_home, tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("id: c1\nservice: tariff-calc\nstarted: 2026-12-07T11:58:00Z\n")
    second.write_text("id: c1\nservice: tariff-calc\nstarted: 2026-12-07T11:59:00Z\n")
    result = runner.invoke(app, ["changes", "add", str(first), str(second)])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "second.yaml: id: 'c1' is also the id of" in said and "first.yaml" in said, said
    assert "nothing recorded" in said
    twice = runner.invoke(app, ["changes", "add", str(first), str(first)])  # one file given twice: one id twice
    assert twice.exit_code == 2 and "is also the id of" in " ".join(twice.stderr.split())
    assert stored() == []


def test_a_key_no_field_reads_is_named_with_the_field_it_looks_like(memory, tmp_path):
    from tests.test_api_support import CountingInvestigator, make_client

    change = tmp_path / "change.yaml"
    change.write_text("id: c1\nservice: tariff-calc\nstrated: 2026-12-07T11:58:00Z\npipeline: cd-7\n")
    result = runner.invoke(app, ["changes", "add", str(change)])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 0 and "change.yaml: strated: unknown key ignored (did you mean 'started'?)" in said
    assert "change.yaml: pipeline: unknown key ignored" in said
    with make_client(memory, CountingInvestigator(memory)) as client:
        answer = client.post("/changes", json={"id": "c2", "service": "tariff-calc", "strated": STARTED})
    assert answer.status_code == 201
    assert answer.json()["notes"] == ["body.strated: unknown key ignored (did you mean 'started'?)"]


def test_post_changes_leaves_no_connection_to_the_change_store_open(memory, monkeypatch):
    from agent.sources import sqlstore
    from tests.test_api_support import CountingInvestigator, make_client

    opened = []

    class Kept(sqlstore.ObservabilityStore):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(sqlstore, "ObservabilityStore", Kept)
    with make_client(memory, CountingInvestigator(memory)) as client:
        assert client.post("/changes", json={"id": "c1", "service": "tariff-calc"}).status_code == 201
    [store] = opened
    assert store.engine.pool.checkedin() == 0  # on PostgreSQL, one idle connection a request until a GC cycle


def test_post_changes_to_a_locked_store_is_told_to_retry(memory, monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from agent.sources import sqlstore
    from tests.test_api_support import CountingInvestigator, make_client

    def locked(self, _records):
        raise sqlstore.StoreError("observability store: database is locked (nothing was stored)") from (
            OperationalError("DELETE FROM changes", {}, sqlite3.OperationalError("database is locked")))

    monkeypatch.setattr(sqlstore.ObservabilityStore, "ingest_changes", locked)
    with make_client(memory, CountingInvestigator(memory)) as client:
        answer = client.post("/changes", json={"id": "c1", "service": "tariff-calc"})
    assert answer.status_code == 503 and "Retry-After" in answer.headers, answer.text
    assert "database is locked (nothing was stored)" in answer.json()["detail"]
