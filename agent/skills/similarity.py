"""Embedding similarity between an event and Skill descriptions, for ranking Skill candidates."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


class EmbeddingSimilarity:
    """Cosine similarity through any embedding function; descriptions are embedded once and cached."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._cache: dict[str, np.ndarray] = {}

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vec in zip(missing, self._embed(list(missing)), strict=True):
                arr = np.asarray(vec, dtype=float)
                self._cache[text] = arr / (np.linalg.norm(arr) or 1.0)
        return np.stack([self._cache[t] for t in texts])

    def __call__(self, text: str, docs: Sequence[str]) -> list[float]:
        if not docs:
            return []
        query = np.asarray(self._embed([text])[0], dtype=float)
        query /= np.linalg.norm(query) or 1.0
        sims = self._vectors(docs) @ query
        return [float(max(0.0, s)) for s in sims]
