"""The regression set on the Skills page (Streamlit AppTest): shown, added to, removed from, errors shown."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from agent.config import get_settings
from agent.evolve.regression import registered
from tests.test_ui_app import SCENARIOS, app, texts

pytestmark = pytest.mark.usefixtures("fresh_resources")  # tests/conftest.py


@pytest.fixture(autouse=True)
def roots(tmp_path, monkeypatch):
    """The UI may register directories under this test's temp dir only (it is confined like the HTTP service, by the
    same setting)."""
    monkeypatch.setenv("BIANQUE_REGRESSION_ROOTS", json.dumps([str(tmp_path)]))


def skills_page():
    at = app().run()
    return at.switch_page("views/skills.py").run()


def test_the_curated_default_is_shown_then_a_directory_is_added_and_removed(tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", mine / "rca-slow-dependency")
    at = skills_page()
    assert not at.exception
    assert "the curated scenarios are the regression set" in texts(at)
    bundles = list(at.dataframe[1].value["bundle"])
    assert any(b.endswith("rca-slow-dependency") for b in bundles) and len(bundles) > 1

    at.text_input(key="regression_dir").set_value(str(mine)).run()
    at.button(key="regression_add").click().run()
    assert not at.exception
    assert "1 labelled bundle(s)" in texts(at) and str(mine) in re.sub(r"\\(.)", r"\1", texts(at))  # as shown
    assert registered(get_settings().home) == [mine]
    assert list(at.dataframe[1].value["bundle"]) == [str(mine / "rca-slow-dependency")]

    assert at.selectbox(key="regression_registered").value == str(mine)
    at.button(key="regression_remove").click().run()
    assert not at.exception
    assert registered(get_settings().home) == []
    assert "left the regression set" in texts(at)
    assert "the curated scenarios are the regression set" in texts(at)


def test_a_registered_directorys_name_is_shown_as_text_never_as_markup(tmp_path):
    """A directory (any name the API or the CLI registered) was put in a code span its backticks could end: an image
    in its name was fetched by the browser."""
    from agent.evolve.regression import add

    odd = tmp_path / "x` ![pix](http://x.test/p.png) `y"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", odd / "rca-slow-dependency")
    add(get_settings().home, odd)
    at = skills_page()
    assert not at.exception
    [listed] = [m.value for m in at.markdown if m.value.startswith("**Registered:**")]
    assert "pix" in listed and not re.search(r"(?<!\\)(!\[|\]\(|`)", listed), listed


def test_a_directory_without_labelled_bundles_is_refused_with_the_reason(tmp_path):
    (tmp_path / "empty").mkdir()
    at = skills_page()
    for value, reason in (("", "enter the path"), (str(tmp_path / "empty"), "no bundle with a label.yaml"),
                          (str(tmp_path / "nope"), "no such directory")):
        at.text_input(key="regression_dir").set_value(value).run()
        at.button(key="regression_add").click().run()
        assert not at.exception
        assert reason in " ".join(e.value for e in at.error)
    assert registered(get_settings().home) == []


def test_a_registry_that_cannot_be_written_is_said_when_removing_not_a_traceback(tmp_path, monkeypatch):
    from agent.evolve.regression import RegistryWriteError
    from ui import backend

    mine = tmp_path / "mine"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", mine / "rca-slow-dependency")
    at = skills_page()
    at.text_input(key="regression_dir").set_value(str(mine)).run()
    at.button(key="regression_add").click().run()

    def read_only(directory):
        raise RegistryWriteError(f"cannot write the regression registry: read-only file system ({directory})")

    monkeypatch.setattr(backend, "regression_remove", read_only)
    at.button(key="regression_remove").click().run()
    assert not at.exception
    assert "read-only file system" in " ".join(e.value for e in at.error)  # the reason, as text
    assert registered(get_settings().home) == [mine]


def test_the_ui_is_confined_like_the_service(tmp_path, monkeypatch):
    """A served UI is reachable by others: it registered any directory of the server and walked it unbounded."""
    from agent.evolve.regression import add

    mine = tmp_path / "mine"
    shutil.copytree(SCENARIOS / "rca-slow-dependency", mine / "rca-slow-dependency")
    monkeypatch.delenv("BIANQUE_REGRESSION_ROOTS")
    monkeypatch.setenv("BIANQUE_API_REGRESSION_ROOTS", json.dumps([str(tmp_path / "elsewhere")]))  # its old name
    at = skills_page()
    at.text_input(key="regression_dir").set_value(str(mine)).run()
    at.button(key="regression_add").click().run()
    assert not at.exception
    assert "not under a directory the server may read" in " ".join(e.value for e in at.error)
    assert registered(get_settings().home) == []

    add(get_settings().home, mine)  # the local user's CLI is not confined; the UI lists it as refused
    at = skills_page()
    assert not at.exception
    assert list(at.dataframe[1].value["bundle"]) == []
    assert "a refinement's replay stops on it" in " ".join(w.value for w in at.warning)
