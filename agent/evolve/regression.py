"""The labelled bundles every Skill patch is replayed against besides the stored cases.

The user registers directories (``bianque skills regression add DIR``); each labelled bundle under them
joins the regression set of every Skill of its pattern. With nothing registered, the curated scenarios
(``examples/scenarios``) are the set, each only for the Skills it is relevant to: a caller passes ``answers``, whether
the Skill would answer an event (the replay asks the Skill selector), so a Skill of another system is not replayed
against scenarios it never answers. The registry is one text file in the Bian Que home, a directory per line, written
atomically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.bundles.errors import BundleError
from agent.bundles.event_file import read_event
from agent.bundles.label import read_label
from agent.bundles.validate import TooManyBundlesError, TooManyFoldersError, bundles_under, find_bundles, real_path
from agent.config import PROJECT_ROOT, Settings
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


@dataclass(frozen=True)
class Confinement:
    """Where a remote caller may point the server (the HTTP service, a served UI; the CLI's local user is not
    confined): ``roots`` the directories a registered one must lie in, bundles linked from outside them refused, and
    the search bounded by ``max_bundles`` bundles and ``max_folders`` folders. It holds when a directory is registered
    and each time a registered one is searched again (listed, replayed): what was put in it since is checked too."""

    roots: Sequence[Path]
    max_bundles: int = 5000
    max_folders: int = 50_000

    @classmethod
    def of(cls, settings: Settings) -> Confinement:
        """The configured roots (``settings.regression_roots``: ``BIANQUE_REGRESSION_ROOTS``), else the Bian Que home
        and the project's examples."""
        roots = settings.regression_roots
        return cls(roots if roots is not None else [settings.home, PROJECT_ROOT / "examples"])

    def within(self, path: Path) -> bool:
        """Whether ``path`` (its links resolved) lies in one of the roots (theirs resolved)."""
        real = real_path(path)
        return any(real.is_relative_to(real_path(root)) for root in self.roots)


def _bundles(directory: Path, confine: Confinement | None) -> list[Path]:
    """The bundles under ``directory``; confined, within the roots and the bounds (RegressionError otherwise)."""
    if confine is None:
        return bundles_under(directory)
    if not confine.within(directory):  # asked before it is looked at: whether a path outside exists stays unsaid
        raise RegressionError(f"{directory}: not under a directory the server may read "
                              f"({', '.join(map(str, confine.roots))}; BIANQUE_REGRESSION_ROOTS)")
    if not directory.is_dir():
        return []
    try:
        found = find_bundles([directory], limit=confine.max_bundles, max_folders=confine.max_folders)
    except (TooManyBundlesError, TooManyFoldersError) as exc:
        raise RegressionError(f"{directory}: {exc}") from exc
    outside = [b for b in found if not confine.within(b)]
    if outside:
        raise RegressionError(f"{directory}: {outside[0]} links to a bundle outside the directories the server may "
                              f"read ({len(outside)} such link(s))")
    return found


def add(home: Path, directory: Path, confine: Confinement | None = None) -> list[Path]:
    """Register ``directory``; its labelled bundles. RegressionError, nothing registered, unless it holds a labelled
    bundle, or when the event.yaml or label.yaml of one of them is invalid (every such file named): a broken
    bundle in the set would stop every later replay. ``confine``: a remote caller's bounds (:class:`Confinement`)."""
    directory = Path(directory).resolve()
    bundles = _bundles(directory, confine)
    if not directory.is_dir():
        raise RegressionError(f"{directory}: no such directory")
    labelled = [b for b in bundles if (b / "label.yaml").is_file()]
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


def summary(home: Path, confine: Confinement | None = None) -> dict[str, object]:
    """The registry as data (CLI ``--json``, API, UI): registered directories, whether the curated default
    applies, every labelled bundle of the set and, ``confine``d, each registered directory refused now (its reason)."""
    dirs = registered(home)
    refused: dict[str, str] = {}
    bundles = _regression_bundles(home, None, None, confine, refused)[0]
    return {"registered": [str(d) for d in dirs], "default": not dirs, "bundles": [str(b) for b in bundles],
            **({"refused": refused} if confine is not None else {})}


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


Answers = Callable[[Event], bool]
"""Whether the Skill being replayed would answer an event (its selection), for the curated default."""


def regression_bundles(home: Path, pattern: str | None = None, answers: Answers | None = None,
                       confine: Confinement | None = None) -> list[Path]:
    """Labelled bundles of the regression set (registered, else the curated scenarios), of ``pattern``; with
    ``answers``, the curated scenarios it says yes to (registered bundles always count). ``confine``: registered
    directories are searched within those bounds (RegressionError naming the first refused)."""
    return _regression_bundles(home, pattern, answers, confine)[0]


def _regression_bundles(home: Path, pattern: str | None, answers: Answers | None, confine: Confinement | None,
                        refused: dict[str, str] | None = None) -> tuple[list[Path], int]:
    """:func:`regression_bundles` and how many bundles of ``pattern`` the set had before ``answers`` chose; with
    ``refused``, a directory ``confine`` refuses is told there (directory -> reason) and left out instead."""
    listed = registered(home)
    choose = None if listed else answers
    out: dict[Path, Path] = {}  # by real path: a bundle two directories lead to (one holding links) is one case
    seen: set[Path] = set()
    for directory in listed or [CURATED]:
        try:  # the project's curated scenarios are not a caller's choice: never confined
            found = _bundles(directory, confine) if listed else bundles_under(directory)
        except RegressionError as exc:
            if refused is None:
                raise RegressionError(f"{exc} (a directory of the regression set: remove it with `bianque skills "
                                      "regression remove DIR`, or widen the roots)") from exc
            refused[str(directory)] = str(exc)
            continue
        for bundle in found:
            if not (bundle / "label.yaml").is_file():
                continue
            event = bundle_event(bundle) if pattern is not None or choose is not None else None
            if event is not None and pattern is not None and event.pattern.value != pattern:
                continue
            seen.add(real_path(bundle))
            if choose is None or event is None or choose(event):
                out.setdefault(real_path(bundle), bundle)
    return list(out.values()), len(seen)


def bundle_case(path: Path, *, by_path: bool = False) -> CaseRecord:
    """A labelled bundle as a replayable case (not stored anywhere; its truth is its label), its id ``bundle:NAME``
    (``by_path``: ``bundle:/its/path``). RegressionError naming the file when its event.yaml or label.yaml became
    invalid since it was registered."""
    event = bundle_event(path)
    if errors := _label_errors(path):
        raise _broken(errors)
    return CaseRecord(id=f"{BUNDLE_PREFIX}{path if by_path else Path(path).name}", event_id="", event=event,
                      status="done", bundle_path=str(path), created_at=0.0)


@dataclass
class RegressionSet:
    """The labelled bundles of a Skill's regression set as replayable cases, and what was left out of the curated
    default (a line for the replay's notes, '' when nothing was)."""

    cases: list[CaseRecord] = field(default_factory=list)
    note: str = ""


def regression_cases(home: Path, pattern: str, answers: Answers | None = None, skill: str = "the Skill",
                     confine: Confinement | None = None) -> RegressionSet:
    """The regression set of ``pattern`` as replayable cases, one id each: a bundle whose name another bundle of the
    set shares is named by its path (replay results are remembered per id). ``answers``: keep only the curated
    scenarios the Skill (named ``skill`` in the note) would answer; registered bundles all count. ``confine``: a
    remote caller's bounds, as at registration (RegressionError naming the directory refused)."""
    paths, total = _regression_bundles(home, pattern, answers, confine)
    names = Counter(Path(p).name for p in paths)
    cases = [bundle_case(p, by_path=names[Path(p).name] > 1) for p in paths]
    note = ""
    if len(paths) < total:  # only the curated default is chosen from (by ``answers``): something was left out
        which = (f"only the {len(paths)} that select it are replayed" if paths else
                 "none selects it, so none is replayed: register labelled bundles of its system with "
                 "`bianque skills regression add DIR`")
        note = (f"regression set: the curated {pattern} scenarios ({CURATED}) are the default; {total - len(paths)} "
                f"of {total} are answered by other Skills than {skill} (before and after the patch) and left out; "
                f"{which}")
    return RegressionSet(cases, note)
