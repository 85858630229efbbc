"""Problems found in a case bundle, and what its reader ignored, each naming the file, line and field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BundleIssue:
    """Something about one place of a bundle: its file, line and field. ``file`` is the bundle's path as the user
    gave it (relative or absolute) joined with the file's name, so the file opens from where the command ran."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass(frozen=True)
class BundleError(BundleIssue):
    """One problem: ``cases/my-case/metrics.csv:17: value: not a number ('abc')``."""


@dataclass(frozen=True)
class BundleWarning(BundleIssue):
    """Something read but ignored, and what that means: ``cases/my-case/topology.yaml:3: services.gateway.calls:
    unknown key ignored; ...``. The bundle still loads; the warning reaches the user."""


class InvalidBundleError(ValueError):
    """A bundle that cannot be loaded; ``errors`` lists every problem found."""

    def __init__(self, path: str, errors: Sequence[BundleError]) -> None:
        self.path = path
        self.errors = list(errors)
        shown = "\n".join(f"  {e}" for e in self.errors[:20])
        more = f"\n  ... and {len(self.errors) - 20} more" if len(self.errors) > 20 else ""
        super().__init__(f"invalid case bundle {path}:\n{shown}{more}")

    def __reduce__(self) -> tuple[type, tuple[str, list[BundleError]]]:
        """Rebuilt from its own arguments, so it crosses a process boundary (an evaluation's workers)."""
        return type(self), (self.path, self.errors)


class ErrorLog:
    """Collects the errors of one file, keeping at most ``cap`` and counting the rest, and its warnings."""

    def __init__(self, file: str, cap: int = 50) -> None:
        self.file = file
        self.cap = cap
        self.errors: list[BundleError] = []
        self.dropped = 0
        self._warnings: list[BundleWarning] = []
        self._warnings_dropped = 0

    def warn(self, message: str, line: int | None = None, field: str | None = None) -> None:
        """Record something ignored, keeping at most ``cap`` warnings and counting the rest."""
        if len(self._warnings) < self.cap:
            self._warnings.append(BundleWarning(self.file, message, line, field))
        else:
            self._warnings_dropped += 1

    @property
    def warnings(self) -> list[BundleWarning]:
        """The warnings, with one closing line saying how many more were left out."""
        if self._warnings_dropped:
            more = BundleWarning(self.file, f"... and {self._warnings_dropped} more warnings in this file")
            return [*self._warnings, more]
        return list(self._warnings)

    def add(self, message: str, line: int | None = None, field: str | None = None) -> None:
        if len(self.errors) < self.cap:
            self.errors.append(BundleError(self.file, message, line, field))
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.errors)

    def result(self) -> list[BundleError]:
        """The errors, with one closing line saying how many more were left out."""
        if self.dropped:
            return [*self.errors, BundleError(self.file, f"... and {self.dropped} more errors in this file")]
        return list(self.errors)
