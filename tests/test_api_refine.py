"""Skill refinement over HTTP: propose from a corrected case (a job with progress), apply, history, rollback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.bundles.reader import load_bundle
from agent.config import get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.search import candidate_edits
from agent.investigate import investigate
from agent.runtime import bundle_toolkit, load_skills
from agent.sim.scenario import build_scenario, write_scenario
from tests.test_api_support import CountingInvestigator, make_client
from tests.test_evolve_support import (
    other_skill_in_the_way,
    rca_event,
    rca_verdict,
    store_case,
    use_blind_skills,
    write_small_bundle,
)

NAME = "memory-pressure-rca"


@pytest.fixture
def blind(tmp_path, monkeypatch, bianque_home) -> None:
    """The default Skills with memory-pressure-rca blind to memory (set before the app reads its settings)."""
    use_blind_skills(tmp_path, monkeypatch)


@pytest.fixture
def api(memory, blind) -> Iterator[TestClient]:
    with make_client(memory, CountingInvestigator(memory)) as client:
        yield client


def finished(client: TestClient, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
    """Poll a refinement job (bounded) until it is done or failed."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/refinements/{job_id}").json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"refinement did not finish: {body}"
        time.sleep(0.05)


def propose(client: TestClient, case_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/cases/{case_id}/refinements", json=body)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/refinements/{job['id']}"
    return finished(client, job["id"])


def _investigate(memory, tmp_path, fault: str) -> str:
    path = write_scenario(build_scenario("rca", fault, 2000), tmp_path / fault)
    bundle = load_bundle(path)
    toolkit = bundle_toolkit(bundle, get_settings(), memory=memory)
    return investigate(bundle.event, toolkit, skill=NAME, bundle_path=str(path)).case_id


def test_a_real_miss_is_proposed_applied_listed_and_rolled_back(api, memory, tmp_path) -> None:
    leak = _investigate(memory, tmp_path, "memory_leak")
    for fault in ("noisy_alert", "slow_dependency"):  # cases the blind Skill gets right: the gate replays them
        _investigate(memory, tmp_path, fault)
    said = memory.get_case(leak).verdict.root_causes[0]
    assert said.fault != "memory_leak"
    corrected = api.post(f"/cases/{leak}/corrections",
                         json={"correct": False, "root_cause_service": said.service, "root_cause_fault": "memory_leak",
                               "index": False})
    assert corrected.status_code == 201, corrected.text

    job = propose(api, leak)
    assert job["status"] == "done" and job["skill"] == NAME and job["case_id"] == leak, job
    result = job["result"]
    assert result["accepted"] and result["reason"].startswith("accepted: 1 of 1 corrected case(s) fixed")
    assert result["proposal"]["source"] == "rules" and result["proposal"]["version"] == 2
    assert "+      name: memory_usage_bytes" in result["proposal"]["diff"]
    assert [(r["case"], r["result"]) for r in result["replay"]["corrected"]] == [(leak, "fixed")]
    assert {r["result"] for r in result["replay"]["regression"]} <= {"pass", "fail", "skipped"}
    assert result["search"] is None and result["applied"] is None
    assert memory.skill_versions(NAME) == []  # a proposal writes nothing

    applied = api.post(f"/refinements/{job['id']}/apply", json={"author": "alice"})
    assert applied.status_code == 201, applied.text
    assert applied.json()["version"] == 2 and applied.json()["author"] == "alice"
    assert "from correction" in applied.json()["reason"] and leak in applied.json()["reason"]
    assert "memory" in {m.id for m in load_skills(get_settings()).get(NAME).skill.data.metrics}
    assert api.get(f"/refinements/{job['id']}").json()["result"]["applied"]["version"] == 2
    again = api.post(f"/refinements/{job['id']}/apply")
    assert again.status_code == 409 and "saved already as memory-pressure-rca v2" in again.json()["detail"]

    history = api.get(f"/skills/{NAME}/versions").json()
    assert [(v["version"], v["active"]) for v in history] == [(1, False), (2, True)]
    assert "yaml_text" not in history[0] and history[0]["reason"] == "before the first change"
    one = api.get(f"/skills/{NAME}/versions/1").json()
    assert "-      name: memory_usage_bytes" in one["rollback_diff"]
    assert "\nname: memory-pressure-rca\n" in one["yaml_text"]

    back = api.post(f"/skills/{NAME}/rollback", json={"version": 1, "author": "bob"})
    assert back.status_code == 201, back.text
    assert (back.json()["version"], back.json()["reason"]) == (3, "rollback to v1")
    assert "memory" not in {m.id for m in load_skills(get_settings()).get(NAME).skill.data.metrics}
    assert [v["version"] for v in api.get(f"/skills/{NAME}/versions").json() if v["active"]] == [3]
    again = api.post(f"/skills/{NAME}/rollback", json={"version": 1, "author": "bob"})  # v1's text is active
    assert again.status_code == 200, again.text
    assert (again.json()["version"], again.json()["written"]) == (3, False)
    assert [v["version"] for v in api.get(f"/skills/{NAME}/versions").json()] == [1, 2, 3]


def _scripted(memory, tmp_path, monkeypatch, *, fixable: bool, gate: threading.Event | None = None) -> str:
    """A corrected case no rule fixes, and a replay under which lowering the first signal's minimum effect
    fixes it (``fixable``); ``gate`` holds every replay until it is set."""
    bundle = write_small_bundle(tmp_path / "b0", rca_event(), label={"root_cause": [{"service": "ranking",
                                                                                     "fault": "weird_fault"}]})
    target = store_case(memory, rca_event(), rca_verdict("cache"), bundle=bundle)
    correct_case(memory, target, correct=False, service="ranking", fault="weird_fault")
    first = load_skills(get_settings()).get(NAME).skill.data.metrics[0]

    def run(case, library, skill):
        if gate is not None:
            assert gate.wait(60), "test gate never released"
        lowered = library.get(skill).skill.data.metrics[0].min_effect < first.min_effect
        right = fixable and lowered and case.id == target
        return rca_verdict("ranking", "weird_fault") if right else rca_verdict("cache")

    monkeypatch.setattr("agent.evolve.workbench.investigate_runner", lambda *_a, **_k: run)
    return target


def test_the_search_runs_as_a_job_whose_progress_is_polled(memory, blind, tmp_path, monkeypatch) -> None:
    gate = threading.Event()
    target = _scripted(memory, tmp_path, monkeypatch, fixable=True, gate=gate)
    planned = len(candidate_edits(load_skills(get_settings()).get(NAME).skill))
    with make_client(memory, CountingInvestigator(memory), max_jobs=1) as client:
        job_id = client.post(f"/cases/{target}/refinements", json={}).json()["id"]
        deadline = time.monotonic() + 60
        while (body := client.get(f"/refinements/{job_id}").json())["progress"] is None or \
                body["progress"]["stage"] != "search":
            assert time.monotonic() < deadline, body
            time.sleep(0.02)
        assert body["status"] == "running" and body["result"] is None
        assert (body["progress"]["done"], body["progress"]["total"]) == (0, planned)
        early = client.post(f"/refinements/{job_id}/apply")
        assert early.status_code == 422 and "it is still running" in early.json()["detail"]
        busy = client.post(f"/cases/{target}/refinements")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "30"
        assert "BIANQUE_API_MAX_JOBS" in busy.json()["detail"]
        gate.set()
        body = finished(client, job_id)
    result = body["result"]
    assert body["progress"]["done"] >= planned and result["accepted"], body
    assert "no rule-based fix" in result["notes"][0] and result["first"] is None
    assert result["proposal"]["source"] == "search" and "min_effect" in result["proposal"]["diff"]
    assert len(result["search"]) >= planned and sum(row["kept"] for row in result["search"]) == 1
    assert "accepted" in {row["gate"] for row in result["search"]}
    assert any(row["gate"].startswith("rejected: fixes none") for row in result["search"])


def test_a_proposal_made_before_another_version_was_saved_is_refused(api, memory, tmp_path, monkeypatch) -> None:
    target = _scripted(memory, tmp_path, monkeypatch, fixable=True)
    first, second = propose(api, target), propose(api, target)
    assert first["result"]["accepted"] and second["result"]["accepted"]
    assert api.post(f"/refinements/{first['id']}/apply").status_code == 201
    stale = api.post(f"/refinements/{second['id']}/apply")
    assert stale.status_code == 409 and f"{NAME} changed after this refinement was proposed" in stale.json()["detail"]
    assert [v.version for v in memory.skill_versions(NAME)] == [1, 2]


def test_a_proposal_of_a_version_rolled_back_to_is_refused(api, memory, tmp_path, monkeypatch) -> None:
    """Same text as when proposed, but another version number: applying it would undo the rollback."""
    target = _scripted(memory, tmp_path, monkeypatch, fixable=True)
    first, second = propose(api, target), propose(api, target)
    assert first["result"]["proposal"]["diff"] == second["result"]["proposal"]["diff"]
    assert api.post(f"/refinements/{first['id']}/apply").status_code == 201
    assert api.post(f"/skills/{NAME}/rollback", json={"version": 1}).json()["version"] == 3
    stale = api.post(f"/refinements/{second['id']}/apply")
    assert stale.status_code == 409 and "propose again" in stale.json()["detail"], stale.text
    assert [v.version for v in memory.skill_versions(NAME) if v.active] == [3]


def test_a_skill_file_that_cannot_be_written_is_a_conflict_and_stores_nothing(api, memory, tmp_path,
                                                                                 monkeypatch) -> None:
    target = _scripted(memory, tmp_path, monkeypatch, fixable=True)
    job = propose(api, target)
    other_skill_in_the_way(get_settings(), NAME)
    refused = api.post(f"/refinements/{job['id']}/apply")
    assert refused.status_code == 409 and "holds Skill 'other-skill'" in refused.json()["detail"], refused.text
    assert memory.skill_versions(NAME) == []
    assert api.get(f"/refinements/{job['id']}").json()["result"]["applied"] is None

    user_copy = get_settings().resolved_user_skills_dir / f"{NAME}.yaml"
    user_copy.unlink()
    assert api.post(f"/refinements/{job['id']}/apply").status_code == 201  # the way is clear: it saves
    user_copy.unlink()
    user_copy.mkdir()  # the user's copy cannot be replaced
    back = api.post(f"/skills/{NAME}/rollback", json={"version": 1})
    assert back.status_code == 409 and f"cannot write {user_copy}" in back.json()["detail"], back.text
    assert [(v.version, v.active) for v in memory.skill_versions(NAME)] == [(1, False), (2, True)]


def test_a_rejected_proposal_cannot_be_applied(api, memory, tmp_path, monkeypatch) -> None:
    target = _scripted(memory, tmp_path, monkeypatch, fixable=False)
    job = propose(api, target, search=False)
    result = job["result"]
    assert job["status"] == "done" and not result["accepted"] and result["proposal"] is None
    assert "no rule-based fix" in result["reason"] and result["search"] is None
    refused = api.post(f"/refinements/{job['id']}/apply")
    assert refused.status_code == 422 and "was not accepted, there is nothing to save" in refused.json()["detail"]
    searched = propose(api, target)["result"]
    assert not searched["accepted"] and "no parameter change fixes a corrected case" in searched["reason"]
    assert memory.skill_versions(NAME) == []


def test_refinement_errors_name_what_is_wrong(api, memory, tmp_path) -> None:
    plain = store_case(memory, rca_event(), rca_verdict(), bundle=write_small_bundle(tmp_path / "b", rca_event()))
    right = store_case(memory, rca_event(), rca_verdict())
    correct_case(memory, right, correct=True)
    cases = {
        ("no-such-case", None): (404, "no case with id 'no-such-case'"),
        (plain, None): (422, f"case {plain} has no correction"),
        (right, None): (422, f"case {right} was marked right: there is nothing to fix"),
    }
    for (case_id, skill), (status, detail) in cases.items():
        response = api.post(f"/cases/{case_id}/refinements", json={"skill": skill} if skill else {})
        assert (response.status_code, detail in response.json()["detail"]) == (status, True), response.text
    correct_case(memory, plain, correct=False, service="ranking", fault="memory_leak")
    unknown = api.post(f"/cases/{plain}/refinements", json={"skill": "memory-presure-rca"})
    assert unknown.status_code == 404 and "did you mean memory-pressure-rca" in unknown.json()["detail"]
    extra = api.post(f"/cases/{plain}/refinements", json={"search": "yes", "x": 1})
    assert extra.status_code == 422 and "search:" in extra.json()["detail"] and "x: Extra" in extra.json()["detail"]
    assert api.get("/refinements/nope").status_code == 404
    assert api.post("/refinements/nope/apply").status_code == 404

    assert api.get(f"/skills/{NAME}/versions").json() == []  # known, never changed
    assert api.get("/skills/no-such-skill/versions").status_code == 404
    missing = api.get(f"/skills/{NAME}/versions/7")
    assert missing.status_code == 404 and "no stored version 7 of Skill" in missing.json()["detail"]
    assert api.post(f"/skills/{NAME}/rollback", json={"version": 7}).status_code == 404
    bad = api.post(f"/skills/{NAME}/rollback", json={"version": 0})
    assert bad.status_code == 422 and "version:" in bad.json()["detail"]


def test_refinement_endpoints_need_the_token(memory, blind) -> None:
    with make_client(memory, CountingInvestigator(memory), token="s3cret") as client:
        for method, path in (("post", "/cases/x/refinements"), ("get", "/refinements/x"),
                             ("post", "/refinements/x/apply"), ("get", f"/skills/{NAME}/versions"),
                             ("post", f"/skills/{NAME}/rollback")):
            assert getattr(client, method)(path).status_code == 401, path


def test_a_dry_run_case_has_nothing_to_refine(memory, api) -> None:
    from agent.api.dryrun import DryRunInvestigator

    case_id = DryRunInvestigator(memory)(rca_event()).case_id
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak")
    response = api.post(f"/cases/{case_id}/refinements", json={})
    assert response.status_code == 422, response.text
    assert "`bianque serve --dry-run`, which runs no Skill" in response.text and "no Skill named" not in response.text
