"""The UI's pure helpers: verdict badges, table rows, error messages, settings labels and bundle checks."""

from __future__ import annotations

import re

import pytest

from agent.config import PROJECT_ROOT, get_settings
from agent.findings import Finding, FindingKind
from agent.verdict import InspectionItem, RootCause, Verdict
from ui import backend
from ui.formatting import (
    Badge,
    badges_markdown,
    code,
    demote_headings,
    friendly_error,
    inspection_rows,
    plain,
    report_markdown,
    root_cause_rows,
    verdict_badges,
)


def labels(verdict: Verdict) -> list[tuple[str, str]]:
    return [(b.label, b.colour) for b in verdict_badges(verdict)]


@pytest.mark.parametrize(("decision", "colour"), [("pass", "green"), ("hold", "orange"), ("block", "red")])
def test_release_decision_badge(decision, colour):
    verdict = Verdict(pattern="release_interception", summary="s", decision=decision, reasoner="offline")
    assert labels(verdict)[0] == (f"Decision: {decision.upper()}", colour)
    assert ("reasoner: offline", "violet") in labels(verdict)


def test_rca_attention_badges():
    noisy = Verdict(pattern="rca", summary="s", needs_attention=False, confidence=0.8)
    assert labels(noisy)[:2] == [("No action needed", "green"), ("confidence 80%", "gray")]
    real = Verdict(
        pattern="rca",
        summary="s",
        needs_attention=True,
        root_causes=[RootCause(service="cache", fault="cache_failure", confidence=0.9, evidence=["F1", "F2"])],
    )
    assert labels(real)[0] == ("Needs attention", "red")
    assert root_cause_rows(real) == [
        {"rank": 1, "service": "cache", "fault": "cache_failure", "confidence": 0.9, "evidence": "F1, F2",
         "explanation": ""}
    ]  # fmt: skip


def test_root_cause_rows_mark_a_finding_about_another_service():
    slow = Finding(id="F1", kind=FindingKind.ANOMALY, subject="gateway", service="gateway", window_start=0.0,
                   window_end=60.0, score=0.9, summary="gateway's calls out slowed")
    own = slow.model_copy(update={"id": "F2", "subject": "cache", "service": "cache"})
    verdict = Verdict(pattern="rca", summary="s", root_causes=[
        RootCause(service="cache", fault="slow_dependency", confidence=0.9, evidence=["F2", "F1"])])
    assert root_cause_rows(verdict, [slow, own])[0]["evidence"] == "F2, F1 via gateway"
    assert root_cause_rows(verdict, [slow, own])[0]["fault"] == "slow_dependency"  # named from its own F2


def test_root_cause_rows_mark_a_fault_kind_read_off_other_services_findings():
    slow = Finding(id="F1", kind=FindingKind.ANOMALY, subject="gateway", service="gateway", window_start=0.0,
                   window_end=60.0, score=0.9, summary="gateway's calls out slowed")
    inferred = RootCause(service="cache", fault="slow_dependency", confidence=0.9, evidence=["F1"],
                         inferred_from=["gateway"])
    unknown = inferred.model_copy(update={"fault": "unknown", "inferred_from": []})
    rows = root_cause_rows(Verdict(pattern="rca", summary="s", root_causes=[inferred, unknown]), [slow])
    assert [r["fault"] for r in rows] == ["slow_dependency (inferred from gateway)", "unknown"]


def test_root_cause_rows_do_not_mark_a_kind_named_otherwise_though_it_cites_only_other_services():
    """A kind from a stored lesson or a model, beside evidence about other services only, was not inferred."""
    slow = Finding(id="F1", kind=FindingKind.ANOMALY, subject="gateway", service="gateway", window_start=0.0,
                   window_end=60.0, score=0.9, summary="gateway's calls out slowed")
    named = RootCause(service="cache", fault="network_delay", confidence=0.9, evidence=["F1"])
    row = root_cause_rows(Verdict(pattern="rca", summary="s", root_causes=[named]), [slow])[0]
    assert row["fault"] == "network_delay" and row["evidence"] == "F1 via gateway"


def test_inspection_badge_shows_the_worst_severity_or_healthy():
    items = [
        InspectionItem(service="ranking", kind="disk_full", severity="warning"),
        InspectionItem(service="gateway", kind="memory_leak", severity="critical"),
    ]
    sick = Verdict(pattern="inspection", summary="s", items=items)
    assert labels(sick)[0] == ("Inspection: critical (2 items)", "red")
    assert [r["kind"] for r in inspection_rows(sick)] == ["disk_full", "memory_leak"]
    assert labels(Verdict(pattern="inspection", summary="s"))[0] == ("Inspection: healthy", "green")
    by_rule = Verdict(pattern="inspection", summary="s", overall="warning", items=[items[0].model_copy(
        update={"severity": "info"})])
    assert labels(by_rule)[0] == ("Inspection: warning (1 items)", "orange")  # the overall, as in the report


def test_badge_labels_cannot_break_out_of_the_directive():
    badge = Badge("a] :red-badge[b", "green")
    assert badge.markdown() == r":green-badge[a\] :red-badge\[b]"
    assert badges_markdown([Badge("x", "red"), Badge("y", "gray")]) == ":red-badge[x] :gray-badge[y]"


HOSTILE = "p99 $5 and $10 ![pix](http://x.test/t.png) [go](javascript:x) <b>b</b> :red[R] :material/home: | `c` *a* _u_"


def unescape(markdown: str) -> str:
    """The text a markdown renderer shows for backslash-escaped markdown."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_plain_text_is_shown_as_written_never_as_markup():
    escaped = plain(HOSTILE)
    assert unescape(escaped) == HOSTILE
    assert not re.search(r"(?<!\\)[\[\]<>`*_|$:]", escaped)  # every markup character escaped
    assert r"\:material\/home" in escaped  # Streamlit draws icons through an escaped colon
    lines = "# heading\n- item\n12. numbered\n  + nested\n===\nnot-a-list 3.5"
    assert plain(lines).splitlines() == [r"\# heading", r"\- item", r"12\. numbered", r"  \+ nested", r"\===",
                                         "not-a-list 3.5"]


def test_friendly_error_keeps_library_messages_and_flags_the_unexpected():
    assert friendly_error(ValueError("event.yaml:3: pattern: must be one of rca")) == (
        "event.yaml:3: pattern: must be one of rca"
    )
    message = friendly_error(ZeroDivisionError("division by zero"))
    assert message.startswith("unexpected ZeroDivisionError: division by zero") and "server log" in message


def test_reasoner_label_names_the_model_and_host_but_never_credentials(monkeypatch):
    assert backend.reasoner_label(get_settings()).startswith("offline")
    monkeypatch.setenv("BIANQUE_LLM_BASE_URL", "https://user:s3cret@llm.internal:8443/v1")
    monkeypatch.setenv("BIANQUE_LLM_MODEL", "qwen-72b")
    get_settings.cache_clear()
    label = backend.reasoner_label(get_settings())
    assert label.startswith("LLM qwen-72b at llm.internal:8443") and "s3cret" not in label


def test_curated_scenarios_and_bundle_inspection(tmp_path):
    names = [p.name for p in backend.curated_scenarios()]
    assert len(names) >= 12 and "release-bad-canary" in names and names == sorted(names)
    good = backend.inspect_bundle(PROJECT_ROOT / "examples" / "scenarios" / "release-bad-canary")
    assert good.error is None and good.event is not None and good.event.pattern.value == "release_interception"

    missing = backend.inspect_bundle(tmp_path / "nowhere")
    assert missing.event is None and "does not exist" in missing.error
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "event.yaml").write_text("pattern: sideways\ntime: 2026-01-01T00:00:00Z\n")
    info = backend.inspect_bundle(broken)
    assert info.event is None and f"{broken}/event.yaml:1: pattern: must be one of" in info.error
    assert backend.curated_scenarios(tmp_path / "none") == []


def test_report_headings_nest_under_the_page_but_code_is_left_alone():
    text = "# Report\nplain # not a heading\n## Evidence\n```\n# a comment\n```\n##### deep"
    assert demote_headings(text).splitlines() == [
        "### Report", "plain # not a heading", "#### Evidence", "```", "# a comment", "```", "###### deep",
    ]  # fmt: skip


def test_a_stored_report_shows_no_image_even_one_written_before_reports_escaped_data():
    old = "# Alert: p99 ![pixel](http://127.0.0.1:9/p.png) high\nescaped already: !\\[x](y)"
    shown = report_markdown(old)
    assert shown.splitlines() == ["### Alert: p99 !\\[pixel](http://127.0.0.1:9/p.png) high",
                                  "escaped already: !\\[x](y)"]
    assert re.search(r"(?<!\\)!\[", shown) is None


def test_plain_keeps_our_own_advice_as_code_and_escapes_the_rest():
    from agent.phrases import CATALOG

    assert plain(f"see {CATALOG} for `x`_y_") == r"see `bianque catalog` for \`x\`\_y\_"


def test_code_shows_any_text_as_one_code_span():
    assert code("bianque schedule run nightly") == "`bianque schedule run nightly`"
    assert code("run 'a`b'") == "``run 'a`b'``"  # a longer fence than the backticks inside
    assert code("`x`") == "`` `x` ``"  # padded: a span may not start or end with its fence's character
    assert code("a\nb") == "`a b`"
