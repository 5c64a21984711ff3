"""Differential self-testing: every search mode against a brute-force reference explorer.

Hypothesis generates small random models of two shapes:

* :class:`GraphModel`: an arbitrary labelled graph over states that are tuples of
  small ints, negatives included (``-1`` next to ``-2`` on purpose), with
  cycles, self-loops, parallel edges, deadlocks, final states, invariants,
  transition properties and metrics given as sets of bad states and edges;
* :class:`ProcModel`: identical processes (a ``pc`` each) and a shared
  variable, running one rule table; it declares the processes interchangeable
  the way :mod:`mcheck.symmetry` expects.  A perturbation (a rule, a property
  or the final states that single out process 0) makes it asymmetric while it
  still declares the symmetry, so the proof has something to refute.

:func:`simulate` is the reference: a BFS of its own (no mcheck code) that
follows the order :mod:`mcheck.explore` documents (levels in turn, parents in
discovery order, successors in the model's order; a transition is counted,
checked against the transition properties, then the metrics, then its
target is stored and checked against the invariants; a deadlock is checked
after a state's successors).  Run to the end it gives the full facts: the
states, transitions, metric counts, and the length of the shortest
counterexample of every property.  Run with a stop (first violation, all
properties found, a state bound) it gives the exact counts at the stop.

What every mode must give (BFS and DFS, exact, fingerprint and compact stores, 1, 2
and 3 ranks of the partitioned search, stop at first or collect all, with and without
bounds):

* a verdict HOLDS only after an exhausted search, and then the full facts
  exactly (states, transitions, metric counts, every verdict);
* a search that a bound cut is UNDETERMINED for every property it did not
  find violated, with metric counts as lower bounds;
* every VIOLATED property has a real counterexample (it replays through
  ``actions``/``step`` from an initial state and violates at its end), a
  shortest one under BFS;
* BFS without a depth bound: exactly the reference's counts at its stop;
  with a depth bound, exactly the states within the bound when it stops there,
  and the full facts when nothing lies beyond the bound;
* the fingerprint and compact stores and any number of workers: the exact store's result
  to the last field (counts, depth, paths, messages);
* with symmetry reduction, once z3 has proved the declaration: the verdicts
  and shortest-trace lengths of the full search, and the state, transition
  and metric counts of the quotient (the reference BFS over canonical forms,
  its own canonicaliser: the least state over all permutations).

Profiles: ``differential-ci`` (derandomized, so CI sees the same models every
run) here; ``bench/bench_differential.py`` runs thousands.

The discrepancies found are pinned at the end: the two of issue 10 (the -1/-2
twins, a depth bound at the last level); ``(1,)``/``(True,)``, one state in the
exact store but two in the fingerprint store until 97b82ec; and the symmetry
proof leaving ``is_final`` out, so that a reduced ``--deadlock`` search said
HOLDS falsely (the proof has an obligation for it since: 4b).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mcheck import Bounds, Kind, Model, Verdict, check, invariant, metric, transition
from mcheck.symmetry import Canonicaliser, IndexSet, Symmetry

settings.register_profile(
    "differential-ci", max_examples=500, derandomize=True, deadline=None, database=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CI = settings.get_profile("differential-ci")
DEADLOCK = "deadlock"

# -- the random models --------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphSpec:
    """A labelled graph: ``states[i]`` is node i's state, ``edges[i]`` its ``(thread,
    target)`` edges in order, ``props`` ``(kind, name, bad)`` with ``bad`` a set of nodes
    (invariant) or of ``(node, edge index)`` (transition property, metric)."""

    states: tuple[tuple[Any, ...], ...]
    edges: tuple[tuple[tuple[int, int], ...], ...]
    initial: tuple[int, ...]
    final: frozenset[int]
    props: tuple[tuple[str, str, frozenset[Any]], ...]


class GraphModel(Model):
    """A model that walks a :class:`GraphSpec`; an action is ``("t<thread>", edge index)``."""

    name = "random-graph"

    def __init__(self, spec: GraphSpec) -> None:
        self.spec = spec
        self.node = {s: i for i, s in enumerate(spec.states)}

    def params(self) -> dict[str, Any]:
        return {"spec": repr(self.spec)}

    def initial_states(self) -> list[Any]:
        return [self.spec.states[i] for i in self.spec.initial]

    def actions(self, s: Any) -> list[Any]:
        return [(f"t{th}", k) for k, (th, _) in enumerate(self.spec.edges[self.node[s]])]

    def step(self, s: Any, a: Any) -> Any:
        return self.spec.states[self.spec.edges[self.node[s]][a[1]][1]]

    def is_final(self, s: Any) -> bool:
        return self.node[s] in self.spec.final

    def properties(self) -> list[Any]:
        node = self.node
        out = []
        for kind, name, bad in self.spec.props:
            if kind == "invariant":
                out.append(invariant(name, lambda s, bad=bad: node[s] not in bad))
            elif kind == "transition":
                out.append(transition(name, lambda s, a, t, bad=bad: (node[s], a[1]) not in bad))
            else:
                out.append(metric(name, lambda s, a, t, bad=bad: (node[s], a[1]) in bad))
        return out


@st.composite
def graph_specs(draw: Any) -> GraphSpec:
    ints = st.sampled_from([-1, -2, 0, 1, 2, -3, 3])
    field = ints | st.lists(ints, max_size=2).map(tuple)  # nested tuples now and then
    size = draw(st.sampled_from([4, 6, 2, 8, 1, 3, 5, 7, 9]))
    states = draw(st.lists(st.lists(field, min_size=1, max_size=3).map(tuple),
                           min_size=size, max_size=size, unique=True))
    if draw(st.booleans()):  # the twin of a state with a -1 in it holds a -2 there
        twins = [tuple(-2 if v == -1 else v for v in s) for s in states if -1 in s]
        states += [t for t in dict.fromkeys(twins) if t not in states]
    n = len(states)
    node = st.integers(0, n - 1)
    edges = [draw(st.lists(st.tuples(st.integers(0, 1), node), max_size=3)) for _ in range(n)]
    if draw(st.sampled_from([True, True, False])):  # mostly: a chain from node 0 reaches all
        for i in range(n - 1):
            edges[i].insert(draw(st.integers(0, len(edges[i]))), (draw(st.integers(0, 1)), i + 1))
    edges = tuple(tuple(e) for e in edges)
    initial = (0,) + tuple(draw(st.lists(node, max_size=2)))
    final = frozenset(draw(st.lists(node, max_size=3)))
    all_edges = [(i, k) for i in range(n) for k in range(len(edges[i]))]
    props = []
    for j, kind in enumerate(draw(st.lists(st.sampled_from(
            ["invariant", "transition", "metric"]), max_size=4))):
        if kind == "invariant":
            bad = frozenset(draw(st.lists(node, max_size=2)))
        elif all_edges:
            bad = frozenset(draw(st.lists(st.sampled_from(all_edges), max_size=3)))
        else:
            bad = frozenset()
        props.append((kind, f"{kind[:3]}{j}", bad))
    return GraphSpec(tuple(states), edges, initial, final, tuple(props))


@dataclass(frozen=True)
class ProcSpec:
    """``procs`` processes with a ``pc`` in ``pcs``, a shared ``g`` in ``gs``; state
    ``(g, pc0, pc1, ...)``.  A rule ``(src, guard, dst, put, only)``: a process at ``src``,
    when ``g == guard`` (or always for None), moves to ``dst`` and sets ``g := put`` (or
    leaves it for None); ``only`` restricts the rule to one process (an asymmetry).  Props
    ``(kind, name, arg)``; ``final`` the pcs of a finished process (``final_proc0``: only
    process 0's pc counts, an asymmetry)."""

    procs: int
    pcs: tuple[int, int]
    gs: tuple[int, int]
    rules: tuple[tuple[int, int | None, int, int | None, int | None], ...]
    initial: tuple[tuple[int, ...], ...]
    final: frozenset[int]
    final_proc0: bool
    props: tuple[tuple[str, str, tuple[int, ...]], ...]


class ProcModel(Model):
    """Processes running a :class:`ProcSpec`'s rules; an action is ``(process, rule)``."""

    name = "random-procs"

    def __init__(self, spec: ProcSpec) -> None:
        self.spec = spec

    def params(self) -> dict[str, Any]:
        return {"spec": repr(self.spec)}

    def initial_states(self) -> list[Any]:
        return list(self.spec.initial)

    def _succ(self, s: Any, p: int) -> list[Any]:
        out = []
        for r, (src, guard, dst, put, only) in enumerate(self.spec.rules):
            if only is not None and only != p:
                continue
            if s[1 + p] == src and (guard is None or s[0] == guard):
                g = s[0] if put is None else put
                out.append(((p, r), (g,) + s[1:1 + p] + (dst,) + s[2 + p:]))
        return out

    def successors(self, s: Any) -> Any:
        return [x for p in range(self.spec.procs) for x in self._succ(s, p)]

    def actions(self, s: Any) -> list[Any]:
        return [a for a, _ in self.successors(s)]

    def step(self, s: Any, a: Any) -> Any:
        return dict(self._succ(s, a[0]))[a]

    def is_final(self, s: Any) -> bool:
        pcs = s[1:2] if self.spec.final_proc0 else s[1:]
        return all(pc in self.spec.final for pc in pcs)

    def properties(self) -> list[Any]:
        out = []
        for kind, name, arg in self.spec.props:
            out.append(_proc_property(kind, name, arg))
        return out

    def symmetry(self) -> Symmetry:
        n = self.spec.procs
        (plo, phi), (glo, ghi) = self.spec.pcs, self.spec.gs

        def permute_state(s: Any, p: Any) -> Any:
            return (s[0],) + p["procs"].reorder(s[1:])

        def domain(v: Any, key: Any = None) -> list[Any]:
            return [(v.int(glo, ghi),) + tuple(v.int(plo, phi) for _ in range(n))]

        return Symmetry(
            sets=[IndexSet("procs", tuple(range(n)), n, complete=True)],
            permute_state=permute_state,
            permute_action=lambda a, p: (p["procs"](a[0]), a[1]),
            signatures=lambda s: {"procs": list(s[1:])}, domain=domain,
            components=[(p,) for p in range(n)], successors_of=lambda s, k: self._succ(s, k[0]),
            permute_key=lambda k, p: (p["procs"](k[0]),),
            bounds=[f"g in {glo}..{ghi}, every pc in {plo}..{phi}"])


def _proc_property(kind: str, name: str, arg: tuple[int, ...]) -> Any:
    if kind == "at_most":  # at most arg[1] processes at pc arg[0]
        return invariant(name, lambda s: sum(1 for pc in s[1:] if pc == arg[0]) <= arg[1])
    if kind == "not_with":  # never g == arg[0] while a process is at pc arg[1]
        return invariant(name, lambda s: not (s[0] == arg[0] and any(pc == arg[1]
                                                                      for pc in s[1:])))
    if kind == "proc0_not_at":  # asymmetric
        return invariant(name, lambda s: s[1] != arg[0])
    if kind == "rule_not_at":  # rule arg[0] never fires while g == arg[1]
        return transition(name, lambda s, a, t: not (a[1] == arg[0] and s[0] == arg[1]))
    if kind == "g_kept":  # transition property: g never becomes arg[0]
        return transition(name, lambda s, a, t: not (t[0] == arg[0] and s[0] != arg[0]))
    if kind == "rule_fires":
        return metric(name, lambda s, a, t: a[1] == arg[0])
    if kind == "g_changes":
        return metric(name, lambda s, a, t: t[0] != s[0])
    assert kind == "proc0_moves"  # asymmetric
    return metric(name, lambda s, a, t: a[0] == 0)


SYMMETRIC_KINDS = ("at_most", "not_with", "rule_not_at", "g_kept", "rule_fires", "g_changes")


@st.composite
def proc_specs(draw: Any, final_proc0: bool = True) -> ProcSpec:
    """Random :class:`ProcSpec`; a third of them with one asymmetry (``final_proc0``: the
    final states may be the asymmetry)."""
    procs = draw(st.sampled_from([2, 3]))
    plo = draw(st.sampled_from([-1, 0, -2]))
    pcs = (plo, plo + draw(st.sampled_from([2, 1, 3])))
    glo = draw(st.sampled_from([-1, 0, -2]))
    gs = (glo, glo + draw(st.sampled_from([1, 0, 2])))
    pc, g = st.integers(*pcs), st.integers(*gs)
    n_rules = draw(st.sampled_from([3, 4, 2, 5, 1]))
    rules = draw(st.lists(st.tuples(pc, st.none() | g, pc, st.none() | g, st.none()),
                          min_size=n_rules, max_size=n_rules))
    initial = tuple(draw(st.lists(st.tuples(g, *[pc] * procs), min_size=1, max_size=2)))
    if draw(st.sampled_from([True, True, False])):  # mostly: a first rule fires at once,
        rules[0] = (initial[0][1], None) + rules[0][2:]  # in every process
        initial = ((initial[0][0],) + (initial[0][1],) * procs,) + initial[1:]
    final = frozenset(draw(st.lists(pc, max_size=2)))
    props = []
    for j, kind in enumerate(draw(st.lists(st.sampled_from(SYMMETRIC_KINDS), max_size=3))):
        arg = {"at_most": (draw(pc), draw(st.integers(0, procs - 1))),
               "not_with": (draw(g), draw(pc)), "rule_not_at": (draw(st.integers(
                   0, n_rules - 1)), draw(g)), "g_kept": (draw(g),),
               "rule_fires": (draw(st.integers(0, n_rules - 1)),), "g_changes": ()}[kind]
        props.append((kind, f"{kind}{j}", arg))
    asymmetric = final_proc0
    final_proc0 = False
    if draw(st.sampled_from([False, True, False])):
        how = draw(st.sampled_from(["rule", "invariant", "metric", "final"][:3 + asymmetric]))
        if how == "rule":
            r = draw(st.integers(0, n_rules - 1))
            rules[r] = rules[r][:4] + (draw(st.integers(0, procs - 1)),)
        elif how == "invariant":
            props.append(("proc0_not_at", "proc0_not_at", (draw(pc),)))
        elif how == "metric":
            props.append(("proc0_moves", "proc0_moves", ()))
        else:
            final_proc0 = True
    return ProcSpec(procs, pcs, gs, tuple(rules), initial, final, final_proc0, tuple(props))


# -- the reference ------------------------------------------------------------------------------


@dataclass
class Ref:
    """What the reference BFS saw up to where it stopped."""

    depth: dict[Any, int]  # stored state -> its BFS level
    transitions: int
    found: dict[str, int]  # violated property -> shortest counterexample length
    counts: dict[str, int]  # metric -> events counted
    witness: dict[str, int]  # metric -> shortest witness length
    exhausted: bool
    stopped_by: str | None
    out: dict[Any, int]  # stored state -> its number of transitions (when expanded)

    @property
    def states(self) -> int:
        return len(self.depth)


class _Halt(Exception):
    pass


def simulate(model: Model, *, deadlock: bool, stop_at_first: bool = True,
             max_states: int | None = None, to_the_end: bool = False,
             canon: Callable[[Any], Any] | None = None) -> Ref:
    """The reference BFS (see the module docstring); ``to_the_end`` never stops early."""
    canon = canon or (lambda s: s)
    props = list(model.properties())
    invs = [p for p in props if p.kind is Kind.INVARIANT]
    tps = [p for p in props if p.kind is Kind.TRANSITION]
    mets = [p for p in props if p.kind is Kind.METRIC]
    ref = Ref({}, 0, {}, {m.name: 0 for m in mets}, {}, False, None, {})

    def violate(name: str, length: int) -> None:
        ref.found.setdefault(name, length)
        if not to_the_end and (stop_at_first or
                               len(ref.found) == len(invs) + len(tps) + deadlock):
            ref.stopped_by = "violation"
            raise _Halt

    def store(t: Any, d: int, level: list[Any]) -> None:
        ref.depth[t] = d
        level.append(t)
        for p in invs:
            if not p.check(t):
                violate(p.name, d)

    try:
        level: list[Any] = []
        for s in model.initial_states():
            if canon(s) not in ref.depth:
                store(canon(s), 0, level)
        if max_states is not None and ref.states >= max_states:
            ref.stopped_by = "states"
            raise _Halt
        d = 0
        while level:
            nxt: list[Any] = []
            for s in level:
                succ = list(model.successors(s))
                ref.out[s] = len(succ)
                for a, t in succ:
                    ref.transitions += 1
                    for p in tps:
                        if not p.check(s, a, t):
                            violate(p.name, d + 1)
                    for m in mets:
                        if m.check(s, a, t):
                            ref.counts[m.name] += 1
                            ref.witness.setdefault(m.name, d + 1)
                    if canon(t) not in ref.depth:
                        store(canon(t), d + 1, nxt)
                        if max_states is not None and ref.states >= max_states:
                            ref.stopped_by = "states"
                            raise _Halt
                if not succ and deadlock and not model.is_final(s):
                    violate(DEADLOCK, d)
            level, d = nxt, d + 1
        ref.exhausted = True
    except _Halt:
        pass
    return ref


def brute_canon(spec: ProcSpec) -> Callable[[Any], Any]:
    """The least state over every permutation of the processes."""
    perms = list(itertools.permutations(range(spec.procs)))
    return lambda s: min((s[0],) + tuple(s[1 + i] for i in p) for p in perms)


# -- the comparison -----------------------------------------------------------------------------


def _replays(model: Model, name: str, kind: Kind, path: Any) -> str:
    """'' when ``path`` is a real counterexample (or witness) of property ``name``."""
    states, acts = path.states, path.actions
    if len(states) != len(acts) + 1 or states[0] not in list(model.initial_states()):
        return "does not start in an initial state"
    for i, a in enumerate(acts):
        if a not in list(model.actions(states[i])) or model.step(states[i], a) != states[i + 1]:
            return f"step {i + 1} is not a transition of the model"
    if name == DEADLOCK:
        ok = not list(model.actions(states[-1])) and not model.is_final(states[-1])
    else:
        p = next(p for p in model.properties() if p.name == name)
        if kind is Kind.INVARIANT:
            ok = not p.check(states[-1])
        else:
            ok = bool(acts) and (p.check(states[-2], acts[-1], states[-1])
                                 is (kind is Kind.METRIC))
    return "" if ok else "does not end in a violation (or the event)"


def _verdict_of(found: bool, exhausted: bool) -> Verdict:
    return Verdict.VIOLATED if found else Verdict.HOLDS if exhausted else Verdict.UNDETERMINED


def expect_sound(model: Model, r: Any, full: Ref, *, shortest: bool, what: Any) -> None:
    """What holds of every mode: no false HOLDS, real and (BFS) shortest traces, exact
    facts after an exhausted search, lower bounds after a cut one."""
    assert r.exhausted is (r.stopped_by is None), what
    for name, p in r.properties.items():
        if p.kind is Kind.METRIC:
            assert p.verdict is (Verdict.HOLDS if r.exhausted else Verdict.UNDETERMINED), \
                (what, name)
            assert p.count <= full.counts[name], (what, name, p.count, full.counts[name])
            assert (p.path is not None) is (p.count > 0), (what, name)
            if p.path is not None:
                assert _replays(model, name, p.kind, p.path) == "", (what, name)
                if shortest:
                    assert len(p.path) == full.witness[name], (what, name)
            continue
        if p.verdict is Verdict.VIOLATED:
            assert name in full.found, (what, name, "violated, but the full search is not")
            assert _replays(model, name, p.kind, p.path) == "", (what, name, p.path)
            assert len(p.path) == full.found[name] if shortest \
                else len(p.path) >= full.found[name], (what, name, len(p.path))
        elif p.verdict is Verdict.HOLDS:
            assert r.exhausted and name not in full.found, (what, name, "false HOLDS")
        else:
            assert not r.exhausted, (what, name)
    violated = any(p.verdict is Verdict.VIOLATED for p in r.violations)
    assert r.verdict is _verdict_of(violated, r.exhausted), what
    if r.exhausted:
        assert (r.states, r.transitions) == (full.states, full.transitions), what
        assert {n: p.count for n, p in r.properties.items() if p.kind is Kind.METRIC} == \
            full.counts, what
        assert {n for n, p in r.properties.items() if p.verdict is Verdict.VIOLATED
                and p.kind is not Kind.METRIC} == set(full.found), what
        if shortest:
            assert r.depth == max(full.depth.values(), default=0), what


def expect_exactly(r: Any, ref: Ref, what: Any) -> None:
    """A BFS without a depth bound stops exactly where the reference stops."""
    got = (r.states, r.transitions, r.exhausted, r.stopped_by,
           {n: (p.verdict, p.count if p.kind is Kind.METRIC else None,
                len(p.path) if p.path is not None else None)
            for n, p in r.properties.items()})
    want = (ref.states, ref.transitions, ref.exhausted, ref.stopped_by,
            {n: (_verdict_of(n in ref.found, ref.exhausted), None, ref.found.get(n))
             if n not in ref.counts else
             (_verdict_of(False, ref.exhausted), ref.counts[n], ref.witness.get(n))
             for n in r.properties})
    assert got == want, what


def expect_depth_bound(r: Any, full: Ref, n: int, stop_at_first: bool, what: Any,
                       state_bound: bool = False) -> None:
    """A BFS under ``max_depth=n``: the states within it when stopped there, the full
    facts when nothing lies beyond it; and, collecting, every violation within it."""
    within = sum(1 for d in full.depth.values() if d <= n)
    last = max(full.depth.values(), default=0)
    if r.stopped_by == "depth":
        assert r.states == within, (what, r.states, within)
    if last < n and not state_bound:  # the search ends by itself before the bound
        assert r.stopped_by != "depth", (what, "a bound that cut nothing")
    if r.exhausted:  # the search claims to have seen everything
        assert last <= n, (what, "exhausted, but states lie beyond the bound")
    if not stop_at_first and r.stopped_by == "depth":
        for name, length in full.found.items():
            if length <= n:
                assert r.properties[name].verdict is Verdict.VIOLATED, (what, name)


def _key(r: Any) -> tuple[Any, ...]:
    return (r.verdict, r.states, r.transitions, r.depth, r.stopped_by, r.exhausted,
            [(p.name, p.verdict, p.count, p.path, p.message) for p in r.properties.values()])


def configurations(full: Ref) -> list[tuple[str, dict[str, Any]]]:
    """Every bound worth trying on a model whose full search is ``full``."""
    last = max(full.depth.values(), default=0)
    out: list[tuple[str, dict[str, Any]]] = [("unbounded", {})]
    sizes = {1, 2, 3, full.states // 2, full.states - 1, full.states, full.states + 1}
    out += [(f"max_states={k}", {"max_states": k}) for k in sorted(sizes) if k > 0]
    out += [(f"max_depth={k}", {"max_depth": k}) for k in range(1, last + 2)]
    both = {"max_states": max(1, full.states - 1), "max_depth": max(1, last)}
    out += [(f"max_states={both['max_states']},max_depth={both['max_depth']}", both)]
    return out


COMBOS = tuple(itertools.product((False, True), (True, False)))  # (deadlock, stop_at_first)


def partitioned(model: Model, ranks: int, *, bounds: Bounds | None = None,
                deadlock: bool = False, stop_at_first: bool = True, canonical: Any = None,
                store: str = "fingerprint") -> Any:
    """The partitioned search on ``ranks`` ranks (1: :class:`mcheck.transport.Loopback`)."""
    from mcheck.parallel import parallel_check

    return parallel_check(model, list(model.properties()), bounds or Bounds(), stop_at_first,
                          deadlock, None, canonical, ranks, store_kind=store)


def differential(model: Model, *, workers: Sequence[int] = (),
                 combos: Sequence[tuple[bool, bool]] = COMBOS,
                 pick: Callable[[list[Any]], list[Any]] | None = None) -> int:
    """Check every sequential mode, and ``workers``, against the reference on the
    configurations ``pick`` keeps (default all); return the number of searches compared."""
    runs = 0
    for deadlock, stop in combos:
        full = simulate(model, deadlock=deadlock, to_the_end=True)
        configs = configurations(full)
        for label, bound in (pick(configs) if pick is not None else configs):
            what = (label, f"deadlock={deadlock}", f"stop_at_first={stop}")
            kw = {"bounds": Bounds(**bound), "deadlock": deadlock, "stop_at_first": stop}
            exact = check(model, **kw)
            expect_sound(model, exact, full, shortest=True, what=("bfs",) + what)
            if "max_depth" in bound:
                expect_depth_bound(exact, full, bound["max_depth"], stop, ("bfs",) + what,
                                   "max_states" in bound)
            else:
                expect_exactly(exact, simulate(model, deadlock=deadlock, stop_at_first=stop,
                                               max_states=bound.get("max_states")),
                               ("bfs",) + what)
            fp = check(model, store="fingerprint", **kw)
            assert _key(fp) == _key(exact), ("fingerprint",) + what
            assert _key(check(model, store="compact", **kw)) == _key(exact), ("compact",) + what
            dfs = check(model, strategy="dfs", **kw)
            expect_sound(model, dfs, full, shortest=False, what=("dfs",) + what)
            runs += 4
            for w in workers:
                # Three ranks keep their slices in the compact store, fewer in sets.
                r = partitioned(model, w, store="compact" if w == 3 else "fingerprint", **kw)
                assert _key(r) == _key(exact), (f"ranks={w}",) + what
                runs += 1
    return runs


def differential_reduced(model: ProcModel, canonical: Any) -> int:
    """A reduced search (by a proved declaration) against the full and quotient references."""
    quotient = brute_canon(model.spec)
    runs = 0
    for deadlock, stop in COMBOS:
        full = simulate(model, deadlock=deadlock, to_the_end=True)
        reduced = simulate(model, deadlock=deadlock, to_the_end=True, canon=quotient)
        assert reduced.found == full.found, "proved, but the quotient's violations differ"
        last = max(reduced.depth.values(), default=0)
        bounds = [{}, {"max_states": max(1, reduced.states // 2)}] + \
            [{"max_depth": k} for k in sorted({max(1, last - 1), max(1, last)})]
        for mode, bound in itertools.chain(
                itertools.product(({}, {"store": "fingerprint"}, {"store": "compact"},
                                   {"strategy": "dfs"}), bounds),
                itertools.product(({"ranks": 1},), bounds),
                [({"ranks": 2}, {}), ({"ranks": 3}, bounds[1])]):
            what = (repr(mode), repr(bound), f"deadlock={deadlock}", f"stop_at_first={stop}")
            if "ranks" in mode:
                r = partitioned(model, mode["ranks"], canonical=canonical, deadlock=deadlock,
                                stop_at_first=stop, bounds=Bounds(**bound))
            else:
                r = check(model, canonical=canonical, deadlock=deadlock, stop_at_first=stop,
                          bounds=Bounds(**bound), **mode)
            # The quotient's counts; verdicts, shortest lengths and traces of the full model.
            bfs = "strategy" not in mode
            expect_sound(model, r, reduced, shortest=bfs, what=what)
            if bfs and "max_depth" in bound:
                expect_depth_bound(r, reduced, bound["max_depth"], stop, what)
            if stop and bfs and not bound:
                assert r.exhausted is not bool(full.found), what
            runs += 1
    return runs


# -- the tests ----------------------------------------------------------------------------------


@CI
@given(graph_specs())
def test_every_mode_agrees_with_the_reference_on_random_graphs(spec: GraphSpec) -> None:
    model = GraphModel(spec)
    reach = simulate(model, deadlock=False, to_the_end=True).depth
    event(f"a -1/-2 twin pair reachable: {_has_twins(reach)}")
    event(f"reachable states: {len(reach)}")
    assert differential(model) > 0


def _has_twins(states: Any) -> bool:
    """Two states that differ only where one holds -1 and the other -2."""
    def flat(s: Any) -> tuple[Any, ...]:
        return tuple(x for v in s for x in (v if isinstance(v, tuple) else (v,))) + \
            (repr(tuple(len(v) if isinstance(v, tuple) else -1 for v in s)),)

    def minus2(s: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(-2 if v == -1 else v for v in s)

    seen = {flat(s) for s in states}
    return any(minus2(f) != f and minus2(f) in seen for f in seen)


@settings(CI, max_examples=30)
@given(graph_specs(), st.data())
def test_workers_agree_with_the_exact_store_on_random_graphs(spec: GraphSpec,
                                                            data: Any) -> None:
    # A worker run costs a fork or three: one configuration of each kind per model, and one
    # combination of deadlock detection and stopping.
    def pick(configs: list[Any]) -> list[Any]:
        return [data.draw(st.sampled_from([c for c in configs if kind in c[0]]))
                for kind in ("unbounded", "max_states", "max_depth")]

    combo = data.draw(st.sampled_from(COMBOS))
    assert differential(GraphModel(spec), workers=(1, 2, 3), combos=[combo], pick=pick) > 0


@settings(CI, max_examples=200)
@given(proc_specs())
def test_every_mode_agrees_with_the_reference_on_random_processes(spec: ProcSpec) -> None:
    model = ProcModel(spec)
    event(f"reachable states: {simulate(model, deadlock=False, to_the_end=True).states}")
    assert differential(model) > 0


@settings(CI, max_examples=20)
@given(proc_specs())
def test_symmetry_reduction_agrees_once_proved(spec: ProcSpec) -> None:
    from mcheck.proof import certify

    model = ProcModel(spec)
    decl = model.symmetry()
    cert = certify(model, decl, use_cache=False, budget=60.0)
    event(f"proof: {cert.status}")
    symmetric = not spec.final_proc0 and all(r[4] is None for r in spec.rules) and \
        all(k in SYMMETRIC_KINDS for k, _, _ in spec.props)
    if symmetric:
        assert cert.status == "proved", cert.summary()
    if cert.ok:
        assert differential_reduced(model, Canonicaliser(decl)) > 0


# -- pinned regressions (each found by the differential test or issue 10) -----------------------


def _twins() -> GraphModel:
    """Issue 10 item 1: (0, 7) steps to (-1, 7) and to (-2, 7); (-2, 7) is bad."""
    return GraphModel(GraphSpec(states=((0, 7), (-1, 7), (-2, 7)),
                                edges=(((0, 1), (0, 2)), (), ()), initial=(0,),
                                final=frozenset({1, 2}),
                                props=(("invariant", "not_minus_2", frozenset({2})),)))


@pytest.mark.parametrize("store, workers", [("exact", 1), ("fingerprint", 1),
                                            ("fingerprint", 2), ("compact", 1)])
def test_states_differing_in_minus_1_and_minus_2_are_two_states(store: str,
                                                                workers: int) -> None:
    r = check(_twins(), store=store, workers=workers, stop_at_first=False)
    assert (r.verdict, r.states, r.transitions) == (Verdict.VIOLATED, 3, 2)
    assert r.properties["not_minus_2"].path.states == ((0, 7), (-2, 7))


def _last_level() -> GraphModel:
    """Issue 10 item 2: the deadlock and the bad transition are at the last level (1)."""
    return GraphModel(GraphSpec(states=((0,), (1,), (2,)), edges=(((0, 1), (0, 2)), (), ((0, 2),)),
                                initial=(0,), final=frozenset(),
                                props=(("transition", "no_spin", frozenset({(2, 0)})),)))


@pytest.mark.parametrize("mode", [{}, {"store": "fingerprint"}, {"store": "compact"},
                                  {"strategy": "dfs"}, {"workers": 2}],
                         ids=["bfs", "fingerprint", "compact", "dfs", "workers"])
def test_a_depth_bound_at_the_last_level_checks_it(mode: dict[str, Any]) -> None:
    m = _last_level()
    full = check(m, deadlock=True, stop_at_first=False)
    assert {n: len(p.path) for n, p in full.properties.items()} == {"no_spin": 2, "deadlock": 1}
    r = check(m, deadlock=True, stop_at_first=False, bounds=Bounds(max_depth=1), **mode)
    assert r.verdict is not Verdict.HOLDS
    assert r.properties["deadlock"].verdict is Verdict.VIOLATED
    assert r.properties["no_spin"].verdict is not Verdict.HOLDS


def _final_by_proc0() -> ProcModel:
    """Two processes, nothing enabled; a state is final when process 0 is at pc 0."""
    return ProcModel(ProcSpec(procs=2, pcs=(0, 2), gs=(0, 0), rules=((2, None, 2, None, None),),
                              initial=((0, 1, 0),), final=frozenset({0}), final_proc0=True,
                              props=()))


def test_symmetry_proof_covers_the_final_states() -> None:
    from mcheck.proof import certify

    m = _final_by_proc0()
    assert check(m, deadlock=True).verdict is Verdict.VIOLATED  # (1, 0) is a deadlock
    cert = certify(m, m.symmetry(), use_cache=False)
    assert cert.status == "refuted", cert.summary()
    assert cert.witness is not None
    assert cert.witness.obligation.startswith("is_final under ")
    assert cert.witness.detail == "is_final differs between s and its permutation"


class _OneAndTrue(Model):
    """(0,) steps to (1,) and to (True,): equal in Python, different under marshal."""

    name = "one-and-true"

    def initial_states(self) -> list[Any]:
        return [(0,)]

    def actions(self, s: Any) -> list[Any]:
        return [("t", 0), ("t", 1)] if s == (0,) else []

    def step(self, s: Any, a: Any) -> Any:
        return (1,) if a[1] == 0 else (True,)


@pytest.mark.parametrize("mode", [{"store": "fingerprint"}, {"store": "compact"},
                                  {"workers": 2}])
def test_every_store_counts_a_bool_state_alike_or_refuses_it(mode: dict[str, Any]) -> None:
    """Found here: the fingerprint store kept (1,) and (True,) apart (fixed in 97b82ec)."""
    exact = check(_OneAndTrue(), stop_at_first=False)
    assert (exact.states, exact.transitions) == (2, 2)
    with pytest.raises(ValueError, match=r"ints and tuples only \(found a bool\); use the "
                       r"exact store"):
        check(_OneAndTrue(), stop_at_first=False, **mode)
