"""Obligation 6: the canonicaliser's generic part, proven on symbolic signatures.

Once per distinct (members, size, kind of ``complete``) among the active sets,
independent of the model: (i)-(iv) of docs/proof.md, with an explorer that knows
the signature comparisons form an order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

from mcheck.proof.context import ProofContext, ProofUnknown
from mcheck.proof.domain import Vars
from mcheck.proof.explorer import Alt, Explorer, PathInfo
from mcheck.proof.terms import (
    CMP,
    Sym,
    as_bool,
    bnot,
    bool2,
    cmp,
    concrete,
    evaluate,
    is_sym,
    show,
    term_key,
)

__all__ = ["canon_tasks"]

#: how a set's ``complete`` enters the canonicaliser, for obligation names
_KINDS = MappingProxyType({"none": "complete for no signature", "all": "complete",
                          "some": "complete for some signatures"})


def _complete_kind(complete: Any) -> str:
    """``complete`` as the canonicaliser uses it: never, always, or a predicate of a signature."""
    if complete is True:
        return "all"
    if callable(complete):
        return "some"
    if not complete:
        return "none"
    raise ProofUnknown(f"complete must be a bool or a predicate, not {complete!r}")


def canon_tasks(sets: Sequence[Any], *, timeout_ms: int, max_paths: int,
                deadline: float | None, proof: ProofContext | None = None
                ) -> list[tuple[str, Callable[[], Any], Explorer]]:
    """Obligation 6 once per distinct (members, size, completeness kind) among ``sets``."""
    out = []
    seen: set[tuple] = set()
    for st in sets:
        kind = _complete_kind(st.complete)
        key = (tuple(st.members), st.size, kind)
        if st.members and key not in seen:
            seen.add(key)
            out.append(_canon_task(st, kind, timeout_ms=timeout_ms, max_paths=max_paths,
                                   deadline=deadline, proof=proof))
    return out


def _placed(t: Sequence[Any], members: Sequence[int], size: int) -> list[int] | None:
    """``inv[k]``: the member index that table ``t`` renames to ``members[k]``; None unless
    ``t`` permutes the members and fixes every other index below ``size``."""
    if len(t) != size:
        return None
    pos = {m: k for k, m in enumerate(members)}
    inv: list[Any] = [None] * len(members)
    for x in range(size):
        y = t[x]
        if type(y) is not int:
            return None
        if x in pos:
            k = pos.get(y)
            if k is None or inv[k] is not None:
                return None
            inv[k] = pos[x]
        elif y != x:
            return None
    return inv


def _normal(t: list[int], members: Sequence[int], runs: Sequence[tuple[int, int, bool]]
            ) -> tuple[int, ...]:
    """Table ``t`` with the members it sends into each complete run of positions put back in
    index order (tables equal up to reordering members the set is complete for have one
    normal form)."""
    t = list(t)
    for start, end, comp in runs:
        if comp and end - start > 1:
            into = set(members[start:end])
            idx = [j for j, m in enumerate(members) if t[m] in into]
            for q, j in enumerate(idx):
                t[members[j]] = members[start + q]
    return tuple(t)


def _canon_task(st: Any, kind: str, *, timeout_ms: int, max_paths: int,
                deadline: float | None, proof: ProofContext | None = None
                ) -> tuple[str, Callable[[], Any], Explorer]:
    """Obligation 6 for one index set (docs/proof.md).

    The signatures are symbolic ints ``sig[i]`` in ``0..n-1``: the code only
    compares signatures (and asks ``complete`` about one), and values in
    ``0..n-1`` realise every weak ordering of ``n`` members, so every
    behaviour of the code on any signatures is the behaviour on some point
    of this domain.  A ``complete`` predicate is an uninterpreted function
    of the signature's value (a symbolic bool per value), so equal
    signatures get equal answers and nothing else is assumed of it.
    """
    from mcheck import symmetry as sy

    members, size, n = tuple(st.members), st.size, len(st.members)
    vs = Vars("c", proof)
    sig = [vs.int(0, n - 1, f"sig{i}") for i in range(n)]
    flags = [vs.bool(f"complete_at_{v}") for v in range(n)] if kind == "some" else []
    uf: dict[Any, str] = {}
    made: dict[Any, Any] = {}

    def complete_at(x: Any) -> Any:
        """``complete(x)``: the flag of the value ``x`` (one term per variable)."""
        k = x.args[0] if is_sym(x) and x.op == "var" else None
        c = made.get(k) if k is not None else None
        if c is None:
            c = cmp("eq", sy.pick(flags, x), 1)
            if k is not None and is_sym(c):
                made[k] = c
                uf[term_key(c)] = k
        return c

    complete: Any = complete_at if kind == "some" else kind == "all"
    ident = list(range(n))
    identity = list(range(size))
    gens = []
    for gname, g in sy.generators([st]):
        gi = [members.index(g[st.name](m)) for m in members]  # member i becomes member gi[i]
        ginv = [0] * n
        for i, j in enumerate(gi):
            ginv[j] = i
        gens.append((gname, ginv))
    name = f"canonicaliser: {st.name} ({n} of {size} indices, {_KINDS[kind]})"

    def _after(t: list[int], ginv: list[int]) -> list[int]:
        """``t`` after ``g^-1``: the table for the permuted signatures that does what ``t``
        does (member ``j`` there is member ``ginv[j]`` here)."""
        t2 = list(identity)
        for j in range(n):
            t2[members[j]] = t[members[ginv[j]]]
        return t2

    # (iii) across paths: per weak order and answers of complete, the candidates in normal
    # form; per path and generator, what the permuted signatures' path must have
    found: dict[tuple, tuple] = {}
    owed: list[tuple] = []

    def _record(good: list[tuple[list[int], list[int]]], runs: list[tuple[int, int, bool]]
                ) -> None:
        inv0 = good[0][1]
        rank = [0] * n
        for r, (start, end, _comp) in enumerate(runs):
            for k in range(start, end):
                rank[inv0[k]] = r
        answers = tuple(comp for start, end, comp in runs if end - start > 1)
        normal = {_normal(t, members, runs) for t, _ in good}
        mine: tuple = tuple(sorted(normal))
        if len(normal) != len(good):
            mine = ("not distinct up to complete groups",) + mine
        model = vs.proof.explorer().M  # the path's model: its signature values for a witness
        vals = tuple(concrete(sig, model))
        on = [v for v in range(n) if flags and evaluate(flags[v], model)]
        key = (tuple(rank), answers)
        prev = found.setdefault(key, (mine, vals, on))
        if prev[0] != mine:
            owed.append(("-", key, mine, vals, on, "two paths with the same order of the "
                                                  "signatures have different candidates"))
        for gname, ginv in gens:
            key2 = (tuple(rank[ginv[j]] for j in range(n)), answers)
            want = tuple(sorted({_normal(_after(t, ginv), members, runs) for t, _ in good}))
            owed.append((gname, key2, want, vals, on, ""))

    def finish() -> Any:
        """The first (iii) failure as (perm, state, action, detail), or None.

        Given (i) and (ii) on every path (checked first) it cannot fail: the candidates are
        then determined by the weak ordering up to complete groups, and equivariance is a
        fact about sorting.  It is the direct check of the code's equivariance all the same.
        """
        for gname, key2, want, vals, on, text in owed:
            if text:
                got = found[key2][0]
            else:
                hit = found.get(key2)
                got = hit[0] if hit is not None else None
                if got == want:
                    continue
                text = (f"the permuted signatures {list(hit[1]) if hit else '?'} have the "
                        f"candidates {[list(t) for t in got] if got else got} (normal form), "
                        f"but the candidates after the inverse permutation are "
                        f"{[list(t) for t in want]}")
            extra = f" (complete for the signature values {on})" if flags else ""
            return gname, vals, None, f"signatures {list(vals)}{extra}: (iii) {text}"
        return None

    def fn() -> Any:
        conds: list[Any] = []
        notes: list[tuple[str, str]] = []

        seen: set[Any] = set()

        def need(c: Any, text: str, gname: str = "-") -> None:
            if c is True:
                return
            if is_sym(c):  # many candidates repeat the same comparison: ask it once
                k = term_key(c)
                if k in seen:
                    return
                seen.add(k)
            notes.append((gname, text))
            conds.append(c)

        cands = [list(t) for t in sy.candidate_tables(sig, members, size, complete)]
        order, tie = sy._order(sig, list(ident), complete)

        # (i) every candidate permutes the members, sorts them, keeps complete groups in order
        good: list[tuple[list[int], list[int]]] = []
        for t in cands:
            inv = _placed(t, members, size)
            if inv is None:
                need(False, f"(i) candidate {t} is not a permutation of the members "
                            f"{list(members)} that fixes the other indices")
                continue
            good.append((t, inv))
            for k in range(n - 1):
                a, b = sig[inv[k]], sig[inv[k + 1]]
                need(cmp("le", a, b), f"(i) candidate {t} gives {members[k]} a greater "
                                       f"signature than {members[k + 1]}")
                if kind != "none" and inv[k] > inv[k + 1]:
                    same = cmp("eq", a, b)
                    if kind == "some":
                        same = bool2("band", same, complete_at(a))
                    need(bnot(same), f"(i) candidate {t} reorders members "
                                      f"{members[inv[k + 1]]} and {members[inv[k]]}, whose "
                                      "equal signature the set is complete for")

        # (ii) the candidates are distinct and as many as the orders within groups
        if len({tuple(t) for t in cands}) != len(cands):
            need(False, f"(ii) the candidates {cands} are not pairwise distinct")
        runs: list[tuple[int, int, bool]] = []
        if not cands:
            need(False, "(ii) no candidate table")
        elif good and kind != "all":
            inv0 = good[0][1]  # sorted by (i): groups of equal signatures are its runs
            start = 0
            for k in range(1, n + 1):
                if k == n or not bool(sig[inv0[k]] == sig[inv0[k - 1]]):
                    comp = kind == "some" and k - start > 1 and \
                        bool(complete_at(sig[inv0[start]]))
                    runs.append((start, k, comp))
                    start = k
            expected = 1
            for start, end, comp in runs:
                if not comp:
                    expected *= _factorial(end - start)
            if len(cands) != expected:
                need(False, f"(ii) {len(cands)} candidates, but the groups of equal signatures "
                            f"(positions {[(s, e) for s, e, _c in runs]}) have {expected} "
                            "orders")
        elif len(cands) != 1:
            need(False, f"(ii) {len(cands)} candidates for a complete set")

        # (iii) the candidates of the permuted signatures are the candidates after g^-1
        if good and len(good) == len(cands) and kind != "all":
            # This path has one weak order of the signatures (the runs of a sorted order) and
            # one answer of complete per run: the permuted signatures are those of another
            # path, whose candidates are compared once every path is known (finish).
            _record(good, runs)
        elif good and len(good) == len(cands):
            # Complete for every signature: this path need not decide which neighbours are
            # equal, so the permuted signatures are sorted here, and the one candidate of each
            # must agree up to members of equal signature.
            for gname, ginv in gens:
                sig2 = [sig[ginv[j]] for j in range(n)]  # sig2[g(i)] == sig[i]
                cands2 = [list(t) for t in sy.candidate_tables(sig2, members, size, complete)]
                image = _after(good[0][0], ginv)
                inv2 = _placed(cands2[0], members, size) if len(cands2) == 1 else None
                if inv2 is None:
                    need(False, f"(iii) the permuted signatures have the candidates {cands2}, "
                                f"not one table", gname)
                    continue
                inv1 = _placed(image, members, size)
                assert inv1 is not None
                for k in range(n):
                    if inv1[k] != inv2[k]:
                        need(cmp("eq", sig2[inv1[k]], sig2[inv2[k]]),
                             f"(iii) the candidate {cands2[0]} of the permuted signatures is "
                             f"not the candidate after the inverse permutation, {image}, up "
                             "to members of equal signature", gname)

        # (iv) _order's fast path agrees
        if sorted(order) != ident:
            need(False, f"(iv) _order returns {order}, not an order of the members")
        elif not tie:
            base = list(identity)
            for pos, i in enumerate(order):
                base[members[i]] = members[pos]
            if cands != [base]:
                need(False, f"(iv) _order finds no tie to try, but the candidates are {cands}, "
                            f"not only the table {base} of its order")
            elif order == ident and cands[0] != identity:
                need(False, f"(iv) _order leaves the members in place, but the candidate "
                            f"{cands[0]} moves them")

        def ctx(env: dict[str, int]) -> Any:
            memo: dict[int, Any] = {}
            gname, text = "-", "?"
            for c, note in zip(conds, notes, strict=True):
                if not evaluate(as_bool(c), env, memo):
                    gname, text = note
                    break
            extra = ""
            if flags:
                on = [v for v in range(n) if evaluate(flags[v], env)]
                extra = f" (complete for the signature values {on})"
            vals = tuple(concrete(sig, env))
            return gname, vals, None, f"signatures {list(vals)}{extra}: {text}"
        return conds, ctx

    fn.finish = finish  # type: ignore[attr-defined]
    fn.found = found  # type: ignore[attr-defined]
    ex = _OrderExplorer(vs, [x.args[0] for x in sig if is_sym(x)], uf,
                        [f.args[0] for f in flags], timeout_ms=timeout_ms,
                        max_paths=max_paths, deadline=deadline)
    return name, fn, ex


class _OrderExplorer(Explorer):
    """The explorer of obligation 6: it knows that comparisons between the signature variables
    are an order, and answers those the path's comparisons imply by transitivity instead of
    asking z3 (docs/proof.md, "Obligation 6's explorer").
    """

    def __init__(self, vs: Vars, order: Sequence[str], uf: dict[Any, str], flags: Sequence[str],
                 **kw: Any) -> None:
        super().__init__(vs, **kw)
        # the values are signatures in 0..n-1 and flags: the narrowest signed width holding them
        self.bits = max(4, max((hi for lo, hi in self.ranges.values()), default=1).bit_length()
                        + 1)
        self._interned: dict[Any, Any] = {}
        self.index = {name: i for i, name in enumerate(order)}
        self.order_names = tuple(order)
        self.uf = uf  # key of the term complete(x) -> the name of x (filled as terms are made)
        self.flags = tuple(flags)  # the flag variable of each signature value
        self._reset_order()

    def _reset_order(self) -> None:
        n = len(self.order_names)
        self.le = [1 << i for i in range(n)]  # bit b of le[a]: a <= b on this path
        self.lt = [0] * n  # bit b of lt[a]: a < b
        self.ne = [0] * n  # bit b of ne[a]: a != b stated
        self.ufv: dict[str, bool] = {}  # complete(x) decided on this path, by x

    def _start(self, prefix: tuple, model: dict[str, int]) -> None:
        super()._start(prefix, model)
        self._reset_order()

    def fresh_solver(self) -> None:
        super().fresh_solver()
        self._interned = {}  # structure -> the one term object (kept: ids stay unique)
        self._negs: dict[int, Any] = {}  # id of a term -> (the term, its z3 negation)
        self._stack: list[Any] = []  # the literals asserted in the solver, one scope each

    def _intern(self, x: Any) -> Any:
        """One term object per structure, so z3 converts each term once per obligation (the
        code makes new comparison terms on every path)."""
        if type(x) is not Sym:
            return x
        return self._interned.setdefault(term_key(x), x)

    def _check(self, literals: Sequence[Any]) -> dict[str, int] | None:
        """As the base, but the solver keeps the path condition asserted between queries, one
        scope per literal: the next query (the next path, or a branch of this one; the
        search is depth first) pops only what it does not share and adds the rest."""
        self.queries += 1
        z = self._ensure()
        s = self.solver
        lits = []
        extra = []
        for x in literals:
            if type(x) is Sym:
                if extra:
                    raise RuntimeError("internal error: a term after a z3 formula")
                lits.append(self._intern(x))
            elif type(x) is bool:
                if not x:
                    return None
            else:
                extra.append(x)  # a ready z3 formula (refute's negated conditions)
        st = self._stack
        k = 0
        while k < len(st) and k < len(lits) and st[k] is lits[k]:
            k += 1
        if len(st) > k:
            s.pop(len(st) - k)
            del st[k:]
        for x in lits[k:]:
            s.push()
            st.append(x)
            s.add(z.term(x))
        s.push()
        try:
            for f in extra:
                s.add(f)
            if not self._solve(s):
                return None
            return z.model(s)
        finally:
            s.pop()

    def _negation(self, r: Any) -> Any:
        hit = self._negs.get(id(r))
        if hit is None or hit[0] is not r:
            hit = self._negs[id(r)] = (r, super()._negation(r))  # r kept: its id stays its own
        return hit[1]

    def refute(self, info: PathInfo, conds: Sequence[Any]) -> dict[str, int] | None:
        info.pc = [self._intern(x) for x in info.pc]
        return super().refute(info, [self._intern(as_bool(c)) for c in conds])

    def _apply(self, alt: Alt) -> None:
        super()._apply(alt)
        if is_sym(alt.literal):
            self._learn(alt.literal, self.le, self.lt, self.ne, self.ufv)

    def _pair(self, r: Any) -> tuple[str, int, int] | None:
        if r.op in CMP:
            a, b = r.args
            if is_sym(a) and is_sym(b) and a.op == "var" and b.op == "var":
                i, j = self.index.get(a.args[0]), self.index.get(b.args[0])
                if i is not None and j is not None:
                    return r.op, i, j
        return None

    def _learn(self, lit: Any, le: list[int], lt: list[int], ne: list[int],
               ufv: dict[str, bool]) -> None:
        val = True
        if lit.op == "bnot":
            lit, val = lit.args[0], False
        p = self._pair(lit)
        if p is None:
            x = self.uf.get(term_key(lit))
            if x is not None:
                ufv[x] = val
            return
        op, a, b = p
        if op == "ne":
            op, val = "eq", not val
        if op == "eq":
            if val:
                _order_edge(le, lt, a, b, False)
                _order_edge(le, lt, b, a, False)
            else:
                ne[a] |= 1 << b
                ne[b] |= 1 << a
        elif op == "lt":
            if val:
                _order_edge(le, lt, a, b, True)
            else:
                _order_edge(le, lt, b, a, False)
        elif val:  # le
            _order_edge(le, lt, a, b, False)
        else:
            _order_edge(le, lt, b, a, True)
        # x <= y and x != y: x < y
        changed = True
        while changed:
            changed = False
            for x in range(len(le)):
                more = ne[x] & le[x] & ~lt[x]
                if more:
                    y = more.bit_length() - 1
                    _order_edge(le, lt, x, y, True)
                    changed = True

    def _same(self, a: int, b: int) -> bool:
        return bool((self.le[a] >> b) & 1 and (self.le[b] >> a) & 1)

    def _implied(self, r: Any) -> bool | None:
        """The value of ``r`` that the path's comparisons imply, or None."""
        p = self._pair(r)
        if p is None:
            x = self.uf.get(term_key(r))
            if x is None or not self.ufv:
                return None
            i = self.index[x]
            for y, v in self.ufv.items():
                if self._same(i, self.index[y]):
                    return v
            return None
        op, a, b = p
        le, lt = self.le, self.lt
        if op in ("eq", "ne"):
            if self._same(a, b):
                eq: bool | None = True
            elif (lt[a] >> b) & 1 or (lt[b] >> a) & 1 or self._apart(a, b):
                eq = False
            else:
                return None
            return eq if op == "eq" else not eq
        if op == "lt":
            if (lt[a] >> b) & 1:
                return True
            return False if (le[b] >> a) & 1 else None
        if (le[a] >> b) & 1:
            return True
        return False if (lt[b] >> a) & 1 else None

    def _apart(self, a: int, b: int) -> bool:
        """A stated ``!=`` between a variable equal to ``a`` and one equal to ``b``."""
        n = len(self.order_names)
        cb = [j for j in range(n) if self._same(b, j)]
        return any((self.ne[i] >> j) & 1 for i in range(n) if self._same(a, i) for j in cb)

    def decide(self, cond: Any) -> bool:
        c = as_bool(cond)
        if not is_sym(c):
            return bool(c)
        if self._pair(c) is None and term_key(c) not in self.uf:
            raise ProofUnknown(f"the canonicaliser did more with signatures than compare two "
                               f"or ask complete about one: {show(c)[:160]}")
        v = self._implied(c)
        if v is not None:
            return v
        return super().decide(c)

    def concretize(self, x: Any) -> int:
        raise ProofUnknown(f"the canonicaliser asked for the value of a signature: "
                           f"{show(x)[:160]}")

    def _guess(self, literals: Sequence[Any], hint: tuple) -> dict[str, int] | None:
        found = self._ranked(literals)
        return found if found is not None else super()._guess(literals, hint)

    def _ranked(self, literals: Sequence[Any]) -> dict[str, int] | None:
        """A model of ``literals``: the classes of variables they make equal, ranked along
        their order, and the flags their ``complete`` literals ask for; checked by evaluation
        (None when it fails)."""
        n = len(self.order_names)
        le, lt, ne = [1 << i for i in range(n)], [0] * n, [0] * n
        ufv: dict[str, bool] = {}
        for lit in literals:
            if is_sym(lit):
                self._learn(lit, le, lt, ne, ufv)
        # classes of equal variables, ranked along the order (a linear extension)
        rep = [min(j for j in range(n) if (le[i] >> j) & 1 and (le[j] >> i) & 1)
               for i in range(n)]
        reps = sorted(set(rep))
        rank: dict[int, int] = {}
        while len(rank) < len(reps):
            c = next((c for c in reps if c not in rank and
                      all(d in rank for d in reps if d != c and (le[d] >> c) & 1)), None)
            if c is None:
                return None  # a strict cycle: let z3 say so
            rank[c] = len(rank)
        model = {name: 0 for name in self.ranges}
        for i, name in enumerate(self.order_names):
            model[name] = rank[rep[i]]
        for x, v in ufv.items():
            model[self.flags[model[x]]] = int(v)
        memo: dict[int, Any] = {}
        for lit in list(literals) + list(self.requires):
            if is_sym(lit) and not evaluate(lit, model, memo):
                return None
        self.guesses += 1
        return model


def _order_edge(le: list[int], lt: list[int], a: int, b: int, strict: bool) -> None:
    """Add ``a <= b`` (``a < b`` when ``strict``) to the closed relations ``le`` and ``lt``."""
    for x in range(len(le)):
        if (le[x] >> a) & 1:
            if strict or (lt[x] >> a) & 1:
                lt[x] |= le[b]
            else:
                lt[x] |= lt[b]
            le[x] |= le[b]


def _factorial(k: int) -> int:
    out = 1
    for i in range(2, k + 1):
        out *= i
    return out
