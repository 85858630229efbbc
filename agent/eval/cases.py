"""Score labelled bundles one at a time, in this process or spread over worker processes.

Workers are forked from this process after the Skills are loaded, so they start at once with what it
holds; each opens the knowledge store itself, since neither an open Chroma client nor an ONNX session
survives a fork. Forking is safe on Linux only; elsewhere the cases run in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent import runtime
from agent.bundles.errors import BundleWarning
from agent.bundles.label import load_label
from agent.bundles.reader import load_bundle
from agent.config import Settings
from agent.investigate import investigate
from agent.scoring import CaseScore, score_case

BUNDLES_PER_JOB = 4  # fewer bundles a worker take less time in one process than opening its knowledge store
MAX_AUTO_JOBS = 4  # each worker holds its own knowledge store and one bundle's data: about 0.3 GB more
OPEN_CONFIGURED = True  # ``CaseContext.knowledge``: open the configured store where the cases run
OPEN_CHECKED = "open-checked"  # the same, once :func:`ready_knowledge` has checked it opens: not checked again


@dataclass
class CaseContext:
    """What every case of one evaluation shares: settings, Skills, knowledge store (or ``OPEN_CONFIGURED``),
    past lessons."""

    settings: Settings
    library: Any
    knowledge: Any = None
    experience: list | None = None
    skill: str | None = None  # answer every case with this Skill (``bianque eval --skill``), not the selected one


@dataclass
class CaseOutcome:
    """One bundle's score, or why it has none, and what its readers ignored (bundle and label warnings)."""

    path: Path
    score: CaseScore | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def score_bundle(path: Path, context: CaseContext) -> CaseOutcome:
    """Investigate one labelled bundle offline and score it; any failure (a bad label or bundle) is the outcome's
    error."""
    warnings: list[BundleWarning] = []
    try:
        label = load_label(path, warnings)
        if label is None:
            return CaseOutcome(path, error="no label.yaml")
        bundle = load_bundle(path)
        warnings = [*bundle.warnings, *warnings]
        if (other := _other_pattern(context, bundle.event.pattern)) is not None:
            return CaseOutcome(path, error=other, warnings=[str(w) for w in warnings])
        toolkit = runtime.bundle_toolkit(bundle, context.settings, library=context.library,
                                         knowledge=context.knowledge, experience=context.experience)
        result = investigate(bundle.event, toolkit, source="eval", skill=context.skill)
        score = score_case(path.name, result.skill["name"], result.verdict, label)
        score.gaps = [f"{g.signal} ({g.service}): {g.reason}" if g.service else f"{g.signal}: {g.reason}"
                      for g in result.missing_data if g.kind == "metrics"]
        return CaseOutcome(path, score, warnings=[str(w) for w in warnings])
    except Exception as exc:  # one broken bundle must not stop the evaluation
        return _failed(path, exc, warnings)


def _other_pattern(context: CaseContext, pattern: Any) -> str | None:
    """Why a case is skipped when the Skill every case is answered with is for another pattern; None when it fits."""
    if context.skill is None:
        return None
    skill = context.library.get(context.skill).skill
    if skill.pattern == pattern:
        return None
    return f"its event is {pattern.with_article} event; --skill {context.skill} answers {skill.pattern.value} events"


def _failed(path: Path, exc: Exception, warnings: Sequence[object] = ()) -> CaseOutcome:
    """The outcome of a case that raised ``exc`` (with the warnings found before it)."""
    return CaseOutcome(path, error=f"{type(exc).__name__}: {exc}", warnings=[str(w) for w in warnings])


def auto_jobs(bundles: Sequence[Path]) -> int:
    """Worker processes worth starting: one per core, at most ``MAX_AUTO_JOBS`` and one per ``BUNDLES_PER_JOB``
    bundles; 1 runs everything in this process."""
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS, len(bundles) // BUNDLES_PER_JOB))


def in_workers(bundles: Sequence[Path], jobs: int) -> bool:
    """Whether :func:`score_bundles` spreads ``bundles`` over ``jobs`` worker processes (else: in this process)."""
    return jobs > 1 and len(bundles) > 1 and sys.platform == "linux"


def ready_knowledge(settings: Settings, bundles: Sequence[Path], jobs: int) -> Any:
    """The configured knowledge store as :func:`score_bundles` takes it for ``bundles`` and ``jobs``, opened now, so
    that one that cannot be opened stops the evaluation before it starts (before any progress is shown): the store
    itself when the cases run in this process, else ``OPEN_CHECKED`` once :func:`check_knowledge_store` opened it."""
    if not in_workers(bundles, jobs):
        return runtime.open_knowledge(settings)
    check_knowledge_store(settings, multiprocessing.get_context("fork"))
    return OPEN_CHECKED


def _opens_configured(knowledge: Any) -> bool:
    return knowledge is OPEN_CONFIGURED or knowledge is OPEN_CHECKED


def score_bundles(bundles: Sequence[Path], context: CaseContext, jobs: int = 1,
                  on_case: Callable[[CaseOutcome], None] | None = None) -> list[CaseOutcome]:
    """Every bundle's outcome, in the order of ``bundles``; ``on_case`` is called as each one finishes.

    ``jobs`` 1: one after another in this process. More: in that many worker processes forked from this one;
    ``context.knowledge`` must then be True (``OPEN_CONFIGURED``, or ``OPEN_CHECKED``) or None (each worker opens
    the configured store itself: an open Chroma client or ONNX session does not survive a fork).
    """
    if in_workers(bundles, jobs):
        outcomes = _in_workers(bundles, context, jobs)
    else:
        context = _opened(context)
        outcomes = ((i, score_bundle(path, context)) for i, path in enumerate(bundles))
    found: dict[int, CaseOutcome] = {}
    for index, outcome in outcomes:
        found[index] = outcome
        if on_case:
            on_case(outcome)
    return [found[i] for i in range(len(bundles))]


def _opened(context: CaseContext, lock: Any = None) -> CaseContext:
    """``context`` with the configured knowledge store opened when asked for (``lock``: workers open it one at a
    time)."""
    if not _opens_configured(context.knowledge):
        return context
    return replace(context, knowledge=runtime.open_knowledge(context.settings, lock=lock))


def _in_workers(bundles: Sequence[Path], context: CaseContext, jobs: int) -> Iterator[tuple[int, CaseOutcome]]:
    if context.knowledge is not None and not _opens_configured(context.knowledge):
        raise ValueError("parallel evaluation opens the knowledge store in each worker: pass knowledge=True")
    forked = multiprocessing.get_context("fork")
    if context.knowledge is OPEN_CONFIGURED:
        check_knowledge_store(context.settings, forked)
    with ProcessPoolExecutor(max_workers=min(jobs, len(bundles)), mp_context=forked,
                             initializer=_start_worker, initargs=(context, forked.Lock())) as pool:
        futures: dict[Future, int] = {pool.submit(_score_in_worker, path): i for i, path in enumerate(bundles)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                yield index, _outcome(future, bundles[index])
        finally:
            pool.shutdown(cancel_futures=True)


def check_knowledge_store(settings: Settings, forked: Any) -> None:
    """Open the configured knowledge store once, before any worker is forked, and raise what that raised (a
    store that cannot be opened, an embedding model that cannot answer), so the evaluation stops with the reason
    instead of every worker failing each case. Done in a child process of its own (``forked``, a fork context),
    since neither a Chroma client nor an ONNX session in this process would survive the workers' fork; its first
    use of a new store embeds the handbook there, once."""
    from agent.knowledge.store import KnowledgeStoreError

    receive, send = forked.Pipe(duplex=False)
    child = forked.Process(target=_open_and_tell, args=(settings, send), daemon=True)
    child.start()
    send.close()
    try:
        problem = receive.recv()
    except EOFError:  # it died without a word (killed, out of memory)
        child.join()
        problem = KnowledgeStoreError(f"opening the knowledge store ended its process (exit code {child.exitcode})")
    finally:
        receive.close()
    child.join()
    if problem is not None:
        raise problem


def _open_and_tell(settings: Settings, send: Any) -> None:
    """In :func:`check_knowledge_store`'s child: open the store, then send None, or the exception it raised (one of
    the knowledge store's own errors, else a ``KnowledgeStoreError`` saying what it was)."""
    from agent.knowledge.embedding import EmbeddingModelError
    from agent.knowledge.store import KnowledgeStoreError

    try:
        runtime.open_knowledge(settings)
        send.send(None)
    except (KnowledgeStoreError, EmbeddingModelError) as exc:
        send.send(exc)
    except Exception as exc:
        send.send(KnowledgeStoreError(f"cannot open the knowledge store: {type(exc).__name__}: {exc}"))
    finally:
        send.close()


_WORKER: CaseContext | Exception | None = None


def _start_worker(context: CaseContext, lock: Any) -> None:
    """Worker initializer: this worker's own knowledge store, when the evaluation uses one; what opening it raised
    is kept, to be each of its cases' error (raised here, it would break the pool: "worker process died")."""
    global _WORKER
    try:
        _WORKER = _opened(context, lock)
    except Exception as exc:
        _WORKER = exc


def _score_in_worker(path: Path) -> CaseOutcome:
    """One case in a worker; whatever it raises comes back as the case's error, as data: an exception that fails
    to cross back to this process would break the pool and lose every case still in it."""
    assert _WORKER is not None, "worker used before its initializer ran"
    if isinstance(_WORKER, Exception):
        return _failed(path, _WORKER)
    try:
        return score_bundle(path, _WORKER)
    except Exception as exc:
        return _failed(path, exc)


def _outcome(future: Future, path: Path) -> CaseOutcome:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        return CaseOutcome(path, error=f"its worker process died ({exc}); try --jobs 1")
