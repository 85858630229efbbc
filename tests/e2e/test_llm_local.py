"""The LLM path against a real model: llama.cpp's server with the bundled SmolLM2-135M on loopback.

A 135M model is weak; these tests check what must hold whatever it answers: the schema constraint
is detected and used, every answer is validated, the offline verdict is the floor, the report says
which model answered and how long it took, each outcome means what ``tests.llm_outcome`` says, and
self-evolution never saves an invalid artefact.
"""

from __future__ import annotations

import pytest

from agent.config import PROJECT_ROOT
from agent.evolve.llm_loop import GenerationFailed
from agent.investigate import investigate
from agent.llm.local import MODEL_ALIAS
from agent.runtime import bundle_toolkit
from tests.llm_outcome import check_llm_outcome

pytestmark = pytest.mark.e2e

SCENARIOS = PROJECT_ROOT / "examples" / "scenarios"
MODEL = f"llm:{MODEL_ALIAS}"


@pytest.mark.parametrize("scenario", ["rca-slow-dependency", "release-bad-canary", "inspection-disk-full"])
def test_each_pattern_through_the_graph_keeps_the_offline_floor(scenario: str, local_llm_settings) -> None:
    bundle = SCENARIOS / scenario
    offline = investigate(
        load_event(bundle), bundle_toolkit(bundle, local_llm_settings.model_copy(update={"llm_base_url": None}))
    )
    result = investigate(load_event(bundle), bundle_toolkit(bundle, local_llm_settings))

    run = result.llm
    assert run is not None and run["model"] == MODEL_ALIAS
    assert run["answers"] >= 1 and run["prompt_tokens"] > 0 and run["seconds"] > 0  # the real model answered
    assert run["structured"] == "json_object+schema"  # llama.cpp refuses json_schema; detected, then used
    assert f"{MODEL}: " in result.report and " s, " in result.report  # who answered, how long it took
    check_llm_outcome(result, offline, MODEL)


def load_event(bundle):
    from agent.bundles.reader import load_bundle

    return load_bundle(bundle).event


def test_a_skill_refinement_is_valid_or_fails_cleanly_and_nothing_invalid_is_saved(local_llm_settings, memory) -> None:
    from agent.evolve.workbench import Workbench

    bench = Workbench.from_settings(local_llm_settings, memory)
    assert bench.client is not None and bench.client.model == MODEL_ALIAS
    before = bench.skill("disk-inspection").skill
    try:
        proposal = bench.propose_from_instruction("disk-inspection", "also alert on inode usage above 90 percent")
    except GenerationFailed as exc:
        assert len(exc.errors) == 3 and all(exc.errors)  # three answers, each rejected with its reason
    else:
        assert proposal.source == MODEL
        assert proposal.patched.loaded.skill.name == "disk-inspection"  # validated: it parsed and loads
        assert proposal.patched.loaded.skill.version == before.version + 1
    assert bench.client.structured is not None and bench.client.structured.label == "json_object+schema"
    assert not list(local_llm_settings.resolved_user_skills_dir.glob("*.yaml"))  # nothing saved before accept
    assert memory.skill_versions("disk-inspection") == []


def test_a_distillation_writes_one_note_by_the_model_or_the_template(local_llm_settings, memory, knowledge) -> None:
    from agent.evolve.corrections import correct_case
    from agent.evolve.distill import distill
    from agent.llm.client import LLMClient
    from tests.test_evolve_support import rca_event, rca_verdict, store_case

    case_id = store_case(memory, rca_event(), rca_verdict("ranking", "slow_dependency"))
    correct_case(memory, case_id, correct=False, service="ranking", fault="memory_leak", note="heap grew for 6 h")
    client = LLMClient(local_llm_settings)
    report = distill(memory, knowledge, client=client)

    assert report.count("created") == 1
    (note,) = report.notes
    got = knowledge.collection("experience").get(ids=[note.id], include=["metadatas", "documents"])
    meta, text = got["metadatas"][0], got["documents"][0]
    assert meta["source_cases"] == case_id and text.strip()
    assert client.usage.calls >= 1 and client.usage.completion_tokens > 0
    if meta["writer"] == "template":  # three bad answers: the template wrote it, and the report says why
        assert "the template wrote the note instead" in " ".join(report.messages)
    else:
        assert meta["writer"] == MODEL and len(text) <= 800


def test_bianque_llm_local_serves_a_command_and_stops_after_it(local_llm) -> None:
    import subprocess
    import sys
    from pathlib import Path

    from agent.cli.ui import port_in_use
    from agent.llm.local import free_port

    port = free_port()
    child = "import os; print('child sees', os.environ['BIANQUE_LLM_BASE_URL'], os.environ['BIANQUE_LLM_MODEL'])"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "bianque"), "llm", "local", "--port", str(port), "--",
         sys.executable, "-c", child],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    url = f"http://127.0.0.1:{port}/v1"
    assert f"export BIANQUE_LLM_BASE_URL={url}" in done.stdout
    assert f"export BIANQUE_LLM_MODEL={MODEL_ALIAS}" in done.stdout
    assert f"child sees {url} {MODEL_ALIAS}" in done.stdout
    assert not port_in_use(port)  # the server stopped with the command
