"""The search: explicit-state BFS (shortest counterexamples) or DFS, with bounds.

Verdicts are three-valued.  A property HOLDS only when the reachable space
was exhausted; it is VIOLATED when a counterexample was found (which stands
even if the search was cut short); otherwise it is UNDETERMINED and the
result says which bound stopped the search and how far it got.

The visited store maps each state to its parent state (``None`` for an
initial state): exactly the memory of a bare dict-plus-deque BFS.  Actions
are not stored; a trace is rebuilt by re-running the successor function of
each parent and taking the first action that leads to the child, which is
the action the search itself took first.
"""

from __future__ import annotations

import enum
import gc
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.model import Kind, Model, Property

__all__ = [
    "Bounds",
    "Path",
    "PropertyResult",
    "Result",
    "Verdict",
    "check",
    "path_to",
]


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
    the length of the paths explored, ``timeout`` the wall time in seconds,
    ``max_memory`` the peak resident set of the process in bytes.
    """

    max_states: int | None = None
    max_depth: int | None = None
    timeout: float | None = None
    max_memory: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_states", "max_depth", "timeout", "max_memory"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ValueError(f"bound {name} must be above zero, got {v!r}")


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


DEADLOCK = "deadlock"


class _Stop(Exception):
    pass


def _first_action(model: Model, parent: Any, child: Any,
                  canon: Callable[[Any], Any] | None) -> tuple[Any, Any]:
    """The first action of ``parent`` that leads to ``child`` and the actual successor."""
    for a, t in model.successors(parent):
        if (canon(t) if canon is not None else t) == child:
            return a, t
    raise RuntimeError(
        "model is not deterministic: a stored transition cannot be re-derived "
        f"from {parent!r} to {child!r}")


def path_to(model: Model, parents: dict[Any, Any], state: Any,
            canon: Callable[[Any], Any] | None = None) -> Path:
    """Rebuild the path from an initial state to ``state`` from parent links."""
    chain = [state]
    p = parents[state]
    while p is not None:
        chain.append(p)
        p = parents[p]
    chain.reverse()
    # Re-derive actual states and actions (under a canonicaliser the stored
    # states are representatives; the path shows the real successors, from a
    # real initial state, so a reduced run's trace replays on the full model).
    first = chain[0]
    if canon is not None:
        first = next((s for s in model.initial_states() if canon(s) == chain[0]), chain[0])
    states = [first]
    actions = []
    for child in chain[1:]:
        a, t = _first_action(model, states[-1], child, canon)
        actions.append(a)
        states.append(t)
    return Path(tuple(states), tuple(actions))


def _peak_rss() -> int:
    """Peak resident set of this process in bytes.

    Linux's VmHWM is this process image's own high-water mark; ``ru_maxrss``
    (the fallback elsewhere) survives ``execve``, so a checker started by a
    big parent would inherit the parent's peak and stop at once.
    """
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check(
    model: Model,
    *,
    strategy: str = "bfs",
    bounds: Bounds | None = None,
    stop_at_first: bool = True,
    deadlock: bool = False,
    properties: Sequence[str] | None = None,
    progress: Any = None,
    canonical: Callable[[Any], Any] | None = None,
) -> Result:
    """Explore the reachable states of ``model`` and check its properties.

    Parameters
    ----------
    strategy:
        ``"bfs"`` (default; each counterexample is a shortest one) or ``"dfs"``.
    bounds:
        :class:`Bounds`; a search stopped by a bound cannot report HOLDS.
    stop_at_first:
        Stop at the first violation (default), or go on to collect one
        shortest trace per violated property.
    deadlock:
        Report a non-final state with no enabled action as a violation of
        the built-in property ``deadlock``.
    properties:
        Names of the properties to check (default: all of the model's).
    canonical:
        A canonicaliser for symmetry reduction: maps a state to the
        representative of its orbit.  The store keeps representatives only;
        traces are re-derived through the real successors.  It must be sound
        for the model (see :mod:`mcheck.symmetry`); ``None`` explores the
        full space.
    progress:
        An object with ``update(states, transitions, depth, frontier)``,
        ``level(depth, size)`` and ``close()`` (see :mod:`mcheck.progress`).
    """
    if strategy not in ("bfs", "dfs"):
        raise ValueError(f"unknown strategy {strategy!r}: use 'bfs' or 'dfs'")
    bounds = bounds or Bounds()
    props = list(model.properties())
    if properties is not None:
        known = {p.name for p in props}
        unknown = [n for n in properties if n not in known]
        if unknown:
            raise ValueError(f"unknown property {unknown[0]!r}: the model has "
                             f"{', '.join(sorted(known)) or 'none'}")
        props = [p for p in props if p.name in properties]
    search = _Search(model, props, bounds, stop_at_first, deadlock, progress, canonical)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # states are acyclic tuples: the cyclic GC only costs time here
    try:
        if strategy == "bfs":
            search.bfs()
        else:
            search.dfs()
    except _Stop:
        pass
    finally:
        if gc_was_enabled:
            gc.enable()
        if progress is not None:
            progress.close()
    return search.result(strategy)


class _Search:
    CHECK_EVERY = 2048

    def __init__(self, model: Model, props: list[Property], bounds: Bounds,
                 stop_at_first: bool, deadlock: bool, progress: Any,
                 canonical: Callable[[Any], Any] | None = None) -> None:
        self.model = model
        self.canon = canonical
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.props = props
        self.bounds = bounds
        self.stop_at_first = stop_at_first
        self.deadlock = deadlock
        self.progress = progress
        self.parents: dict[Any, Any] = {}
        self.transitions = 0
        self.depth = 0
        self.exhausted = False
        self.stopped_by: str | None = None
        self.found: dict[str, PropertyResult] = {}
        self.counts: dict[str, int] = {m.name: 0 for m in self.metrics}
        self.witness: dict[str, PropertyResult] = {}
        self.t0 = time.monotonic()
        self.elapsed = 0.0

    # -- violations and metrics ---------------------------------------------------

    def _violated(self, p: Property | None, state: Any, action: Any = None,
                  nxt: Any = None, transition: bool = False) -> None:
        name = p.name if p is not None else DEADLOCK
        if name in self.found:
            return
        path = path_to(self.model, self.parents, state, self.canon)
        msg = ""
        if transition:
            assert p is not None
            action, nxt = self._real_step(path, action, nxt, lambda s, a, t: not p.check(s, a, t))
            path = Path(path.states + (nxt,), path.actions + (action,))
            if p.explain is not None:
                msg = p.explain(path.states[-2], action, nxt)
        elif p is not None and p.explain is not None:
            msg = p.explain(path.states[-1])
        elif p is None:
            msg = "no enabled action in a non-final state"
        kind = p.kind if p is not None else Kind.INVARIANT
        desc = p.description if p is not None else "every non-final state has an enabled action"
        self.found[name] = PropertyResult(name, kind, Verdict.VIOLATED, path, 1, msg, desc)
        if self.stop_at_first:
            self.stopped_by = "violation"
            raise _Stop
        if len(self.found) == len(self.invariants) + len(self.tprops) + (1 if self.deadlock
                                                                           else 0):
            self.stopped_by = "violation"
            raise _Stop

    def _on_transition(self, s: Any, a: Any, t: Any) -> None:
        for p in self.tprops:
            if not p.check(s, a, t):
                self._violated(p, s, a, t, transition=True)
        for m in self.metrics:
            if m.check(s, a, t):
                self.counts[m.name] += 1
                if m.name not in self.witness:
                    path = path_to(self.model, self.parents, s, self.canon)
                    a, t = self._real_step(path, a, t, m.check)
                    msg = m.explain(path.states[-1], a, t) if m.explain is not None else ""
                    self.witness[m.name] = PropertyResult(
                        m.name, Kind.METRIC, Verdict.UNDETERMINED,
                        Path(path.states + (t,), path.actions + (a,)), 0, msg, m.description)

    def _real_step(self, path: Path, action: Any, nxt: Any,
                   event: Callable[[Any, Any, Any], Any]) -> tuple[Any, Any]:
        """The step from the path's real last state that the stored transition stands for.

        Without symmetry reduction it is the stored one.  With it, the path
        ends in a permuted copy of the stored state; its successor with the
        same representative on which the event happens is taken.
        """
        if self.canon is None:
            return action, nxt
        canon = self.canon
        want = canon(nxt)
        last = path.states[-1]
        for a, t in self.model.successors(last):
            if canon(t) == want and event(last, a, t):
                return a, t
        raise RuntimeError("symmetry reduction is unsound for this model: a transition of a "
                           "representative has no counterpart in a member of its orbit")

    def _check_state(self, t: Any) -> None:
        for p in self.invariants:
            if not p.check(t):
                self._violated(p, t)

    def _poll(self, frontier: int) -> None:
        b = self.bounds
        n = len(self.parents)
        now = time.monotonic()
        self.elapsed = now - self.t0
        if self.progress is not None:
            self.progress.update(n, self.transitions, self.depth, frontier)
        if b.timeout is not None and self.elapsed > b.timeout:
            self.stopped_by = "time"
            raise _Stop
        if b.max_memory is not None and _peak_rss() > b.max_memory:
            self.stopped_by = "memory"
            raise _Stop

    # -- strategies -------------------------------------------------------------------

    def _initial(self) -> list[Any]:
        out = []
        parents = self.parents
        canon = self.canon
        for s in self.model.initial_states():
            if canon is not None:
                s = canon(s)
            if s not in parents:
                parents[s] = None
                out.append(s)
                self._check_state(s)
        return out

    def bfs(self) -> None:
        model = self.model
        parents = self.parents
        successors = model.successors
        slow = bool(self.tprops or self.metrics)
        canon = self.canon
        invariants = self.invariants
        deadlock = self.deadlock
        max_states = self.bounds.max_states
        max_depth = self.bounds.max_depth
        every = self.CHECK_EVERY
        level = self._initial()
        if max_states is not None and len(parents) >= max_states and level:
            self.stopped_by = "states"
            return
        transitions = 0
        countdown = every
        try:
            while level:
                if self.progress is not None:
                    self.progress.level(self.depth, len(level))
                if max_depth is not None and self.depth >= max_depth:
                    # Only undetermined if the next level would hold something new.
                    for s in level:
                        for _a, t in successors(s):
                            if (canon(t) if canon is not None else t) not in parents:
                                self.stopped_by = "depth"
                                return
                    break
                nxt: list[Any] = []
                append = nxt.append
                for s in level:
                    countdown -= 1
                    if countdown <= 0:
                        countdown = every
                        self.transitions = transitions
                        self._poll(len(level) + len(nxt))
                    n = 0
                    for a, t in successors(s):
                        n += 1
                        if slow:
                            self._on_transition(s, a, t)
                        if canon is not None:
                            t = canon(t)
                        if t not in parents:
                            parents[t] = s
                            append(t)
                            if invariants:
                                self._check_state(t)
                            if max_states is not None and len(parents) >= max_states:
                                transitions += n
                                self.transitions = transitions
                                self.depth += 1
                                self.stopped_by = "states"
                                return
                    transitions += n
                    if n == 0 and deadlock and not model.is_final(s):
                        self.transitions = transitions
                        self._violated(None, s)
                level = nxt
                if level:
                    self.depth += 1
            self.exhausted = True
        finally:
            self.transitions = transitions

    def dfs(self) -> None:
        model = self.model
        parents = self.parents
        successors = model.successors
        max_states = self.bounds.max_states
        max_depth = self.bounds.max_depth
        every = self.CHECK_EVERY
        stack = [(s, 0) for s in reversed(self._initial())]
        countdown = every
        hit_depth = False
        while stack:
            s, d = stack.pop()
            countdown -= 1
            if countdown <= 0:
                countdown = every
                self._poll(len(stack))
            if d > self.depth:
                self.depth = d
            n = 0
            children = []
            for a, t in successors(s):
                n += 1
                self.transitions += 1
                if self.tprops or self.metrics:
                    self._on_transition(s, a, t)
                if self.canon is not None:
                    t = self.canon(t)
                if t not in parents:
                    if max_depth is not None and d >= max_depth:
                        hit_depth = True
                        continue
                    parents[t] = s
                    self._check_state(t)
                    children.append((t, d + 1))
                    if max_states is not None and len(parents) >= max_states:
                        self.stopped_by = "states"
                        return
            if n == 0 and self.deadlock and not model.is_final(s):
                self._violated(None, s)
            stack.extend(reversed(children))
        if hit_depth:
            self.stopped_by = "depth"
        else:
            self.exhausted = True

    # -- result -------------------------------------------------------------------

    def result(self, strategy: str) -> Result:
        self.elapsed = time.monotonic() - self.t0
        out: dict[str, PropertyResult] = {}
        names = [(p.name, p.kind, p.description) for p in self.props if p.kind is not Kind.METRIC]
        if self.deadlock:
            names.append((DEADLOCK, Kind.INVARIANT, "every non-final state has an enabled action"))
        for name, kind, desc in names:
            if name in self.found:
                out[name] = self.found[name]
            else:
                out[name] = PropertyResult(
                    name, kind, Verdict.HOLDS if self.exhausted else Verdict.UNDETERMINED,
                    description=desc)
        for m in self.metrics:
            w = self.witness.get(m.name)
            verdict = Verdict.HOLDS if self.exhausted else Verdict.UNDETERMINED
            out[m.name] = PropertyResult(
                m.name, Kind.METRIC, verdict, w.path if w else None, self.counts[m.name],
                w.message if w else "", m.description)
        if self.found:
            verdict = Verdict.VIOLATED
        elif self.exhausted:
            verdict = Verdict.HOLDS
        else:
            verdict = Verdict.UNDETERMINED
        return Result(self.model.name, strategy, verdict, out, len(self.parents),
                      self.transitions, self.depth, self.exhausted, self.stopped_by,
                      self.elapsed, self.bounds)
