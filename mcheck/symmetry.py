"""Declared symmetry: interchangeable index sets, permutations, the canonicaliser.

A model that has interchangeable indices (identical processes, a pool of
identical resources) declares them with :class:`Symmetry`, returned by its
``symmetry()`` method.  The declaration says

* the **index sets** (:class:`IndexSet`): which indices of the state may be
  renamed among themselves;
* how a permutation acts on a state (``permute_state``) and on an action
  (``permute_action``): reorder the arrays indexed by a set and map every
  reference to a member of it.  A permutation is a :class:`Perm`; its
  per-set part :class:`SetPerm` maps an index (``p(i)``; negative "none"
  values and indices outside the set stay) and reorders a sequence
  (``p.reorder(seq)``);
* a **signature** of every member (``signatures(state) -> {set: [sig, ...]}``)
  that does not change when the state is permuted: the member's own fields
  and a summary of who refers to it, with every index of a symmetric set
  abstracted away;
* for the proof (:mod:`mcheck.proof.prover`): the ``domain`` of states it quantifies
  over, the ``components`` that together make up the successor function,
  and how a permutation acts on a component key.

The canonicaliser (:class:`Canonicaliser`) sorts the members of each set by
signature, tries every order within groups of equal signatures (the
exhaustive fallback that makes it exact) except groups whose signature the
set is ``complete`` for, applies each candidate permutation and keeps the
least resulting state.  It returns the representative and keeps the
permutation that produced it.  What depends on signatures is two small
pure functions, :func:`_order` (its fast path) and :func:`candidate_tables`
(the tables tried for one set), which :mod:`mcheck.proof.prover` also runs, on
symbolic signatures, to prove them (its obligation 6).

Why it is exact, given what :mod:`mcheck.proof.prover` certifies (numbers are its
obligations).  Fix a state ``s``; "permutation" means one of the declared
group (a permutation of each set's members).  ``permute(s, b a)`` is
``permute(permute(s, a), b)`` (2, proved for symbolic ``a``, ``b``, and the
identity leaves ``s`` alone), so signature invariance under the generators
(3) extends to every group element: ``sig(g s)[g x] == sig(s)[x]``.  Let

* ``C(s)``: the permutations that put every set's members in signature
  order (each set's member renamed to its ``k``-th member has a signature
  no greater than the one renamed to its ``k+1``-th);
* ``H(s)``: the permutations that only exchange members of equal
  signature that their set is complete for.  By 3b each such exchange of
  two members leaves ``s`` unchanged (so the signatures too), hence
  ``permute(s, h) == s`` for every ``h`` in ``H(s)``;
* ``K(s)``: the canonicaliser's candidates, the product over the sets of
  ``candidate_tables``.

Sorting is determined up to the order within groups of equal signatures:
``C(s)`` is a union of cosets ``c H(s)``, and ``|C(s)|`` is the product of
(group size)! over the groups.  By 6 (i) every candidate is in ``C(s)`` and
keeps each complete group in index order, which one element of each coset
does; by 6 (ii) the candidates are distinct and as many as the product of
(group size)! over the groups that are not complete, the number of
cosets.  So ``K(s)`` has exactly one element in each coset, and (with
``permute(s, c h) == permute(permute(s, h), c) == permute(s, c)``)

    ``R(s) := {permute(s, k) : k in K(s)} == {permute(s, c) : c in C(s)}``.

For a permutation ``g``, invariance gives ``C(g s) == {c g^-1 : c in
C(s)}`` (a table sorts ``g s`` exactly when composed with ``g`` it sorts
``s``; 6 (iii) checks the canonicaliser's own tables do this), so
``R(g s) == {permute(g s, c g^-1)} == {permute(s, c)} == R(s)``: both
minima are the same state, whatever order the candidates are tried in
(``_less`` is a total order on states), so every member of an orbit gets
the same representative; and it is ``permute(s, k)`` for a permutation
``k`` (6 (i)), a member of the orbit of ``s``.  The fast path returns what
the general path would: when ``_order`` finds no tie that needs trying in
any set, the only candidate is the table of its order, and when no order
moves a member that table is the identity, whose image is ``s`` (6 (iv)
and 2).  tests/test_symmetry.py also checks this on random permutations.

Functions written for the proof use the helpers :func:`ite`, :func:`pick`,
:func:`count`, :func:`all_of`, :func:`any_of` and :class:`Tally` instead of
``if``/indexing where a branch would multiply the symbolic paths; on plain
ints they are ordinary Python.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Canonicaliser",
    "IndexSet",
    "Perm",
    "SetPerm",
    "Symmetry",
    "Tally",
    "all_of",
    "any_of",
    "candidate_tables",
    "count",
    "differs",
    "forall",
    "generators",
    "ite",
    "NoBranch",
    "not_",
    "pick",
    "MODES",
    "prepare",
    "self_check",
]


# -- helpers that work on ints and on symbolic values -------------------------------------


_PLAIN = (int, bool)


def _sym(x: Any) -> bool:
    return type(x) not in _PLAIN and hasattr(x, "_symbolic")


def ite(cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b`` without branching on a symbolic ``cond`` (tuples elementwise)."""
    if type(cond) in _PLAIN or not _sym(cond):
        return a if cond else b
    if a is b:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(ite(cond, x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (tuple, list, str)) or isinstance(b, (tuple, list, str)):
        return a if cond else b  # shapes differ: branch
    return cond._ite(a, b)


class NoBranch(Exception):
    """What a proof's explorer raises instead of branching on a comparison in :func:`differs`."""


def differs(a: Any, b: Any) -> bool:
    """``a != b``, for code that only uses the answer to share structure.

    On plain values it is exactly ``a != b``.  It never branches on a
    symbolic value (a proof's term, docs/proof.md): when the comparison
    reaches one, the proof's explorer raises :class:`NoBranch` instead of
    branching, and the answer is True, which is right for "keep the old tuple
    if nothing changed" (either answer yields an equal value, only object
    identity differs).  Nothing is checked on plain values: the comparison is
    the search's, in C.
    """
    try:
        r = a != b
    except NoBranch:
        return True
    return r if type(r) is bool else True  # a symbolic answer (two terms): do not branch


def not_(cond: Any) -> Any:
    """Logical not (``~`` on a Python bool is an int)."""
    if _sym(cond):
        return cond._not()
    return not cond


def all_of(conds: Iterable[Any]) -> Any:
    """``all()`` without branching on symbolic terms."""
    out: Any = True
    for c in conds:
        if _sym(c):
            out = c._and(out) if out is not True else c._truth()
        elif not c:
            return False
    return out


def any_of(conds: Iterable[Any]) -> Any:
    """``any()`` without branching on symbolic terms."""
    out: Any = False
    for c in conds:
        if _sym(c):
            out = c._or(out) if out is not False else c._truth()
        elif c:
            return True
    return out


def count(conds: Iterable[Any]) -> Any:
    """How many of ``conds`` hold, without branching on symbolic terms."""
    n: Any = 0
    for c in conds:
        if _sym(c):
            n = c._ite(1, 0) + n
        elif c:
            n += 1
    return n


def pick(seq: Sequence[Any], i: Any) -> Any:
    """``seq[i]`` without branching on a symbolic ``i`` (an ``ite`` over the elements)."""
    if type(i) is int or not _sym(i):
        return seq[i]
    out = seq[-1]
    for j in range(len(seq) - 2, -1, -1):
        out = ite(i == j, seq[j], out)
    return out


class Tally:
    """``n`` counters; ``add(i, w)`` adds ``w`` to counter ``i``.

    A symbolic ``i`` adds ``ite(i == j, w, 0)`` to every counter ``j``; an
    index outside ``0..n-1`` (a "none") adds nothing.
    """

    __slots__ = ("counts",)

    def __init__(self, n: int) -> None:
        self.counts: list[Any] = [0] * n

    def add(self, i: Any, w: Any = 1) -> None:
        if type(i) is int or not _sym(i):
            if 0 <= i < len(self.counts):
                self.counts[i] += w
            return
        for j in range(len(self.counts)):
            self.counts[j] = ite(i == j, w, 0) + self.counts[j]


def forall(keys: Sequence[Hashable], atom: Callable[[Any, Hashable], Any]) -> Callable[[Any], bool]:
    """An invariant that is the conjunction of ``atom(state, key)`` over ``keys``.

    The returned check is literally that conjunction; the symmetry proof
    checks one atom at a time (``atom(permute(s, p), p(key)) == atom(s,
    key)``), which is far cheaper than the whole property.
    """
    keys = tuple(keys)

    def check(state: Any) -> bool:
        for k in keys:  # a loop, not all(<generator>): this runs on every state
            if not atom(state, k):
                return False
        return True

    check.forall_keys = keys  # type: ignore[attr-defined]
    check.forall_atom = atom  # type: ignore[attr-defined]
    return check


# -- index sets and permutations -------------------------------------------------------------


@dataclass(frozen=True)
class IndexSet:
    """Interchangeable indices: ``members`` may be renamed among themselves.

    ``size`` is the length of the arrays the set indexes (members are a
    subset of ``range(size)``; the other indices stay fixed).  ``complete``
    claims that two members with equal signatures can be swapped without
    changing the state (the signature is the member's whole content and
    nothing refers to it): True for every signature, or a predicate on the
    signature saying for which ones.  The proof checks the claim, and the
    canonicaliser then skips trying orders among those equal signatures.
    """

    name: str
    members: tuple[int, ...]
    size: int
    complete: bool | Callable[[Any], bool] = False

    def __post_init__(self) -> None:
        if len(set(self.members)) != len(self.members) or any(
                not 0 <= m < self.size for m in self.members):
            raise ValueError(f"index set {self.name}: members must be distinct indices below "
                             f"{self.size}")


def _is_perm_table(table: Sequence[int]) -> bool:
    return sorted(table) == list(range(len(table)))


class SetPerm:
    """A permutation of one index set: ``table[i]`` is the new name of index ``i``."""

    __slots__ = ("table", "n", "moved", "symbolic", "_inv")

    def __init__(self, table: Sequence[Any], _trusted: bool = False) -> None:
        self.table = tuple(table)
        self.n = len(self.table)
        self._inv: SetPerm | None = None
        if _trusted:
            self.symbolic = False
            self.moved = tuple(i for i, x in enumerate(self.table) if x != i)
            return
        self.symbolic = any(_sym(x) for x in self.table)
        if not self.symbolic and not _is_perm_table(self.table):
            raise ValueError(f"not a permutation: {self.table}")
        self.moved = tuple(i for i, x in enumerate(self.table) if x is not i and x != i) \
            if not self.symbolic else tuple(range(self.n))

    def __call__(self, x: Any) -> Any:
        """The new name of index ``x`` (negative values and indices past the set stay)."""
        if not _sym(x):
            return self.table[x] if 0 <= x < self.n else x
        out = x
        for i in reversed(self.moved):
            out = ite(x == i, self.table[i], out)
        return out

    def when(self, cond: Any, x: Any) -> Any:
        """``self(x)`` if ``cond`` else ``x`` (an index that names this set only sometimes)."""
        if type(cond) is bool:
            return self(x) if cond else x
        return ite(cond, self(x), x)

    def reorder(self, seq: Sequence[Any]) -> tuple:
        """The sequence with element ``i`` moved to position ``self(i)``."""
        if len(seq) != self.n:
            raise ValueError(f"reorder: sequence of {len(seq)} for a permutation of {self.n}")
        if not self.symbolic:
            if not self.moved:
                return tuple(seq)
            out = list(seq)
            for i in self.moved:
                out[self.table[i]] = seq[i]
            return tuple(out)
        inv = self.inverse()
        return tuple(pick(seq, inv.table[j]) for j in range(self.n))

    def inverse(self) -> SetPerm:
        if self._inv is None:
            if not self.symbolic:
                inv = [0] * self.n
                for i, x in enumerate(self.table):
                    inv[x] = i
                self._inv = SetPerm(inv)
            else:
                ents = []
                for j in range(self.n):
                    e: Any = 0
                    for i in range(self.n):
                        e = ite(self.table[i] == j, i, e)
                    ents.append(e)
                self._inv = SetPerm(ents)
        return self._inv

    def then(self, other: SetPerm) -> SetPerm:
        """``other`` after ``self``."""
        return SetPerm([other(self.table[i]) for i in range(self.n)])

    @property
    def identity(self) -> bool:
        return not self.moved

    def __repr__(self) -> str:
        return f"SetPerm({list(self.table)})"


class Perm:
    """A permutation of every declared set (sets not given are the identity)."""

    __slots__ = ("parts", "sizes")

    def __init__(self, parts: dict[str, SetPerm], sizes: dict[str, int]) -> None:
        self.parts = parts
        self.sizes = sizes

    def __getitem__(self, name: str) -> SetPerm:
        p = self.parts.get(name)
        if p is None:  # a set not given: the identity, kept in this permutation's own parts
            p = self.parts[name] = SetPerm(range(self.sizes[name]), _trusted=True)
        return p

    @property
    def identity(self) -> bool:
        return all(p.identity for p in self.parts.values())

    def then(self, other: Perm) -> Perm:
        return Perm({n: self[n].then(other[n]) for n in self.sizes}, self.sizes)

    def tables(self) -> dict[str, list[int]]:
        return {n: list(self[n].table) for n in self.sizes if not self[n].identity}

    def __repr__(self) -> str:
        return "Perm(" + ", ".join(f"{n}={t}" for n, t in self.tables().items()) + ")"

    @classmethod
    def identity_of(cls, sets: Sequence[IndexSet]) -> Perm:
        return cls({}, {s.name: s.size for s in sets})


def generators(sets: Sequence[IndexSet]) -> list[tuple[str, Perm]]:
    """Generators of the symmetry group: per set, a transposition and (3+ members) a full cycle."""
    sizes = {s.name: s.size for s in sets}
    out = []
    for s in sets:
        m = s.members
        if len(m) < 2:
            continue
        swap = list(range(s.size))
        swap[m[0]], swap[m[1]] = m[1], m[0]
        out.append((f"{s.name}: swap {m[0]} {m[1]}", Perm({s.name: SetPerm(swap)}, sizes)))
        if len(m) >= 3:
            cyc = list(range(s.size))
            for i, x in enumerate(m):
                cyc[x] = m[(i + 1) % len(m)]
            out.append((f"{s.name}: cycle {' '.join(map(str, m))}",
                        Perm({s.name: SetPerm(cyc)}, sizes)))
    return out


# -- the declaration -----------------------------------------------------------------------------


def _same(x: Any, _p: Perm) -> Any:
    return x


@dataclass
class Symmetry:
    """A model's declared symmetry (see the module docstring).

    Parameters
    ----------
    sets:
        The index sets.
    permute_state:
        ``(state, perm) -> state``.
    signatures:
        ``state -> {set name: [signature of each member, in members order]}``;
        signatures must be comparable values built from ints and tuples.
    permute_action:
        ``(action, perm) -> action``; default: actions name no index.
    domain:
        ``(vars) -> symbolic state`` for the proof: builds a state whose
        leaves are ``vars.int(lo, hi)`` and adds ``vars.require(cond)``
        constraints; the proof quantifies over every state it describes.
    components:
        Keys whose ``successors_of(state, key)`` lists, concatenated, are the
        model's successors (default: one component, the whole ``successors``).
    permute_key:
        ``(key, perm) -> key`` for component and invariant-atom keys.
    variants:
        ``(vars) -> [symbolic state, ...]``: states that together give every
        record every shape it can have (e.g. each thread in each shape of
        its operations).  The domain's closure and the group-action law
        are proven on each (default: on ``domain(vars, None)`` alone).
    bounds:
        One line per domain bound, for the report.
    """

    sets: Sequence[IndexSet]
    permute_state: Callable[[Any, Perm], Any]
    signatures: Callable[[Any], dict[str, Sequence[Any]]]
    permute_action: Callable[[Any, Perm], Any] = _same
    domain: Callable[[Any], Any] | None = None
    components: Sequence[Hashable] | None = None
    successors_of: Callable[[Any, Hashable], Iterable[tuple[Any, Any]]] | None = None
    permute_key: Callable[[Hashable, Perm], Hashable] = _same
    variants: Callable[[Any], list[Any]] | None = None
    bounds: Sequence[str] = ()
    version: str = "1"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sets = tuple(s for s in self.sets)
        names = [s.name for s in self.sets]
        if len(set(names)) != len(names):
            raise ValueError("index set names must be distinct")

    @property
    def active(self) -> tuple[IndexSet, ...]:
        """The sets with at least two members (the others allow no renaming)."""
        return tuple(s for s in self.sets if len(s.members) >= 2)

    def identity(self) -> Perm:
        return Perm.identity_of(self.sets)

    def describe(self) -> str:
        act = self.active
        if not act:
            return "no interchangeable indices in this configuration"
        return ", ".join(f"{s.name} ({len(s.members)})" for s in act)


# -- the canonicaliser ----------------------------------------------------------------------------
#
# The decisions that depend on signatures are the two pure functions below; the canonicaliser
# and the proof (mcheck.proof.prover, obligation 6) call the same code.  They only compare
# signatures (``<`` in the sort, ``==`` between neighbours) and ask ``complete`` about a
# signature.


def _order(sg: Sequence[Any], ident: list[int], complete: bool | Callable[[Any], bool]
           ) -> tuple[list[int], bool]:
    """The members sorted by signature, and whether a tie needs the exhaustive fallback.

    ``sg[i]`` is the signature of the ``i``-th member; ``ident`` is
    ``list(range(len(sg)))``.  Returns ``(order, tie)``: ``order[pos]`` is the
    member index the sort (stable) puts at position ``pos``, and ``tie`` is
    True when two neighbours in that order have equal signatures that the
    set is not ``complete`` for (then :func:`candidate_tables` gives more than
    one table).  The canonicaliser's fast path: no tie in any set and
    ``order == ident`` everywhere means the state is its own representative.
    """
    order = sorted(ident, key=sg.__getitem__)
    if complete is not True:
        for k in range(len(order) - 1):
            x = sg[order[k]]
            if x == sg[order[k + 1]] and not (complete and complete(x)):
                return order, True
    return order, False


def candidate_tables(sg: Sequence[Any], members: Sequence[int], size: int,
                     complete: bool | Callable[[Any], bool]) -> list[list[int]]:
    """The tables the canonicaliser tries for one index set.

    ``sg[i]`` is the signature of ``members[i]``.  A table maps every index
    below ``size`` to its new name: the member sorted to position ``pos``
    gets the name ``members[pos]`` and the other indices stay.  Members
    with equal signatures form a group; every order within every group is
    tried (the first table is the stable sort's), except in a group whose
    signature the set is ``complete`` for, which keeps the stable order.
    One table when no group needs trying.
    """
    n = len(sg)
    order = sorted(range(n), key=sg.__getitem__)
    table = list(range(size))
    if complete is True:
        for pos, i in enumerate(order):
            table[members[i]] = members[pos]
        return [table]
    groups: list[list[int]] = []
    prev = None
    for pos, i in enumerate(order):
        table[members[i]] = members[pos]
        if pos and sg[i] == prev and not (complete and complete(prev)):
            groups[-1].append(i)
        else:
            groups.append([i])
        prev = sg[i]
    if len(groups) == n:
        return [table]
    out = []
    for combo in itertools.product(*(itertools.permutations(g) for g in groups)):
        t = list(range(size))
        pos = 0
        for g in combo:
            for i in g:
                t[members[i]] = members[pos]
                pos += 1
        out.append(t)
    return out


class Canonicaliser:
    """Maps a state to the least member of its orbit among the signature-sorted candidates.

    ``canon(state)`` returns the representative; ``canon.with_perm(state)``
    returns ``(representative, perm)`` with ``representative ==
    permute_state(state, perm)``.  ``ties`` counts the states that needed the
    exhaustive fallback.  A search meets the same successor many times:
    ``canon`` remembers up to ``memo`` answers (forgotten all at once when
    full, so memory stays bounded).
    """

    def __init__(self, decl: Symmetry, memo: int = 1 << 16) -> None:
        self.decl = decl
        self.sets = tuple((s.name, s.members, s.size, s.complete,
                           list(range(len(s.members))), s.members == tuple(range(s.size)))
                          for s in decl.active)
        self.sizes = {s.name: s.size for s in decl.sets}
        self.permute = decl.permute_state
        self.signatures = decl.signatures
        self.ties = 0
        self._memo: dict[Any, Any] = {}
        self._memo_size = memo
        self._setperms: dict[tuple, SetPerm] = {}

    def _setperm(self, name: str, table: list[int]) -> SetPerm:
        """The SetPerm of ``table`` (made once: a set of n members has at most n! of them)."""
        key = (name, tuple(table))
        sp = self._setperms.get(key)
        if sp is None:
            sp = self._setperms[key] = SetPerm(table, _trusted=True)
        return sp

    def __call__(self, state: Any) -> Any:
        memo = self._memo
        hit = memo.get(state)
        if hit is not None:
            return hit
        if len(memo) >= self._memo_size:
            memo.clear()
        rep = self._canon(state)
        memo[state] = rep
        return rep

    def _canon(self, state: Any) -> Any:
        sigs = self.signatures(state)
        parts: dict[str, SetPerm] = {}
        for name, members, _size, complete, ident, _full in self.sets:
            order, tie = _order(sigs[name], ident, complete)
            if tie:
                return self.with_perm(state, sigs)[0]
            if order != ident:
                parts[name] = self._order_perm(name, members, order)
        if not parts:
            return state
        # No tie: each set's one candidate is the table of its order (obligation 6 (iv) of
        # mcheck.proof.prover proves candidate_tables agrees), so with_perm's answer without
        # its work.
        return self.permute(state, Perm(parts, self.sizes))

    def _order_perm(self, name: str, members: Sequence[int], order: list[int]) -> SetPerm:
        """The SetPerm that puts the member sorted to position ``pos`` at ``members[pos]``."""
        key = (name, "order", tuple(order))  # not a table: its own key space
        sp = self._setperms.get(key)
        if sp is None:
            table = list(range(self.sizes[name]))
            for pos, i in enumerate(order):
                table[members[i]] = members[pos]
            sp = self._setperms[key] = SetPerm(table, _trusted=True)
        return sp

    def with_perm(self, state: Any, sigs: Any = None) -> tuple[Any, Perm]:
        if sigs is None:
            sigs = self.signatures(state)
        choices: list[list[tuple[str, list[int]]]] = []
        base: dict[str, list[int]] = {}
        for name, members, size, complete, _ident, _full in self.sets:
            tables = candidate_tables(sigs[name], members, size, complete)
            if len(tables) == 1:
                base[name] = tables[0]
            else:
                choices.append([(name, t) for t in tables])
        if not choices:
            perm = Perm({n: self._setperm(n, t) for n, t in base.items()}, self.sizes)
            if perm.identity:
                return state, perm
            return self.permute(state, perm), perm
        self.ties += 1
        best = None
        best_perm = None
        for combo in itertools.product(*choices):
            tables = dict(base)
            tables.update(dict(combo))
            perm = Perm({n: self._setperm(n, t) for n, t in tables.items()}, self.sizes)
            cand = state if perm.identity else self.permute(state, perm)
            if best is None or _less(cand, best):
                best, best_perm = cand, perm
        assert best_perm is not None
        return best, best_perm


def _less(a: Any, b: Any) -> bool:
    """A total order on states: Python's on comparable values, else on their stable encoding."""
    try:
        return a < b
    except TypeError:
        from mcheck.fingerprint import encode

        return encode(a) < encode(b)


# -- the self-check -------------------------------------------------------------------------------


def self_check(model: Any, decl: Symmetry, *, max_states: int | None = 200_000,
               **check_kwargs: Any) -> dict[str, Any]:
    """Reduced and full runs agree: same verdicts, and the reduced state count equals the
    number of distinct canonical forms of the full reachable set.

    Also replays every trace of the reduced run on the unreduced model.
    Returns a report dict with ``ok`` and the figures; used by CI tests.
    """
    from mcheck.explore import Bounds, check

    canon = Canonicaliser(decl)
    bounds = Bounds(max_states=max_states) if max_states else None
    full = _full_run(model, bounds, check_kwargs)
    red = check(model, bounds=bounds, canonical=canon, stop_at_first=False, **check_kwargs)
    reps = {canon(s) for s in full["states"]}
    verdicts_full = {n: p.verdict for n, p in full["result"].properties.items()}
    verdicts_red = {n: p.verdict for n, p in red.properties.items()}
    counts_full = {n: p.count for n, p in full["result"].properties.items()}
    problems = []
    if verdicts_full != verdicts_red:
        problems.append(f"verdicts differ: full {verdicts_full}, reduced {verdicts_red}")
    if red.exhausted and full["result"].exhausted and red.states != len(reps):
        problems.append(f"reduced run stored {red.states} states but the full reachable set has "
                        f"{len(reps)} canonical forms")
    for p in red.properties.values():
        if p.path is not None:
            bad = _replays(model, p.path)
            if bad:
                problems.append(f"trace of {p.name}: {bad}")
    return {"ok": not problems, "problems": problems, "full_states": full["result"].states,
            "reduced_states": red.states, "canonical_forms": len(reps),
            "verdicts": {n: str(v) for n, v in verdicts_red.items()},
            "metric_counts_full": counts_full}


def _full_run(model: Any, bounds: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The unreduced result and the reachable states (the result does not keep them)."""
    from mcheck.explore import check, reachable

    res = check(model, bounds=bounds, stop_at_first=False, **kwargs)
    seen = reachable(model, bounds.max_states if bounds is not None else None)
    return {"result": res, "states": list(seen)}


def _replays(model: Any, path: Any) -> str:
    """'' when ``path`` is a path of the unreduced model from one of its initial states."""
    if path.states[0] not in list(model.initial_states()):
        return "does not start in an initial state"
    for i, (a, t) in enumerate(zip(path.actions, path.states[1:], strict=True)):
        s = path.states[i]
        if a not in list(model.actions(s)):
            return f"step {i + 1}: action {a!r} is not enabled"
        if model.step(s, a) != t:
            return f"step {i + 1}: the step does not lead to the recorded state"
    return ""


# -- the command line's modes ------------------------------------------------------------------

MODES = ("off", "auto", "on")


def prepare(model: Any, mode: str, *, say: Callable[[str], None] | None = None,
            budget: float | None = None, workers: int = 1) -> tuple[Any, dict[str, Any]]:
    """The canonicaliser ``--symmetry MODE`` gives ``model``, and a report for people.

    The proof runs in ``workers`` processes (same verdict and witness at any
    count), for at most ``budget`` seconds (default 600; running out is an
    unknown proof, never a proved one).  Ctrl-C during the proof raises
    KeyboardInterrupt out of this function.  ``off``: none.  ``auto``: the
    declared symmetry's canonicaliser when the proof holds (a failed or
    unknown proof runs the full search and says why).  ``on``: the same,
    but a model without a declaration, a refuted or an unknown proof is a
    :class:`~mcheck.errors.UsageError` (the witness is printed through
    ``say`` first).
    """
    from mcheck.errors import UsageError

    info: dict[str, Any] = {"mode": mode}
    if mode == "off":
        return None, info
    if mode not in MODES:
        raise UsageError(f"--symmetry {mode!r} is not one of {', '.join(MODES)}",
                         "use --symmetry on, off or auto")
    hook = getattr(model, "symmetry", None)
    decl = hook() if callable(hook) else None
    if decl is None:
        info["status"] = "undeclared"
        if mode == "on":
            raise UsageError(f"model '{model.name}' declares no symmetry",
                             "use --symmetry off, or give the model a symmetry() method")
        return None, info
    info["sets"] = decl.describe()
    if not decl.active:
        info["status"] = "none"
        return None, info
    from mcheck import proof as smt

    if say is not None and not smt.is_cached(model, decl):
        say(f"symmetry: proving that {decl.describe()} are interchangeable "
            f"(once; cached in {smt.cache_dir()})")
    try:
        cert = smt.certify(model, decl, budget=600.0 if budget is None else budget,
                           workers=workers)
    except UsageError:
        raise
    except Exception as e:  # the model's declaration raised: no proof
        cert = smt.Certificate("unknown", f"the declaration raised {type(e).__name__}: {e}")
    info["status"] = cert.status
    info["proof"] = cert.summary()
    info["seconds"] = round(cert.elapsed, 3)
    info["cached"] = cert.cached
    if cert.cache_note:
        info["cache"] = cert.cache_note
        if say is not None and cert.cache_note.startswith("not cached:"):
            say(f"symmetry: {cert.cache_note}")
    if cert.ok:
        return Canonicaliser(decl), info
    if cert.witness is not None:
        info["witness"] = cert.witness.to_dict()
        if say is not None:
            say(f"symmetry: the proof failed: {cert.reason}")
            for line in cert.witness.lines():
                say(f"  {line}")
    elif say is not None:
        say(f"symmetry: no proof ({cert.status}): {cert.reason}")
    if mode == "on":
        raise UsageError(f"the declared symmetry of '{model.name}' is not proved "
                         f"({cert.status}: {cert.reason})",
                         "fix the declaration, or use --symmetry auto (full search) or off")
    if say is not None:
        say("symmetry: running the full search")
    return None, info
