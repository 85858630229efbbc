"""Bundles as other tools write them read the same as the plain form: a byte-order mark (Excel, PowerShell,
.NET), Windows line ends, the required CSV columns capitalised, an alert file with a mark."""

from __future__ import annotations

import json
import shutil

from agent.bundles.reader import load_bundle
from agent.bundles.validate import validate_bundle
from agent.config import PROJECT_ROOT
from agent.inputs import read_structured

SMALL = PROJECT_ROOT / "tests" / "fixtures" / "bundles" / "small-rca"


def test_a_bundle_with_byte_order_marks_crlf_and_capitalised_columns_reads_as_the_plain_one(tmp_path):
    exported = shutil.copytree(SMALL, tmp_path / "exported")
    for path in exported.iterdir():
        text = path.read_text(encoding="utf-8")
        if path.name == "metrics.csv":
            text = text.replace("timestamp,metric,service,value", "Timestamp,Metric,Service,VALUE", 1)
        path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    assert [str(e) for e in validate_bundle(exported)] == []
    plain, marked = load_bundle(SMALL), load_bundle(exported)
    assert [(s.metric, dict(s.labels), s.values.tolist()) for s in marked.series] == [
        (s.metric, dict(s.labels), s.values.tolist()) for s in plain.series]
    assert marked.logs == plain.logs and marked.changes == plain.changes
    assert marked.event == plain.event and repr(marked.topology) == repr(plain.topology)


def test_an_alert_file_with_a_byte_order_mark_is_read(tmp_path):
    alert = {"status": "firing", "labels": {"alertname": "HighLatency", "service": "ranking"}}
    path = tmp_path / "alert.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(alert).encode("utf-8"))
    assert read_structured(path) == alert
