"""Builders shared by the self-evolution tests: small bundles, stored cases, a blind-spot Skill library."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.bundles.writer import write_bundle
from agent.config import PROJECT_ROOT, get_settings
from agent.events import Event
from agent.evidence import EvidencePack
from agent.findings import Finding, FindingKind
from agent.memory import Memory
from agent.series import Series
from agent.skills.loader import dump_skill_yaml, new_yaml
from agent.verdict import RootCause, Verdict

T0 = 1772446500.0
TOPOLOGY = {"gateway": ["ranking"], "ranking": ["feature-store", "cache"], "feature-store": [], "cache": []}
METRICS = ("requests_per_second", "request_latency_p99_seconds", "cpu_usage_ratio", "memory_usage_bytes")


def rca_event(service: str = "ranking", alertname: str = "RankingMemoryHigh") -> Event:
    return Event.model_validate({
        "pattern": "rca", "time": T0, "service": service,
        "alert": {"status": "firing", "labels": {"alertname": alertname, "service": service},
                  "annotations": {"summary": f"{service} memory above 90%"}, "startsAt": T0 - 60},
    })


def release_event(service: str = "ranking") -> Event:
    return Event.model_validate({
        "pattern": "release_interception", "time": T0, "service": service,
        "change": {"id": "deploy-1", "type": "canary", "service": service, "version": "v2", "ts": T0 - 1800},
    })


def write_small_bundle(path: Path, event: Event, label: dict[str, Any] | None = None,
                       services: tuple[str, ...] = ("gateway", "ranking", "feature-store", "cache")) -> Path:
    """A bundle with the four basic metrics of ``services`` over the last hour, and a topology."""
    ts = np.arange(T0 - 3600, T0 + 1, 60.0)
    series = [
        Series(metric, {"service": service}, ts, np.full(ts.shape, 1.0))
        for service in services for metric in METRICS
    ]
    return write_bundle(path, event, series, topology=TOPOLOGY, label=label)


def finding(fid: str, service: str, *, kind: FindingKind = FindingKind.ANOMALY, signal: str = "p99_latency",
            metric: str = "request_latency_p99_seconds", score: float = 0.6) -> Finding:
    return Finding(id=fid, kind=kind, subject=service, service=service, signal=signal, metric=metric,
                   window_start=T0 - 3600, window_end=T0, onset=T0 - 600, score=score, direction="up",
                   summary=f"{service} {metric} up")


def rca_verdict(service: str = "ranking", fault: str = "slow_dependency", attention: bool = True) -> Verdict:
    causes = [RootCause(service=service, fault=fault, confidence=0.7, evidence=["F1"])] if attention else []
    return Verdict(pattern="rca", summary=f"{service} {fault}", needs_attention=attention, root_causes=causes,
                   evidence=["F1"], reasoner="offline")


def release_verdict(decision: str) -> Verdict:
    return Verdict(pattern="release_interception", summary=decision, decision=decision, evidence=["F1"],
                   reasoner="offline")


def store_case(memory: Memory, event: Event, verdict: Verdict, *, skill: str = "memory-pressure-rca",
               findings: list[Finding] | None = None, bundle: Path | None = None, version: int = 1) -> str:
    """A finished case as the graph would store it; returns its id."""
    findings = findings if findings is not None else [finding("F1", event.primary_service or "ranking")]
    stored = memory.record_event(event, source="bundle")
    case = memory.start_case(stored.id, skill, version, "test", bundle_path=str(bundle) if bundle else None)
    pack = EvidencePack(event=event, skill=skill, skill_version=version, findings=findings,
                        target_services=event.services)
    memory.finish_case(case.id, findings, verdict, "# report", "offline", evidence=pack)
    return case.id


def blind_skills_dir(tmp_path: Path) -> Path:
    """A copy of the default Skills where memory-pressure-rca has no memory metric (and no rule on it)."""
    target = tmp_path / "skills"
    shutil.copytree(PROJECT_ROOT / "skills", target)
    path = target / "memory-pressure-rca.yaml"
    raw = new_yaml().load(path.read_text(encoding="utf-8"))
    raw["data"]["metrics"] = [m for m in raw["data"]["metrics"] if m["id"] != "memory"]
    raw["decision"]["rules"] = [r for r in raw["decision"]["rules"] if "memory" not in r["if"].get("signals", [])]
    path.write_text(dump_skill_yaml(raw), encoding="utf-8")
    return target


BLIND = "memory-pressure-rca"  # the Skill that cannot see memory in the blind library
MEMORY_SIGNAL = {"id": "memory", "name": "memory_usage_bytes", "labels": {"service": "{service}"}, "compare": "trend"}


def use_blind_skills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``BIANQUE_SKILLS_DIRS`` at a fresh :func:`blind_skills_dir` (settings re-read); that folder."""
    path = blind_skills_dir(tmp_path)
    monkeypatch.setenv("BIANQUE_SKILLS_DIRS", json.dumps([str(path)]))
    get_settings.cache_clear()
    return path


def other_skill_in_the_way(settings: Any, name: str) -> bytes:
    """Put another Skill's file (``other-skill``) where the user's copy of Skill ``name`` is written; its bytes."""
    text = (settings.skills_dirs[0] / f"{name}.yaml").read_text(encoding="utf-8")
    path = settings.resolved_user_skills_dir / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(f"name: {name}\n", "name: other-skill\n"), encoding="utf-8")
    return path.read_bytes()
