"""What a search reports: three-valued verdicts, property results, the result of a run.

A property HOLDS only when the reachable space was exhausted; it is VIOLATED
when a counterexample was found (which stands even if the search was cut
short); otherwise it is UNDETERMINED, and the result names the bound that
stopped the search.  The sequential search (:mod:`mcheck.explore`) and the
worker search (:mod:`mcheck.parallel`) both build their results with
:func:`build_result`, so the two cannot disagree on what a stop means.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.model import Kind, Property

__all__ = [
    "DEADLOCK",
    "DEADLOCK_DESCRIPTION",
    "Bounds",
    "Path",
    "PropertyResult",
    "Result",
    "StoreInfo",
    "Verdict",
    "build_result",
]

DEADLOCK = "deadlock"
DEADLOCK_DESCRIPTION = "every non-final state has an enabled action"


class Verdict(enum.Enum):
    """Three-valued verdict."""

    HOLDS = "holds"
    VIOLATED = "violated"
    UNDETERMINED = "undetermined"

    def __str__(self) -> str:
        return self.value.upper()


@dataclass(frozen=True)
class Bounds:
    """Bounds on a search; ``None`` means unbounded.

    ``max_states`` bounds the number of distinct states stored, ``max_depth``
    the depth of the states stored (the transitions leaving the deepest
    level are still generated and checked, but their new targets are not
    stored, and a new target means the bound cut something), ``timeout``
    the wall time in seconds, ``max_memory`` the peak resident set of the
    process in bytes.
    """

    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None
    max_memory: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_states", "max_depth", "timeout", "max_memory"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"bound {name} must be a number, got {v!r}")
            if not v > 0 or v != v or v == float("inf"):
                raise ValueError(f"bound {name} must be a finite number above zero, got {v!r}")


@dataclass(frozen=True)
class Path:
    """A path through the state space: ``states[i+1] = step(states[i], actions[i])``."""

    states: tuple[Any, ...]
    actions: tuple[Any, ...]

    def __len__(self) -> int:
        return len(self.actions)


@dataclass
class PropertyResult:
    """The outcome for one property.

    For a metric, ``verdict`` is HOLDS (the count is exact: the space was
    exhausted) or UNDETERMINED (the count is a lower bound); ``count`` is the
    number of transitions on which the event happened and ``path`` a
    shortest witness (BFS) ending with the first such transition.
    """

    name: str
    kind: Kind
    verdict: Verdict
    path: Path | None = None
    count: int = 0
    message: str = ""
    description: str = ""


@dataclass(frozen=True)
class StoreInfo:
    """How a fingerprint store did: states, bytes per state, collision-probability estimate."""

    kind: str
    states: int
    bytes_per_state: float | None  # None: not known (ranks stopped before reporting it)
    collision_probability: float

    def summary(self) -> str:
        size = ("size unknown (the search stopped before every rank reported it)"
                if self.bytes_per_state is None else f"{self.bytes_per_state:.0f} bytes a state")
        return (f"{self.kind} store: {self.states} states, {size}, probability of a "
                f"fingerprint collision about {self.collision_probability:.1e}")


@dataclass
class Result:
    """The outcome of a search."""

    model: str
    strategy: str
    verdict: Verdict
    properties: dict[str, PropertyResult]
    states: int
    transitions: int
    depth: int
    exhausted: bool
    stopped_by: str | None
    elapsed: float
    bounds: Bounds = field(default_factory=Bounds)
    store: StoreInfo | None = None

    @property
    def violations(self) -> list[PropertyResult]:
        return [p for p in self.properties.values() if p.verdict is Verdict.VIOLATED
                and p.kind is not Kind.METRIC]

    @property
    def metrics(self) -> list[PropertyResult]:
        return [p for p in self.properties.values() if p.kind is Kind.METRIC]

    def summary(self) -> str:
        how = "exhausted" if self.exhausted else f"stopped by {self.stopped_by}"
        return (f"{self.verdict}: {self.states} states, {self.transitions} transitions, "
                f"depth {self.depth}, {how}, {self.elapsed:.2f}s")


def build_result(*, model: str, strategy: str, props: Sequence[Property], deadlock: bool,
                 found: Mapping[str, PropertyResult], counts: Mapping[str, int],
                 witness: Mapping[str, PropertyResult | None], exhausted: bool,
                 stopped_by: str | None, states: int, transitions: int, depth: int,
                 elapsed: float, bounds: Bounds, store: StoreInfo | None) -> Result:
    """The result of a search that found ``found``, counted ``counts`` (metric name ->
    count, with ``witness`` its first witness) and stopped as said.

    A property not found violated HOLDS only when the search was exhausted and
    no bound stopped it; a metric's count is exact (HOLDS) only then, and a
    lower bound (UNDETERMINED) otherwise.
    """
    if exhausted and stopped_by is not None:
        raise ValueError(f"a search cannot be both exhausted and stopped by {stopped_by}")
    settled = Verdict.HOLDS if exhausted else Verdict.UNDETERMINED
    out: dict[str, PropertyResult] = {}
    names = [(p.name, p.kind, p.description) for p in props if p.kind is not Kind.METRIC]
    if deadlock:
        names.append((DEADLOCK, Kind.INVARIANT, DEADLOCK_DESCRIPTION))
    for name, kind, desc in names:
        out[name] = found.get(name) or PropertyResult(name, kind, settled, description=desc)
    for m in props:
        if m.kind is not Kind.METRIC:
            continue
        w = witness.get(m.name)
        out[m.name] = PropertyResult(m.name, Kind.METRIC, settled, w.path if w else None,
                                     counts.get(m.name, 0), w.message if w else "",
                                     m.description)
    verdict = (Verdict.VIOLATED if found else settled)
    return Result(model, strategy, verdict, out, states, transitions, depth, exhausted,
                  stopped_by, elapsed, bounds, store)
