"""Minimal traces: among the shortest counterexamples, one with the fewest preemptions.

A breadth-first search gives a shortest counterexample, but which one of the
many shortest ones it returns is an accident of successor order, and it may
switch threads more often than the bug needs.  CHESS's observation is that
the counterexamples with the fewest preemptions are the readable ones.  A
*preemption* is a step that switches away from a thread which could still
have moved (exactly as :func:`mcheck.render.count_preemptions` counts it).

The search is exact:

1. A breadth-first pass gives each state its depth, layer by layer, up to
   the minimal depth ``D`` at which the property fails (a violating state
   at depth ``D``, or a violating transition or metric event out of a state
   at depth ``D - 1``).
2. On the DAG of layer edges (``s -> t`` with ``depth(t) = depth(s) + 1``)
   from the initial states, a dynamic programme over ``(state, last
   thread)`` pairs minimises the preemptions: an edge costs 1 when its
   thread differs from the last one and the last one is enabled in ``s``,
   else 0.  Every path of that DAG ending in a violation at depth ``D`` is
   a shortest counterexample, and every shortest counterexample is such a
   path, so the minimum is over all shortest counterexamples.

Ties are broken deterministically: states in discovery order, successors in
the model's order, and a label is replaced only by a strictly cheaper one,
so the first cheapest path in that order wins.  Symmetry reduction is not
used: the pass runs on the full model, so preemptions are counted on real
states.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcheck.explore import DEADLOCK, Path
from mcheck.model import Kind, Model

__all__ = ["Minimal", "SearchLimit", "explain", "minimal_path", "target_kind"]


class SearchLimit(Exception):
    """The search for a minimal trace stored more states than it was allowed."""


@dataclass(frozen=True)
class Minimal:
    """A shortest path to a violation with the fewest preemptions.

    ``path`` is the path, ``preemptions`` its preemption count, ``states``
    the number of distinct states the search stored.
    """

    path: Path
    preemptions: int
    states: int

    def __len__(self) -> int:
        return len(self.path)


def target_kind(model: Model, prop: str) -> Kind | None:
    """The kind of property ``prop`` of ``model``; None for the built-in ``deadlock``."""
    for p in model.properties():
        if p.name == prop:
            return p.kind
    if prop == DEADLOCK:
        return None
    names = ", ".join(p.name for p in model.properties()) or "none"
    raise ValueError(f"unknown property {prop!r}: the model has {names}")


def minimal_path(model: Model, prop: str, *, max_states: int | None = None) -> Minimal | None:
    """The shortest path violating ``prop`` with the fewest preemptions, or None.

    ``prop`` names an invariant (a state where it is false), a transition
    property (a transition where it is false), a metric (a transition where
    its event happens) or ``"deadlock"`` (a non-final state with no enabled
    action).  None when no reachable state or transition violates it.

    Raises
    ------
    ValueError
        When the model has no property ``prop``.
    SearchLimit
        When more than ``max_states`` states would be stored.
    """
    kind = target_kind(model, prop)
    check: Callable[..., bool] | None = None
    for p in model.properties():
        if p.name == prop:
            check = p.check
    gc_was_enabled = gc.isenabled()
    gc.disable()  # acyclic tuples, as in the main search
    try:
        return _search(model, kind, check, max_states)
    finally:
        if gc_was_enabled:
            gc.enable()


# One label per (state, last thread): (preemptions, back pointer).  The back
# pointer is (previous state, its last thread, action), None at the start.
_Label = tuple[int, Any]


def _search(model: Model, kind: Kind | None, check: Callable[..., bool] | None,
            max_states: int | None) -> Minimal | None:
    thread = model.thread
    successors = model.successors
    depth: dict[Any, int] = {}
    labels: dict[Any, dict[Any, _Label]] = {}
    layer: list[Any] = []
    for s in model.initial_states():
        if s not in depth:
            depth[s] = 0
            labels[s] = {None: (0, None)}
            layer.append(s)
    state_target = kind is Kind.INVARIANT
    edge_target = kind in (Kind.TRANSITION, Kind.METRIC)
    d = 0
    while layer:
        if state_target:
            assert check is not None
            best = _best_end((s, last, lab) for s in layer if not check(s)
                             for last, lab in labels[s].items())
            if best is not None:
                return _finish(model, labels, best[1], best[2], None, depth)
        nxt: list[Any] = []
        end: tuple[int, Any, Any, Any, Any] | None = None  # cost, s, last, action, t
        for s in layer:
            succ = list(successors(s))
            if kind is None and not succ and not model.is_final(s):
                for last, lab in labels[s].items():
                    if end is None or lab[0] < end[0]:
                        end = (lab[0], s, last, None, None)
                continue
            enabled = {thread(a) for a, _ in succ}
            here = labels[s]
            for a, t in succ:
                th = thread(a)
                if edge_target:
                    assert check is not None
                    ok = check(s, a, t)
                    if (ok if kind is Kind.METRIC else not ok):
                        for last, (c, _b) in here.items():
                            cost = c + (last is not None and last != th and last in enabled)
                            if end is None or cost < end[0]:
                                end = (cost, s, last, a, t)
                dt = depth.get(t)
                if dt is None:
                    depth[t] = dt = d + 1
                    labels[t] = {}
                    nxt.append(t)
                    if max_states is not None and len(depth) > max_states:
                        raise SearchLimit(f"more than {max_states} states")
                if dt != d + 1:
                    continue
                into = labels[t]
                for last, (c, _b) in here.items():
                    cost = c + (last is not None and last != th and last in enabled)
                    old = into.get(th)
                    if old is None or cost < old[0]:
                        into[th] = (cost, (s, last, a))
        if end is not None:
            cost, s, last, a, t = end
            if a is None:  # a deadlock: the path ends in s
                return _finish(model, labels, s, last, None, depth)
            return _finish(model, labels, s, last, (a, t), depth, extra_cost=cost)
        layer = nxt
        d += 1
    return None


def _best_end(candidates: Any) -> tuple[int, Any, Any] | None:
    best = None
    for s, last, (c, _b) in candidates:
        if best is None or c < best[0]:
            best = (c, s, last)
    return best


def _finish(model: Model, labels: dict[Any, dict[Any, _Label]], s: Any, last: Any,
            tail: tuple[Any, Any] | None, depth: dict[Any, int],
            extra_cost: int | None = None) -> Minimal:
    states = [s]
    actions = []
    cost, back = labels[s][last]
    while back is not None:
        prev, prev_last, a = back
        actions.append(a)
        states.append(prev)
        back = labels[prev][prev_last][1]
    states.reverse()
    actions.reverse()
    if tail is not None:
        a, t = tail
        actions.append(a)
        states.append(t)
        assert extra_cost is not None
        cost = extra_cost
    return Minimal(Path(tuple(states), tuple(actions)), cost, len(depth))


def explain(model: Model, prop: str, path: Path) -> str:
    """The property's explanation of the violation at the end of ``path`` ("" if none)."""
    if target_kind(model, prop) is None:
        return "no enabled action in a non-final state"
    p = next(x for x in model.properties() if x.name == prop)
    if p.explain is None:
        return ""
    if p.kind is Kind.INVARIANT:
        return p.explain(path.states[-1])
    if not path.actions:
        return ""
    return p.explain(path.states[-2], path.actions[-1], path.states[-1])
