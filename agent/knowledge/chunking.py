"""Handbook markdown to retrievable chunks: split by headings, bounded size, tiny sections merged.

Each chunk keeps its heading path as a title and carries metadata Chroma can filter on: the
document, its kind, tags as one string, and one boolean ``tag_<name>`` / ``svc_<name>`` key per
tag and service, because Chroma ``where`` filters cannot match inside a string.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from agent.knowledge.frontmatter import FrontMatter, FrontMatterError, split_front_matter

MAX_CHARS = 1000  # ~256 word pieces: the embedding model truncates beyond that
MIN_CHARS = 200
MAX_DOCUMENT_BYTES = 1_000_000  # ~1,000 chunks, a minute or more of embedding; a page is a few kB
TITLE_SEP = " > "
MetadataValue = str | int | float | bool

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def tag_key(tag: str) -> str:
    """Metadata key marking a chunk with a tag (``where={tag_key(t): True}``)."""
    return f"tag_{tag}"


def service_key(service: str) -> str:
    """Metadata key marking a chunk as being about a service."""
    return f"svc_{service}"


def label_metadata(tags: list[str], services: list[str]) -> dict[str, MetadataValue]:
    """The filterable form of tags and services: joined strings plus one boolean key each."""
    meta: dict[str, MetadataValue] = {"tags": ",".join(tags), "services": ",".join(services)}
    meta.update({tag_key(t): True for t in tags})
    meta.update({service_key(s): True for s in services})
    return meta


@dataclass(frozen=True)
class Chunk:
    """One piece of a handbook document, ready to embed and store."""

    id: str
    doc: str
    title: str
    text: str
    metadata: dict[str, MetadataValue]

    @property
    def embed_text(self) -> str:
        """What is embedded: the heading path gives the section its context."""
        return f"{self.title}\n\n{self.text}"

    @property
    def content_hash(self) -> str:
        payload = json.dumps([self.title, self.text, self.metadata], sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()


@dataclass
class _Section:
    paths: list[list[str]]  # heading path of each merged section; the first gives the chunk id
    text: str

    @property
    def title(self) -> str:
        """Common heading path, then the distinct headings below it (``A > B / C`` for merged B, C)."""
        common = self.paths[0]
        for path in self.paths[1:]:
            common = _common_path(common, path)
        below = list(dict.fromkeys(p[len(common)] for p in self.paths if len(p) > len(common)))
        title = TITLE_SEP.join(common)
        return f"{title}{TITLE_SEP}{' / '.join(below)}" if below else title

    def absorb(self, other: _Section) -> _Section:
        """This section followed by ``other``."""
        return _Section([*self.paths, *other.paths], f"{self.text}\n\n{other.text}")


@dataclass
class HandbookScan:
    """Every readable document's chunks (by relative path) and the documents that failed."""

    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _sections(title: str, body: str) -> list[_Section]:
    """Split a markdown body at headings (not inside code fences); H1 is the document title."""
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    current: list[str] = []
    path: list[str] = [title]
    in_fence = False
    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            current.append(line)
            continue
        sections.append(_Section([path], "\n".join(current).strip()))
        level, text = len(match.group(1)), match.group(2).strip()
        current = []
        if level == 1:
            stack, path = [], [title]
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        path = [title, *(t for _, t in stack)]
        current.append(line)
    sections.append(_Section([path], "\n".join(current).strip()))
    return [s for s in sections if s.text]


def _common_path(a: list[str], b: list[str]) -> list[str]:
    out: list[str] = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        out.append(x)
    return out


def _merge_small(sections: list[_Section], min_chars: int, max_chars: int) -> list[_Section]:
    """Fold a section shorter than ``min_chars`` into its neighbour when the result still fits."""
    merged: list[_Section] = []
    for section in sections:
        prev = merged[-1] if merged else None
        if prev and len(prev.text) < min_chars and len(prev.text) + len(section.text) + 2 <= max_chars:
            merged[-1] = prev.absorb(section)
        else:
            merged.append(section)
    if len(merged) > 1 and len(merged[-1].text) < min_chars:
        last, prev = merged[-1], merged[-2]
        if len(prev.text) + len(last.text) + 2 <= max_chars:
            merged[-2:] = [prev.absorb(last)]
    return merged


def _split_large(text: str, max_chars: int) -> list[str]:
    """Pack paragraphs (then lines, then raw characters) into pieces of at most ``max_chars``."""
    if len(text) <= max_chars:
        return [text]
    units: list[tuple[str, str]] = []  # (text, separator placed before it when packed)
    for para in re.split(r"\n\s*\n", text):
        if len(para) <= max_chars:
            units.append((para, "\n\n"))
            continue
        for line in para.splitlines():
            units.extend((line[i : i + max_chars], "\n") for i in range(0, max(len(line), 1), max_chars))
    pieces: list[str] = []
    for unit, sep in units:
        if pieces and len(pieces[-1]) + len(sep) + len(unit) <= max_chars:
            pieces[-1] = f"{pieces[-1]}{sep}{unit}"
        else:
            pieces.append(unit)
    return [p.strip() for p in pieces if p.strip()]


def _slug(parts: list[str]) -> str:
    slugs = [re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts]
    return "/".join(s for s in slugs if s) or "intro"


def chunk_markdown(
    doc: str, meta: FrontMatter, body: str, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS
) -> list[Chunk]:
    """Chunks of one document; ids are stable for a given path and heading path."""
    tags = meta.all_tags()
    base: dict[str, MetadataValue] = {
        "source": "handbook",
        "doc": doc,
        "doc_title": meta.title,
        "kind": meta.kind.value,
        "faults": ",".join(meta.faults),
        **label_metadata(tags, meta.services),
    }
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section in _merge_small(_sections(meta.title, body), min_chars, max_chars):
        title = section.title
        for piece in _split_large(section.text, max_chars):
            key = f"{doc}#{_slug(section.paths[0][1:])}"
            seen[key] = seen.get(key, 0) + 1
            chunk_id = key if seen[key] == 1 else f"{key}~{seen[key]}"
            metadata = {**base, "title": title, "chunk_index": len(chunks)}
            chunks.append(Chunk(id=chunk_id, doc=doc, title=title, text=piece, metadata=metadata))
    return chunks


def line_at(data: bytes, offset: int) -> int:
    """The line (from 1) holding byte ``offset`` of ``data``, counted as an editor counts them: ``\r\n``, ``\n`` and a
    lone ``\r`` each end a line (as ``read_document`` reads them)."""
    return data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1


def read_document(path: Path, root: Path, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[Chunk]:
    """Parse one markdown file under ``root``; raise :class:`FrontMatterError` naming the file."""
    if not path.is_file():  # a broken link, a FIFO (reading it would block), a socket
        raise FrontMatterError(path, 1, "not a regular file (a broken link?)")
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise FrontMatterError(path, 1, f"{size:,} bytes, over the limit of {MAX_DOCUMENT_BYTES:,} for one page: "
                                            "split it (or keep it out of the handbook directory)")
        data = path.read_bytes()
    except OSError as exc:
        raise FrontMatterError(path, 1, f"cannot read it: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # newlines as read_text reads them
    except UnicodeDecodeError as exc:
        line = line_at(data, exc.start)
        raise FrontMatterError(path, line, f"not UTF-8 text (byte {exc.start + 1}: {exc.reason})") from exc
    meta, body, _ = split_front_matter(path, text)
    return chunk_markdown(path.relative_to(root).as_posix(), meta, body, max_chars, min_chars)


def handbook_files(directory: Path) -> list[Path]:
    """Markdown files of a handbook, sorted; README files, hidden/underscore paths and directories are skipped."""
    files = []
    for path in sorted(directory.rglob("*.md")):
        rel = path.relative_to(directory)
        if path.is_dir() or any(part.startswith((".", "_")) for part in rel.parts) or path.name.lower() == "readme.md":
            continue
        files.append(path)
    return files


def read_handbook(directory: Path) -> HandbookScan:
    """Chunk every document of a handbook; one bad document is reported, the others still load."""
    if not directory.is_dir():
        raise FileNotFoundError(f"handbook directory not found: {directory}")
    scan = HandbookScan()
    for path in handbook_files(directory):
        doc = path.relative_to(directory).as_posix()
        try:
            scan.chunks[doc] = read_document(path, directory)
        except FrontMatterError as exc:
            scan.errors[doc] = str(exc)
    return scan
