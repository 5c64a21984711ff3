"""The search: explicit-state BFS (shortest counterexamples) or DFS, with bounds.

Verdicts are three-valued (:mod:`mcheck.result`).  A property HOLDS only when
the reachable space was exhausted; it is VIOLATED when a counterexample was
found (which stands even if the search was cut short); otherwise it is
UNDETERMINED and the result says which bound stopped the search and how far
it got.

Breadth-first search is one loop over a visited store (:mod:`mcheck.store`:
the exact store or the fingerprint store); depth-first search uses the exact
store.  Where a search stops is defined by the order of its work: levels in
turn, in each the parents in discovery order, for each the successors in the
model's order; a transition is counted, checked against transition
properties and metrics, then its target is stored and checked against the
invariants.  A search that stops reports the transitions and states up to
that point, so the counts do not depend on the store or on the number of
worker processes.

Bounds never turn a violation into HOLDS.  ``max_depth`` stores states up
to that depth: the deepest level is still expanded (its transitions are
counted and checked, its deadlocks found), but a new target is not stored
and makes the result UNDETERMINED.  ``timeout`` is polled between states and
also armed as a timer (:mod:`mcheck.deadline`), so a step function that
never returns is stopped too.  Ctrl-C (and SIGTERM, where the caller turns
it into :class:`mcheck.errors.Terminated`) stops the search the same way:
the result says ``stopped by interrupt`` and keeps what was found.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from mcheck.deadline import TimeUp, alarm
from mcheck.model import Kind, Model, Property
from mcheck.result import (
    DEADLOCK,
    DEADLOCK_DESCRIPTION,
    Bounds,
    Path,
    PropertyResult,
    Result,
    StoreInfo,
    Verdict,
    build_result,
)
from mcheck.store import STORES, Store, make_store, path_to

__all__ = [
    "DEADLOCK",
    "Bounds",
    "Path",
    "PropertyResult",
    "Result",
    "StoreInfo",
    "Verdict",
    "check",
    "path_to",
    "peak_rss",
    "reachable",
]


class _Stop(Exception):
    pass


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


def peak_rss() -> int:
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
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: float | None = None,
    resume: str | os.PathLike[str] | None = None,
    mpi: bool = False,
    reduction: Any = None,
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
        ``"fingerprint"`` (64-bit fingerprints, about 90-130 bytes a state, with a
        collision-probability estimate in the result; BFS only; states must
        be ints and tuples).
    workers:
        Processes of the partitioned search (BFS; each keeps the slice of the
        visited fingerprints it owns).  Any number gives the same verdicts,
        counts and traces (see :mod:`mcheck.parallel`).
    checkpoint, checkpoint_every, resume:
        Write a checkpoint into the directory ``checkpoint`` at level
        boundaries (every level, or once ``checkpoint_every`` seconds have
        passed); continue the run checkpointed in ``resume``, at any worker
        count, with the result of an uninterrupted run (:mod:`mcheck.checkpoint`).
        Both run the partitioned search, even with one worker.
    mpi:
        Run on the ranks of ``mpiexec`` (:mod:`mcheck.mpi`); ranks other than 0
        return ``None``.
    reduction:
        A :class:`mcheck.reduce.Reduction` (partial-order reduction; BFS, one
        process).  Verdicts are the full search's; state, transition and metric
        counts are the reduced graph's; every violated property's trace is
        re-derived by a breadth-first search of the full relation bounded by the
        reduced trace's depth, so it is the one the unreduced search reports.

    A KeyboardInterrupt during the search ends it with ``stopped_by ==
    "interrupt"``; the wall-time bound ends it with ``"time"`` even inside
    a step function that never returns.
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
    if store not in STORES:
        raise ValueError(f"unknown store {store!r}: use one of {', '.join(STORES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer of at least 1, got {workers!r}")
    if strategy == "dfs" and store != "exact":
        raise ValueError(f"the {store} store works with BFS only; use the exact store "
                         "for DFS")
    if checkpoint_every is not None:
        if checkpoint is None:
            raise ValueError("checkpoint_every needs a checkpoint directory")
        if (isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, float))
                or not 0 < checkpoint_every < float("inf")):
            raise ValueError(f"checkpoint_every must be a positive number of seconds, got "
                             f"{checkpoint_every!r}")
    for name, d in (("checkpoint", checkpoint), ("resume", resume)):
        if d is not None and not os.fspath(d):
            raise ValueError(f"{name} must name a directory, got an empty path")
    partitioned = mpi or workers > 1 or checkpoint is not None or resume is not None
    if reduction is not None and (strategy != "bfs" or partitioned):
        raise ValueError("partial-order reduction runs a breadth-first search in one process: "
                         "drop --dfs, --workers, --mpi, --checkpoint and --resume, or the "
                         "reduction")
    if partitioned and strategy != "bfs":
        raise ValueError("worker processes search breadth-first only; drop --dfs")
    # The partitioned search keeps fingerprints: the exact store's default maps to theirs.
    store_kind = store if store != "exact" else ("compact" if mpi else "fingerprint")
    if mpi:
        from mcheck.mpi import mpi_check

        return mpi_check(model, props, bounds, stop_at_first, deadlock,  # type: ignore[no-any-return]
                         progress, canonical, store_kind=store_kind, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume)
    if partitioned:
        from mcheck.parallel import parallel_check

        return parallel_check(model, props, bounds, stop_at_first, deadlock, progress,
                              canonical, workers, store_kind=store_kind, checkpoint=checkpoint,
                              checkpoint_every=checkpoint_every, resume=resume)
    search = _Search(model, props, bounds, stop_at_first, deadlock, progress, canonical,
                     make_store(store), reduction)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # states are acyclic tuples: the cyclic GC only costs time here
    try:
        with alarm(bounds.timeout) as disarm:
            try:
                if strategy == "bfs":
                    search.bfs()
                else:
                    search.dfs()
                disarm()
            except _Stop:
                disarm()
            except TimeUp:
                search.stop("time")
            except KeyboardInterrupt:
                disarm()
                search.stop("interrupt")
    finally:
        if gc_was_enabled:
            gc.enable()
        if progress is not None:
            progress.close()
    result = search.result(strategy)
    if reduction is not None and any(p.verdict is Verdict.VIOLATED
                                     for p in result.properties.values()):
        result = _rederive(model, result, bounds, stop_at_first, deadlock, canonical, store)
    return result


def _rederive(model: Model, reduced: Result, bounds: Bounds, stop_at_first: bool,
              deadlock: bool, canonical: Callable[[Any], Any] | None, store: str) -> Result:
    """``reduced`` with the traces of the full relation: a BFS of the full model bounded
    by the deepest reduced trace finds every violated property again (each reduced trace
    is a path of the full model), at its shortest, in the unreduced search's order."""
    violated = [p for p in reduced.properties.values() if p.verdict is Verdict.VIOLATED]
    depth = max([1] + [len(p.path.actions) for p in violated if p.path is not None])
    left = None
    if bounds.timeout is not None:
        left = max(bounds.timeout - reduced.elapsed, 0.001)
    # stopping at the first violation: every property, for the full search's first;
    # collecting: the violated ones (metrics keep the reduced graph's counts)
    names = [p.name for p in (reduced.properties.values() if stop_at_first else violated)
             if p.kind is not Kind.METRIC and p.name != DEADLOCK]
    full = check(model, bounds=Bounds(max_depth=depth, timeout=left,
                                      max_memory=bounds.max_memory),
                 stop_at_first=stop_at_first, deadlock=deadlock, properties=names,
                 canonical=canonical, store=store)
    props: dict[str, PropertyResult] = {}
    for name, p in reduced.properties.items():
        q = full.properties.get(name)
        if p.kind is Kind.METRIC:
            props[name] = p
        elif q is not None and q.verdict is Verdict.VIOLATED:
            props[name] = q
        elif p.verdict is Verdict.VIOLATED and stop_at_first and full.stopped_by == "violation":
            # the full search stops first at another property's violation
            props[name] = dataclasses.replace(p, verdict=Verdict.UNDETERMINED, path=None,
                                              message="")
        elif p.verdict is Verdict.VIOLATED:
            props[name] = dataclasses.replace(
                p, message=f"{p.message} [a trace of the reduced graph, maybe not a "
                           f"shortest: re-deriving it on the full relation stopped "
                           f"({full.stopped_by})]")
        else:
            props[name] = p
    return dataclasses.replace(reduced, properties=props,
                               elapsed=reduced.elapsed + full.elapsed)


class _Search:
    """One search.  A stored state is named by ``(level, rank, state)``: its BFS level,
    its rank in that level and the state itself; each store uses what it keeps (DFS
    names states by the state alone, in the exact store)."""

    CHECK_EVERY = 2048

    def __init__(self, model: Model, props: list[Property], bounds: Bounds,
                 stop_at_first: bool, deadlock: bool, progress: Any,
                 canonical: Callable[[Any], Any] | None,
                 store: Store, reduction: Any = None) -> None:
        self.model = model
        self.canon = canonical
        self.store = store
        self.reduction = reduction
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is Kind.TRANSITION]
        self.metrics = [p for p in props if p.kind is Kind.METRIC]
        self.props = props
        self.bounds = bounds
        self.stop_at_first = stop_at_first
        self.deadlock = deadlock
        self.progress = progress
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

    def stop(self, why: str) -> None:
        """The search was stopped from outside (a timer, an interrupt)."""
        if not self.exhausted and self.stopped_by is None:
            self.stopped_by = why

    # -- violations and metrics ---------------------------------------------------

    def _n_checked(self) -> int:
        return len(self.invariants) + len(self.tprops) + (1 if self.deadlock else 0)

    def _violated(self, p: Property | None, level: int, rank: int, state: Any,
                  action: Any = None, nxt: Any = None, transition: bool = False) -> None:
        name = p.name if p is not None else DEADLOCK
        if name in self.found:
            return
        path = self.store.path(self.model, level, rank, state, self.canon)
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
        desc = p.description if p is not None else DEADLOCK_DESCRIPTION
        self.found[name] = PropertyResult(name, kind, Verdict.VIOLATED, path, 1, msg, desc)
        if self.stop_at_first or len(self.found) == self._n_checked():
            self.stopped_by = "violation"
            raise _Stop

    def _on_transition(self, level: int, rank: int, s: Any, a: Any, t: Any) -> None:
        for p in self.tprops:
            if not p.check(s, a, t):
                self._violated(p, level, rank, s, a, t, transition=True)
        for m in self.metrics:
            if m.check(s, a, t):
                self.counts[m.name] += 1
                if m.name not in self.witness:
                    path = self.store.path(self.model, level, rank, s, self.canon)
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

    def _check_state(self, level: int, rank: int, t: Any) -> None:
        for p in self.invariants:
            if not p.check(t):
                self._violated(p, level, rank, t)

    def _poll(self, frontier: int) -> None:
        b = self.bounds
        now = time.monotonic()
        self.elapsed = now - self.t0
        if self.progress is not None:
            self.progress.update(self.n_states, self.transitions, self.depth, frontier)
        if b.timeout is not None and self.elapsed > b.timeout:
            self.stopped_by = "time"
            raise _Stop
        if b.max_memory is not None and peak_rss() > b.max_memory:
            self.stopped_by = "memory"
            raise _Stop

    # -- strategies -------------------------------------------------------------------

    def _initial(self) -> list[Any]:
        out = []
        canon = self.canon
        for s in self.model.initial_states():
            if canon is not None:
                s = canon(s)
            if not self.store.add_initial(s):
                continue
            out.append(s)
            self.n_states += 1
            self._check_state(0, len(out) - 1, s)
        return out

    def bfs(self) -> None:
        """Breadth-first, level by level, over the store (see the module docstring)."""
        model = self.model
        store = self.store
        add = store.add
        canon = self.canon
        reduction = self.reduction
        if reduction is None:
            def expand(s: Any) -> Any:
                return enumerate(model.successors(s))
        else:
            def seen(t: Any) -> bool:
                return (canon(t) if canon is not None else t) in store

            def expand(s: Any) -> Any:
                return reduction.expand(s, seen)
        slow = bool(self.tprops or self.metrics)
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
        cut = False
        try:
            while level:
                d = self.depth
                if self.progress is not None:
                    self.progress.level(d, len(level))
                last = max_depth is not None and d >= max_depth
                if not last:
                    store.next_level()
                nxt: list[Any] = []
                append = nxt.append
                for pr, s in enumerate(level):
                    countdown -= 1
                    if countdown <= 0:
                        countdown = every
                        self.transitions = transitions
                        self._poll(len(level) + len(nxt))
                    before = transitions
                    for i, (a, t) in expand(s):
                        transitions += 1
                        if slow:
                            self.transitions = transitions
                            self._on_transition(d, pr, s, a, t)
                        if canon is not None:
                            t = canon(t)
                        if last:
                            # The bound: a new target is not stored, and cuts the search.
                            if not cut and t not in store:
                                cut = True
                            continue
                        if add(t, pr, s, i):
                            append(t)
                            self.n_states += 1
                            if invariants:
                                self._check_state(d + 1, len(nxt) - 1, t)
                            if max_states is not None and self.n_states >= max_states:
                                self.depth += 1
                                self.stopped_by = "states"
                                return
                    if transitions == before and deadlock and not model.is_final(s):
                        self._violated(None, d, pr, s)
                if last:
                    if cut:
                        self.stopped_by = "depth"
                        return
                    break
                level = nxt
                if level:
                    self.depth += 1
            self.exhausted = True
        finally:
            self.transitions = transitions

    def dfs(self) -> None:
        """Depth-first over the exact store (traces need not be shortest)."""
        model = self.model
        store = self.store
        successors = model.successors
        max_states = self.bounds.max_states
        max_depth = self.bounds.max_depth
        every = self.CHECK_EVERY
        stack = [(s, 0) for s in reversed(self._initial())]
        if max_states is not None and self.n_states >= max_states and stack:
            self.stopped_by = "states"  # as in BFS: the bound is reached before any step
            return
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
                    self._on_transition(d, 0, s, a, t)
                if self.canon is not None:
                    t = self.canon(t)
                if t not in store:
                    if max_depth is not None and d >= max_depth:
                        hit_depth = True
                        continue
                    store.add(t, 0, s, n - 1)
                    self.n_states += 1
                    self._check_state(d + 1, 0, t)
                    children.append((t, d + 1))
                    if max_states is not None and self.n_states >= max_states:
                        self.stopped_by = "states"
                        return
            if n == 0 and self.deadlock and not model.is_final(s):
                self._violated(None, d, 0, s)
            stack.extend(reversed(children))
        if hit_depth:
            self.stopped_by = "depth"
        else:
            self.exhausted = True

    # -- result -------------------------------------------------------------------

    def result(self, strategy: str) -> Result:
        self.elapsed = time.monotonic() - self.t0
        info = self.store.info(self.n_states)
        return build_result(
            model=self.model.name, strategy=strategy, props=self.props,
            deadlock=self.deadlock, found=self.found, counts=self.counts,
            witness=self.witness, exhausted=self.exhausted, stopped_by=self.stopped_by,
            states=self.n_states, transitions=self.transitions, depth=self.depth,
            elapsed=self.elapsed, bounds=self.bounds, store=info)
