"""The knowledge store: the handbook, experience notes and past cases in Chroma.

Embedded ``PersistentClient`` under ``home/chroma`` by default, ``HttpClient`` when
``settings.chroma_url`` is set; telemetry off. Every collection is given our embedding function
explicitly (Chroma's default would download a model) and uses the cosine space, so a snippet's
score is ``1 - distance``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError

from agent.config import Settings, get_settings, masked_url
from agent.evidence import KnowledgeSnippet
from agent.files import file_lock
from agent.knowledge.chroma_http import bounded_http_client
from agent.knowledge.chunking import Chunk, MetadataValue, label_metadata, read_handbook, service_key, tag_key
from agent.knowledge.embedding import embedding_function_for, embedding_space

COLLECTIONS = ("handbook", "experience", "cases")
ProgressFn = Callable[[int, int, str], None]  # (chunks done, chunks total, current document)
EMBED_BATCH = 64  # handbook chunks embedded between two progress reports (a few seconds on 2 CPUs)
CONFIGURED = {"source": "handbook"}  # the configured handbook's chunks (``settings.knowledge_dir``; any stored before
# other directories were kept apart too)
EXTRA_SOURCE = "directory"  # ``source`` of the chunks of any other directory, named by their ``handbook_dir``


class KnowledgeStoreError(RuntimeError):
    """The store cannot be reached or was asked something it cannot do."""


@dataclass
class IngestReport:
    """What one handbook ingestion changed (counts are chunks; doc lists are relative paths)."""

    directory: str
    configured: bool = True  # the configured handbook (settings.knowledge_dir), else another directory's own chunks
    documents: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    changed_docs: list[str] = field(default_factory=list)
    removed_docs: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class _Tally:
    """Chunks done of ``total``, told to ``progress`` (if any) as they add up."""

    total: int
    progress: ProgressFn | None
    done: int = 0

    def add(self, doc: str, count: int) -> None:
        self.done += count
        if self.progress:
            self.progress(self.done, self.total, doc)


@dataclass(frozen=True)
class HandbookSource:
    """Which chunks of the ``handbook`` collection one ingested directory owns, and how its records are named.

    The configured handbook (``settings.knowledge_dir``, re-ingested by investigations when none of it is stored)
    keeps the plain chunk ids (``runbooks/x.md#symptoms``) and ``source: handbook``; any other directory's chunks
    carry ``source: directory`` and ``handbook_dir`` (its absolute path), and ids prefixed with its key
    (``team-runbooks~1a2b3c4d:runbooks/x.md#symptoms``), so two directories holding the same page never overwrite
    each other and ingesting one never touches another's chunks.
    """

    directory: Path
    configured: bool

    @classmethod
    def of(cls, directory: Path, settings: Settings) -> HandbookSource:
        resolved = Path(directory).expanduser().resolve()
        return cls(resolved, resolved == Path(settings.knowledge_dir).expanduser().resolve())

    @property
    def prefix(self) -> str:
        if self.configured:
            return ""
        name = re.sub(r"[^a-z0-9]+", "-", self.directory.name.lower()).strip("-") or "dir"
        return f"{name}~{hashlib.sha1(str(self.directory).encode()).hexdigest()[:8]}:"

    @property
    def where(self) -> dict[str, Any]:
        """The stored records this directory owns: for the configured handbook, also any stored when it was
        ingested as another directory (before ``BIANQUE_KNOWLEDGE_DIR`` named it), replaced now."""
        mine = {"handbook_dir": str(self.directory)}
        return {"$or": [CONFIGURED, mine]} if self.configured else mine

    def record(self, chunk: Chunk) -> Chunk:
        """``chunk`` as this directory stores it (its id and the metadata naming its directory)."""
        if self.configured:
            return chunk
        return replace(chunk, id=self.prefix + chunk.id,
                       metadata={**chunk.metadata, "source": EXTRA_SOURCE, "handbook_dir": str(self.directory)})


def make_client(settings: Settings) -> ClientAPI:
    """A Chroma client for the settings: a server when ``chroma_url`` is set (each request given up after
    ``source_timeout_s``), else embedded in home."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise KnowledgeStoreError(f"chroma_url {masked_url(settings.chroma_url)!r}: expected http(s)://host[:port]")
        ssl = url.scheme == "https"
        try:
            # chromadb.HttpClient's requests have no time bound: a hung server held a search's thread for good
            return bounded_http_client(url.hostname, url.port or (443 if ssl else 8000), ssl, settings.source_timeout_s,
                                       chroma_settings)
        except Exception as exc:
            where = masked_url(settings.chroma_url or "")
            raise KnowledgeStoreError(f"cannot reach the Chroma server at {where}: {exc}") from exc
    path = settings.ensure_home() / "chroma"
    try:
        with store_lock(settings, "open"):  # two first opens at once fail: "table collections already exists"
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except (ChromaError, OSError) as exc:  # a read-only directory, a file that is not Chroma's database
        raise KnowledgeStoreError(f"cannot open the knowledge store at {path}: {exc}") from exc


@contextmanager
def store_lock(settings: Settings, section: str) -> Iterator[None]:
    """One process (or thread) at a time in a critical ``section`` of the embedded store: ``open`` (the first
    open creates its tables) or ``ingest`` (a handbook ingestion reads what is stored, then writes the
    difference). An exclusive ``flock`` on ``home/chroma-<section>.lock``, so a long ingestion never holds up
    opening the store; nothing to hold for a Chroma server or without ``fcntl``."""
    if settings.chroma_url:
        yield
        return
    with file_lock(settings.ensure_home() / f"chroma-{section}.lock"):
        yield


def _normalise_metadata(metadata: dict[str, Any] | None) -> dict[str, MetadataValue]:
    """Scalars pass through; ``tags`` / ``services`` lists become filterable keys; None is dropped."""
    out: dict[str, MetadataValue] = {}
    meta = dict(metadata or {})
    tags, services = meta.pop("tags", None), meta.pop("services", None)
    for key, value in meta.items():
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ValueError(f"metadata field {key!r}: {type(value).__name__} is not a str, int, float or bool")
        out[key] = value
    tag_list = _names(tags, "tags")
    service_list = _names(services, "services")
    out.update(label_metadata(list(dict.fromkeys([*tag_list, *service_list])), service_list))
    return out


def _names(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    if not all(isinstance(i, str) for i in items):
        raise ValueError(f"metadata field {name!r}: expected a list of strings")
    return [i.strip().lower() for i in items if i.strip()]


def _any_of(keys: list[str]) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = [{k: True} for k in dict.fromkeys(keys)]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def filter_chain(tags: Sequence[str] | None, services: Sequence[str] | None) -> list[dict[str, Any] | None]:
    """Filters tried in order until one returns anything: tags and services, tags, services, none."""
    by_tag = _any_of([tag_key(t.lower()) for t in tags or []])
    by_service = _any_of([service_key(s.lower()) for s in services or []])
    both = {"$and": [by_tag, by_service]} if by_tag and by_service else None
    chain: list[dict[str, Any] | None] = []
    for where in (both, by_tag, by_service):
        if where is not None and where not in chain:
            chain.append(where)
    return [*chain, None]


class KnowledgeStore:
    """Handbook, experience and case knowledge, searchable by meaning and filterable by tag."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: ClientAPI | None = None,
        embedding_function: EmbeddingFunction[Documents] | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.embedding_function = embedding_function or embedding_function_for(self.settings)
        self.client = client or make_client(self.settings)
        self._space = embedding_space(self.embedding_function)
        self._collections: dict[str, Collection] = {}

    # -- collections -------------------------------------------------------------------------

    def collection(self, name: str) -> Collection:
        """The Chroma collection behind a logical name (``handbook``, ``experience``, ``cases``)."""
        if name not in COLLECTIONS:
            raise KnowledgeStoreError(f"unknown collection {name!r}; expected one of {', '.join(COLLECTIONS)}")
        if name not in self._collections:
            physical = f"{name}-{self._space}" if self._space else name
            try:
                self._collections[name] = self.client.get_or_create_collection(
                    name=physical,
                    embedding_function=self.embedding_function,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            except ValueError as exc:
                raise KnowledgeStoreError(f"collection {physical!r}: {exc}") from exc
        return self._collections[name]

    def count(self, collection: str) -> int:
        """Number of records in a collection."""
        return self.collection(collection).count()

    def stats(self) -> dict[str, int]:
        """Record count of every collection."""
        return {name: self.count(name) for name in COLLECTIONS}

    # -- writing -----------------------------------------------------------------------------

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        return [np.asarray(v, dtype=np.float32) for v in self.embedding_function(texts)]

    def add(self, collection: str, id: str, text: str, metadata: dict[str, Any] | None = None) -> None:
        """Insert or replace one record; ``tags``/``services`` lists in metadata become filterable."""
        if not text.strip():
            raise ValueError(f"{collection}/{id}: text is empty")
        meta = _normalise_metadata(metadata)
        title = str(meta.get("title", ""))
        embed_text = f"{title}\n\n{text}" if title else text
        self.collection(collection).upsert(
            ids=[id],
            documents=[text],
            metadatas=[meta] if meta else None,
            embeddings=self._embed([embed_text]),
        )

    def delete(self, collection: str, ids: str | Iterable[str]) -> None:
        """Delete records by id (unknown ids are ignored)."""
        id_list = [ids] if isinstance(ids, str) else list(ids)
        if id_list:
            self.collection(collection).delete(ids=id_list)

    def _upsert_chunks(self, chunks: list[Chunk], embedded: Callable[[int], None]) -> None:
        """Embed ``chunks`` ``EMBED_BATCH`` at a time (``embedded(n)`` after each batch), then store them at once."""
        vectors: list[np.ndarray] = []
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = chunks[start : start + EMBED_BATCH]
            vectors += self._embed([c.embed_text for c in batch])
            embedded(len(batch))
        self.collection("handbook").upsert(
            ids=[c.id for c in chunks],
            documents=[c.text for c in chunks],
            metadatas=[{**c.metadata, "content_hash": c.content_hash} for c in chunks],
            embeddings=vectors,
        )

    def ingest_handbook(self, directory: Path | None = None, progress: ProgressFn | None = None) -> IngestReport:
        """Mirror a handbook directory into ``handbook``: only changed chunks are re-embedded, and only the chunks
        that came from this directory are added, replaced or removed (see :class:`HandbookSource`).

        Idempotent: chunk ids come from path and heading path, a changed chunk replaces its old
        version, chunks of deleted documents or sections are removed. A document whose front
        matter is invalid is reported in ``errors`` and its stored chunks are left as they were.
        ``progress`` is told the chunks done of all the handbook's chunks (unchanged ones count at
        once) after each document and each batch of chunks embedded within one.
        """
        source = HandbookSource.of(Path(directory or self.settings.knowledge_dir), self.settings)
        with store_lock(self.settings, "ingest"):  # a concurrent ingestion finishes before this one reads
            return self._ingest(source, progress)

    def has_handbook(self) -> bool:
        """Whether any chunk of the configured handbook is stored (other directories' chunks do not count)."""
        return bool(self.collection("handbook").get(where=CONFIGURED, limit=1, include=[])["ids"])

    def handbook_dirs(self) -> dict[str, int]:
        """Chunks stored per ingested directory: the configured handbook as ``""``, any other by its path."""
        stored = self.collection("handbook").get(include=["metadatas"])
        counts: dict[str, int] = {}
        for meta in stored["metadatas"] or []:
            meta = meta or {}
            where = "" if meta.get("source") != EXTRA_SOURCE else str(meta.get("handbook_dir", ""))
            counts[where] = counts.get(where, 0) + 1
        return counts

    def forget_handbook_dir(self, directory: Path) -> int:
        """Remove every chunk another directory's ingestion stored (the directory need not exist any more); the
        number removed. The configured handbook is refused: investigations would ingest it again."""
        source = HandbookSource.of(directory, self.settings)
        if source.configured:
            raise KnowledgeStoreError(f"{source.directory} is the configured handbook (BIANQUE_KNOWLEDGE_DIR), which "
                                      "investigations ingest again when it is missing: point BIANQUE_KNOWLEDGE_DIR "
                                      "at another directory first")
        handbook = self.collection("handbook")
        with store_lock(self.settings, "ingest"):
            ids = handbook.get(where=source.where, include=[])["ids"]
            if ids:
                handbook.delete(ids=ids)
        return len(ids)

    def _ingest(self, source: HandbookSource, progress: ProgressFn | None) -> IngestReport:
        scan = read_handbook(source.directory)
        report = IngestReport(directory=str(source.directory), configured=source.configured,
                              documents=len(scan.chunks), errors=dict(scan.errors))
        handbook = self.collection("handbook")
        stored: dict[str, dict[str, str]] = {}
        existing = handbook.get(where=source.where, include=["metadatas"])
        for record_id, meta in zip(existing["ids"], existing["metadatas"] or [], strict=False):
            doc = str((meta or {}).get("doc", ""))
            stored.setdefault(doc, {})[record_id] = str((meta or {}).get("content_hash", ""))
        tally = _Tally(sum(len(chunks) for chunks in scan.chunks.values()), progress)
        for doc, found in scan.chunks.items():
            chunks = [source.record(c) for c in found]
            old = stored.pop(doc, {})
            changed = [c for c in chunks if old.get(c.id) != c.content_hash]
            stale = set(old) - {c.id for c in chunks}
            if changed:
                self._upsert_chunks(changed, partial(tally.add, doc))
            if stale:
                handbook.delete(ids=sorted(stale))
            added = sum(1 for c in changed if c.id not in old)
            report.added += added
            report.updated += len(changed) - added
            report.unchanged += len(chunks) - len(changed)
            report.removed += len(stale)
            report.chunks += len(chunks)
            if changed or stale:
                report.changed_docs.append(doc)
            tally.add(doc, len(chunks) - len(changed))
        for doc, old in stored.items():
            if doc in scan.errors:
                continue
            handbook.delete(ids=sorted(old))
            report.removed += len(old)
            report.removed_docs.append(doc)
        return report

    # -- reading -----------------------------------------------------------------------------

    def get(self, collection: str, id: str) -> KnowledgeSnippet | None:
        """One record as a snippet (score 1.0), or None when absent."""
        got = self.collection(collection).get(ids=[id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        meta = (got["metadatas"] or [{}])[0] or {}
        return _snippet(collection, got["ids"][0], (got["documents"] or [""])[0] or "", meta, 1.0)

    def get_metadata(self, collection: str, id: str) -> dict[str, MetadataValue] | None:
        """The stored metadata of one record, or None when absent."""
        got = self.collection(collection).get(ids=[id], include=["metadatas"])
        if not got["ids"]:
            return None
        return dict((got["metadatas"] or [{}])[0] or {})

    def search(
        self,
        query: str,
        collections: Sequence[str] = ("handbook", "experience"),
        tags: Sequence[str] | None = None,
        top_k: int = 4,
        services: Sequence[str] | None = None,
        min_score: float = 0.0,
        in_question: Sequence[str] | None = None,
    ) -> list[KnowledgeSnippet]:
        """The ``top_k`` snippets most similar to ``query`` across ``collections``, best first.

        Records must carry any of ``tags`` and any of ``services``; when nothing matches, the
        filter is relaxed (tags only, services only, then none), so a search never comes back
        empty just because nothing was tagged. A copy of a better hit (the same title and text, as
        from a page saved twice in the handbook) takes no place. ``in_question``: the services an
        investigation reads; a service page (``kind: service``) about none of them takes no place either
        (the demo system's pages say nothing of a system they do not describe).
        """
        if top_k <= 0 or not query.strip():
            return []
        targets = [(name, self.collection(name)) for name in dict.fromkeys(collections)]
        targets = [(name, col) for name, col in targets if col.count() > 0]
        if not targets:
            return []
        vector = self._embed([query])[0]
        about = {s.lower() for s in in_question or []}
        for where in filter_chain(tags, services):
            hits = [s for s in _distinct_hits(targets, vector, where, top_k, about) if s.score >= min_score]
            if hits:
                return hits[:top_k]
        return []


def _distinct_hits(
    targets: list[tuple[str, Collection]], vector: np.ndarray, where: dict[str, Any] | None, top_k: int,
    about: set[str] | None = None,
) -> list[KnowledgeSnippet]:
    """The best hits across ``targets``, best first, each (title, text) once and none a service page about no
    service of ``about`` (when given); asked again for as many more as were dropped, until ``top_k`` are found or
    every record was seen."""
    k, most = top_k, max(col.count() for _, col in targets)
    while True:
        found = sorted((hit for name, col in targets for hit in _query(name, col, vector, where, k)),
                       key=lambda hit: hit[0].score, reverse=True)
        seen: set[tuple[str, str]] = set()
        distinct = []
        for snippet, meta in found:  # best first: the first copy is the best
            if about and not _about_any(meta, about):
                continue
            if (snippet.title, snippet.text) not in seen:
                seen.add((snippet.title, snippet.text))
                distinct.append(snippet)
        dropped = len(found) - len(distinct)
        if not dropped or len(distinct) >= top_k or k >= most:
            return distinct
        k += dropped


def _about_any(meta: Mapping[str, Any], services: set[str]) -> bool:
    """False for a service page (``kind: service``) about none of ``services``; True for every other record."""
    if meta.get("kind") != "service":
        return True
    return bool({s for s in str(meta.get("services", "")).split(",") if s} & services)


def _query(
    name: str, col: Collection, vector: np.ndarray, where: dict[str, Any] | None, k: int
) -> list[tuple[KnowledgeSnippet, Mapping[str, Any]]]:
    result = col.query(
        query_embeddings=[vector],
        n_results=min(k, col.count()),
        where=where,
        include=["documents", "metadatas", "distances"],
    )
    ids = result["ids"][0]
    docs = (result["documents"] or [[]])[0]
    metas = (result["metadatas"] or [[]])[0]
    dists = (result["distances"] or [[]])[0]
    return [
        (_snippet(name, i, d or "", m or {}, 1.0 - float(dist)), m or {})
        for i, d, m, dist in zip(ids, docs, metas, dists, strict=False)
    ]


def _snippet(collection: str, id: str, text: str, meta: Any, score: float) -> KnowledgeSnippet:
    tags = [t for t in str(meta.get("tags", "")).split(",") if t]
    title = str(meta.get("title") or meta.get("doc_title") or id)
    return KnowledgeSnippet(id=id, collection=collection, title=title, text=text, tags=tags, score=round(score, 4))
