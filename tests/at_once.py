"""Several processes acting on one database at the same moment, for the memory's race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from agent.memory import Memory

T = TypeVar("T")


def each_at_once(url: str, claimants: int, act: Callable[[Memory, int], T]) -> list[T]:
    """``claimants`` processes (each a :class:`Memory` with its own engine: own connections, as separate processes
    have) call ``act(memory, index)`` at the same moment; what each returned, in the order they finished. Any
    exception (a lock timeout, say) fails here rather than pass as a lost race: ``act`` turns the refusals it expects
    into values."""
    stores = [Memory(url) for _ in range(claimants)]
    start = threading.Barrier(claimants)
    results: list[T] = []
    failed: list[BaseException] = []

    def run(store: Memory, index: int) -> None:
        start.wait()
        try:
            results.append(act(store, index))
        except Exception as exc:  # noqa: BLE001 - said below, with the others
            failed.append(exc)

    threads = [threading.Thread(target=run, args=(store, i)) for i, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert failed == []
    return results
