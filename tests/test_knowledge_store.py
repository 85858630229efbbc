"""The Chroma knowledge store: ingestion idempotency, search, tag filters and fallback, no network."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import socket
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from agent.config import PROJECT_ROOT, Settings
from agent.knowledge import store as store_module
from agent.knowledge.chunking import read_handbook
from agent.knowledge.embedding import LocalOnnxEmbedding
from agent.knowledge.store import KnowledgeStore, KnowledgeStoreError, filter_chain

HANDBOOK = PROJECT_ROOT / "knowledge"
SMALL = ["runbooks/cache-failure.md", "runbooks/disk-full.md", "services/cache.md"]
# One embedding function for the module: its cache spares re-embedding the same chunks per test.
EF = LocalOnnxEmbedding()


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> KnowledgeStore:
    """The whole shipped handbook, ingested once for this module into its own home."""
    home = tmp_path_factory.mktemp("knowledge-home")
    knowledge = KnowledgeStore(Settings(home=home, knowledge_dir=HANDBOOK), embedding_function=EF)
    report = knowledge.ingest_handbook()
    assert report.ok and report.added == report.chunks > 0
    return knowledge


@pytest.fixture
def small_handbook(tmp_path) -> Path:
    root = tmp_path / "handbook"
    for rel in SMALL:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HANDBOOK / rel, root / rel)
    return root


@pytest.fixture
def small_store(tmp_path, small_handbook) -> KnowledgeStore:
    """An empty store whose configured handbook is ``small_handbook``."""
    return KnowledgeStore(Settings(home=tmp_path / "home", knowledge_dir=small_handbook), embedding_function=EF)


# -- search over the shipped handbook -------------------------------------------------------


def _rank(hits, doc: str) -> int:
    return next((i for i, h in enumerate(hits) if h.id.startswith(doc + "#")), len(hits))


def test_cache_query_ranks_cache_runbook_above_disk_runbook(store):
    hits = store.search("cache hit ratio dropped", collections=["handbook"], top_k=30)
    assert hits[0].id.split("#")[0] in {"runbooks/cache-failure.md", "services/cache.md"}
    assert _rank(hits, "runbooks/cache-failure.md") < _rank(hits, "runbooks/disk-full.md")
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(
    ("query", "doc"),
    [
        ("write failed: no space left on device", "runbooks/disk-full.md"),
        ("OOMKilled container exceeded memory limit, memory grows linearly", "runbooks/memory-leak.md"),
        ("canary has a higher error ratio than the baseline version", "runbooks/bad-release.md"),
        ("alert fires and resolves every few minutes, flapping", "runbooks/noisy-alert.md"),
    ],
)
def test_symptom_queries_find_their_runbook_first(store, query, doc):
    hits = store.search(query, collections=["handbook"], tags=["runbook"], top_k=3)
    assert hits[0].id.startswith(doc + "#"), [h.id for h in hits]


def test_snippets_carry_title_text_and_tags(store):
    hit = store.search("cache hit ratio dropped", tags=["cache_failure"], top_k=1)[0]
    assert hit.collection == "handbook"
    assert hit.title.startswith("Cache failure runbook") or hit.title.startswith("cache service")
    assert "cache_failure" in hit.tags
    assert hit.text and not hit.text.startswith("---")


def test_tag_filter_selects_only_tagged_chunks(store):
    hits = store.search("what should I do now", tags=["disk_full"], top_k=10)
    assert hits
    assert all("disk_full" in h.tags for h in hits)
    either = store.search("what should I do now", tags=["slo", "escalation"], top_k=10)
    assert {h.id.split("#")[0] for h in either} == {"policies/slos.md", "policies/on-call-escalation.md"}


def test_service_filter_combines_with_tags(store):
    hits = store.search("latency is high", tags=["service"], services=["ranking"], top_k=10)
    assert hits and all(h.id.startswith("services/ranking.md#") for h in hits)


def test_service_pages_of_services_not_in_question_take_no_place(store):
    """An alert on a system the handbook does not describe is not sent to read the demo system's service pages."""
    query = "tariff-calc TariffCalcSlowResponses tariff-calc handle time above 100 ms"
    plain = store.search(query, tags=["slow_dependency"], top_k=3)
    assert any(h.id.startswith("services/") for h in plain)  # what a new system's investigation used to be shown
    hits = store.search(query, tags=["slow_dependency"], top_k=3, in_question=["tariff-calc", "ledger-db"])
    assert len(hits) == 3 and not any(h.id.startswith("services/") for h in hits)
    assert any(h.id.startswith("runbooks/slow-dependency.md#") for h in hits)
    ours = store.search("latency is high", tags=["service"], top_k=10, in_question=["ranking", "Cache"])
    assert ours and {h.id.split("#")[0] for h in ours} <= {"services/ranking.md", "services/cache.md"}


def test_unknown_tag_falls_back_to_unfiltered(store):
    filtered = store.search("cache hit ratio dropped", tags=["no-such-tag"], top_k=3)
    plain = store.search("cache hit ratio dropped", top_k=3)
    assert filtered and [h.id for h in filtered] == [h.id for h in plain]


def test_filter_chain_relaxes_in_order():
    chain = filter_chain(["a", "b"], ["svc"])
    assert chain == [
        {"$and": [{"$or": [{"tag_a": True}, {"tag_b": True}]}, {"svc_svc": True}]},
        {"$or": [{"tag_a": True}, {"tag_b": True}]},
        {"svc_svc": True},
        None,
    ]
    assert filter_chain(None, None) == [None]


def test_min_score_and_empty_queries(store):
    assert store.search("", top_k=3) == []
    assert store.search("cache", top_k=0) == []
    assert store.search("cache hit ratio dropped", min_score=0.99) == []


def test_unknown_collection_is_rejected(store):
    with pytest.raises(KnowledgeStoreError, match="unknown collection 'playbooks'"):
        store.search("x", collections=["playbooks"])


def test_get_and_count(store):
    snippet = store.get("handbook", "runbooks/cache-failure.md#symptoms")
    assert snippet is not None and "cache_hit_ratio" in snippet.text
    assert store.get("handbook", "nope#nothing") is None
    assert store.count("handbook") == store.stats()["handbook"] > 50


# -- experience and cases -------------------------------------------------------------------


def test_add_search_get_delete_experience(small_store):
    small_store.add(
        "experience",
        "exp-1",
        "Ranking p99 alerts at the evening peak were noise twice: yesterday's level, no errors.",
        {"title": "Ranking evening-peak alerts", "tags": ["noisy_alert", "ranking"], "services": ["ranking"], "n": 2},
    )
    small_store.add(
        "experience", "exp-2", "Feature-store compaction stalls make ranking slow.", {"tags": "slow_dependency"}
    )
    assert small_store.count("experience") == 2
    hits = small_store.search("ranking alert at peak time", collections=["experience"], tags=["noisy_alert"])
    assert [h.id for h in hits] == ["exp-1"]
    assert hits[0].title == "Ranking evening-peak alerts"
    assert hits[0].tags == ["noisy_alert", "ranking"]
    meta = small_store.get_metadata("experience", "exp-1")
    assert meta["svc_ranking"] is True and meta["tag_ranking"] is True and meta["n"] == 2
    small_store.add("experience", "exp-1", "Replaced text.", {"title": "v2"})
    assert small_store.count("experience") == 2
    assert small_store.get("experience", "exp-1").text == "Replaced text."
    small_store.delete("experience", ["exp-1", "never-existed"])
    assert small_store.count("experience") == 1
    assert small_store.get("experience", "exp-1") is None


@pytest.mark.parametrize(
    ("text", "metadata", "message"),
    [
        ("", None, "text is empty"),
        ("ok", {"nested": {"a": 1}}, "'nested'"),
        ("ok", {"tags": [1, 2]}, "'tags'"),
    ],
)
def test_add_rejects_bad_input(small_store, text, metadata, message):
    with pytest.raises(ValueError, match=message):
        small_store.add("cases", "c1", text, metadata)


def test_search_on_empty_collections(small_store):
    assert small_store.search("anything", collections=["experience", "cases"]) == []


# -- ingestion ------------------------------------------------------------------------------


def test_ingest_is_idempotent_and_tracks_edits_and_deletions(small_store, small_handbook):
    first = small_store.ingest_handbook(small_handbook)
    assert first.ok and first.documents == 3
    assert first.added == first.chunks == small_store.count("handbook")

    again = small_store.ingest_handbook(small_handbook)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, first.chunks)
    assert again.changed_docs == []

    doc = small_handbook / "runbooks/cache-failure.md"
    doc.write_text(doc.read_text().replace("## Escalation", "## Paging"), encoding="utf-8")
    text = doc.read_text().replace("primary signal", "primary signal, and the zebra clue")
    doc.write_text(text, encoding="utf-8")
    edited = small_store.ingest_handbook(small_handbook)
    assert edited.changed_docs == ["runbooks/cache-failure.md"]
    assert edited.updated == 1 and edited.added == 1 and edited.removed == 1
    assert small_store.get("handbook", "runbooks/cache-failure.md#escalation") is None
    assert "zebra" in small_store.get("handbook", "runbooks/cache-failure.md#symptoms").text
    assert small_store.count("handbook") == first.chunks

    disk_chunks = sum(1 for i in _ids(small_store) if i.startswith("runbooks/disk-full.md#"))
    (small_handbook / "runbooks/disk-full.md").unlink()
    removed = small_store.ingest_handbook(small_handbook)
    assert removed.removed_docs == ["runbooks/disk-full.md"] and removed.removed == disk_chunks
    assert not any(i.startswith("runbooks/disk-full.md#") for i in _ids(small_store))
    assert small_store.count("handbook") == first.chunks - disk_chunks


def test_a_page_saved_twice_takes_one_place_in_the_results(small_store, small_handbook):
    copy = small_handbook / "old" / "cache-failure.md"
    copy.parent.mkdir()
    shutil.copy(small_handbook / "runbooks/cache-failure.md", copy)
    assert small_store.ingest_handbook(small_handbook).ok
    hits = small_store.search("cache hit ratio dropped", collections=["handbook"], top_k=4)
    assert len(hits) == 4 and len({(h.title, h.text) for h in hits}) == 4, [h.id for h in hits]
    docs = [h.id.split("#")[0] for h in hits]
    assert "services/cache.md" in docs and {"old/cache-failure.md", "runbooks/cache-failure.md"} & set(docs)


def _ids(store: KnowledgeStore) -> list[str]:
    return store.collection("handbook").get(include=[])["ids"]


def test_bad_document_is_reported_and_its_old_chunks_kept(small_store, small_handbook):
    small_store.ingest_handbook(small_handbook)
    before = small_store.count("handbook")
    doc = small_handbook / "services/cache.md"
    doc.write_text(doc.read_text().replace("kind: service", "kind: novel"), encoding="utf-8")
    report = small_store.ingest_handbook(small_handbook)
    assert not report.ok
    assert list(report.errors) == ["services/cache.md"]
    assert "services/cache.md:3: field 'kind'" in report.errors["services/cache.md"]
    assert report.removed == 0 and small_store.count("handbook") == before


def test_ingest_reports_progress_in_chunks_within_a_document(small_store, small_handbook, monkeypatch):
    """A long page moves the bar as its chunks are embedded, not only once it is done; unchanged chunks count
    at once."""
    monkeypatch.setattr(store_module, "EMBED_BATCH", 2)
    sizes = {doc: len(chunks) for doc, chunks in read_handbook(small_handbook).chunks.items()}
    total = sum(sizes.values())
    assert max(sizes.values()) > 2
    embedding, unchanged = [], []  # steps: (chunks done, total, document)
    for doc, size in sizes.items():
        done = embedding[-1][0] if embedding else 0
        embedding += [(done + min(n, size), total, doc) for n in range(2, size + 2, 2)]  # each batch of two
        embedding.append((done + size, total, doc))  # the document done
        unchanged.append((done + size, total, doc))

    first: list[tuple[int, int, str]] = []
    small_store.ingest_handbook(small_handbook, progress=lambda *step: first.append(step))
    assert first == embedding  # every chunk embedded, two at a time
    again: list[tuple[int, int, str]] = []
    small_store.ingest_handbook(small_handbook, progress=lambda *step: again.append(step))
    assert again == unchanged  # nothing to embed: one step per document


def test_another_directory_adds_its_own_chunks_and_never_touches_the_handbooks(small_store, small_handbook,
                                                                                tmp_path):
    """``knowledge ingest OTHER`` used to mirror OTHER into the handbook collection: the configured handbook's
    chunks were removed, and investigations, which re-ingested only an empty collection, never got them back."""
    handbook = small_store.ingest_handbook()
    assert handbook.configured and small_store.has_handbook()
    other = tmp_path / "team-runbooks"
    (other / "runbooks").mkdir(parents=True)
    shutil.copy(small_handbook / "runbooks/cache-failure.md", other / "runbooks/cache-failure.md")  # the same page
    doc = other / "runbooks/cache-failure.md"
    doc.write_text(doc.read_text().replace("primary signal", "primary signal, and the zebra clue"), encoding="utf-8")
    shutil.copy(small_handbook / "services/cache.md", other / "cache.md")

    added = small_store.ingest_handbook(other)
    assert not added.configured and added.added == added.chunks and added.removed == 0
    assert small_store.count("handbook") == handbook.chunks + added.chunks
    assert "zebra" not in small_store.get("handbook", "runbooks/cache-failure.md#symptoms").text  # not overwritten
    theirs = [i for i in _ids(small_store) if i.startswith("team-runbooks~")]
    assert len(theirs) == added.chunks and any(i.endswith(":runbooks/cache-failure.md#symptoms") for i in theirs)
    assert small_store.handbook_dirs() == {"": handbook.chunks, str(other.resolve()): added.chunks}

    (other / "cache.md").unlink()
    mirrored = small_store.ingest_handbook(other)  # a page gone from the other directory: only its chunks go
    assert mirrored.removed_docs == ["cache.md"] and mirrored.removed > 0
    assert small_store.ingest_handbook().unchanged == handbook.chunks  # the handbook's own, all still there
    assert small_store.count("handbook") == handbook.chunks + mirrored.chunks

    assert small_store.forget_handbook_dir(other) == mirrored.chunks
    assert small_store.count("handbook") == handbook.chunks and small_store.forget_handbook_dir(other) == 0
    with pytest.raises(KnowledgeStoreError, match="configured handbook"):
        small_store.forget_handbook_dir(small_handbook)


def test_investigations_ingest_the_configured_handbook_when_only_another_directory_is_stored(tmp_path,
                                                                                             small_handbook):
    from agent.runtime import open_knowledge

    settings = Settings(home=tmp_path / "home", knowledge_dir=small_handbook)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(small_handbook / "runbooks/disk-full.md", other / "disk-full.md")
    store = KnowledgeStore(settings, embedding_function=EF)
    store.ingest_handbook(other)
    assert store.count("handbook") > 0 and not store.has_handbook()
    assert open_knowledge(settings).has_handbook()


def test_a_directory_named_as_the_handbook_now_replaces_its_chunks_stored_as_another_one(tmp_path, small_handbook):
    """A directory ingested as another one, then made the configured handbook (BIANQUE_KNOWLEDGE_DIR): its old
    chunks are replaced, not kept twice."""
    before = KnowledgeStore(Settings(home=tmp_path / "home"), embedding_function=EF)
    extra = before.ingest_handbook(small_handbook)
    assert not extra.configured
    after = KnowledgeStore(Settings(home=tmp_path / "home", knowledge_dir=small_handbook), embedding_function=EF)
    report = after.ingest_handbook()
    assert report.configured and report.removed == extra.chunks and report.added == report.chunks
    assert after.count("handbook") == report.chunks and after.handbook_dirs() == {"": report.chunks}


def test_persisted_store_reopens_with_its_data(tmp_path, small_handbook):
    settings = Settings(home=tmp_path / "home")
    first = KnowledgeStore(settings, embedding_function=EF)
    chunks = first.ingest_handbook(small_handbook).chunks
    reopened = KnowledgeStore(settings, embedding_function=EF)
    assert reopened.count("handbook") == chunks
    assert reopened.ingest_handbook(small_handbook).added == 0


# -- no network, server errors ------------------------------------------------------------


def test_no_network_and_never_chromas_default_model(tmp_path, small_handbook, monkeypatch):
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2

    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded_connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("/"):
            attempts.append(address)
            raise OSError(f"network access attempted: {address}")
        return real_connect(sock, address)

    def no_download(*args, **kwargs):
        attempts.append("chroma default embedding")
        raise AssertionError("Chroma's default (downloading) embedding function was used")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "__call__", no_download)
    monkeypatch.setattr(onnx_mini_lm_l6_v2.ONNXMiniLM_L6_V2, "_download_model_if_not_exists", no_download)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = KnowledgeStore(Settings(home=tmp_path / "home"))
    store.ingest_handbook(small_handbook)
    store.add("cases", "case-1", "ranking slow after feature-store compaction", {"tags": ["slow_dependency"]})
    assert store.search("cache hit ratio dropped", collections=["handbook", "cases"], top_k=2)
    store.collection("handbook").query(query_texts=["collection-level embedding"], n_results=1)
    assert attempts == []


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(home=tmp_path / "home", chroma_url=f"http://127.0.0.1:{port}")
    with pytest.raises(KnowledgeStoreError, match=f"cannot reach the Chroma server at http://127.0.0.1:{port}"):
        KnowledgeStore(settings)


def test_a_chroma_server_that_never_answers_is_given_up_after_the_source_timeout(tmp_path):
    """chromadb's HTTP client waits for an answer without end (httpx timeout=None): a loopback server that accepts
    the connection and never answers is given up after source_timeout_s, a clear error, not a thread held for good."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # the kernel accepts the connections; nothing reads or answers them
        port = server.getsockname()[1]
        settings = Settings(home=tmp_path / "home", chroma_url=f"http://127.0.0.1:{port}", source_timeout_s=1)
        error = _within(120, lambda: KnowledgeStore(settings))
    assert isinstance(error, KnowledgeStoreError)
    assert f"cannot reach the Chroma server at http://127.0.0.1:{port}: timed out" in str(error)


class _HangingChroma(BaseHTTPRequestHandler):
    """A Chroma server that answers what opening a client asks (heartbeat, identity, tenant, database) and nothing
    after: every other request waits until the test ends (``release``)."""

    release = threading.Event()
    ANSWERS = {"/heartbeat": {"nanosecond heartbeat": 1},
               "/auth/identity": {"user_id": "u", "tenant": "default_tenant", "databases": ["default_database"]},
               "/tenants/default_tenant": {"name": "default_tenant"},
               "/databases/default_database": {"id": str(uuid.UUID(int=0)), "name": "default_database",
                                               "tenant": "default_tenant"}}

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = next((answer for end, answer in self.ANSWERS.items() if self.path.endswith(end)), None)
        if body is None:
            self.release.wait()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_GET


def test_a_search_on_a_chroma_server_that_stops_answering_is_given_up_after_the_source_timeout(tmp_path):
    """Once opened, each request of the client is bounded too: a search the server never answers fails (httpx's
    timeout, which a search's caller reports as missing knowledge), it does not hold the thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HangingChroma)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        store = KnowledgeStore(Settings(home=tmp_path / "home", source_timeout_s=1,
                                        chroma_url=f"http://127.0.0.1:{server.server_address[1]}"))
        outcome = _within(120, lambda: store.search("cache hit ratio", collections=["handbook"], top_k=1))
    finally:
        _HangingChroma.release.set()
        server.shutdown()
        server.server_close()
    assert isinstance(outcome, httpx.TimeoutException)


def _within(bound_s: float, call: Callable[[], object]) -> object:
    """What ``call`` returned or raised, run in a thread joined for ``bound_s`` only so that a hang fails the test
    instead of holding it (the bound under test is far shorter)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound_s)
    assert not thread.is_alive(), "still waiting for the server"
    return outcome[0]


def test_malformed_chroma_url(tmp_path):
    """Refused with the settings (naming the field), before any store is opened."""
    with pytest.raises(ValidationError, match=r"chroma_url\n.*not an http\(s\) URL"):
        Settings(home=tmp_path, chroma_url="chroma.internal:8000")


def test_a_corrupt_store_is_a_clear_error_naming_it(tmp_path):
    home = tmp_path / "home"
    (home / "chroma").mkdir(parents=True)
    (home / "chroma" / "chroma.sqlite3").write_bytes(b"not a database, " * 512)
    where = re.escape(str(home / "chroma"))
    with pytest.raises(KnowledgeStoreError, match=f"cannot open the knowledge store at {where}: .*not a database"):
        KnowledgeStore(Settings(home=home), embedding_function=EF)


def _held(lock: Path) -> bool:
    """Another open file cannot take the lock: some process or thread holds it."""
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def test_first_open_and_ingestion_hold_the_store_lock(tmp_path, small_handbook, monkeypatch):
    """Two processes opening a new store at once fail ("table collections already exists"), and two ingestions
    interleaved can write a mix of both: each holds a lock file in home while it works, and only then."""
    home = tmp_path / "home"
    seen: list[str] = []
    real_client = store_module.chromadb.PersistentClient

    def client(*args, **kwargs):
        seen.append(f"open locked={_held(home / 'chroma-open.lock')}")
        return real_client(*args, **kwargs)

    monkeypatch.setattr(store_module.chromadb, "PersistentClient", client)
    store = KnowledgeStore(Settings(home=home), embedding_function=EF)
    ingest_lock = home / "chroma-ingest.lock"
    store.ingest_handbook(small_handbook, progress=lambda *_: seen.append(f"ingest locked={_held(ingest_lock)}"))
    assert seen[0] == "open locked=True" and set(seen[1:]) == {"ingest locked=True"}
    assert not _held(home / "chroma-open.lock") and not _held(ingest_lock)
