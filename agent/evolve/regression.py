"""The labelled bundles every Skill patch is replayed against besides the stored cases.

The user registers directories (``bianque skills regression add DIR``); each labelled bundle under them
joins the regression set of every Skill of its pattern. With nothing registered, the curated scenarios
(``examples/scenarios``) are the set. The registry is one text file in the Bian Que home, a directory
per line, written atomically.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from agent.bundles.errors import BundleError
from agent.bundles.event_file import read_event
from agent.bundles.label import read_label
from agent.bundles.validate import bundles_under, real_path
from agent.config import PROJECT_ROOT
from agent.events import Event
from agent.files import replace_file
from agent.memory.records import CaseRecord

CURATED = PROJECT_ROOT / "examples" / "scenarios"
REGISTRY = "regression-bundles.txt"
BUNDLE_PREFIX = "bundle:"


class RegressionError(ValueError):
    """A directory that cannot join the regression set (missing, or holding no labelled bundle)."""


class RegistryWriteError(RegressionError):
    """The registry file could not be written (the server's disk or permissions, not the directory asked for)."""


def registry_path(home: Path) -> Path:
    return Path(home) / REGISTRY


def registered(home: Path) -> list[Path]:
    """The registered directories, in the order added."""
    path = registry_path(home)
    if not path.is_file():
        return []
    return [Path(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(home: Path, dirs: list[Path]) -> None:
    """Replace the registry atomically; RegistryWriteError naming the file when it cannot be written."""
    path = registry_path(home)
    try:
        replace_file(path, "".join(f"{d}\n" for d in dirs).encode("utf-8"))
    except OSError as exc:
        raise RegistryWriteError(f"cannot write {path}: {exc}") from exc


def add(home: Path, directory: Path) -> list[Path]:
    """Register ``directory``; its labelled bundles. RegressionError, nothing registered, unless it holds a labelled
    bundle, or when the event.yaml or label.yaml of one of them is invalid (every such file named): a broken
    bundle in the set would stop every later replay."""
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise RegressionError(f"{directory}: no such directory")
    labelled = [b for b in bundles_under(directory) if (b / "label.yaml").is_file()]
    if not labelled:
        raise RegressionError(f"{directory}: no bundle with a label.yaml under it (a regression case needs a truth)")
    errors = [str(e) for bundle in labelled for e in _truth_errors(bundle)]
    if errors:
        shown = "\n".join(f"  {e}" for e in errors[:20]) + (f"\n  ... and {len(errors) - 20} more"
                                                           if len(errors) > 20 else "")
        raise RegressionError(f"{directory}: not registered, {len(errors)} problem(s) in its bundles' event.yaml or "
                              f"label.yaml (fix them or move those bundles out):\n{shown}")
    dirs = registered(home)
    if directory not in dirs:
        _write(home, [*dirs, directory])
    return labelled


def remove(home: Path, directory: Path) -> bool:
    """Unregister ``directory``; False when it was not registered."""
    directory = Path(directory).resolve()
    dirs = registered(home)
    if directory not in dirs:
        return False
    _write(home, [d for d in dirs if d != directory])
    return True


def summary(home: Path) -> dict[str, object]:
    """The registry as data (CLI ``--json``, API): registered directories, whether the curated default
    applies, and every labelled bundle of the set."""
    dirs = registered(home)
    return {"registered": [str(d) for d in dirs], "default": not dirs,
            "bundles": [str(b) for b in regression_bundles(home)]}


def _event(path: Path) -> tuple[Event | None, list[BundleError]]:
    return read_event(Path(path) / "event.yaml", str(Path(path) / "event.yaml"))


def _label_errors(path: Path) -> list[BundleError]:
    return read_label(Path(path) / "label.yaml", str(Path(path) / "label.yaml"))[1]


def _truth_errors(path: Path) -> list[BundleError]:
    """The problems of a bundle's event.yaml and label.yaml, each named by its full path (metrics are not read)."""
    return [*_event(path)[1], *_label_errors(path)]


def _broken(errors: list[BundleError]) -> RegressionError:
    """A registered bundle whose event.yaml or label.yaml became invalid: no replay can check the gate."""
    return RegressionError("; ".join(map(str, errors)) + " (a bundle of the regression set: fix it, or remove its "
                           "directory with `bianque skills regression remove DIR`)")


def bundle_event(path: Path) -> Event:
    """A bundle's event alone (its metrics are not read); RegressionError naming the file when invalid."""
    event, errors = _event(path)
    if event is None:
        raise _broken(errors or [BundleError(str(Path(path) / "event.yaml"), "unreadable")])
    return event


def regression_bundles(home: Path, pattern: str | None = None) -> list[Path]:
    """Labelled bundles of the regression set (registered, else the curated scenarios), of ``pattern``."""
    dirs = registered(home) or [CURATED]
    out: dict[Path, Path] = {}  # by real path: a bundle two directories lead to (one holding links) is one case
    for directory in dirs:
        for bundle in bundles_under(directory):
            if not (bundle / "label.yaml").is_file():
                continue
            if pattern is None or bundle_event(bundle).pattern.value == pattern:
                out.setdefault(real_path(bundle), bundle)
    return list(out.values())


def bundle_case(path: Path, *, by_path: bool = False) -> CaseRecord:
    """A labelled bundle as a replayable case (not stored anywhere; its truth is its label), its id ``bundle:NAME``
    (``by_path``: ``bundle:/its/path``). RegressionError naming the file when its event.yaml or label.yaml became
    invalid since it was registered."""
    event = bundle_event(path)
    if errors := _label_errors(path):
        raise _broken(errors)
    return CaseRecord(id=f"{BUNDLE_PREFIX}{path if by_path else Path(path).name}", event_id="", event=event,
                      status="done", bundle_path=str(path), created_at=0.0)


def regression_cases(home: Path, pattern: str) -> list[CaseRecord]:
    """The regression set of ``pattern`` as replayable cases, one id each: a bundle whose name another bundle of the
    set shares is named by its path (replay results are remembered per id)."""
    paths = regression_bundles(home, pattern)
    names = Counter(Path(p).name for p in paths)
    return [bundle_case(p, by_path=names[Path(p).name] > 1) for p in paths]
