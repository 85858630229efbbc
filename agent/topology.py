"""The service dependency graph: who calls whom (``topology.yaml``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from agent.yaml_limits import YAMLLimitError, check_yaml_bounds

Direction = Literal["downstream", "upstream", "both"]
Problem = tuple[tuple[str | int, ...], str]


class TopologyError(ValueError):
    """A topology that does not follow ``services: {svc: {depends_on: [...]}}``."""

    def __init__(self, problems: list[Problem], source: str = "topology") -> None:
        self.problems = problems
        self.source = source
        text = "; ".join(f"{'.'.join(map(str, loc)) or 'document'}: {msg}" for loc, msg in problems)
        super().__init__(f"{source}: {text}")

    def __reduce__(self) -> tuple[type, tuple[list[Problem], str]]:
        """Rebuilt from its own arguments, so it crosses a process boundary."""
        return type(self), (self.problems, self.source)


def check_topology(data: Any) -> list[Problem]:
    """Every problem of a topology mapping, each with the key path it concerns."""
    if not isinstance(data, Mapping) or "services" not in data:
        return [((), "must be a mapping with a 'services' key")]
    services = data["services"]
    if services is None:
        return []
    if not isinstance(services, Mapping):
        return [(("services",), "must map service names to {depends_on: [...]}")]
    problems: list[Problem] = []
    for name, spec in services.items():
        loc: tuple[str | int, ...] = ("services", name)
        if spec is None:
            continue
        if not isinstance(spec, Mapping):
            problems.append((loc, "must be a mapping like {depends_on: [a, b]}"))
            continue
        deps = spec.get("depends_on")
        if deps is None:
            continue
        if not isinstance(deps, list):
            problems.append(((*loc, "depends_on"), "must be a list of service names"))
            continue
        for i, dep in enumerate(deps):
            if not isinstance(dep, str | int) or isinstance(dep, bool) or str(dep).strip() == "":
                problems.append(((*loc, "depends_on", i), f"not a service name ({dep!r})"))
    return problems


class Topology:
    """Services and what each depends on (calls); queries never hang on cycles."""

    def __init__(self, depends_on: Mapping[str, Iterable[str]] | None = None) -> None:
        self._down: dict[str, list[str]] = {}
        self._up: dict[str, list[str]] = {}
        for service, deps in (depends_on or {}).items():
            self._add(str(service))
            for dep in deps:
                self._link(str(service), str(dep))

    @classmethod
    def from_dict(cls, data: Any, source: str = "topology") -> Topology:
        """From the topology.yaml mapping; raises :class:`TopologyError` naming each bad key."""
        problems = check_topology(data)
        if problems:
            raise TopologyError(problems, source)
        services = data.get("services") or {}
        return cls({str(s): (spec or {}).get("depends_on") or [] for s, spec in services.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> Topology:
        """From a topology.yaml file; raises :class:`TopologyError` or ``OSError``."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
            check_yaml_bounds(text)
            data = YAML(typ="safe", pure=True).load(text)
        except YAMLLimitError as exc:
            raise TopologyError([((), str(exc))], str(path)) from exc
        except YAMLError as exc:
            raise TopologyError([((), f"invalid YAML: {exc}")], str(path)) from exc
        return cls.from_dict(data, str(path))

    def _add(self, service: str) -> None:
        self._down.setdefault(service, [])
        self._up.setdefault(service, [])

    def _link(self, caller: str, callee: str) -> None:
        self._add(callee)
        if callee not in self._down[caller]:
            self._down[caller].append(callee)
            self._up[callee].append(caller)

    def services(self) -> list[str]:
        """Every service named, as caller or callee, sorted."""
        return sorted(self._down)

    def has_edges(self) -> bool:
        """True when the graph says who calls whom (at least one dependency)."""
        return any(self._down.values())

    def __contains__(self, service: object) -> bool:
        return service in self._down

    def __len__(self) -> int:
        return len(self._down)

    def dependencies(self, service: str, depth: int | None = 1) -> list[str]:
        """What ``service`` calls (downstream), up to ``depth`` hops (None: all), nearest first."""
        return self._walk(service, depth, (self._down,))

    def dependents(self, service: str, depth: int | None = 1) -> list[str]:
        """Who calls ``service`` (upstream), up to ``depth`` hops (None: all), nearest first."""
        return self._walk(service, depth, (self._up,))

    def neighbours(self, service: str, depth: int | None = 1, direction: Direction = "both") -> list[str]:
        """Services within ``depth`` hops following calls down, up or both ways."""
        return self._walk(service, depth, self._graphs(direction))

    def as_dict(self) -> dict[str, list[str]]:
        """``{service: [dependencies]}`` for every service (the shape ``write_bundle`` takes)."""
        return {s: list(self._down[s]) for s in self.services()}

    def to_yaml_dict(self) -> dict[str, Any]:
        """The topology.yaml mapping."""
        return {"services": {s: {"depends_on": deps} for s, deps in self.as_dict().items()}}

    def hops(self, sources: Iterable[str], target: str, direction: Direction = "downstream",
             depth: int | None = None) -> int | None:
        """Fewest calls from any of ``sources`` to ``target`` following ``direction`` (within ``depth`` hops, None:
        any); 0 when ``target`` is a source, None when it is not reached."""
        starts = [s for s in sources if s in self._down]
        if target in starts:
            return 0
        return self._distances(starts, depth, self._graphs(direction)).get(target)

    def _graphs(self, direction: Direction) -> tuple[dict[str, list[str]], ...]:
        graphs = {"downstream": (self._down,), "upstream": (self._up,), "both": (self._down, self._up)}
        if direction not in graphs:
            raise ValueError(f"direction must be downstream, upstream or both, not {direction!r}")
        return graphs[direction]

    def _walk(self, service: str, depth: int | None, graphs: tuple[dict[str, list[str]], ...]) -> list[str]:
        if service not in self._down:
            return []
        return list(self._distances([service], depth, graphs))

    def _distances(self, starts: list[str], depth: int | None, graphs: tuple[dict[str, list[str]], ...]
                   ) -> dict[str, int]:
        """Hops from the nearest of ``starts`` (known services) to each service reached within ``depth``, nearest
        first; the starts themselves left out."""
        seen = set(starts)
        found: dict[str, int] = {}
        queue = deque((start, 0) for start in starts)
        while queue:
            node, dist = queue.popleft()
            if depth is not None and dist >= depth:
                continue
            for graph in graphs:
                for nxt in graph[node]:
                    if nxt not in seen:
                        seen.add(nxt)
                        found[nxt] = dist + 1
                        queue.append((nxt, dist + 1))
        return found

    def __repr__(self) -> str:
        return f"Topology({self.as_dict()!r})"
