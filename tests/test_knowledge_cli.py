"""``bianque knowledge``: ingest, search, stats."""

from __future__ import annotations

import shutil
import socket

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import PROJECT_ROOT, get_settings

runner = CliRunner()
DOCS = ["runbooks/cache-failure.md", "runbooks/disk-full.md"]
SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture
def handbook(tmp_path):
    root = tmp_path / "handbook"
    for rel in DOCS:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "knowledge" / rel, root / rel)
    return root


def test_ingest_search_stats(handbook, bianque_home):
    first = runner.invoke(app, ["knowledge", "ingest", str(handbook)])
    assert first.exit_code == 0, first.output
    assert "2 documents" in first.output and "0 updated" in first.output and " added" in first.output
    assert (bianque_home / "chroma").is_dir()

    again = runner.invoke(app, ["knowledge", "ingest", str(handbook)])
    assert again.exit_code == 0 and "0 added, 0 updated, 0 removed" in again.output

    found = runner.invoke(
        app, ["knowledge", "search", "no space left on device", "--tag", "disk_full", "-c", "handbook", "-k", "1"]
    )
    assert found.exit_code == 0, found.output
    assert "Disk full runbook" in found.output and "Cache failure" not in found.output

    stats = runner.invoke(app, ["knowledge", "stats"])
    assert stats.exit_code == 0
    assert "handbook" in stats.output and "experience" in stats.output and "bianque-minilm-onnx-int8" in stats.output


def test_ingest_with_a_bad_document_exits_1_naming_it(handbook):
    (handbook / "broken.md").write_text("# no front matter\n", encoding="utf-8")
    result = runner.invoke(app, ["knowledge", "ingest", str(handbook)])
    assert result.exit_code == 1
    assert "broken.md" in result.output and "missing YAML front matter" in result.output
    assert "2 documents" in result.output


def test_ingest_missing_directory_exits_2(tmp_path):
    result = runner.invoke(app, ["knowledge", "ingest", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "handbook directory not found" in result.output


def test_search_unknown_collection_exits_2():
    result = runner.invoke(app, ["knowledge", "search", "x", "--collection", "playbooks"])
    assert result.exit_code == 2
    assert "unknown collection 'playbooks'" in result.output


def test_search_empty_store_says_how_to_fill_it():
    result = runner.invoke(app, ["knowledge", "search", "cache"])
    assert result.exit_code == 0
    assert "bianque knowledge ingest" in result.output


@pytest.mark.parametrize("command", [["knowledge", "stats"], ["rca", "--bundle", str(SCENARIO)],
                                     ["eval", "--jobs", "1", "--cases", str(SCENARIO.parent)]])
def test_an_unusable_store_exits_2_naming_it(bianque_home, command):
    (bianque_home / "chroma").mkdir(parents=True)
    (bianque_home / "chroma" / "chroma.sqlite3").write_bytes(b"not a database, " * 512)
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "error: cannot open the knowledge store at" in " ".join(result.output.split())


def test_an_embedding_endpoint_that_fails_exits_2_naming_it(handbook, bianque_home, monkeypatch):
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", url)
    monkeypatch.setenv("BIANQUE_EMBEDDING_MODEL", "embedder")
    get_settings.cache_clear()
    result = runner.invoke(app, ["knowledge", "ingest", str(handbook)])
    assert result.exit_code == 2, result.output
    assert f"error: embeddings from {url} (model embedder) failed: connection error" in " ".join(result.output.split())


def test_search_and_ingest_print_stored_text_as_it_is_never_as_markup(knowledge, handbook):
    """Experience notes and past cases quote logs and engineers ("[/api/v1/rank]"): shown verbatim, no crash."""
    note = "upstream [/api/v1/rank] timed out [bold]twice"
    knowledge.add("experience", "exp-1", note, {"title": "Past [/case] [red]"})
    found = runner.invoke(app, ["knowledge", "search", "rank timed out", "-c", "experience"], env={"COLUMNS": "200"})
    assert found.exit_code == 0, found.output
    assert "Past [/case] [red]" in found.output and note in found.output
    (handbook / "[draft].md").write_text("---\ntitle: x\nkind: runbook\ntags: ['[/x]']\n---\n", encoding="utf-8")
    ingest = runner.invoke(app, ["knowledge", "ingest", str(handbook)], env={"COLUMNS": "200"})
    assert ingest.exit_code == 1, ingest.output
    assert "skipped [draft].md:" in ingest.output and "'[/x]' is not a valid name" in ingest.output


def test_ingesting_another_directory_keeps_the_configured_handbook(handbook, tmp_path, monkeypatch):
    monkeypatch.setenv("BIANQUE_KNOWLEDGE_DIR", str(handbook))
    get_settings.cache_clear()
    assert runner.invoke(app, ["knowledge", "ingest"]).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(handbook / "runbooks/disk-full.md", other / "disk-full.md")
    added = runner.invoke(app, ["knowledge", "ingest", str(other)])
    assert added.exit_code == 0, added.output
    assert f"{other} (only this directory's chunks; the others' stay): 1 documents" in added.output
    assert " 0 removed" in added.output
    stats = runner.invoke(app, ["knowledge", "stats"]).output
    assert f"from {handbook} (the configured handbook)\n" in stats and f" chunks from {other}\n" in stats
    forgot = runner.invoke(app, ["knowledge", "forget-dir", str(other)])
    assert forgot.exit_code == 0 and f"chunks of {other}" in forgot.output
    again = runner.invoke(app, ["knowledge", "forget-dir", str(other)])
    assert again.exit_code == 1 and "nothing removed" in again.output
    assert f"from {other}" not in runner.invoke(app, ["knowledge", "stats"]).output


def test_stats_and_a_bad_chroma_url_name_the_server_without_its_basic_auth_password(knowledge, monkeypatch):
    """`knowledge stats` printed the configured Chroma URL whole, a basic-auth password included, and so did the
    error of a URL that is not http(s)."""
    from agent.knowledge.store import KnowledgeStoreError, make_client

    monkeypatch.setattr("agent.knowledge.store.make_client", lambda _settings: knowledge.client)  # no server here
    monkeypatch.setenv("BIANQUE_CHROMA_URL", "http://admin:s3cret@chroma.internal:8000")
    get_settings.cache_clear()
    stats = runner.invoke(app, ["knowledge", "stats"], env={"COLUMNS": "200"})
    assert stats.exit_code == 0, stats.output
    assert "store: http://admin:***@chroma.internal:8000;" in stats.output and "s3cret" not in stats.output
    settings = get_settings().model_copy(update={"chroma_url": "ftp://admin:s3cret@chroma.internal"})
    with pytest.raises(KnowledgeStoreError) as refused:
        make_client(settings)
    assert str(refused.value) == "chroma_url 'ftp://admin:***@chroma.internal': expected http(s)://host[:port]"
