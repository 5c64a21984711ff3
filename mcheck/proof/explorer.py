"""The path explorer: runs the model's own code on symbolic inputs once per feasible path.

Where Python needs a concrete value of a term, the :class:`Explorer` forks: it
records the branch in the path condition and re-runs the function once per
feasible branch (docs/proof.md, "How the model's code is read").
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mcheck.proof.context import OUT_OF_TIME, ProofUnknown
from mcheck.proof.domain import Vars
from mcheck.proof.interrupts import deliver_deferred
from mcheck.proof.terms import (
    BITS,
    Sym,
    Z3Terms,
    as_bool,
    bnot,
    bool2,
    cmp,
    conj,
    evaluate,
    is_sym,
    ite,
    new_epoch,
    peval,
    satisfiable,
    show,
    term_key,
    value_bounds,
    vars_of,
)
from mcheck.symmetry import NoBranch, differs

__all__ = ["Abort", "Alt", "Explorer", "NeedsBranch", "Overlay", "PathInfo"]

_ENUM_LIMIT = 64
_DIFFERS = differs.__code__


def _asked_by_differs() -> bool:
    """True when the branch asked of :meth:`Explorer.decide` (or of an override that calls it)
    comes from a comparison in :func:`mcheck.symmetry.differs`, through a term's ``__bool__``."""
    f = sys._getframe(2)  # the caller of decide
    while f is not None and f.f_code.co_name == "decide":
        f = f.f_back
    if f is None or f.f_code.co_name != "__bool__":
        return False
    return f.f_back is not None and f.f_back.f_code is _DIFFERS


class Abort(BaseException):
    """Abandon the current path (its condition contradicts the domain)."""


class NeedsBranch(BaseException):
    """A probe of :meth:`Explorer.merge` reached a branch."""


class Overlay(dict):
    """A model with some variables changed."""

    def __init__(self, base: dict[str, int], patch: dict[str, int]) -> None:
        super().__init__(patch)
        self.base = base

    def __missing__(self, name: str) -> int:
        v = self.base[name]
        self[name] = v
        return v


@dataclass
class Alt:
    """One branch: the literal it adds to the path condition, the value the code sees, and
    the value sets it narrows (None: none)."""

    literal: Any
    value: Any
    narrow: dict[str, tuple] | None


@dataclass
class PathInfo:
    """One feasible path: its condition, what the function returned, a model of the
    condition, and the variables' value sets on it."""

    pc: list[Any]
    result: Any
    model: dict[str, int]
    sets: dict[str, tuple]


class Explorer:
    """Runs a function on symbolic inputs once per feasible path through its code."""

    #: the width of z3's bitvectors (narrower: no arithmetic, see Z3Terms)
    bits = BITS

    def __init__(self, vs: Vars, *, timeout_ms: int = 20000, max_paths: int = 200_000,
                 deadline: float | None = None) -> None:
        self.ranges = dict(vs.ranges)
        self.poisoned = frozenset(vs.poisoned)
        self.base: dict[str, tuple] = {n: tuple(range(lo, hi + 1))
                                       for n, (lo, hi) in self.ranges.items()
                                       if n not in self.poisoned}
        #: the proof this explorer runs paths of (its terms ask it to fork through it)
        self.proof = vs.proof
        self.requires = []
        for r in vs.requires:
            vv = vars_of(r)
            if len(vv) == 1:
                (n,) = vv
                keep = tuple(x for x in self.base[n] if evaluate(r, {n: x}))
                if not keep:
                    raise ValueError("domain constraint is false for every state")
                self.base[n] = keep
            else:
                self.requires.append(r)
        # Constraints over few small variables are propagated over the value sets.
        self.watch: dict[str, list[Any]] = {}
        for r in self.requires:
            for n in vars_of(r):
                if n not in vs.poisoned:
                    self.watch.setdefault(n, []).append(r)
        self._prop_cache: dict[Any, Any] = {}
        self._enum_cache: dict[Any, list[Alt]] = {}
        self.epoch = new_epoch()
        self.sets = dict(self.base)
        self.singles: set[str] = set()
        self._propagate(list(self.base))
        self.base = dict(self.sets)
        self.base_singles = frozenset(n for n, v in self.base.items() if len(v) == 1)
        self.timeout_ms = timeout_ms
        self.fresh_solver()
        self.max_paths = max_paths
        self.deadline = deadline
        self._probe = False
        self.queries = 0
        self.guesses = 0
        self.paths = 0
        self._init_model: dict[str, int] | None = None

    # -- z3 ------------------------------------------------------------------------------------

    def _check(self, literals: Sequence[Any]) -> dict[str, int] | None:
        """A model of the domain and ``literals`` (terms or ready z3 formulas), or None."""
        self.queries += 1
        z = self._ensure()
        s = self.solver
        s.push()
        try:
            for lit in literals:
                if type(lit) is Sym:
                    s.add(z.term(lit))
                elif type(lit) is bool:
                    if not lit:
                        return None
                else:
                    s.add(lit)  # a ready z3 formula
            if not self._solve(s):
                return None
            return z.model(s)
        finally:
            s.pop()

    def _solve(self, s: Any) -> bool:
        """``s.check()`` within the time left: True (sat) or False (unsat), else
        :class:`ProofUnknown`.

        z3 catches Ctrl-C itself while it solves and answers ``unknown``
        ("interrupted from keyboard"): that is turned back into
        KeyboardInterrupt, so an interrupt stops the proof instead of
        making it unknown (and a ``--symmetry auto`` run go on unreduced).
        """
        deliver_deferred()
        ms = self.timeout_ms
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ProofUnknown(OUT_OF_TIME)
            ms = max(1, min(ms, int(left * 1000)))
        if ms != self._solver_ms:
            s.set("timeout", int(ms))
            self._solver_ms = ms
        t0 = time.monotonic()
        r = s.check()
        ok = satisfiable(r)
        if ok is not None:
            return ok
        why = s.reason_unknown()
        if "interrupt" in why or ("cancel" in why and time.monotonic() - t0 < ms / 1000 * 0.9):
            raise KeyboardInterrupt
        if self.deadline is not None and time.monotonic() >= self.deadline - 0.001:
            raise ProofUnknown(OUT_OF_TIME)
        raise ProofUnknown(f"z3 answered {r} ({why})")

    def _tick(self) -> None:
        """A safe point, once per path: stop past the deadline, or on a signal that arrived
        meanwhile (:func:`signals_at_safe_points`)."""
        deliver_deferred()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ProofUnknown(OUT_OF_TIME)

    def fresh_solver(self) -> None:
        """Start an obligation: a new z3 context and solver, made when it first asks z3."""
        if len(self._enum_cache) > 100_000:
            self._enum_cache.clear()
        if len(self._prop_cache) > 100_000:
            self._prop_cache.clear()
        self.z: Z3Terms | None = None
        self.solver: Any = None
        self._solver_ms = self.timeout_ms
        self._init_model = None
        self._p_start = getattr(self, "paths", 0)

    @property
    def ctx(self) -> Any:
        """The obligation's z3 context (None until it first asks z3)."""
        return self.z.ctx if self.z is not None else None

    def _ensure(self) -> Z3Terms:
        """The obligation's z3 terms and solver (holding the domain), made on first use."""
        if self.z is not None:
            return self.z
        z = self.z = Z3Terms(self.bits)
        self.solver = z.solver(self.timeout_ms)
        self._solver_ms = self.timeout_ms
        for n, (lo, hi) in self.ranges.items():
            if n in self.poisoned:
                continue
            self.solver.add(*z.in_values(n, lo, hi, self.base[n]))
        for r in self.requires:
            self.solver.add(z.term(r))
        return z

    def _guess(self, literals: Sequence[Any], hint: tuple) -> dict[str, int] | None:
        """A model of ``literals`` and the domain found without z3, or None.

        The parent path's model, with the variables the new branch narrows
        moved into their narrowed sets, often satisfies the new branch too;
        checking that is a Python evaluation.
        """
        parent, narrow = hint
        patch: dict[str, int] = {}
        if narrow:
            for name, vals in narrow.items():
                if parent[name] not in vals:
                    patch[name] = vals[0]
        model = Overlay(parent, patch)
        memo: dict[int, Any] = {}
        for lit in literals:
            if type(lit) is Sym and not evaluate(lit, model, memo):
                return None
        for r in self.requires:
            if patch and not (vars_of(r) & patch.keys()):
                continue
            if not evaluate(r, model, memo):
                return None
        self.guesses += 1
        return model

    def initial_model(self) -> dict[str, int] | None:
        if self._init_model is None:
            self._init_model = self._first_model() or self._check([])
        return self._init_model

    def _first_model(self) -> dict[str, int] | None:
        """A model of the domain found without z3: every variable at its first allowed value,
        repaired constraint by constraint (None when that does not work out)."""
        model = {n: (self.base[n][0] if n in self.base else 0) for n in self.ranges}
        for _round in range(4 * len(self.requires) + 1):
            bad = next((r for r in self.requires if not evaluate(r, model)), None)
            if bad is None:
                return model
            vv = sorted(vars_of(bad))
            total = 1
            for u in vv:
                total *= len(self.base.get(u, (0,)))
            if total > 4096:
                return None
            watched = {id(r): r for u in vv for r in self.watch.get(u, ())}.values()
            for combo in itertools.product(*(self.base[u] for u in vv)):
                trial = dict(model)
                trial.update(zip(vv, combo, strict=True))
                if all(evaluate(r, trial) for r in watched):
                    model = trial
                    break
            else:
                return None
        return None

    # -- paths -------------------------------------------------------------------------------------

    def _path_model(self, pend: list | None, hint: Any,
                    first: Callable[[], Any]) -> Any:
        """The z3 model of the next path to run (``first()`` for the initial one), counted
        against ``max_paths``; None when the path's condition is unsatisfiable."""
        if pend is None:
            model = first()
        else:
            model = self._guess(pend, hint) if hint is not None else None
            if model is None:
                model = self._check(pend)
        if model is None:
            return None
        self.paths += 1
        if self.paths - self._p_start > self.max_paths:
            raise ProofUnknown(f"more than {self.max_paths} paths")
        self._tick()
        return model

    def run(self, fn: Callable[[], Any]) -> Iterator[PathInfo]:
        """Yield one :class:`PathInfo` per feasible path of ``fn()``."""
        work: list[tuple[tuple, list | None, Any]] = [((), None, None)]
        while work:
            prefix, pend, hint = work.pop()
            model = self._path_model(pend, hint, self.initial_model)
            if model is None:
                continue
            self._start(prefix, model)
            try:
                with self.proof.running(self):
                    result = fn()
            except Abort:
                work.extend(reversed(self._new))
                continue
            info = PathInfo(list(self.pc), result, model, self.sets)
            new = self._new
            yield info
            work.extend(reversed(new))

    def _start(self, prefix: tuple, model: dict[str, int]) -> None:
        self.prefix = prefix
        self.decisions: list[int] = []
        self.sets = dict(self.base)
        self.singles = set(self.base_singles)
        self.epoch = new_epoch()
        self.pc: list[Any] = []
        self.pc_keys: dict[Any, bool] = {}
        self.M = model
        self._new: list[tuple[tuple, list]] = []

    def _apply(self, alt: Alt) -> None:
        lit = alt.literal
        if is_sym(lit):
            self.pc.append(lit)
            self.pc_keys[term_key(lit)] = True
            if lit.op == "bnot":
                self.pc_keys[term_key(lit.args[0])] = False
        if alt.narrow:
            self.sets.update(alt.narrow)
            for n, vals in alt.narrow.items():
                if len(vals) == 1:
                    self.singles.add(n)
            self.epoch = new_epoch()
            self._propagate(list(alt.narrow))

    def _propagate(self, changed: list[str]) -> None:
        """Narrow the value sets through the small domain constraints (arc consistency).

        An empty set means the path condition contradicts the domain: the
        path is dropped.
        """
        sets = self.sets
        queue = list(changed)
        seen_rounds = 0
        while queue:
            n = queue.pop()
            for r in self.watch.get(n, ()):
                vv = sorted(vars_of(r))
                total = 1
                for u in vv:
                    total *= len(sets[u])
                    if total > 512:
                        break
                if total > 512:
                    continue
                ck = (term_key(r), tuple(sets[u] for u in vv))
                proj = self._prop_cache.get(ck)
                if proj is None:
                    ok = [combo for combo in itertools.product(*(sets[u] for u in vv))
                          if evaluate(r, dict(zip(vv, combo, strict=True)))]
                    proj = tuple(tuple(sorted({c[i] for c in ok})) for i in range(len(vv)))
                    self._prop_cache[ck] = proj
                for u, vals in zip(vv, proj, strict=True):
                    if not vals:
                        raise Abort
                    if vals != sets[u]:
                        sets[u] = vals
                        if len(vals) == 1:
                            self.singles.add(u)
                        self.epoch = new_epoch()
                        queue.append(u)
            seen_rounds += 1
            if seen_rounds > 10_000:  # pragma: no cover - a safety net
                break

    def _branch(self, alts: list[Alt]) -> Any:
        if self._probe and len(alts) > 1:
            raise NeedsBranch
        if len(alts) == 1:
            self._apply(alts[0])
            return alts[0].value
        pos = len(self.decisions)
        if pos < len(self.prefix):
            j = self.prefix[pos]
        else:
            memo: dict[int, Any] = {}
            j = next((k for k, a in enumerate(alts) if evaluate(a.literal, self.M, memo)), None)
            if j is None:  # the model lies outside every alternative: should not happen
                raise RuntimeError("internal error: the path model satisfies no branch")
            base = tuple(self.decisions)
            for k in range(len(alts) - 1, -1, -1):
                if k != j:
                    self._new.append((base + (k,), self.pc + [alts[k].literal],
                                      (self.M, alts[k].narrow)))
        self.decisions.append(j)
        self._apply(alts[j])
        return alts[j].value

    def _enumerate(self, r: Any, as_bool: bool) -> list[Alt] | None:
        vv = sorted(vars_of(r))
        sizes = [len(self.sets[v]) for v in vv]
        total = 1
        for n in sizes:
            total *= n
        if total > (_ENUM_LIMIT if len(vv) > 1 else 100_000):
            return None
        ck = (term_key(r), as_bool, tuple(self.sets[v] for v in vv))
        hit = self._enum_cache.get(ck)
        if hit is not None:
            return hit
        groups: dict[Any, list[tuple]] = {}
        for combo in itertools.product(*(self.sets[v] for v in vv)):
            val = evaluate(r, dict(zip(vv, combo, strict=True)))
            if as_bool:
                val = bool(val)
            groups.setdefault(val, []).append(combo)
        alts = []
        keys = sorted(groups, reverse=as_bool)  # True first for conditions
        for val in keys:
            combos = groups[val]
            narrow = {v: tuple(sorted({c[i] for c in combos})) for i, v in enumerate(vv)}
            narrow = {v: s for v, s in narrow.items() if s != self.sets[v]}
            if len(keys) == 1:
                lit: Any = True
            elif as_bool:
                lit = r if val else bnot(r)
            else:
                lit = cmp("eq", r, val)
            alts.append(Alt(lit, val, narrow or None))
        self._enum_cache[ck] = alts
        return alts

    def merge(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` as one term, exploring its paths without forking the current one.

        For a pure function returning a bool or an int: its paths under the
        current path condition are explored in a nested search and their
        results joined into ``ite(path 1, value 1, ite(path 2, ...))``.
        """
        self._probe = True
        try:
            return fn()
        except NeedsBranch:
            pass
        finally:
            self._probe = False
        saved = (self.prefix, self.decisions, self.sets, self.pc, self.pc_keys, self.M,
                 self._new, self.singles)
        base_sets, base_pc, base_keys, base_model = self.sets, list(self.pc), self.pc_keys, \
            self.M
        base_singles = self.singles
        nbase = len(base_pc)
        results: list[tuple[list, Any]] = []
        work: list[tuple[tuple, list | None, Any]] = [((), None, None)]
        try:
            while work:
                prefix, pend, hint = work.pop()
                model = self._path_model(pend, hint, lambda: base_model)
                if model is None:
                    continue
                self.prefix, self.decisions, self.sets = prefix, [], dict(base_sets)
                self.pc, self.pc_keys, self.M, self._new = list(base_pc), dict(base_keys), \
                    model, []
                self.singles = set(base_singles)
                self.epoch = new_epoch()
                try:
                    val = fn()
                except Abort:
                    work.extend(reversed(self._new))
                    continue
                except Exception as e:
                    raise ProofUnknown(f"a property raised {type(e).__name__}: {e}") from None
                results.append((self.pc[nbase:], val))
                work.extend(reversed(self._new))
        finally:
            (self.prefix, self.decisions, self.sets, self.pc, self.pc_keys, self.M,
             self._new, self.singles) = saved
            self.epoch = new_epoch()
        out = results[-1][1]
        isbool = isinstance(out, bool) or (is_sym(out) and out.isbool)
        for lits, val in reversed(results[:-1]):
            out = ite(conj(lits), val, out) if not isbool else \
                bool2("bor", bool2("band", conj(lits), as_bool(val)),
                       bool2("band", bnot(conj(lits)), out))
        return out

    def _pe(self, x: Any) -> Any:
        if type(x) is not Sym or vars_of(x).isdisjoint(self.singles):
            return x
        return peval(x, self.sets, self.epoch)

    def _no_poison(self, r: Any) -> None:
        if self.poisoned and vars_of(r) & self.poisoned:
            raise ProofUnknown(f"the code branched on a field the domain leaves unspecified: "
                               f"{show(r)[:160]}")

    def decide(self, cond: Any) -> bool:
        if _asked_by_differs():
            raise NoBranch  # a structure-sharing comparison does not branch (symmetry.differs)
        r = self._pe(as_bool(cond))
        if not is_sym(r):
            return bool(r)
        self._no_poison(r)
        k = term_key(r)
        if k in self.pc_keys:
            return self.pc_keys[k]
        alts = self._enumerate(r, True)
        if alts is None:
            alts = [Alt(r, True, None), Alt(bnot(r), False, None)]
        return self._branch(alts)

    def concretize(self, x: Any) -> int:
        if x.isbool:
            return int(self.decide(x))
        r = self._pe(x)
        if not is_sym(r):
            return int(r)
        self._no_poison(r)
        alts = self._enumerate(r, False)
        if alts is None:
            b = value_bounds(r, self.sets)
            if b is None or b[1] - b[0] > 4096:
                raise ProofUnknown(f"cannot enumerate the values of {show(r)[:200]}")
            alts = [Alt(cmp("eq", r, v), v, None) for v in range(b[0], b[1] + 1)]
        return self._branch(alts)

    # -- obligations ------------------------------------------------------------------------------

    def refute(self, info: PathInfo, conds: Sequence[Any]) -> dict[str, int] | None:
        """A model of the path's condition violating one of ``conds``, or None if none exists.

        The first condition (in order) that can fail is the one reported, so a
        witness's obligation does not depend on which model z3 returns.
        """
        epoch = new_epoch()
        terms: list[Any] = []
        violated = False
        for c in conds:
            r = peval(as_bool(c), info.sets, epoch)
            if not is_sym(r):
                if not r:
                    violated = True
                    terms.append(False)
                continue
            if not evaluate(r, info.model):
                violated = True
            terms.append(r)
        residual = [r for r in terms if r is not False]
        if not violated:
            if not residual:
                return None
        z = self._ensure()
        if not violated:
            bad = z.any_of([self._negation(r) for r in residual])
            if self._check(info.pc + [bad]) is None:
                return None
        for r in terms:  # a violation exists: the first condition that can fail
            if r is False:
                return info.model
            first = self._check(info.pc + [self._negation(r)])
            if first is not None:
                return first
        return info.model  # pragma: no cover - a violation was found above

    def _negation(self, r: Any) -> Any:
        return self._ensure().negation(r)

