"""A bundle's data files, plain or gzip-compressed (``metrics.csv`` or ``metrics.csv.gz``, not both)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

from agent.bundles.errors import BundleError

T = TypeVar("T")

GZIP_SUFFIX = ".gz"
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, UnicodeDecodeError, EOFError, zlib.error)
"""What reading a plain or gzip file can raise (``gzip.BadGzipFile`` is an ``OSError``)."""

Reader = Callable[[Path, str], tuple[list[T], list[BundleError]]]


def locate(root: Path, name: str) -> tuple[Path | None, list[BundleError]]:
    """The file holding ``name`` in the bundle ``root``: ``name`` or ``name.gz`` (neither: None).

    Both present is an error naming the bundle and the two files.
    """
    found = [p for p in (root / name, root / (name + GZIP_SUFFIX)) if p.is_file()]
    if len(found) > 1:
        message = f"both {name} and {name}{GZIP_SUFFIX} are present; keep only one of them"
        return None, [BundleError(bundle_name(root), message)]
    return (found[0] if found else None), []


def read_data_file(root: Path, name: str, read: Reader[T]) -> tuple[list[T], list[BundleError]]:
    """``read`` applied to the plain or gzip form of ``name`` (absent: nothing), errors naming that file."""
    path, errors = locate(root, name)
    if path is None:
        return [], errors
    return read(path, f"{bundle_name(root)}/{path.name}")


def open_text(path: Path, newline: str | None = None) -> TextIO:
    """``path`` opened for reading UTF-8 text, decompressed on the fly when it ends in ``.gz``."""
    if path.name.endswith(GZIP_SUFFIX):
        return gzip.open(path, "rt", encoding="utf-8", newline=newline)
    return path.open(encoding="utf-8", newline=newline)


def read_error(exc: BaseException) -> str:
    """A one-line reason a file could not be read, saying so when its gzip data is corrupt."""
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"cannot read: corrupt gzip data ({exc})"
    return f"cannot read: {exc}"


def bundle_name(root: Path) -> str:
    """How errors name the bundle at ``root``."""
    return root.name or str(root)
