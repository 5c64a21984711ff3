"""The search: explicit-state BFS (shortest counterexamples) or DFS, with bounds.

Verdicts are three-valued.  A property HOLDS only when the reachable space
was exhausted; it is VIOLATED when a counterexample was found (which stands
even if the search was cut short); otherwise it is UNDETERMINED and the
result says which bound stopped the search and how far it got.

The exact store maps each state to its parent state (``None`` for an
initial state): exactly the memory of a bare dict-plus-deque BFS.  The
fingerprint store keeps a 64-bit fingerprint per state and, per BFS level,
each state's fingerprint and its parent's rank.  Actions are not stored; a
trace is rebuilt by re-running the successor function of each parent and
taking the first action that leads to the child, which is the action the
search itself took first.

Where a search stops is defined by the order of its work: levels in turn,
in each the parents in discovery order, for each the successors in the
model's order; a transition is counted, checked against transition
properties and metrics, then its target is stored and checked against the
invariants.  A search that stops reports the transitions and states up to
that point, so the counts do not depend on the store or on the number of
worker processes.
"""

from __future__ import annotations

import enum
import gc
import resource
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.fingerprint import int_fingerprint, require_ints
from mcheck.model import Kind, Model, Property

__all__ = [
    "Bounds",
    "Path",
    "PropertyResult",
    "Result",
    "StoreInfo",
    "Verdict",
    "check",
    "path_to",
    "reachable",
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


@dataclass(frozen=True)
class StoreInfo:
    """How a fingerprint store did: states, bytes per state, collision-probability estimate."""

    kind: str
    states: int
    bytes_per_state: float
    collision_probability: float

    def summary(self) -> str:
        return (f"{self.kind} store: {self.states} states, {self.bytes_per_state:.0f} bytes a"
                f" state, probability of a fingerprint collision about "
                f"{self.collision_probability:.1e}")


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


def reachable(model: Model, limit: int | None = None) -> set[Any]:
    """Every reachable state (stops growing once it holds more than ``limit``)."""
    seen = set(model.initial_states())
    frontier = list(seen)
    while frontier:
        nxt = []
        for s in frontier:
            for _a, t in model.successors(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
        if limit and len(seen) > limit:
            break
    return seen


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
    store: str = "exact",
    workers: int = 1,
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
    store:
        ``"exact"`` (default: the states themselves, no false merges) or
        ``"fingerprint"`` (64-bit fingerprints, about 80 bytes a state, with a
        collision-probability estimate in the result; BFS only; states must
        be ints and tuples).
    workers:
        Worker processes (BFS with the fingerprint store).  Any number gives
        the same verdicts, counts and traces (see :mod:`mcheck.parallel`).
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
    if store not in ("exact", "fingerprint"):
        raise ValueError(f"unknown store {store!r}: use 'exact' or 'fingerprint'")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers > 1:
        if strategy != "bfs":
            raise ValueError("worker processes search breadth-first only; drop --dfs")
        from mcheck.parallel import parallel_check

        return parallel_check(model, props, bounds, stop_at_first, deadlock, progress,
                              canonical, workers)
    search = _Search(model, props, bounds, stop_at_first, deadlock, progress, canonical,
                     store)
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
    """One search.  State references ("refs") name a stored state: the state itself
    in the exact store, ``(level, rank)`` in the fingerprint store."""

    CHECK_EVERY = 2048

    def __init__(self, model: Model, props: list[Property], bounds: Bounds,
                 stop_at_first: bool, deadlock: bool, progress: Any,
                 canonical: Callable[[Any], Any] | None = None,
                 store: str = "exact") -> None:
        self.model = model
        self.canon = canonical
        self.store = store
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.props = props
        self.bounds = bounds
        self.stop_at_first = stop_at_first
        self.deadlock = deadlock
        self.progress = progress
        self.parents: dict[Any, Any] = {}
        self.fps: FingerprintStore | None = FingerprintStore() if store == "fingerprint" \
            else None
        self.n_states = 0
        self.transitions = 0
        self.depth = 0
        self.exhausted = False
        self.stopped_by: str | None = None
        self.found: dict[str, PropertyResult] = {}
        self.counts: dict[str, int] = {m.name: 0 for m in self.metrics}
        self.witness: dict[str, PropertyResult] = {}
        self.t0 = time.monotonic()
        self.elapsed = 0.0

    # -- paths ----------------------------------------------------------------------------

    def path_of(self, ref: Any) -> Path:
        """The real path from an initial state to the stored state ``ref``."""
        if self.fps is None:
            return path_to(self.model, self.parents, ref, self.canon)
        return self.fps.path(self.model, ref[0], ref[1], self.canon)

    # -- violations and metrics ---------------------------------------------------

    def _n_checked(self) -> int:
        return len(self.invariants) + len(self.tprops) + (1 if self.deadlock else 0)

    def _violated(self, p: Property | None, ref: Any, action: Any = None,
                  nxt: Any = None, transition: bool = False) -> None:
        name = p.name if p is not None else DEADLOCK
        if name in self.found:
            return
        path = self.path_of(ref)
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
        if self.stop_at_first or len(self.found) == self._n_checked():
            self.stopped_by = "violation"
            raise _Stop

    def _on_transition(self, ref: Any, s: Any, a: Any, t: Any) -> None:
        for p in self.tprops:
            if not p.check(s, a, t):
                self._violated(p, ref, a, t, transition=True)
        for m in self.metrics:
            if m.check(s, a, t):
                self.counts[m.name] += 1
                if m.name not in self.witness:
                    path = self.path_of(ref)
                    a2, t2 = self._real_step(path, a, t, m.check)
                    msg = m.explain(path.states[-1], a2, t2) if m.explain is not None else ""
                    self.witness[m.name] = PropertyResult(
                        m.name, Kind.METRIC, Verdict.UNDETERMINED,
                        Path(path.states + (t2,), path.actions + (a2,)), 0, msg,
                        m.description)

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

    def _check_state(self, ref: Any, t: Any) -> None:
        for p in self.invariants:
            if not p.check(t):
                self._violated(p, ref)

    def _poll(self, frontier: int) -> None:
        b = self.bounds
        now = time.monotonic()
        self.elapsed = now - self.t0
        if self.progress is not None:
            self.progress.update(self.n_states, self.transitions, self.depth, frontier)
        if b.timeout is not None and self.elapsed > b.timeout:
            self.stopped_by = "time"
            raise _Stop
        if b.max_memory is not None and _peak_rss() > b.max_memory:
            self.stopped_by = "memory"
            raise _Stop

    # -- strategies -------------------------------------------------------------------

    def _initial(self) -> list[Any]:
        out = []
        canon = self.canon
        fps = self.fps
        for s in self.model.initial_states():
            if canon is not None:
                s = canon(s)
            if fps is None:
                if s in self.parents:
                    continue
                self.parents[s] = None
                ref = s
            else:
                fp = int_fingerprint(s)
                if fp in fps.seen:
                    continue
                require_ints(s)
                ref = (0, fps.add(fp, -1))
            out.append(s)
            self.n_states += 1
            self._check_state(ref, s)
        return out

    def bfs(self) -> None:
        if self.fps is not None:
            return self._bfs_fingerprints()
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
        lean = not (slow or canon is not None or invariants or max_states is not None)
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
                if lean:
                    # No invariant, transition property, metric, canonicaliser or state
                    # bound: nothing to do per transition but store new states, as a
                    # bare BFS does.
                    for s in level:
                        countdown -= 1
                        if countdown <= 0:
                            countdown = every
                            self.transitions = transitions
                            self.n_states = len(parents)
                            self._poll(len(level) + len(nxt))
                        succ = successors(s)
                        if type(succ) is not list:
                            succ = list(succ)
                        if not succ and deadlock and not model.is_final(s):
                            self._violated(None, s)
                        for _a, t in succ:
                            if t not in parents:
                                parents[t] = s
                                append(t)
                        transitions += len(succ)
                    level = nxt
                    if level:
                        self.depth += 1
                    continue
                for s in level:
                    countdown -= 1
                    if countdown <= 0:
                        countdown = every
                        self.transitions = transitions
                        self.n_states = len(parents)
                        self._poll(len(level) + len(nxt))
                    before = transitions
                    for a, t in successors(s):
                        transitions += 1
                        if slow:
                            self.transitions = transitions
                            self._on_transition(s, s, a, t)
                        if canon is not None:
                            t = canon(t)
                        if t not in parents:
                            parents[t] = s
                            append(t)
                            if invariants:
                                self._check_state(t, t)
                            if max_states is not None and len(parents) >= max_states:
                                self.depth += 1
                                self.stopped_by = "states"
                                return
                    if transitions == before and deadlock and not model.is_final(s):
                        self._violated(None, s)
                level = nxt
                if level:
                    self.depth += 1
            self.exhausted = True
        finally:
            self.transitions = transitions
            self.n_states = len(parents)

    def _bfs_fingerprints(self) -> None:
        """BFS over a fingerprint store: the same order, counts and traces as the exact store."""
        model = self.model
        fps = self.fps
        assert fps is not None
        seen = fps.seen
        fph = int_fingerprint
        successors = model.successors
        slow = bool(self.tprops or self.metrics)
        canon = self.canon
        invariants = self.invariants
        deadlock = self.deadlock
        max_states = self.bounds.max_states
        max_depth = self.bounds.max_depth
        every = self.CHECK_EVERY
        level = self._initial()
        if max_states is not None and self.n_states >= max_states and level:
            self.stopped_by = "states"
            return
        transitions = 0
        countdown = every
        check_ints = 0
        try:
            while level:
                if self.progress is not None:
                    self.progress.level(self.depth, len(level))
                d = self.depth
                if max_depth is not None and d >= max_depth:
                    for s in level:
                        for _a, t in successors(s):
                            if fph(canon(t) if canon is not None else t) not in seen:
                                self.stopped_by = "depth"
                                return
                    break
                nxt: list[Any] = []
                append = nxt.append
                new_fp, new_par = fps.new_level()
                add_fp, add_par = new_fp.append, new_par.append
                for pr, s in enumerate(level):
                    countdown -= 1
                    if countdown <= 0:
                        countdown = every
                        self.transitions = transitions
                        self._poll(len(level) + len(nxt))
                    before = transitions
                    for a, t in successors(s):
                        transitions += 1
                        if slow:
                            self.transitions = transitions
                            self._on_transition((d, pr), s, a, t)
                        if canon is not None:
                            t = canon(t)
                        fp = fph(t)
                        if fp not in seen:
                            seen.add(fp)
                            add_fp(fp)
                            add_par(pr)
                            append(t)
                            self.n_states += 1
                            check_ints -= 1
                            if check_ints <= 0:
                                check_ints = 4096
                                require_ints(t)
                            if invariants:
                                self._check_state((d + 1, len(nxt) - 1), t)
                            if max_states is not None and self.n_states >= max_states:
                                self.depth += 1
                                self.stopped_by = "states"
                                return
                    if transitions == before and deadlock and not model.is_final(s):
                        self._violated(None, (d, pr))
                level = nxt
                if level:
                    self.depth += 1
            self.exhausted = True
        finally:
            self.transitions = transitions

    def dfs(self) -> None:
        if self.fps is not None:
            raise ValueError("the fingerprint store works with BFS only; use the exact store "
                             "for DFS")
        model = self.model
        parents = self.parents
        successors = model.successors
        max_states = self.bounds.max_states
        max_depth = self.bounds.max_depth
        every = self.CHECK_EVERY
        stack = [(s, 0) for s in reversed(self._initial())]
        countdown = every
        hit_depth = False
        try:
            while stack:
                s, d = stack.pop()
                countdown -= 1
                if countdown <= 0:
                    countdown = every
                    self.n_states = len(parents)
                    self._poll(len(stack))
                if d > self.depth:
                    self.depth = d
                n = 0
                children = []
                for a, t in successors(s):
                    n += 1
                    self.transitions += 1
                    if self.tprops or self.metrics:
                        self._on_transition(s, s, a, t)
                    if self.canon is not None:
                        t = self.canon(t)
                    if t not in parents:
                        if max_depth is not None and d >= max_depth:
                            hit_depth = True
                            continue
                        parents[t] = s
                        self._check_state(t, t)
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
        finally:
            self.n_states = len(parents)

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
        store = None
        if self.fps is not None:
            store = StoreInfo("fingerprint", self.n_states, self.fps.bytes_per_state(),
                              collision_probability(self.n_states))
        return Result(self.model.name, strategy, verdict, out, self.n_states,
                      self.transitions, self.depth, self.exhausted, self.stopped_by,
                      self.elapsed, self.bounds, store)


# -- the fingerprint store --------------------------------------------------------------


def collision_probability(n: int) -> float:
    """TLC's optimistic estimate that some two of ``n`` 64-bit fingerprints collide."""
    return min(1.0, n * (n - 1) / 2 / 2.0 ** 64)


class FingerprintStore:
    """Visited set of 64-bit fingerprints plus, per BFS level, the fingerprint and the
    parent's rank of each state in discovery order: about 80 bytes a state.

    A fingerprint is :data:`mcheck.fingerprint.int_fingerprint`: the same in
    every process and under any PYTHONHASHSEED for states of ints and tuples.
    """

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.levels_fp: list[array] = [array("q")]
        self.levels_par: list[array] = [array("l")]

    def add(self, fp: int, parent: int) -> int:
        """Add to the newest level; return the state's rank in it."""
        self.seen.add(fp)
        self.levels_fp[-1].append(fp)
        self.levels_par[-1].append(parent)
        return len(self.levels_fp[-1]) - 1

    def new_level(self) -> tuple[array, array]:
        self.levels_fp.append(array("q"))
        self.levels_par.append(array("l"))
        return self.levels_fp[-1], self.levels_par[-1]

    def chain(self, level: int, rank: int) -> list[int]:
        """Fingerprints from an initial state to (level, rank)."""
        out = []
        while level >= 0:
            out.append(self.levels_fp[level][rank])
            rank = self.levels_par[level][rank]
            level -= 1
        out.reverse()
        return out

    def path(self, model: Model, level: int, rank: int,
             canon: Callable[[Any], Any] | None) -> Path:
        return path_from_fingerprints(model, self.chain(level, rank), canon)

    def bytes_per_state(self) -> float:
        n = len(self.seen)
        if not n:
            return 0.0
        size = sys.getsizeof(self.seen) + sum(sys.getsizeof(fp) for fp in self.seen)
        size += sum(a.buffer_info()[1] * a.itemsize for a in self.levels_fp + self.levels_par)
        return size / n


def path_from_fingerprints(model: Model, chain: Sequence[int],
                           canon: Callable[[Any], Any] | None) -> Path:
    """Re-derive the real path whose canonical states have the fingerprints ``chain``."""
    def fp(s: Any) -> int:
        return int_fingerprint(canon(s) if canon is not None else s)
    first = next((s for s in model.initial_states() if fp(s) == chain[0]), None)
    if first is None:
        raise RuntimeError("no initial state has the recorded fingerprint")
    states = [first]
    actions = []
    for want in chain[1:]:
        for a, t in model.successors(states[-1]):
            if fp(t) == want:
                actions.append(a)
                states.append(t)
                break
        else:
            raise RuntimeError("model is not deterministic: a stored transition cannot be "
                               "re-derived from its fingerprints")
    return Path(tuple(states), tuple(actions))
