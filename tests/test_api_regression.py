"""``/skills/regression``: list, add and remove the regression set over HTTP, with the CLI's checks."""

from __future__ import annotations

import shutil

import pytest

from agent.config import PROJECT_ROOT, get_settings
from agent.evolve.regression import CURATED, registered

SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"


@pytest.fixture
def labelled(tmp_path):
    target = tmp_path / "mine" / SCENARIO.name
    shutil.copytree(SCENARIO, target)
    return target.parent


def test_nothing_registered_lists_the_curated_default(client) -> None:
    body = client.get("/skills/regression").json()
    assert body["registered"] == [] and body["default"] is True
    assert body["bundles"] and all(b.startswith(str(CURATED)) for b in body["bundles"])


def test_add_list_remove_round_trip(client, labelled) -> None:
    added = client.post("/skills/regression", json={"directory": str(labelled)})
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["added"] == [str(labelled / SCENARIO.name)] and body["registered"] == [str(labelled)]
    assert body["directory"] == str(labelled) and body["bundles"] == body["added"]  # the whole set: this one

    other = labelled.parent.parent / "other"
    shutil.copytree(PROJECT_ROOT / "examples" / "scenarios" / "rca-memory-leak", other / "rca-memory-leak")
    both = client.post("/skills/regression", json={"directory": str(other)}).json()
    assert both["added"] == [str(other / "rca-memory-leak")] and len(both["bundles"]) == 2
    assert client.delete("/skills/regression", params={"directory": str(other)}).json()["removed"] == str(other)
    assert registered(get_settings().home) == [labelled]  # the registry the CLI reads
    listed = client.get("/skills/regression").json()
    assert (listed["default"], listed["bundles"]) == (False, [str(labelled / SCENARIO.name)])
    again = client.post("/skills/regression", json={"directory": str(labelled)})
    assert again.status_code == 201 and again.json()["registered"] == [str(labelled)]  # no duplicate

    removed = client.delete("/skills/regression", params={"directory": str(labelled)})
    assert removed.status_code == 200 and removed.json()["default"] is True
    assert registered(get_settings().home) == []
    missing = client.delete("/skills/regression", params={"directory": str(labelled)})
    assert missing.status_code == 404 and "is not registered" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"directory": "relative/dir"}, "directory: must be an absolute path on the server"),
        ({"directory": "/tmp/x\ny"}, "directory: must not contain control characters"),
        ({"directory": ""}, "directory: String should have at least 1 character"),
        ({}, "directory: Field required"),
        ({"directory": "/x", "extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_invalid_bodies_name_the_field(client, body, detail) -> None:
    response = client.post("/skills/regression", json=body)
    assert response.status_code == 422 and detail in response.json()["detail"], response.text
    assert registered(get_settings().home) == []


def test_a_directory_that_cannot_join_is_refused_and_nothing_is_written(client, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    for path, reason in ((tmp_path / "nope", "no such directory"), (tmp_path / "empty", "no bundle with a label.yaml")):
        response = client.post("/skills/regression", json={"directory": str(path)})
        [problem] = response.json()["errors"]
        assert response.status_code == 422 and problem["field"] == "directory" and reason in problem["message"]
    assert registered(get_settings().home) == []
    bad = client.delete("/skills/regression", params={"directory": "rel"})
    assert bad.status_code == 422 and "query.directory" in bad.json()["detail"]


def test_a_registry_that_cannot_be_written_is_the_servers_problem(client, labelled, monkeypatch) -> None:
    import agent.evolve.regression as regression

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(regression, "replace_file", full_disk)
    answer = client.post("/skills/regression", json={"directory": str(labelled)})
    assert answer.status_code == 500 and answer.json()["detail"].startswith("registry: cannot write "), answer.text
    assert registered(get_settings().home) == []
