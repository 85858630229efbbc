"""A bundle's data files, plain or gzip-compressed (``metrics.csv`` or ``metrics.csv.gz``, not both)."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from agent.bundles.errors import BundleError
from agent.config import get_settings

T = TypeVar("T")

GZIP_SUFFIX = ".gz"


class FileLimitError(OSError):
    """A bundle data file beyond a configured size limit; the message names the limit and how to raise it."""


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
        return None, [BundleError(str(root), message)]
    return (found[0] if found else None), []


def read_data_file(root: Path, name: str, read: Reader[T]) -> tuple[list[T], list[BundleError]]:
    """``read`` applied to the plain or gzip form of ``name`` (absent: nothing), errors naming that file by its path
    under ``root`` as given (see :class:`agent.bundles.errors.BundleIssue`)."""
    path, errors = locate(root, name)
    if path is None:
        return [], errors
    return read(path, str(path))


@dataclass(frozen=True)
class FileLimits:
    """How big one bundle data file may be (settings ``max_bundle_file_bytes``, ``max_bundle_file_lines``)."""

    max_bytes: int
    max_lines: int
    variable: str = "BIANQUE_MAX_BUNDLE_FILE"  # the settings' environment prefix, named in the errors
    what: str = "a bundle data file"

    @classmethod
    def configured(cls) -> FileLimits:
        """The limits for logs.jsonl and changes.jsonl."""
        settings = get_settings()
        return cls(settings.max_bundle_file_bytes, settings.max_bundle_file_lines)

    @classmethod
    def for_metrics(cls) -> FileLimits:
        """The limits for metrics.csv: higher, as a sample costs far less memory than a log line."""
        settings = get_settings()
        return cls(settings.max_metrics_file_bytes, settings.max_metrics_file_lines, "BIANQUE_MAX_METRICS_FILE",
                   "a bundle's metrics file")

    def too_big(self, size: int) -> FileLimitError:
        return FileLimitError(
            f"more than {self.max_bytes} bytes{' uncompressed' if size < 0 else f' ({size} bytes)'}, "
            f"the limit for {self.what}: split the bundle, or raise {self.variable}_BYTES"
        )

    def too_long(self) -> FileLimitError:
        return FileLimitError(
            f"more than {self.max_lines} lines, the limit for {self.what}: split the bundle, "
            f"or raise {self.variable}_LINES"
        )


class _Capped(io.RawIOBase):
    """A binary stream that refuses to yield more than ``limits.max_bytes`` bytes (a gzip bomb stops there)."""

    def __init__(self, raw: BinaryIO, limits: FileLimits) -> None:
        self._raw = raw
        self._limits = limits
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        size = self._raw.readinto(buffer)
        self._count += size
        if self._count > self._limits.max_bytes:
            raise self._limits.too_big(-1)
        return size

    def close(self) -> None:
        self._raw.close()
        super().close()


@contextmanager
def open_text(path: Path, newline: str | None = None, limits: FileLimits | None = None) -> Iterator[Iterator[str]]:
    """The lines of ``path`` as UTF-8 text (a leading byte-order mark dropped), decompressed on the fly when it
    ends in ``.gz``.

    A file beyond ``limits`` (default: the configured ones) raises :class:`FileLimitError` (an
    ``OSError``): a plain file before anything is read, a gzip file as soon as it passes the limit.
    """
    limits = limits or FileLimits.configured()
    compressed = path.name.endswith(GZIP_SUFFIX)
    if not compressed and path.stat().st_size > limits.max_bytes:
        raise limits.too_big(path.stat().st_size)
    if compressed:
        _check_uncompressed_size(path, limits)
    raw = gzip.open(path, "rb") if compressed else path.open("rb")
    with io.TextIOWrapper(io.BufferedReader(_Capped(raw, limits)), encoding="utf-8-sig", newline=newline) as text:
        yield _counted(text, limits)


def _check_uncompressed_size(path: Path, limits: FileLimits, chunk: int = 1 << 20) -> None:
    """Decompress ``path`` once without parsing, refusing it as soon as it passes the byte limit.

    A gzip bomb is refused at the speed of zlib (about a second per 256 MiB) rather than
    after parsing everything up to the limit; corrupt data raises here as it would while reading.
    """
    with gzip.open(path, "rb") as raw:
        total = 0
        while block := raw.read(chunk):
            total += len(block)
            if total > limits.max_bytes:
                raise limits.too_big(-1)


def _counted(lines: Iterator[str], limits: FileLimits) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if number > limits.max_lines:
            raise limits.too_long()
        yield line


def read_error(exc: BaseException) -> str:
    """A one-line reason a file could not be read, saying so when its gzip data is corrupt."""
    if isinstance(exc, FileLimitError):
        return str(exc)
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"cannot read: corrupt gzip data ({exc})"
    return f"cannot read: {exc}"

