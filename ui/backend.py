"""The UI's only door to the library: settings, memory, knowledge, bundles, questions, corrections, Skills
and their refinement (propose, apply, history, rollback), schedules and their runs.

Nothing here knows Streamlit beyond caching long-lived resources, so every call is testable on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import streamlit as st

from agent.ask import Answer, answer_question
from agent.bundles.event_file import read_event
from agent.config import PROJECT_ROOT, Settings, get_settings
from agent.events import Event
from agent.memory import CaseRecord, Memory, ScheduleRunRecord
from agent.skills.library import SkillLibrary, load_default_library

if TYPE_CHECKING:
    from agent.scheduler.overview import ScheduleState

SCENARIOS_DIR = PROJECT_ROOT / "examples" / "scenarios"


def settings() -> Settings:
    """The process settings (``BIANQUE_*`` environment and ``.env``)."""
    return get_settings()


@st.cache_resource(show_spinner=False)
def _memory(url: str) -> Memory:
    return Memory(url)


def memory(config: Settings | None = None) -> Memory:
    """The memory store of the settings' database, opened (and migrated) once per process."""
    return _memory((config or settings()).resolved_database_url)


def database_problem(exc: BaseException) -> str | None:
    """One line for a failure of the memory database (it could not be opened, stopped answering, its schema is not
    current), naming it as the CLI does (never its password); None for any other error."""
    from agent.memory.db import database_problem as problem

    return problem(settings().resolved_database_url, exc)


@st.cache_resource(show_spinner=False)
def _knowledge(home: str, chroma_url: str | None) -> Any:
    from agent.runtime import open_knowledge

    return open_knowledge(settings(), ingest=False)


def knowledge(config: Settings | None = None) -> Any:
    """The knowledge store (no handbook ingest: corrections only add cases and experience notes)."""
    config = config or settings()
    return _knowledge(str(config.home), config.chroma_url)


def reasoner_label(config: Settings) -> str:
    """Which reasoner answers: the offline evidence reasoner, or an LLM model at a host (never a key)."""
    if not config.llm_enabled:
        return "offline evidence reasoner (no LLM configured)"
    url = urlparse(config.llm_base_url or "")
    host = url.hostname or "?"
    where = f"{host}:{url.port}" if url.port else host
    return f"LLM {config.llm_model} at {where} (offline reasoner as fallback)"


def metrics_label(config: Settings) -> str:
    """Where live metrics come from."""
    if not config.prometheus_url:
        return "no PromQL server configured"
    url = urlparse(config.prometheus_url)
    return f"PromQL at {url.hostname}:{url.port}" if url.port else f"PromQL at {url.hostname}"


def notifications_label(config: Settings) -> str:
    """Where background results are posted (docs/notifications.md)."""
    from agent.notify import Notifier

    return Notifier.from_settings(config).describe()


@dataclass(frozen=True)
class BundleInfo:
    """A case bundle directory and its event (or why the event could not be read)."""

    path: Path
    event: Event | None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


def curated_scenarios(directory: Path = SCENARIOS_DIR) -> list[Path]:
    """The curated scenario bundles (directories holding an ``event.yaml``), by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if (p / "event.yaml").is_file())


def inspect_bundle(path: Path) -> BundleInfo:
    """Read only a bundle's ``event.yaml``: enough to show what it is about, or what is wrong with it."""
    if not path.is_dir():
        return BundleInfo(path, None, f"{path}: {'not a directory' if path.exists() else 'does not exist'}")
    event, errors = read_event(path / "event.yaml", str(path / "event.yaml"))
    if event is None:
        return BundleInfo(path, None, "; ".join(str(e) for e in errors))
    return BundleInfo(path, event)


def ask(question: str, bundle: Path | None = None, *, progress: Callable[[int, int, str], None] | None = None,
        on_step: Callable[[int, int, str], None] | None = None, thread_id: str | None = None) -> Answer:
    """Answer a free-text question against a bundle, or against the live sources when ``bundle`` is None;
    ``progress`` is told of a first use's handbook embedding, ``on_step`` of each investigation step; its case is
    found by ``thread_id`` (:func:`case_of_thread`)."""
    return answer_question(question, settings(), bundle=bundle, source="ui", progress=progress, on_step=on_step,
                           thread_id=thread_id)


def case_of_thread(thread_id: str) -> CaseRecord | None:
    """The case a question asked on checkpoint thread ``thread_id`` stored, or None (not started yet)."""
    return memory().case_of_thread(thread_id)


CASES_SHOWN = 200  # the Cases page lists this many, newest first


def list_cases(pattern: str | None = None, limit: int = CASES_SHOWN) -> list[CaseRecord]:
    """Stored cases, newest first."""
    return memory().list_cases(pattern=pattern, limit=limit)


def get_case(case_id: str) -> CaseRecord:
    """One stored case with its corrections (CaseNotFoundError when unknown)."""
    return memory().get_case(case_id)


def schedules() -> list[ScheduleState]:
    """Every schedule with how it stands now (``agent.scheduler.overview.ScheduleState``), as ``bianque schedule
    list`` reads it."""
    from agent.scheduler.overview import schedule_states

    return schedule_states(settings(), memory())


def schedule_runs(job_id: str, limit: int) -> list[ScheduleRunRecord]:
    """A schedule's runs, newest first (ScheduleNotFoundError when it is gone), a run whose process of this host died
    shown failed (``interrupted: …``), as ``bianque schedule history`` shows it."""
    from agent.scheduler.jobs import schedule_history

    return schedule_history(memory(), job_id, limit)


def correct(case_id: str, *, index: bool = True, **fields: Any) -> Any:
    """Store a correction through the evolution step; ``index`` makes the case retrievable experience (off: stored
    with the correction, the case stays out of experience, distillation and lessons included, and its record from
    an earlier correction is removed from the knowledge store).

    ``fields`` are ``correct_case``'s keywords (correct, service, fault, decision, needs_attention,
    note, author). Raises CorrectionError / CaseNotFoundError with a message fit for the user.
    """
    from agent.evolve.corrections import correct_case

    return correct_case(memory(), case_id, index=index, knowledge=knowledge, **fields)  # opened once stored


def skill_library() -> SkillLibrary:
    """The Skill library as the agent sees it now (built-in directories, then the user's)."""
    return load_default_library(settings())


def regression_confinement() -> Any:
    """Where the UI's users may point it: a served UI is reachable by others, so it is confined like the HTTP
    service, to ``BIANQUE_REGRESSION_ROOTS`` (default the home and the project's examples), at registration and
    each time the set is searched again (listed, replayed)."""
    from agent.evolve.regression import Confinement

    return Confinement.of(settings())


def regression_set() -> dict[str, Any]:
    """The regression set every Skill patch is replayed against (``agent.evolve.regression.summary``), with the
    registered directories refused now."""
    from agent.evolve.regression import summary

    return summary(settings().home, regression_confinement())


def regression_add(directory: str) -> list[Path]:
    """Register a directory of labelled bundles; its labelled bundles (RegressionError saying why not)."""
    from agent.evolve.regression import RegressionError, add

    if not directory.strip():
        raise RegressionError("directory: enter the path of a directory of labelled bundles")
    return add(settings().home, Path(directory.strip()).expanduser(), regression_confinement())


def regression_remove(directory: str) -> bool:
    """Unregister a directory; False when it was not registered."""
    from agent.evolve.regression import remove

    return remove(settings().home, Path(directory))


def _workbench() -> Any:
    """A refinement workbench over the Skill library as it is now (see ``agent.evolve.workbench``)."""
    from agent.evolve.workbench import Workbench

    return Workbench.from_settings(settings(), memory(), confine=regression_confinement())


def propose_fix(case_id: str, progress: Callable[[Any], None]) -> Any:
    """Propose and replay a fix of the Skill that answered a corrected case; nothing is saved
    (``agent.evolve.refinement.refine_from_case``; ``progress`` is told of each step)."""
    from agent.evolve.refinement import refine_from_case

    return refine_from_case(_workbench(), case_id, progress=progress)


def apply_fix(refinement: Any, author: str | None = None) -> Any:
    """Save an accepted refinement as the Skill's next version (refused when rejected, saved or outdated)."""
    from agent.evolve.refinement import apply_refinement

    return apply_refinement(_workbench(), refinement, author=author)


def skill_history(name: str) -> list[Any]:
    """Every stored version of a Skill, oldest first."""
    from agent.evolve.versions import history

    return history(memory(), name)


def rollback_preview(name: str, version: int) -> str:
    """The diff a rollback to ``version`` makes to the Skill's current text ('' when identical)."""
    from agent.evolve.versions import rollback_preview as preview

    return preview(memory(), name, version, skill_library().get(name), settings().resolved_user_skills_dir)


def rollback(name: str, version: int, author: str | None = None) -> Any:
    """Restore a stored version byte for byte (a new active version, written to the user's Skill directory)."""
    from agent.evolve.versions import rollback as restore

    return restore(memory(), settings().resolved_user_skills_dir, name, version, author=author,
                   current=skill_library().get(name))
