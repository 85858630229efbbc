"""LLM-written Skills: bad YAML, schema and catalog errors go back to the model; three strikes and out."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli.app import app
from agent.config import get_settings
from agent.evolve.corrections import correct_case
from agent.evolve.llm_loop import GenerationFailed
from agent.evolve.patch import Edit, patch_skill
from agent.evolve.replay import Replayer
from agent.evolve.versions import skill_text
from agent.evolve.workbench import Workbench
from agent.llm.client import LLMClient
from agent.llm.prompting import CLOSE
from agent.memory import Memory
from agent.skills.library import load_library
from tests.test_evolve_support import rca_event, rca_verdict, store_case, use_blind_skills, write_small_bundle

runner = CliRunner()
NAME = "memory-pressure-rca"
MEMORY = {"id": "memory", "name": "memory_usage_bytes", "labels": {"service": "{service}"}, "compare": "trend"}


@pytest.fixture
def skills_dir(tmp_path, monkeypatch):
    return use_blind_skills(tmp_path, monkeypatch)


@pytest.fixture
def corrected(skills_dir, tmp_path, bianque_home) -> str:
    bundle = write_small_bundle(tmp_path / "leak", rca_event())
    with Memory() as memory:
        case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"), bundle=bundle)
        correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap grew")
    return case_id


def _bench(memory, skills_dir) -> Workbench:
    settings = get_settings()
    return Workbench(memory, load_library([skills_dir]), settings.resolved_user_skills_dir,
                     Replayer(lambda case, library, skill: rca_verdict()), client=LLMClient(settings))


def _answer(text: str) -> str:
    return json.dumps({"summary": "add the memory metric", "skill_yaml": text})


def _good_text(skills_dir) -> str:
    text = (skills_dir / f"{NAME}.yaml").read_text(encoding="utf-8")
    return patch_skill(text, [Edit("append", ("data", "metrics"), MEMORY)]).text


def test_bad_answers_go_back_with_the_exact_error_until_one_validates(fake_llm, corrected, skills_dir) -> None:
    good = _good_text(skills_dir)
    coloured = _answer(good.replace("pattern: rca", "pattern: rca\ncolour: red"))
    fake_llm.queue(_answer("name: memory-pressure-rca\ndata: [unclosed\n"), coloured, _answer(good))
    with Memory() as memory:
        proposal = _bench(memory, skills_dir).propose_for_case(corrected)
    assert proposal.source == "llm:gpt-4o-mini" and proposal.summary == "add the memory metric"
    assert proposal.reasons == ["the model answered in 3 tries"]
    assert proposal.patched.new_version == 2 and "+    - id: memory" in proposal.diff
    first, second, third = (r["messages"] for r in fake_llm.requests)
    assert "heap grew" in first[1]["content"] and "memory_usage_bytes" in first[1]["content"]  # note, catalog
    assert "YAML syntax error" in second[-1]["content"] and ":3:" in second[-1]["content"]
    assert "colour: unknown field" in third[-1]["content"]
    assert third[-2] == {"role": "assistant", "content": coloured}


def test_names_outside_the_data_catalog_are_sent_back(fake_llm, corrected, skills_dir) -> None:
    made_up = _good_text(skills_dir).replace("name: memory_usage_bytes", "name: heap_bytes_made_up")
    fake_llm.queue(_answer(made_up), _answer(_good_text(skills_dir)))
    with Memory() as memory:
        proposal = _bench(memory, skills_dir).propose_for_case(corrected)
    assert proposal.reasons == ["the model answered in 2 tries"]
    retry = fake_llm.requests[1]["messages"][-1]["content"]
    assert "the data catalog does not know" in retry and "unknown metric 'heap_bytes_made_up'" in retry


def test_an_unchanged_or_renamed_skill_is_refused(fake_llm, corrected, skills_dir) -> None:
    same = (skills_dir / f"{NAME}.yaml").read_text(encoding="utf-8")
    fake_llm.queue(_answer(same), _answer(_good_text(skills_dir).replace(f"name: {NAME}", "name: other")),
                   _answer(_good_text(skills_dir)))
    with Memory() as memory:
        _bench(memory, skills_dir).propose_for_case(corrected)
    retries = [r["messages"][-1]["content"] for r in fake_llm.requests[1:]]
    assert "the Skill is unchanged" in retries[0] and "name: must stay 'memory-pressure-rca'" in retries[1]


def test_three_invalid_answers_fail_clearly(fake_llm, corrected, skills_dir) -> None:
    fake_llm.queue("no json", _answer("- a list"), _answer("name: [x"))
    with Memory() as memory, pytest.raises(GenerationFailed, match="no valid Skill patch in 3 tries") as failure:
        _bench(memory, skills_dir).propose_for_case(corrected)
    assert len(failure.value.errors) == 3 and len(fake_llm.requests) == 3
    assert "not a mapping" in failure.value.errors[1]


def test_cli_refine_from_case_reports_the_failure(fake_llm, corrected, skills_dir) -> None:
    fake_llm.queue("{}", "{}", "{}")
    result = runner.invoke(app, ["skills", "refine", "--from-case", corrected, "--yes"])
    assert result.exit_code == 2
    assert "no valid Skill patch in 3 tries" in result.output and '"skill_yaml": required' in result.output
    with Memory() as memory:
        assert memory.skill_versions(NAME) == []
    assert skill_text(load_library([skills_dir]).get(NAME)) == (skills_dir / f"{NAME}.yaml").read_text()


def test_cli_new_with_the_llm_refuses_a_taken_name_then_saves(fake_llm, skills_dir) -> None:
    text = (skills_dir / "disk-full-rca.yaml").read_text(encoding="utf-8")
    fake_llm.queue(_answer(text), _answer(text.replace("name: disk-full-rca", "name: checkout-disk-rca")))
    result = runner.invoke(app, ["skills", "new", "-d", "Disk alerts of the checkout service", "--yes"])
    assert result.exit_code == 0, result.output
    assert "is taken by an existing Skill" in fake_llm.requests[1]["messages"][-1]["content"]
    assert "disk-full-rca" in fake_llm.requests[0]["messages"][1]["content"]  # the closest Skill as example
    saved = get_settings().resolved_user_skills_dir / "checkout-disk-rca.yaml"
    assert saved.is_file() and "version: 1" in saved.read_text(encoding="utf-8")


def test_the_model_writing_a_skill_for_another_module_is_told_what_of_its_example_is_that_modules(
        fake_llm, skills_dir) -> None:
    """A template's copy says which of its triggers and instructions are the template's module; the model, shown the
    same Skill as its example, had been told nothing of it."""
    text = (skills_dir / "ranking-rca.yaml").read_text(encoding="utf-8").replace("name: ranking-rca", "name: order-rca")
    fake_llm.queue(_answer(text))
    result = runner.invoke(app, ["skills", "new", "-d", "Root-cause analysis of ranking-like latency alerts on the "
                                 "order service", "--module", "ts-order-service", "--yes"])
    assert result.exit_code == 0, result.output
    prompt = fake_llm.requests[0]["messages"][1]["content"]
    assert "The example is another module's Skill" in prompt and "id=example_notes" in prompt
    said = " ".join(prompt.split("id=example_notes", 1)[1].split(CLOSE, 1)[0].split())
    assert said.startswith("the instructions are ranking-rca's and name ranking, feature-store")
    assert said.endswith("edit them for this module")  # no word of a note to the reasoner its copy would carry
