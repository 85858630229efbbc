"""``/skills/regression``: list, add and remove the regression set over HTTP, with the CLI's checks."""

from __future__ import annotations

import json
import shutil

import pytest

from agent.config import PROJECT_ROOT, SettingsError, get_settings
from agent.evolve.regression import CURATED, Confinement, RegressionError, add, registered, regression_cases, summary
from agent.evolve.workbench import Workbench
from tests.test_api_support import make_client

SCENARIO = PROJECT_ROOT / "examples" / "scenarios" / "rca-slow-dependency"
OUTSIDE = "not under a directory the server may read"


@pytest.fixture
def client(memory, investigator, tmp_path, monkeypatch):
    """The service with this test's temp dir as the one directory it may register under."""
    monkeypatch.setenv("BIANQUE_REGRESSION_ROOTS", json.dumps([str(tmp_path)]))
    get_settings.cache_clear()
    with make_client(memory, investigator) as test_client:
        yield test_client


def test_the_roots_are_one_setting_of_a_neutral_name_and_its_old_one_is_still_read(bianque_home, monkeypatch,
                                                                                   tmp_path):
    """The web UI read BIANQUE_API_REGRESSION_ROOTS, a name saying API: BIANQUE_REGRESSION_ROOTS is read by both, the
    old name still (the new one wins), and a bad value is named by the variable it was given as (a list not written as
    JSON said so, as for every list setting)."""
    new, old = tmp_path / "new", tmp_path / "old"
    monkeypatch.setenv("BIANQUE_API_REGRESSION_ROOTS", json.dumps([str(old)]))
    get_settings.cache_clear()
    assert Confinement.of(get_settings()).roots == [old]
    monkeypatch.setenv("BIANQUE_REGRESSION_ROOTS", json.dumps([str(new)]))
    get_settings.cache_clear()
    assert Confinement.of(get_settings()).roots == [new]
    monkeypatch.setenv("BIANQUE_REGRESSION_ROOTS", "[1]")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=r"invalid setting: BIANQUE_REGRESSION_ROOTS: .*\(got 1\)"):
        get_settings()
    monkeypatch.setenv("BIANQUE_REGRESSION_ROOTS", "/srv/bundles")  # read by an alias: not parsed as JSON
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=r"BIANQUE_REGRESSION_ROOTS: .*a list is written as JSON"):
        get_settings()
    get_settings.cache_clear()


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

    other = labelled.parent / "other"
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


def refusal(answer) -> str:
    [problem] = answer.json()["errors"]
    assert (answer.status_code, problem["field"]) == (422, "directory"), answer.text
    return problem["message"]


@pytest.mark.parametrize("directory", ["/", "/etc", "/no/such/dir", str(PROJECT_ROOT / "examples")])
def test_a_directory_outside_the_roots_is_refused_whether_it_exists_or_not(client, directory) -> None:
    """Any token holder made the server walk "/" in a request thread and learn whether a directory exists."""
    message = refusal(client.post("/skills/regression", json={"directory": directory}))
    assert OUTSIDE in message and "BIANQUE_REGRESSION_ROOTS" in message and "no such" not in message
    assert registered(get_settings().home) == []


def test_by_default_the_home_and_the_examples_may_be_registered(memory, investigator, labelled) -> None:
    home = get_settings().home
    shutil.copytree(labelled, home / "sets" / "mine")
    with make_client(memory, investigator) as client:
        assert OUTSIDE in refusal(client.post("/skills/regression", json={"directory": str(labelled)}))
        for directory in (home / "sets", CURATED):
            assert client.post("/skills/regression", json={"directory": str(directory)}).status_code == 201
    assert registered(home) == [home / "sets", CURATED]


def test_links_out_of_the_roots_are_refused(client, tmp_path, labelled) -> None:
    """A link to a directory outside, or a bundle linked from outside, would be read through a root."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    shutil.copytree(labelled, outside)
    (tmp_path / "door").symlink_to(outside, target_is_directory=True)
    assert OUTSIDE in refusal(client.post("/skills/regression", json={"directory": str(tmp_path / "door")}))
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "borrowed").symlink_to(outside / SCENARIO.name, target_is_directory=True)
    message = refusal(client.post("/skills/regression", json={"directory": str(tmp_path / "set")}))
    assert "links to a bundle outside the directories the server may read" in message
    assert registered(get_settings().home) == []


def test_the_search_of_a_confined_directory_is_bounded(tmp_path, labelled) -> None:
    deep = tmp_path / "deep"
    (deep / "a" / "b" / "c" / "d").mkdir(parents=True)
    shutil.copytree(labelled, deep / "a" / "b" / "c" / "d" / "mine")
    home = get_settings().home
    with pytest.raises(RegressionError, match="more than 3 folders searched under"):
        add(home, deep, Confinement([tmp_path], max_folders=3))
    shutil.copytree(SCENARIO, labelled / "again")
    with pytest.raises(RegressionError, match="more than 1 case bundles found"):
        add(home, labelled, Confinement([tmp_path], max_bundles=1))
    assert registered(home) == []
    assert len(add(home, labelled)) == 2  # the local user's CLI is not confined


def test_a_link_put_in_a_registered_directory_later_is_refused_when_listed_and_replayed(client, tmp_path,
                                                                                      labelled) -> None:
    """The roots were checked at registration only: a link to a bundle outside, added since, was read by every
    later listing and replay."""
    assert client.post("/skills/regression", json={"directory": str(labelled)}).status_code == 201
    outside = tmp_path.parent / f"{tmp_path.name}-later"
    shutil.copytree(SCENARIO, outside / "case")
    (labelled / "borrowed").symlink_to(outside / "case", target_is_directory=True)
    listed = client.get("/skills/regression").json()
    assert listed["bundles"] == [] and list(listed["refused"]) == [str(labelled)]
    assert "links to a bundle outside" in listed["refused"][str(labelled)]
    home, confine = get_settings().home, Confinement([tmp_path])
    with pytest.raises(RegressionError, match=f"{labelled}: .*links to a bundle outside.*regression remove"):
        regression_cases(home, "rca", confine=confine)
    assert len(regression_cases(home, "rca").cases) == 2  # the local user's CLI is not confined


def test_a_registered_directory_searched_again_is_bounded(tmp_path, labelled) -> None:
    home = get_settings().home
    add(home, labelled, Confinement([tmp_path], max_folders=3))
    (labelled / "a" / "b" / "c").mkdir(parents=True)  # grew since it was registered
    with pytest.raises(RegressionError, match="more than 3 folders searched under"):
        regression_cases(home, "rca", confine=Confinement([tmp_path], max_folders=3))
    assert summary(home, Confinement([tmp_path], max_folders=3))["refused"] == {
        str(labelled): f"{labelled}: more than 3 folders searched under {labelled} without the end of it: not a "
                       "directory of case bundles"}


def test_a_workbench_confined_replays_within_the_roots(memory, tmp_path, labelled) -> None:
    """The service's and the UI's refinements replay through a confined workbench; a directory the CLI registered
    outside their roots is refused there, naming it."""
    settings = get_settings()
    add(settings.home, labelled)
    bench = Workbench.from_settings(settings, memory, confine=Confinement([tmp_path / "elsewhere"]))
    with pytest.raises(RegressionError, match=f"{labelled}: {OUTSIDE}"):
        bench.regression_set("search-latency-rca")
    assert Workbench.from_settings(settings, memory).regression_set("search-latency-rca").cases
