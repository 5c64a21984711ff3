"""Footprints: what each component of a model reads and writes, found by symbolic execution.

The partial-order reduction (:mod:`mcheck.reduce`) needs, for every component
of the model's declaration (``Symmetry.components`` and ``successors_of``),
the positions of the state it may read and may write, and for every property
the positions it reads.  They are found the way the symmetry proof reads the
model: its own code runs on symbolic states of the declared domain, once per
feasible path (z3 decides feasibility), and the explorer records every
variable a path branches on.  Every leaf of those states is a variable (the
domain's constants become variables with one value), so a read of any leaf
is seen.  docs/reduction.md has the argument; in short, on every path:

* a position is **read** when the path branches on its variable, when its
  variable appears in the action, or in a leaf of the next state that is not
  that same variable at that same position;
* a position is **written** when its leaf in the next state is not its own
  variable, or when the shape of the record there changes.

Positions are index paths into the state, cut at the first container whose
length differs between the states seen (a thread's operation, a list of
locals): such a container is one position.  Two components are independent
when neither writes what the other reads or writes (Bernstein's condition):
then they commute and neither enables nor disables the other.  A proof that
cannot finish (unknown, a path limit, a branch on an unspecified field, a
model error outside a path) makes the whole analysis unknown, and nothing
is reduced.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcheck.fingerprint import digest
from mcheck.proof import cache
from mcheck.proof.certificates import ENGINE_VERSION, key_and_inputs
from mcheck.proof.context import ProofUnknown
from mcheck.proof.domain import Vars
from mcheck.proof.explorer import Explorer
from mcheck.proof.interrupts import signals_at_safe_points
from mcheck.proof.obligations import outcome
from mcheck.proof.terms import as_bool, bnot, is_sym, var, vars_of

__all__ = ["Analysis", "Case", "Entry", "Footprint", "analyse", "conflict", "independent", "meets",
           "overlaps"]

Pos = tuple[int, ...]

#: bump when what an analysis records changes (cached entries are then ignored)
FORMAT = "footprint-2"


@dataclass
class Entry:
    """What a component reads and writes on the paths a state of one case can take."""

    reads: frozenset[Pos]
    writes: frozenset[Pos]
    guard: frozenset[Pos]
    fires: frozenset[str]


@dataclass
class Case:
    """One case of a component's domain: the constant leaves its states have (``checks``),
    and the entries selected by the values at a few positions (``keys``)."""

    checks: tuple[tuple[Pos, int], ...]
    keys: tuple[Pos, ...]
    entries: dict[tuple[int, ...], Entry]

    def matches(self, state: Any) -> bool:
        for pos, value in self.checks:
            got = _get(state, pos)
            if got is _MISSING or got != value or isinstance(got, tuple):
                return False
        return True

    def entry(self, state: Any) -> Entry | None:
        key = tuple(_get(state, pos) for pos in self.keys)
        return self.entries.get(key)


_MISSING = object()


def _get(state: Any, pos: Pos) -> Any:
    x = state
    try:
        for i in pos:
            x = x[i]
    except (IndexError, TypeError, KeyError):
        return _MISSING
    return x


@dataclass
class Footprint:
    """What one component may read and write, over every state of its domain."""

    key: Any
    reads: frozenset[Pos]
    writes: frozenset[Pos]
    #: per transition property or metric: it can fire on this component's transitions
    #: (a transition property can be false, a metric true); unknown counts as can
    fires: frozenset[str]
    paths: int = 0
    #: what the paths that give no outcome read: a state where the component is disabled
    #: becomes one where it is enabled only by a write to one of these
    guard: frozenset[Pos] = frozenset()
    #: the same, case by case and path by path (:meth:`at`)
    cases: tuple[Case, ...] = ()

    def at(self, state: Any) -> list[Entry] | None:
        """The entries that cover ``state`` (the path it takes is among theirs), or None
        when no case's constants match it (then only the whole footprint applies)."""
        out: list[Entry] = []
        matched = False
        for case in self.cases:
            if case.matches(state):
                matched = True
                e = case.entry(state)
                if e is not None:
                    out.append(e)
        return out if matched else None


@dataclass
class Analysis:
    """The footprints of a model's components and the reads of its properties."""

    status: str  # "proved", "unknown" or "none" (no declaration to analyse)
    reason: str = ""
    components: list[Any] = field(default_factory=list)
    footprints: list[Footprint] = field(default_factory=list)
    prop_reads: dict[str, frozenset[Pos]] = field(default_factory=dict)
    elapsed: float = 0.0
    paths: int = 0
    queries: int = 0
    cached: bool = False
    cache_note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "proved"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "reason": self.reason,
            "footprints": [[_pos_list(f.reads), _pos_list(f.writes), sorted(f.fires),
                            f.paths, _pos_list(f.guard), [_case_dict(c) for c in f.cases]]
                           for f in self.footprints],
            "props": {k: sorted(map(list, v)) for k, v in self.prop_reads.items()},
            "elapsed": self.elapsed, "paths": self.paths, "queries": self.queries,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], components: list[Any]) -> Analysis:
        fps = [Footprint(k, _pos_set(r), _pos_set(w), frozenset(f), n, _pos_set(g),
                         tuple(_case_of(c) for c in cs))
               for k, (r, w, f, n, g, cs) in zip(components, d["footprints"], strict=True)]
        return cls(d["status"], d["reason"], list(components), fps,
                   {k: frozenset(tuple(p) for p in v) for k, v in d["props"].items()},
                   float(d["elapsed"]), int(d["paths"]), int(d["queries"]), cached=True)


def _pos_list(ps: frozenset[Pos]) -> list[list[int]]:
    return sorted(map(list, ps))


def _pos_set(ps: list[list[int]]) -> frozenset[Pos]:
    return frozenset(tuple(p) for p in ps)


def _case_dict(c: Case) -> dict[str, Any]:
    return {"checks": [[list(p), v] for p, v in c.checks], "keys": [list(p) for p in c.keys],
            "entries": [[list(k), _pos_list(e.reads), _pos_list(e.writes), _pos_list(e.guard),
                         sorted(e.fires)] for k, e in sorted(c.entries.items())]}


def _case_of(d: dict[str, Any]) -> Case:
    return Case(tuple((tuple(p), int(v)) for p, v in d["checks"]),
                tuple(tuple(p) for p in d["keys"]),
                {tuple(k): Entry(_pos_set(r), _pos_set(w), _pos_set(g), frozenset(f))
                 for k, r, w, g, f in d["entries"]})


def overlaps(a: Pos, b: Pos) -> bool:
    """Positions overlap when one is a prefix of the other (a record and its field)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def meets(xs: frozenset[Pos], ys: frozenset[Pos]) -> bool:
    """Some position of ``xs`` overlaps some position of ``ys``."""
    if not xs or not ys:
        return False
    if () in xs or () in ys:
        return True
    return any(overlaps(x, y) for x in xs for y in ys)


def conflict(ra: frozenset[Pos], wa: frozenset[Pos], rb: frozenset[Pos],
             wb: frozenset[Pos]) -> bool:
    """Not Bernstein-independent: one side writes what the other reads or writes."""
    return meets(wa, rb | wb) or meets(wb, ra)


class _Tracking(Explorer):
    """The path explorer, recording every variable a path branches on, and every
    variable-length record it looks into (``touched_pos``)."""

    def _start(self, prefix: tuple, model: dict[str, int]) -> None:
        super()._start(prefix, model)
        self.touched: set[str] = set()
        self.touched_pos: set[Pos] = set()

    def decide(self, cond: Any) -> bool:
        if is_sym(cond):
            self.touched |= vars_of(cond)
        return super().decide(cond)

    def concretize(self, x: Any) -> int:
        if is_sym(x):
            self.touched |= vars_of(x)
        return super().concretize(x)


class _Rec(tuple):
    """A record whose length varies between states: any look into it (its length, an
    item, a comparison) reads it as one position."""

    _pos: Pos
    _owner: _Prepared

    def __new__(cls, items: Any, pos: Pos, owner: _Prepared) -> _Rec:
        o = tuple.__new__(cls, items)
        o._pos = pos
        o._owner = owner
        return o

    def _read(self) -> None:
        touched = getattr(self._owner.explorer, "touched_pos", None)
        if touched is not None:
            touched.add(self._pos)

    def __len__(self) -> int:
        self._read()
        return tuple.__len__(self)

    def __iter__(self) -> Iterator[Any]:
        self._read()
        return tuple.__iter__(self)

    def __getitem__(self, i: Any) -> Any:
        self._read()
        return tuple.__getitem__(self, i)

    def __contains__(self, x: object) -> bool:
        self._read()
        return tuple.__contains__(self, x)

    def __eq__(self, o: object) -> bool:
        self._read()
        return tuple.__eq__(self, o)

    def __ne__(self, o: object) -> bool:
        self._read()
        return tuple.__ne__(self, o)

    def __lt__(self, o: Any) -> bool:
        self._read()
        return tuple.__lt__(self, o)

    def __le__(self, o: Any) -> bool:
        self._read()
        return tuple.__le__(self, o)

    def __gt__(self, o: Any) -> bool:
        self._read()
        return tuple.__gt__(self, o)

    def __ge__(self, o: Any) -> bool:
        self._read()
        return tuple.__ge__(self, o)

    def __hash__(self) -> int:
        self._read()
        return tuple.__hash__(self)

    def __add__(self, o: Any) -> Any:
        self._read()
        return tuple.__add__(self, o)

    def __radd__(self, o: Any) -> Any:
        self._read()
        return tuple(o) + tuple(tuple.__iter__(self))

    def __mul__(self, n: Any) -> Any:
        self._read()
        return tuple.__mul__(self, n)

    def __reduce__(self) -> Any:
        return (tuple, (tuple(tuple.__iter__(self)),))


def _items(s: Any) -> Any:
    return tuple.__iter__(s) if isinstance(s, tuple) else iter(s)


def _walk(s: Any, pos: Pos = ()) -> Iterator[tuple[Pos, Any]]:
    if isinstance(s, (tuple, list)):
        for i, x in enumerate(_items(s)):
            yield from _walk(x, pos + (i,))
    else:
        yield pos, s


def _size(s: Any) -> int:
    return tuple.__len__(s) if isinstance(s, tuple) else len(s)


def _shapes(s: Any, pos: Pos, into: dict[Pos, set[int]]) -> None:
    if isinstance(s, (tuple, list)):
        into.setdefault(pos, set()).add(_size(s))
        for i, x in enumerate(_items(s)):
            _shapes(x, pos + (i,), into)
    else:
        into.setdefault(pos, set()).add(-1)


def _diff(s: Any, t: Any, pos: Pos, writes: set[Pos], used: set[str],
          moved: set[Pos]) -> None:
    """Positions where ``t`` differs from ``s`` (written), the variables their new leaves
    are made of and the variable-length records moved into them (read)."""
    if s is t:
        return
    if isinstance(s, (tuple, list)) and isinstance(t, (tuple, list)) and \
            _size(s) == _size(t) and not isinstance(s, _Rec) and not isinstance(t, _Rec):
        for i, (x, y) in enumerate(zip(_items(s), _items(t), strict=True)):
            _diff(x, y, pos + (i,), writes, used, moved)
        return
    if is_sym(s) and is_sym(t) and s.op == "var" and t.op == "var" and s.args == t.args:
        return
    writes.add(pos)
    _uses(t, used, moved)


def _uses(t: Any, used: set[str], moved: set[Pos]) -> None:
    if isinstance(t, _Rec):
        moved.add(t._pos)
    if isinstance(t, (tuple, list)):
        for x in _items(t):
            _uses(x, used, moved)
    elif is_sym(t):
        used |= vars_of(t)


class _Prepared:
    """Domain states made ready for tracking: variable-length records wrapped (:class:`_Rec`),
    constants turned into one-valued variables where asked, and every variable mapped to
    the positions it stands at."""

    def __init__(self, vs: Vars, variable: set[Pos]) -> None:
        self.vs = vs
        self.variable = variable
        #: the explorer, once made: its current path is where a record's reads go
        self.explorer: Any = None
        self.n = 0
        self.where: dict[int, dict[str, set[Pos]]] = {}  # id(state) -> var -> positions

    def prepare(self, s: Any, lift: bool) -> Any:
        out = self._prep(s, (), lift)
        where: dict[str, set[Pos]] = {}
        for pos, leaf in _walk(out):
            if is_sym(leaf):
                for n in vars_of(leaf):
                    where.setdefault(n, set()).add(pos)
        self.where[id(out)] = where
        return out

    def _prep(self, s: Any, pos: Pos, lift: bool) -> Any:
        if isinstance(s, (tuple, list)):
            items = [self._prep(x, pos + (i,), lift) for i, x in enumerate(_items(s))]
            if isinstance(s, list):
                return items
            if pos in self.variable:
                return _Rec(items, pos, self)
            return tuple(items)
        if not lift or is_sym(s) or not isinstance(s, int):
            return s
        name = f"k{self.n}_const"
        self.n += 1
        self.vs.ranges[name] = (int(s), int(s))
        return var(name, self.vs.proof)


class _Run:
    """One analysis: the domain, the explorer, and what the paths recorded."""

    def __init__(self, model: Any, decl: Any, names: list[str], *, timeout_ms: int,
                 max_paths: int, deadline: float | None,
                 progress: Callable[[str], None] | None) -> None:
        from mcheck.model import Kind

        self.model = model
        self.decl = decl
        self.progress = progress
        vs = Vars("s")
        self.comps = list(decl.components) if decl.components is not None else [None]
        base = decl.domain(vs, None)[0]
        variants = decl.variants(vs) if decl.variants is not None else []
        cases = {c: (decl.domain(vs, c) if c is not None else [base]) for c in self.comps}
        raw = [base, *variants, *(x for ss in cases.values() for x in ss)]
        self.shapes: dict[Pos, set[int]] = {}
        values: dict[Pos, set[Any]] = {}
        seen_in: dict[Pos, int] = {}
        for st in raw:
            _shapes(st, (), self.shapes)
            for pos, leaf in _walk(st):
                values.setdefault(pos, set()).add("var" if is_sym(leaf) else leaf)
                seen_in[pos] = seen_in.get(pos, 0) + 1
        variable = {pos for pos, lens in self.shapes.items() if len(lens) > 1}
        self.known_variable = set(variable)
        #: leaves with one constant value in every state of the domain: nothing changes them
        self.fixed = {pos for pos, vals in values.items() if len(vals) == 1 and "var" not in vals
                      and seen_in[pos] == len(raw)}
        prep = _Prepared(vs, variable)
        self.prep = prep
        self.cases = {c: [prep.prepare(x, False) for x in ss] for c, ss in cases.items()}
        self.views = [prep.prepare(x, True) for x in [base, *variants]]
        props = [p for p in model.properties() if p.name in names]
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is not Kind.INVARIANT]
        self.metric = {p.name: p.kind is Kind.METRIC for p in self.tprops}
        self.ex = _Tracking(vs, timeout_ms=timeout_ms, max_paths=max_paths, deadline=deadline)
        prep.explorer = self.ex
        if self.ex.initial_model() is None:
            raise ProofUnknown("the declared domain is empty")

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def _succ(self, state: Any, c: Any) -> Any:
        if c is None:
            return self.model.successors(state)
        return self.decl.successors_of(state, c)

    def positions(self, state: Any, names: set[str]) -> set[Pos]:
        where = self.prep.where[id(state)]
        out: set[Pos] = set()
        for n in names:
            ps = where.get(n)
            if ps is None:
                out.add(())  # a variable not in this state: conservatively, everything
                continue
            out |= ps
        return out

    def constants(self, state: Any) -> set[Pos]:
        """The constant leaves of ``state`` that other states of the domain do not share: a
        path may read them without branching, so they count as read."""
        return {pos for pos, leaf in _walk(state) if not is_sym(leaf)
                and pos not in self.fixed and not self._in_blob(pos)}

    def _in_blob(self, pos: Pos) -> bool:
        """True when ``pos`` lies inside a record whose length varies (a look into that
        record is recorded as a read of all of it: :class:`_Rec`)."""
        return any(pos[:i] in self.known_variable for i in range(len(pos)))

    def component(self, c: Any) -> tuple[set[Pos], set[Pos], set[str], int, set[Pos], list]:
        ex = self.ex
        guard: set[Pos] = set()
        reads: set[Pos] = set()
        writes: set[Pos] = set()
        fires: set[str] = set()
        paths = 0
        per_case: list[tuple[Any, list[tuple[Any, ...]]]] = []
        for S in self.cases[c]:
            consts = self.constants(S)
            rows: list[tuple[Any, ...]] = []
            per_case.append((S, rows))

            def fn(S: Any = S) -> Any:
                st, out = outcome(lambda: self._succ(S, c))
                extra: set[str] = set()
                extra_pos: set[Pos] = set()
                conds: list[tuple[str, Any]] = []
                if st == "ok":
                    for a, t in out:
                        for p in self.tprops:
                            before, before_pos = set(ex.touched), set(ex.touched_pos)
                            v = as_bool(ex.merge(lambda p=p, a=a, t=t: as_bool(
                                p.check(S, a, t))))
                            got, got_pos = ex.touched - before, ex.touched_pos - before_pos
                            ex.touched, ex.touched_pos = before, before_pos
                            self.tp_reads[p.name] |= self.positions(S, got | vars_of(v)) \
                                | got_pos
                            conds.append((p.name, bnot(v) if self.metric[p.name] else v))
                        _uses(a, extra, extra_pos)
                return st, out, extra, extra_pos, conds
            for info in ex.run(fn):
                paths += 1
                st, out, extra, extra_pos, conds = info.result
                used = set(ex.touched) | extra
                here_pos = set(ex.touched_pos) | extra_pos
                w: set[Pos] = set()
                if st == "ok":
                    for _a, t in out:
                        _diff(S, t, (), w, used, here_pos)
                        _shapes(t, (), self.shapes)
                writes |= w
                fired: set[str] = set()
                for name, cond in conds:
                    if name not in fired and ex.refute(info, [cond]) is not None:
                        fired.add(name)
                fires |= fired
                here = self.positions(S, used) | here_pos | consts
                reads |= here
                empty = st != "ok" or not out
                if empty:
                    guard |= here
                rows.append((dict(info.sets), here, w, fired, empty, here_pos))
        return reads, writes, fires, paths, guard, per_case

    def _case(self, S: Any, rows: list, cut: Callable[[Pos], Pos]) -> Case:
        """The case's checks, its key positions (the small variables most paths decide),
        and an entry per combination of their values."""
        base = self.ex.base
        where = self.prep.where[id(S)]
        looked = set().union(*(row[5] for row in rows)) if rows else set()
        checks = tuple(sorted(
            (pos, int(leaf)) for pos, leaf in _walk(S)
            if not is_sym(leaf) and pos not in self.fixed
            and (not self._in_blob(pos) or any(pos[:len(b)] == b for b in looked))))
        counts: dict[str, int] = {}
        for sets, *_rest in rows:
            for n, vals in sets.items():
                if n in where and 1 < len(base.get(n, ())) <= 16 and len(vals) < len(base[n]):
                    counts[n] = counts.get(n, 0) + 1
        keys = sorted(counts, key=lambda n: (-counts[n], n))[:2]
        key_pos = tuple(min(where[n]) for n in keys)
        entries: dict[tuple[int, ...], Entry] = {}
        for combo in itertools.product(*(base[n] for n in keys)):
            r: set[Pos] = set()
            w: set[Pos] = set()
            g: set[Pos] = set()
            f: set[str] = set()
            hit = False
            for sets, here, wr, fired, empty, _looked in rows:
                if all(v in sets.get(n, base[n]) for n, v in zip(keys, combo, strict=True)):
                    hit = True
                    r |= here
                    w |= wr
                    f |= fired
                    if empty:
                        g |= here
            if hit:
                entries[combo] = Entry(frozenset(map(cut, r)), frozenset(map(cut, w)),
                                       frozenset(map(cut, g)), frozenset(f))
        return Case(checks, key_pos, entries)

    def invariant(self, p: Any) -> set[Pos]:
        ex = self.ex
        reads: set[Pos] = set()
        keys = getattr(p.check, "forall_keys", None)
        atom = getattr(p.check, "forall_atom", None)
        for S in self.views:
            calls: list[Callable[[], Any]]
            if keys is None:
                calls = [lambda S=S: as_bool(p.check(S))]
            else:
                calls = [lambda S=S, k=k: as_bool(atom(S, k)) for k in keys]
            for call in calls:
                for info in ex.run(call):
                    reads |= self.positions(S, set(ex.touched) | vars_of(info.result))
                    reads |= ex.touched_pos
        return reads

    def run(self) -> Analysis:
        t0 = time.monotonic()
        self.tp_reads: dict[str, set[Pos]] = {p.name: set() for p in self.tprops}
        raw: list[tuple[set[Pos], set[Pos], set[str], int, set[Pos], list]] = []
        for c in self.comps:
            self._say(f"footprint of component {c!r}")
            self.ex.fresh_solver()
            raw.append(self.component(c))
        inv: dict[str, set[Pos]] = {}
        for p in self.invariants:
            self._say(f"reads of invariant {p.name}")
            self.ex.fresh_solver()
            inv[p.name] = self.invariant(p)
        # A record that only a next state showed to vary was not watched when read:
        # every component and property reads it.
        late = {pos for pos, lens in self.shapes.items() if len(lens) > 1} - self.known_variable
        cut = self._cut
        fps = [Footprint(c, frozenset(map(cut, r | late)), frozenset(map(cut, w)),
                         frozenset(f), n, frozenset(map(cut, g | late)),
                         () if late else tuple(self._case(S, rows, cut) for S, rows in cases))
               for c, (r, w, f, n, g, cases) in zip(self.comps, raw, strict=True)]
        props = {name: frozenset(map(cut, rs | late))
                 for name, rs in {**inv, **self.tp_reads}.items()}
        return Analysis("proved", "", list(self.comps), fps, props,
                        time.monotonic() - t0, self.ex.paths, self.ex.queries)

    def _cut(self, pos: Pos) -> Pos:
        """``pos`` cut at the first container whose length varies."""
        for i in range(len(pos) + 1):
            if len(self.shapes.get(pos[:i], ())) > 1:
                return pos[:i]
        return pos


def analyse(model: Any, decl: Any, *, properties: Sequence[str] | None = None,
            use_cache: bool = True, budget: float | None = 300.0,
            timeout_ms: int = 20000, max_paths: int = 200_000,
            progress: Callable[[str], None] | None = None) -> Analysis:
    """The footprints of ``decl``'s components and the reads of ``model``'s properties
    (those named in ``properties``; default all).

    Cached like the symmetry proof (:mod:`mcheck.proof.cache`: signed, under a key that
    digests everything the analysis can reach); an unknown analysis is not cached.
    """
    if decl is None or decl.domain is None:
        return Analysis("none", "the model declares no domain to analyse")
    comps = list(decl.components) if decl.components is not None else [None]
    key, inputs = key_and_inputs(model, decl)
    names = sorted(p.name for p in model.properties()) if properties is None \
        else sorted(set(properties))
    key = digest((FORMAT, key, tuple(names)), 32)
    path = cache.cache_dir() / f"footprint-{key}.json"
    if use_cache and inputs.cacheable:
        payload = cache.load_entry(path, key)
        if payload is not None and payload.get("engine") == ENGINE_VERSION and \
                cache.files_unchanged(payload.get("files")):
            try:
                got = Analysis.from_dict(payload, comps)
            except (KeyError, TypeError, ValueError):
                got = None
            if got is not None and got.status == "proved":
                got.cache_note = f"cached in {path}"
                return got
    t0 = time.monotonic()
    try:
        with signals_at_safe_points():
            result = _Run(model, decl, names, timeout_ms=timeout_ms, max_paths=max_paths,
                          deadline=None if budget is None else t0 + budget,
                          progress=progress).run()
    except ProofUnknown as u:
        return Analysis("unknown", str(u), elapsed=time.monotonic() - t0)
    result.elapsed = time.monotonic() - t0
    if not use_cache:
        result.cache_note = "not cached (use_cache=False)"
    elif not inputs.cacheable or not (after := cache.proof_inputs(model, decl)).cacheable:
        result.cache_note = "not cached: the analysis reached what cannot be digested"
    else:
        payload = result.to_dict()
        payload["engine"] = ENGINE_VERSION
        payload["files"] = after.digests or {}
        result.cache_note = (f"cached in {path}" if cache.store_entry(path, key, payload)
                             else f"not cached: {path} cannot be written")
    return result


def independent(a: Footprint, b: Footprint) -> bool:
    """Bernstein's condition: neither writes what the other reads or writes."""
    return not conflict(a.reads, a.writes, b.reads, b.writes)
