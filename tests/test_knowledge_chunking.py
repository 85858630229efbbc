"""Front matter validation, heading-based chunking, and the shipped handbook's completeness."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT
from agent.knowledge.chunking import (
    MAX_CHARS,
    MAX_DOCUMENT_BYTES,
    chunk_markdown,
    handbook_files,
    read_document,
    read_handbook,
)
from agent.knowledge.frontmatter import FrontMatter, FrontMatterError, split_front_matter
from agent.sim.system import SERVICES as SIM_SERVICES

HEADER = (
    "\n".join(
        [
            "---",
            "title: Cache failure",
            "kind: runbook",
            "tags: [Runbook, cache]",
            "services: [cache]",
            "faults: [cache_failure]",
        ]
    )
    + "\n---\n"
)
META = FrontMatter(title="Doc", kind="runbook", tags=["t1"], services=["cache"], faults=["cache_failure"])


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- front matter ---------------------------------------------------------------------------


def test_front_matter_parsed_and_names_normalised(tmp_path):
    meta, body, first_line = split_front_matter(tmp_path / "a.md", HEADER + "# Title\nbody\n")
    assert meta.title == "Cache failure"
    assert meta.tags == ["runbook", "cache"]
    assert meta.all_tags() == ["runbook", "cache", "cache_failure"]
    assert body == "# Title\nbody\n"
    assert first_line == 8


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("# no front matter\n", 1, None, "missing YAML front matter"),
        ("---\ntitle: x\nkind: runbook\n", 1, None, "not closed"),
        ("---\ntitle: x\nkind: [runbook\n---\n", 4, None, "invalid YAML"),
        ("---\ntitle: x\nkind: novel\n---\n", 3, "kind", "runbook"),
        ("---\ntitle: x\nkind: runbook\ntags: [ok, 'Not A Tag']\n---\n", 4, "tags", "not a valid name"),
        ("---\nkind: runbook\n---\n", 1, "title", "Field required"),
        ("---\ntitle: x\nkind: runbook\nowner: me\n---\n", 4, "owner", "Extra inputs"),
        ("---\n- just\n- a list\n---\n", 2, None, "mapping"),
        # bounded as every YAML from outside is: a deep one had ended `knowledge ingest` with a RecursionError
        ("---\ntitle: x\nkind: runbook\ntags: " + "[" * 50_000 + "]" * 50_000 + "\n---\n", 2, None,
         "nested deeper than 64 levels"),
        ("---\ntitle: x\na: &a [" + ", ".join(["x"] * 60) + "]\n"
         + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 60)}]\n" for p, n in zip("abc", "bcd", strict=True))
         + "kind: runbook\n---\n", 2, None, "expands to more than"),
    ],
)
def test_front_matter_errors_name_file_line_and_field(tmp_path, text, line, field, message):
    path = _write(tmp_path, "runbooks/bad.md", text)
    with pytest.raises(FrontMatterError) as info:
        read_document(path, tmp_path)
    err = info.value
    assert str(path) in str(err)
    assert err.line == line
    assert err.field == field
    assert message in str(err)
    assert f":{line}:" in str(err)


def test_non_utf8_document_is_reported_at_its_line(tmp_path):
    path = tmp_path / "latin.md"
    path.write_bytes(HEADER.encode() + "## Caf\xe9\r\n".encode("latin-1"))  # HEADER is 7 lines
    with pytest.raises(FrontMatterError, match=r"latin.md:8: not UTF-8 text \(byte 115: invalid continuation byte"):
        read_document(path, tmp_path)


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
def test_a_non_utf8_byte_is_reported_at_the_line_an_editor_shows_whatever_the_newlines(tmp_path, newline):
    """A file whose lines end in a lone CR (classic Mac) was reported at line 1: only LFs were counted."""
    path = tmp_path / "latin.md"
    lines = [*HEADER.splitlines(), "", "Intro.", "## Caf\xe9"]  # the byte that is not UTF-8 on line 10
    path.write_bytes(newline.join(lines).encode("latin-1") + newline.encode())
    with pytest.raises(FrontMatterError, match=r"latin.md:10: not UTF-8 text") as info:
        read_document(path, tmp_path)
    assert info.value.line == len(lines) == 10


def test_a_page_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    line = "## Section\n" + "lorem ipsum " * 80 + "\n\n"
    path = _write(tmp_path, "dump.md", HEADER + line * (MAX_DOCUMENT_BYTES // len(line) + 1))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("a page over the limit is read"))
    with pytest.raises(FrontMatterError, match=rf"dump.md:1: {path.stat().st_size:,} bytes, over the limit of "):
        read_document(path, tmp_path)


def test_windows_newlines_read_as_before(tmp_path):
    text = HEADER + "## A\n" + "text " * 50 + "\n## B\nmore\n"
    unix = read_document(_write(tmp_path, "unix.md", text), tmp_path)
    windows = tmp_path / "windows.md"
    windows.write_bytes(text.replace("\n", "\r\n").encode())
    assert [(c.title, c.text) for c in read_document(windows, tmp_path)] == [(c.title, c.text) for c in unix]


# -- chunking -------------------------------------------------------------------------------


def _body(*sections: tuple[str, int]) -> str:
    return "\n".join(f"{heading}\n" + ("word " * (size // 5)) for heading, size in sections)


def test_sections_split_by_heading_with_heading_path_titles():
    body = _body(("# Doc", 0), ("## Symptoms", 400), ("## Mitigation", 300), ("### Roll back", 400))
    chunks = chunk_markdown("runbooks/x.md", META, body)
    assert [c.title for c in chunks] == ["Doc > Symptoms", "Doc > Mitigation", "Doc > Mitigation > Roll back"]
    assert [c.id for c in chunks] == [
        "runbooks/x.md#symptoms",
        "runbooks/x.md#mitigation",
        "runbooks/x.md#mitigation/roll-back",
    ]
    assert chunks[2].text.startswith("### Roll back")
    assert chunks[0].embed_text.startswith("Doc > Symptoms\n\n## Symptoms")


def test_tiny_sections_are_merged_and_titled_by_both_headings():
    body = _body(("## Symptoms", 50), ("## Confirm", 400), ("## Mitigation", 400), ("## Escalation", 40))
    chunks = chunk_markdown("x.md", META, body)
    assert [c.title for c in chunks] == ["Doc > Symptoms / Confirm", "Doc > Mitigation / Escalation"]
    assert "## Confirm" in chunks[0].text and "## Symptoms" in chunks[0].text
    assert chunks[0].id == "x.md#symptoms"


def test_intro_before_first_heading_has_doc_title():
    chunks = chunk_markdown("x.md", META, "An intro paragraph. " * 20 + "\n## A\n" + "text " * 80)
    assert chunks[0].title == "Doc"
    assert chunks[0].id == "x.md#intro"


def test_large_sections_are_split_within_the_bound():
    paragraphs = "\n\n".join(f"sentence number {i} is here. " * 6 for i in range(30))
    one_huge_line = "x" * (MAX_CHARS * 2 + 10)
    chunks = chunk_markdown("x.md", META, f"## Big\n{paragraphs}\n## Line\n{one_huge_line}")
    assert len(chunks) > 4
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    big = [c for c in chunks if c.title == "Doc > Big"]
    assert [c.id for c in big[:3]] == ["x.md#big", "x.md#big~2", "x.md#big~3"]
    # The heading line stays with its section; the over-long line is cut into bounded pieces, nothing lost.
    assert "".join(c.text for c in chunks if c.title == "Doc > Line") == "## Line" + one_huge_line


def test_headings_inside_code_fences_do_not_split():
    body = "## Query\n" + "Use this query to check.\n" * 10 + "```\n# not a heading\nrate(x[5m])\n```\n"
    chunks = chunk_markdown("x.md", META, body)
    assert len(chunks) == 1
    assert "# not a heading" in chunks[0].text


def test_metadata_has_filterable_tag_and_service_keys():
    chunk = chunk_markdown("runbooks/x.md", META, "## A\n" + "text " * 60)[0]
    meta = chunk.metadata
    assert meta["doc"] == "runbooks/x.md"
    assert meta["kind"] == "runbook"
    assert meta["tags"] == "t1,cache,cache_failure,runbook"
    assert meta["tag_t1"] is True and meta["tag_cache_failure"] is True and meta["tag_runbook"] is True
    assert meta["svc_cache"] is True
    assert "svc_t1" not in meta
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())


def test_ids_and_hashes_are_stable_and_track_content():
    body = "## A\n" + "alpha " * 60 + "\n## B\n" + "beta " * 60
    first, again = chunk_markdown("x.md", META, body), chunk_markdown("x.md", META, body)
    assert [(c.id, c.content_hash) for c in first] == [(c.id, c.content_hash) for c in again]
    edited = chunk_markdown("x.md", META, body.replace("beta", "gamma"))
    assert first[0].content_hash == edited[0].content_hash
    assert first[1].content_hash != edited[1].content_hash


def test_read_handbook_reports_bad_files_and_loads_the_rest(tmp_path):
    _write(tmp_path, "good.md", HEADER + "## A\n" + "text " * 50)
    _write(tmp_path, "sub/bad.md", "no front matter\n")
    _write(tmp_path, "README.md", "# not a handbook page\n")
    _write(tmp_path, "_drafts/wip.md", "draft\n")
    scan = read_handbook(tmp_path)
    assert list(scan.chunks) == ["good.md"]
    assert list(scan.errors) == ["sub/bad.md"]
    assert "sub/bad.md:1" in scan.errors["sub/bad.md"]


def test_directories_and_unreadable_files_are_reported_not_fatal(tmp_path, monkeypatch):
    _write(tmp_path, "notes.md/inside.md", HEADER + "## A\n" + "text " * 50)  # a directory named like a page
    (tmp_path / "gone.md").symlink_to(tmp_path / "nowhere.md")
    _write(tmp_path, "locked.md", HEADER + "## B\n" + "text " * 50)
    real_open = Path.open

    def open_path(self: Path, *args, **kwargs):
        if self.name == "locked.md":
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_path)
    scan = read_handbook(tmp_path)
    assert list(scan.chunks) == ["notes.md/inside.md"]
    assert sorted(scan.errors) == ["gone.md", "locked.md"]
    assert f"{tmp_path / 'gone.md'}:1: not a regular file" in scan.errors["gone.md"]
    assert f"{tmp_path / 'locked.md'}:1: cannot read it: Permission denied" in scan.errors["locked.md"]


def test_missing_handbook_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_handbook(tmp_path / "nowhere")


# -- the shipped handbook -------------------------------------------------------------------

HANDBOOK = PROJECT_ROOT / "knowledge"
SERVICES = list(SIM_SERVICES)
FAULTS = [
    "bad_release",
    "bad_config",
    "slow_dependency",
    "cache_failure",
    "memory_leak",
    "traffic_spike",
    "disk_full",
    "noisy_alert",
]


@pytest.fixture(scope="module")
def handbook_meta() -> dict[str, FrontMatter]:
    out = {}
    for path in handbook_files(HANDBOOK):
        meta, _, _ = split_front_matter(path, path.read_text(encoding="utf-8"))
        out[path.relative_to(HANDBOOK).as_posix()] = meta
    return out


def test_shipped_handbook_is_valid_and_large_enough():
    scan = read_handbook(HANDBOOK)
    assert scan.errors == {}
    assert len(scan.chunks) >= 18
    assert all(len(c.text) <= MAX_CHARS for chunks in scan.chunks.values() for c in chunks)


def test_every_fault_kind_has_a_runbook(handbook_meta):
    for fault in FAULTS:
        runbooks = [d for d, m in handbook_meta.items() if m.kind == "runbook" and m.faults[:1] == [fault]]
        assert runbooks, f"no runbook whose primary fault is {fault}"


def test_every_service_has_a_service_page(handbook_meta):
    for service in SERVICES:
        pages = [d for d, m in handbook_meta.items() if m.kind == "service" and m.services == [service]]
        assert pages == [f"services/{service}.md"]


def test_policies_slo_and_escalation_are_covered(handbook_meta):
    tags = {t for m in handbook_meta.values() for t in m.tags}
    assert {"release-policy", "slo", "escalation", "alerting", "alert-hygiene"} <= tags
    assert {m.kind for m in handbook_meta.values()} == {"runbook", "policy", "service", "slo", "escalation"}
    known = set(SERVICES)
    assert all(set(m.services) <= known for m in handbook_meta.values())
