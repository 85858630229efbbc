"""The JSON Schema of a verdict for one evidence pack: Finding ids and services as enums.

Sent to endpoints that constrain their answer to a schema, so even a tiny model can only cite the
Findings and name the services it was shown. The answer is still validated afterwards
(:func:`agent.reasoners.llm.parse_verdict`): the schema narrows what a model can say, it does not
replace the checks.
"""

from __future__ import annotations

from typing import Any

from agent.evidence import EvidencePack
from agent.llm.jsontext import GRAMMAR_MAX_LENGTH, string_schema

FAULT_KINDS = (
    "bad_release", "bad_config", "slow_dependency", "cache_failure", "memory_leak", "traffic_spike",
    "disk_full", "cpu_saturation", "error_fault",
)
ITEM_KINDS = (
    "memory_leak", "disk_full", "error_burst", "new_error_template", "latency_regression", "error_rate",
    "cpu_saturation_trend", "traffic_spike", "anomaly",
)
MAX_CAUSES = 3
MAX_ITEMS = 6
MAX_CITED = 4
SHORT_TEXT = 160


def pack_services(pack: EvidencePack) -> list[str]:
    """Every service the pack names: targets, Finding owners, topology, changes and the event's."""
    names = [*pack.target_services, *(f.owner for f in pack.findings), *pack.event.services]
    for service, deps in pack.topology.items():
        names += [service, *deps]
    names += [c.service for c in pack.changes]
    if pack.event.change is not None and pack.event.change.service:
        names.append(pack.event.change.service)
    return list(dict.fromkeys(n for n in names if n))


def _text(limit: int = SHORT_TEXT) -> dict[str, Any]:
    return string_schema(limit)


def _enum_or_text(values: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": values} if values else _text(120)


def _ids(ids: list[str], *, at_least: int) -> dict[str, Any]:
    if not ids:
        return {"type": "array", "items": _text(16), "maxItems": 0}
    return {"type": "array", "items": {"type": "string", "enum": ids}, "minItems": at_least, "maxItems": MAX_CITED}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def verdict_schema(pack: EvidencePack) -> dict[str, Any]:
    """The schema of an acceptable verdict for ``pack`` (its pattern's fields only, all required)."""
    ids = [f.id for f in pack.findings]
    services = _enum_or_text(pack_services(pack))
    cited = _ids(ids, at_least=1 if ids else 0)
    pattern = pack.event.pattern.value
    confidence = {"type": "number", "minimum": 0, "maximum": 1}
    cause = _object({
        "service": services, "fault": {"type": "string", "enum": list(FAULT_KINDS)},
        "confidence": confidence, "evidence": cited, "explanation": _text(),
    })
    props: dict[str, Any] = {"pattern": {"type": "string", "enum": [pattern]}}
    if pattern == "rca":
        props |= {
            "needs_attention": {"type": "boolean"},
            "attention_reason": _text(),
            "root_causes": {"type": "array", "items": cause, "maxItems": MAX_CAUSES},
        }
    elif pattern == "release_interception":
        props |= {
            "decision": {"type": "string", "enum": ["pass", "hold", "block"]},
            "root_causes": {"type": "array", "items": cause, "maxItems": 1},
        }
    else:
        props["items"] = {"type": "array", "maxItems": MAX_ITEMS, "items": _object({
            "service": services, "kind": {"type": "string", "enum": list(ITEM_KINDS)},
            "severity": {"type": "string", "enum": ["critical", "warning", "info"]},
            "evidence": cited, "summary": _text(),
        })}
    props |= {
        "evidence": _ids(ids, at_least=1 if ids else 0),
        "summary": _text(GRAMMAR_MAX_LENGTH),
        "actions": {"type": "array", "items": _text(), "maxItems": 3},
        "confidence": confidence,
    }
    return _object(props)
