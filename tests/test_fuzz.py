"""Fuzzing the doors (hypothesis): Skill YAML, case bundle files and webhook bodies.

Whatever comes in, the answer is a clear error naming the file (or an HTTP 4xx with a reason), never
a traceback and never a 500. Bounded: a modest number of examples per door, no deadline, so the
suite adds well under a minute.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from agent.bundles.reader import read_bundle
from agent.config import PROJECT_ROOT
from agent.skills.loader import SkillLoadError, load_skill_text
from tests.test_api_support import alert, wait_idle, webhook

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
SKILL_FILE = "fuzzed-skill.yaml"
BASE_SKILL = (PROJECT_ROOT / "skills" / "generic-rca.yaml").read_text(encoding="utf-8")

# text with the characters that break parsers: control characters, quotes, YAML and CSV syntax
SPECIAL = list("\x00\n\r\t\x1b\x85\u2028\"',:#&*!|>-[]{}%@`<=~ aZ09.\\é")
NASTY = st.text(alphabet=st.sampled_from(SPECIAL) | st.characters(), max_size=40)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | NASTY
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(NASTY, inner, max_size=4), max_leaves=16)


def to_yaml(value: Any) -> str:
    import io

    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(value, out)
    return out.getvalue()


# --- Skill YAML -------------------------------------------------------------------------------

def mutated_skill(path: list[str], value: Any) -> str:
    """The built-in Skill with the field at ``path`` (created if absent) replaced by ``value``."""
    data = YAML(typ="safe").load(BASE_SKILL)
    node = data
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value
    return to_yaml(data)


SKILL_PATHS = st.lists(st.sampled_from(["name", "pattern", "scope", "services", "window", "lookback", "data",
                                        "metrics", "logs", "decision", "rules", "analysis", "instructions",
                                        "triggers", "knowledge", "schedule", "version", "labels", "query"]),
                       min_size=1, max_size=3)
SKILL_TEXTS = (
    NASTY
    | st.builds(mutated_skill, SKILL_PATHS, JSONISH)
    | st.builds(to_yaml, JSONISH)
    | st.builds(lambda depth: "a: " + "[" * depth + "]" * depth, st.integers(1, 5000))
    | st.builds(lambda n: "a: &a [" + ",".join(["x"] * n) + "]\nb: [" + ",".join(["*a"] * n) + "]\n",
                st.integers(1, 300))
)


@FUZZ
@given(text=SKILL_TEXTS)
def test_fuzzed_skill_yaml_loads_or_names_the_file(text):
    try:
        load_skill_text(text, SKILL_FILE)
    except SkillLoadError as exc:
        message = str(exc)
        assert SKILL_FILE in message and "Traceback" not in message


# --- case bundle files -----------------------------------------------------------------------

def csv_field(value: Any) -> str:
    text = str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


METRIC_ROWS = st.lists(st.lists(SCALARS, min_size=0, max_size=6).map(lambda row: ",".join(map(csv_field, row))),
                       max_size=8)
HEADERS = st.sampled_from(["timestamp,metric,service,value", "timestamp,metric,service,value,instance",
                           "ts,metric,value", ""]) | NASTY
JSON_LINES = st.lists(st.builds(json.dumps, JSONISH) | st.builds(json.dumps, st.fixed_dictionaries(
    {"ts": SCALARS, "service": SCALARS, "level": st.sampled_from(["ERROR", "info", "x"]) | SCALARS,
     "message": SCALARS, "id": SCALARS, "type": SCALARS})) | NASTY, max_size=6)
EVENTS = st.builds(to_yaml, JSONISH) | NASTY | st.builds(
    lambda pattern, time, service, labels: to_yaml({"pattern": pattern, "time": time, "service": service,
                                                    "alert": {"labels": labels}}),
    st.sampled_from(["rca", "inspection", "release_interception"]) | NASTY, SCALARS, SCALARS,
    st.dictionaries(NASTY, NASTY, max_size=3))


@FUZZ
@given(event=EVENTS, header=HEADERS, rows=METRIC_ROWS, logs=JSON_LINES, changes=JSON_LINES)
def test_fuzzed_bundle_files_load_or_name_file_and_line(event, header, rows, logs, changes):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fuzzed-case"
        root.mkdir()
        (root / "event.yaml").write_text(event, encoding="utf-8", errors="surrogatepass")
        (root / "metrics.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8", errors="surrogatepass")
        (root / "logs.jsonl").write_text("\n".join(logs) + "\n", encoding="utf-8", errors="surrogatepass")
        (root / "changes.jsonl").write_text("\n".join(changes) + "\n", encoding="utf-8", errors="surrogatepass")
        bundle, errors = read_bundle(root)
    assert (bundle is None) == bool(errors)
    files = ("event.yaml", "metrics.csv", "logs.jsonl", "changes.jsonl")
    for error in errors:
        text = str(error)
        assert "fuzzed-case" in text and any(name in text for name in files), text
        assert "Traceback" not in text


# --- webhook bodies ----------------------------------------------------------------------------

ALERT_FIELDS = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(["firing", "resolved"]) | SCALARS,
    "labels": st.dictionaries(st.sampled_from(["alertname", "service", "severity"]) | NASTY, SCALARS, max_size=4)
    | JSONISH,
    "annotations": st.dictionaries(NASTY, SCALARS, max_size=3) | JSONISH,
    "startsAt": st.sampled_from(["2024-05-01T10:00:00Z", "0001-01-01T00:00:00Z", "yesterday", ""]) | SCALARS,
    "endsAt": SCALARS,
    "fingerprint": SCALARS,
    "generatorURL": SCALARS,
})
NEAR_VALID = st.builds(
    lambda overrides, labels, fp: {**alert(fingerprint=fp), **overrides,
                                   "labels": {**alert()["labels"], **labels}},
    st.fixed_dictionaries({}, optional={"status": st.sampled_from(["firing", "resolved"]),
                                        "annotations": st.dictionaries(NASTY, NASTY, max_size=3),
                                        "startsAt": st.sampled_from(["2024-05-01T10:00:00Z", "1714557600"])}),
    st.dictionaries(st.sampled_from(["alertname", "service", "severity", "team"]), NASTY, max_size=3),
    NASTY,
)
BODIES = (
    st.builds(lambda alerts: webhook(*alerts), st.lists(NEAR_VALID, min_size=1, max_size=4))
    | st.builds(lambda alerts: webhook(*alerts), st.lists(NEAR_VALID, min_size=1, max_size=3))
    | st.builds(lambda alerts: webhook(*alerts), st.lists(ALERT_FIELDS, max_size=4))
    | st.builds(lambda good, bad: webhook(good, bad), NEAR_VALID, ALERT_FIELDS)
    | st.dictionaries(st.sampled_from(["alerts", "version", "status", "receiver", "groupLabels"]) | NASTY,
                      JSONISH, max_size=4)
    | JSONISH
)


@FUZZ
@given(body=BODIES)
def test_fuzzed_webhook_bodies_never_give_a_500(client, body):
    response = client.post("/webhook/alertmanager", content=json.dumps(body, allow_nan=True),
                           headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        assert response.json().get("detail"), response.text


@FUZZ
@given(raw=st.binary(max_size=200) | NASTY.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_webhook_bytes_that_are_not_json_are_a_4xx(client, raw):
    response = client.post("/webhook/alertmanager", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text


def test_the_fuzzed_webhook_left_no_investigation_running(client):
    client.post("/webhook/alertmanager", json=webhook(alert()))
    wait_idle(client)
