"""z3 certification of a declared symmetry, once per model and configuration, cached.

The only engine module that imports z3, and only inside the functions that
query it (importing it costs nothing).  z3 never runs in the
search loop: :func:`certify` runs once before a reduced search, and its
verdict is cached on disk under a digest of everything the proof can
reach: the model's fingerprint, the declaration, the code of every
function and the module-level values of every user module reachable from
them, and the engine's sources (:mod:`mcheck.proof.cache`, which also
signs each entry so that an edited one is not trusted).

How the model's code is read symbolically
-----------------------------------------
By **symbolic execution of the model's own Python**: the proof builds a
state whose leaves are :class:`Sym` values (terms over 32-bit bitvector
variables) and calls the model's real step, property, permutation and
signature functions on it.  Arithmetic and comparisons build terms.  Where
Python needs a concrete value (``if``, ``and``, indexing a list, formatting a
label), the :class:`Explorer` **forks**: it records the branch in the path
condition and re-runs the function once per feasible branch, so every path
through the code is covered.  Feasibility is decided cheaply where possible
(each variable keeps the set of values the path still allows, narrowed
through the domain's small constraints by arc consistency; a condition
over one or two small variables is decided by enumeration; the parent
path's model, patched, often satisfies a new branch) and by z3 otherwise.
A pure function (a transition property) can be explored in a nested search
and merged into one term (``Explorer.merge``) so it does not fork its caller.

Why this and not an expression DSL: a model's step functions stay the
plain, readable Python the search runs (nothing is rewritten for the
prover), and what is proven is exactly the code that runs, not a second
transcription of it that could drift.  The price is path explosion in code
with many independent branches, and re-running the code once per path; the
model keeps that in check by splitting its successor function into
components (one thread's step, one operation an idle thread may start) and
its invariants into per-object atoms (:func:`mcheck.symmetry.forall`), and
by writing the few whole-state summaries (signatures, counts) with
branch-free helpers.  Code that compares only to share structure uses
:func:`mcheck.symmetry.differs`, which does not branch during a proof.

What is proven (for every generator ``g`` of every declared set: a
transposition and a full cycle, which generate the symmetric group)
-----------------------------------------------------------------------------
Over every state ``S`` of the model's declared domain ``D`` (each leaf in its
stated range, the stated constraints; ``Symmetry.bounds`` says them for
people):

1. ``D`` is closed: ``g S`` is in ``D`` (on every declared variant, i.e. with
   every record in every shape it can have).
2. ``permute_state`` is a group action: ``permute(permute(S, a), b) ==
   permute(S, b a)`` for **symbolic** permutations ``a``, ``b`` of every set
   (and the identity leaves ``S`` alone), on every variant.
3. Signatures are invariant: ``sig(g S)[g x] == sig(S)[x]`` for every member
   ``x``.  (3b) A set declared ``complete`` (for all or some signatures):
   equal signatures imply swapping the two members changes nothing.
4. Every invariant commutes: ``P(g S) == P(S)`` (per atom for
   :func:`~mcheck.symmetry.forall` invariants: ``atom(g S, g k) ==
   atom(S, k)``).
   (4b) Final states commute: ``is_final(g S) == is_final(S)``, for a model
   that defines ``is_final`` (deadlock detection reads it: without this, a
   reduced search could take a deadlock for a final state).
5. Every component commutes: for each component key ``c`` and every state
   of its domain (``domain(vars, c)``: e.g. the stepping thread in each
   shape of its operation), the outcomes of ``successors_of(g S, g c)`` are
   exactly ``g`` applied to those of ``successors_of(S, c)``: the same
   actions up to ``permute_action`` (so a step blocked in ``S`` is blocked in
   ``g S``: allocation choices are part of the action), the same next states
   up to ``permute_state``, and the same exception if the step raises.
   Transition properties and metrics give the same value on each matched
   pair.  Components that the group maps onto each other (the steps of
   interchangeable threads) are proven once per orbit: one member under
   generators of its stabiliser and one element reaching each other member,
   which implies the rest (:func:`_component_plan` gives the argument).
6. The canonicaliser's generic part (:func:`mcheck.symmetry.candidate_tables`
   and :func:`mcheck.symmetry._order`, the code the search runs), once per
   distinct (members, size, kind of ``complete``: none, all, a predicate)
   among the active sets, independent of the model otherwise.  Its inputs
   are symbolic: signatures ``sig[0..n-1]``, each an int in ``0..n-1``
   (the code only compares two signatures and asks ``complete`` about one,
   and the explorer of this obligation refuses anything else, so only the
   weak ordering of the signatures matters; values in ``0..n-1`` realise
   every weak ordering of ``n`` members, so this domain is every input),
   and for a predicate, one symbolic bool per signature value looked up by
   value (an uninterpreted function: equal signatures get equal answers,
   nothing else is assumed).  On every path of the real code:

   (i) every candidate table is a permutation of the members that fixes
       every other index, puts the members in signature order (the member
       renamed to ``members[k]`` has a signature no greater than the one
       renamed to ``members[k+1]``), and keeps members of equal signature
       the set is complete for in index order;
   (ii) the candidates are pairwise distinct, and there are as many as
        the product, over the groups of equal signatures, of (group size)!,
        a group whose signature the set is complete for counting 1: so they
        are all the sorting permutations, one per reordering of the
        complete groups (see :mod:`mcheck.symmetry`);
   (iii) for each generator ``g`` of the set, the candidates for the
         permuted signatures ``sig'[g x] = sig[x]`` are exactly ``{c g^-1 :
         c a candidate for sig}``, up to the order within complete groups
         (checked across paths: each path decides one weak ordering, and the
         permuted signatures are those of another path; for a set complete
         for every signature, on the path itself);
   (iv) ``_order`` agrees with ``candidate_tables``: when it finds no tie
        that needs trying orders, the candidates are the one table of its
        order, and when that order leaves the members in place, the table
        is the identity.

   A failure names the signature values (the state of the witness), the
   generator for (iii) and which of (i)-(iv) failed.

Soundness of a reduced search rests on 1, 2, 4, 4b, 5 and 6 (i) (the
representative of ``s`` is ``permute(s, p)`` for a permutation ``p``, so
a member of its orbit), and on ``D`` containing the reachable states,
which a model can check concretely with a membership function over its
reachable states.  3, 3b and 6 give exactness: every member of an orbit
gets the same representative (the argument is in :mod:`mcheck.symmetry`);
``symmetry.self_check`` also tests it end to end.  A field a domain leaves
unspecified (:meth:`Vars.poison`) may be copied and compared but never
branched on: a proof that reads it is unknown.

A path whose condition z3 cannot decide within the time limit, or a proof
with more paths than the limit, or past its time budget, is **unknown**, and
unknown is never a proof.  Each obligation gets a fresh z3 context, so its
answer (and a witness) depends on that obligation alone; that also lets
``certify(workers=N)`` prove them in forked processes with the verdict and
witness of a serial run.  Integers are 32-bit two's complement in the
proof; the domains keep every leaf small (the model states its bounds) and
steps add small constants, so no term overflows and the bitvector semantics
agree with Python's.

Obligation 6 has its own explorer (:class:`_OrderExplorer`), because the
code under proof sorts the same signatures more than once (in
``candidate_tables`` and ``_order``, and on a complete set permuted for
(iii)): a comparison the path's earlier comparisons imply by transitivity is
answered from their closure instead of forking and letting z3 refute the
impossible branch (which is all that query would establish), a new
branch's model is built from the ranks of the signatures and checked by
evaluation, and z3 works on the narrowest bitvectors that hold ``0..n-1``
(no arithmetic is allowed there).  z3 decides the validity of every
path's conditions, as in every obligation.  Its cost grows with the
number of weak orderings (3, 13, 75, 541, 4683 for 2..6 members): below a
second up to 5 members; with 6, about 2 s (complete), 5 s (not complete)
and 17 s (a predicate) on one core.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from mcheck.proof import cache
from mcheck.proof.cache import CACHE_ENV, ProofInputs, cache_dir

__all__ = [
    "CACHE_ENV",
    "Certificate",
    "Explorer",
    "ProofUnknown",
    "Sym",
    "Vars",
    "Witness",
    "cache_dir",
    "certify",
    "certify_canonicaliser",
    "is_cached",
    "proof_inputs",
    "proof_key",
]

BITS = 32
ENGINE_VERSION = "smt-2"  # 2: the canonicaliser is proven too (obligation 6)
_ENUM_LIMIT = 64
_OUT_OF_TIME = "the proof ran out of time"
_CUR: list[Explorer] = []


class ProofUnknown(BaseException):
    """The proof could not be completed (timeout, ``unknown``, too many paths)."""


class _Abort(BaseException):
    """Internal: abandon the current path."""


class _NeedsBranch(BaseException):
    """Internal: a probe of ``Explorer.merge`` reached a branch."""


def _explorer() -> Explorer:
    if not _CUR:
        raise RuntimeError("a symbolic value was used outside a symbolic exploration")
    return _CUR[-1]


# -- symbolic terms ------------------------------------------------------------------------------

_PY2 = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
    "shl": lambda a, b: a << b, "shr": lambda a, b: a >> b,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "band": lambda a, b: bool(a) and bool(b), "bor": lambda a, b: bool(a) or bool(b),
}
_CMP = ("eq", "ne", "lt", "le")


class Sym:
    """A symbolic int or bool: a term over the proof's variables.

    Operators build terms; ``bool()``, ``int()``, indexing, hashing and
    formatting ask the current :class:`Explorer` to fork.  ``repr`` shows the
    term without forking.
    """

    __slots__ = ("op", "args", "isbool", "_vars", "_key", "_pe", "_pe_ep")
    _symbolic = True

    def __init__(self, op: str, args: tuple, isbool: bool = False) -> None:
        self.op = op
        self.args = args
        self.isbool = isbool
        self._vars: frozenset | None = None
        self._key: Any = None
        self._pe: Any = None
        self._pe_ep = 0

    # arithmetic
    def __add__(self, o: Any) -> Any: return _arith("add", self, o)
    def __radd__(self, o: Any) -> Any: return _arith("add", o, self)
    def __sub__(self, o: Any) -> Any: return _arith("sub", self, o)
    def __rsub__(self, o: Any) -> Any: return _arith("sub", o, self)
    def __mul__(self, o: Any) -> Any: return _arith("mul", self, o)
    def __rmul__(self, o: Any) -> Any: return _arith("mul", o, self)
    def __floordiv__(self, o: Any) -> Any: return _arith("floordiv", self, o)
    def __rfloordiv__(self, o: Any) -> Any: return _arith("floordiv", o, self)
    def __mod__(self, o: Any) -> Any: return _arith("mod", self, o)
    def __rmod__(self, o: Any) -> Any: return _arith("mod", o, self)
    def __lshift__(self, o: Any) -> Any: return _arith("shl", self, o)
    def __rlshift__(self, o: Any) -> Any: return _arith("shl", o, self)
    def __rshift__(self, o: Any) -> Any: return _arith("shr", self, o)
    def __rrshift__(self, o: Any) -> Any: return _arith("shr", o, self)
    def __and__(self, o: Any) -> Any: return _logic("and", self, o)
    def __rand__(self, o: Any) -> Any: return _logic("and", o, self)
    def __or__(self, o: Any) -> Any: return _logic("or", self, o)
    def __ror__(self, o: Any) -> Any: return _logic("or", o, self)
    def __xor__(self, o: Any) -> Any: return _logic("xor", self, o)
    def __rxor__(self, o: Any) -> Any: return _logic("xor", o, self)
    def __neg__(self) -> Any: return _arith("sub", 0, self)
    def __pos__(self) -> Any: return self
    def __invert__(self) -> Any: return _arith("sub", -1, self)
    def __abs__(self) -> Any: return _ite(_cmp("lt", self, 0), _arith("sub", 0, self), self)

    # comparisons
    def __eq__(self, o: Any) -> Any: return _cmp("eq", self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return _cmp("ne", self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return _cmp("lt", self, o)
    def __le__(self, o: Any) -> Any: return _cmp("le", self, o)
    def __gt__(self, o: Any) -> Any: return _cmp("lt", o, self)
    def __ge__(self, o: Any) -> Any: return _cmp("le", o, self)

    # forks
    def __bool__(self) -> bool:
        return _explorer().decide(self)

    def __index__(self) -> int:
        return _explorer().concretize(self)

    __int__ = __index__

    def __hash__(self) -> int:
        return int(self)  # an int hashes to itself: forks like int() (the value is concrete)

    def __format__(self, spec: str) -> str:
        v: Any = bool(self) if self.isbool else int(self)
        return format(v, spec)

    def __str__(self) -> str:
        return format(self, "")

    def __repr__(self) -> str:
        return _show(self)

    # branch-free helpers used by mcheck.symmetry
    def _ite(self, a: Any, b: Any) -> Any:
        return _ite(self if self.isbool else _cmp("ne", self, 0), a, b)

    def _truth(self) -> Any:
        return self if self.isbool else _cmp("ne", self, 0)

    def _not(self) -> Any:
        return _bnot(self._truth())

    def _and(self, o: Any) -> Any:
        return _bool2("band", self._truth(), o)

    def _or(self, o: Any) -> Any:
        return _bool2("bor", self._truth(), o)


def _is(x: Any) -> bool:
    return type(x) is Sym


def var(name: str) -> Sym:
    return Sym("var", (name,))


def _as_int(x: Any) -> Any:
    if type(x) is Sym:
        return _ite(x, 1, 0) if x.isbool else x
    return int(x)


def _as_bool(x: Any) -> Any:
    if type(x) is Sym:
        return x if x.isbool else _cmp("ne", x, 0)
    return bool(x)


def _arith(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return _PY2[op](a, b)
    a, b = _as_int(a), _as_int(b)
    if op == "add":
        if type(b) is not Sym and b == 0:
            return a
        if type(a) is not Sym and a == 0:
            return b
    elif op == "sub" and type(b) is not Sym and b == 0:
        return a
    elif op == "mul":
        for x, y in ((a, b), (b, a)):
            if type(x) is not Sym:
                if x == 0:
                    return 0
                if x == 1:
                    return y
    return Sym(op, (a, b))


def _logic(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return _PY2[op](a, b)
    abool = ((type(a) is Sym) and a.isbool) or isinstance(a, bool)
    bbool = ((type(b) is Sym) and b.isbool) or isinstance(b, bool)
    if abool and bbool:
        if op == "and":
            return _bool2("band", a, b)
        if op == "or":
            return _bool2("bor", a, b)
        return _cmp("ne", _as_int(a), _as_int(b))
    return _arith(op, a, b)


def _cmp(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return _PY2[op](a, b)
    if a is b:
        return op in ("eq", "le")
    if ((type(a) is Sym) and a.isbool) or ((type(b) is Sym) and b.isbool):
        if op in ("eq", "ne") and isinstance(a, bool | Sym) and isinstance(b, bool | Sym) and \
                (type(a) is not Sym or a.isbool) and (type(b) is not Sym or b.isbool):
            a, b = _as_int(a), _as_int(b)
        else:
            a, b = _as_int(a), _as_int(b)
    return Sym(op, (a, b), True)


def _bool2(op: str, a: Any, b: Any) -> Any:
    a, b = _as_bool(a), _as_bool(b)
    if op == "band":
        if a is False or b is False:
            return False
        if a is True:
            return b
        if b is True:
            return a
    else:
        if a is True or b is True:
            return True
        if a is False:
            return b
        if b is False:
            return a
    if a is b:
        return a
    return Sym(op, (a, b), True)


def _bnot(a: Any) -> Any:
    a = _as_bool(a)
    if type(a) is not Sym:
        return not a
    if a.op == "bnot":
        return a.args[0]
    return Sym("bnot", (a,), True)


def _ite(c: Any, a: Any, b: Any) -> Any:
    c = _as_bool(c)
    if type(c) is not Sym:
        return a if c else b
    if a is b or (type(a) is not Sym and type(b) is not Sym and a == b and type(a) is type(b)):
        return a
    isbool = all(((type(x) is Sym) and x.isbool) or isinstance(x, bool) for x in (a, b))
    if not isbool:
        a, b = _as_int(a), _as_int(b)
    return Sym("ite", (c, a, b), isbool)


def _show(x: Any) -> str:
    if not _is(x):
        return repr(x)
    if x.op == "var":
        return x.args[0]
    if x.op == "ite":
        return f"ite({_show(x.args[0])}, {_show(x.args[1])}, {_show(x.args[2])})"
    if x.op == "bnot":
        return f"not({_show(x.args[0])})"
    return f"({_show(x.args[0])} {x.op} {_show(x.args[1])})"


def _vars(x: Any) -> frozenset:
    if not _is(x):
        return frozenset()
    if x._vars is None:
        if x.op == "var":
            x._vars = frozenset(x.args)
        else:
            out: frozenset = frozenset()
            for a in x.args:
                if _is(a):
                    out = out | _vars(a)
            x._vars = out
    return x._vars


def _key(x: Any) -> Any:
    if not _is(x):
        return ("c", int(x))
    if x._key is None:
        x._key = (x.op,) + tuple(_key(a) for a in x.args) if x.op != "var" else ("v", x.args[0])
    return x._key


def _eval(x: Any, env: dict[str, int], memo: dict[int, Any] | None = None) -> Any:
    """The value of ``x`` under a full assignment ``env``."""
    if not _is(x):
        return x
    if memo is None:
        memo = {}
    i = id(x)
    if i in memo:
        return memo[i]
    op = x.op
    if op == "var":
        v: Any = env[x.args[0]]
    elif op == "ite":
        v = _eval(x.args[1], env, memo) if _eval(x.args[0], env, memo) else \
            _eval(x.args[2], env, memo)
    elif op == "bnot":
        v = not _eval(x.args[0], env, memo)
    else:
        v = _PY2[op](_eval(x.args[0], env, memo), _eval(x.args[1], env, memo))
    memo[i] = v
    return v


_EPOCHS = itertools.count(1)


def _peval(x: Any, sets: dict[str, tuple], epoch: int) -> Any:
    """``x`` with every variable whose value set is a singleton replaced, folded.

    Results are cached on the node for ``epoch`` (a new epoch whenever the
    value sets change).
    """
    if type(x) is not Sym:
        return x
    if x._pe_ep == epoch:
        return x._pe
    op = x.op
    args = x.args
    if op == "var":
        s = sets.get(args[0])
        r: Any = s[0] if s is not None and len(s) == 1 else x
    elif op == "ite":
        c = _peval(args[0], sets, epoch)
        if type(c) is not Sym:
            r = _peval(args[1] if c else args[2], sets, epoch)
        else:
            a = _peval(args[1], sets, epoch)
            b = _peval(args[2], sets, epoch)
            r = x if (c is args[0] and a is args[1] and b is args[2]) else _ite(c, a, b)
    elif op == "bnot":
        a = _peval(args[0], sets, epoch)
        r = x if a is args[0] else _bnot(a)
    else:
        a = _peval(args[0], sets, epoch)
        b = _peval(args[1], sets, epoch)
        if a is args[0] and b is args[1]:
            r = x
        elif op in _CMP:
            r = _cmp(op, a, b)
        elif op in ("band", "bor"):
            r = _bool2(op, a, b)
        else:
            r = _arith(op, a, b)
    x._pe_ep = epoch
    x._pe = r
    return r


def _bounds(x: Any, sets: dict[str, tuple]) -> tuple[int, int] | None:
    """An interval containing every value of int term ``x`` (None when unknown)."""
    if not _is(x):
        return int(x), int(x)
    op = x.op
    if op == "var":
        s = sets.get(x.args[0])
        if s is None:
            return None
        return min(s), max(s)
    if x.isbool:
        return 0, 1
    if op == "ite":
        a, b = _bounds(x.args[1], sets), _bounds(x.args[2], sets)
        if a is None or b is None:
            return None
        return min(a[0], b[0]), max(a[1], b[1])
    a, b = _bounds(x.args[0], sets), _bounds(x.args[1], sets)
    if a is None or b is None:
        return None
    if op == "add":
        return a[0] + b[0], a[1] + b[1]
    if op == "sub":
        return a[0] - b[1], a[1] - b[0]
    if op == "mul":
        c = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
        return min(c), max(c)
    if op == "mod" and b[0] > 0:
        return 0, b[1] - 1
    if op == "and" and a[0] >= 0 and b[0] >= 0:
        return 0, min(a[1], b[1])
    if op == "shr" and a[0] >= 0 and b[0] >= 0:
        return 0, a[1]
    return None


#: the z3 context terms are built in, its variables and its terms by node (each obligation has
#: its own context, so what z3 answers depends on that obligation alone, and dropping the
#: context frees its terms), and the width of its bitvectors
_ZCTX: list[Any] = [None, {}, {}, BITS]

#: the operations a term may use in a context narrower than ``BITS`` (no arithmetic: nothing
#: can leave the range its variables are declared in)
_NARROW_OPS = frozenset(("var", "ite", "bnot", "band", "bor") + _CMP)


def _to_z3(x: Any) -> Any:
    import z3

    ctx = _ZCTX[0]
    if not _is(x):
        if isinstance(x, bool):
            return z3.BoolVal(x, ctx)
        return z3.BitVecVal(int(x), _ZCTX[3], ctx)
    terms = _ZCTX[2]
    hit = terms.get(id(x))
    if hit is not None:
        return hit[1]
    op = x.op
    if _ZCTX[3] != BITS and op not in _NARROW_OPS:
        raise ProofUnknown(f"a {op} term in a proof over {_ZCTX[3]}-bit values")
    if op == "var":
        name = x.args[0]
        zv = _ZCTX[1]
        r = zv.get(name)
        if r is None:
            r = zv[name] = z3.BitVec(name, _ZCTX[3], ctx)
    elif op == "ite":
        r = z3.If(_to_z3(x.args[0]), _to_z3(x.args[1]), _to_z3(x.args[2]))
    elif op == "bnot":
        r = z3.Not(_to_z3(x.args[0]))
    else:
        a, b = _to_z3(x.args[0]), _to_z3(x.args[1])
        if op == "add":
            r = a + b
        elif op == "sub":
            r = a - b
        elif op == "mul":
            r = a * b
        elif op == "mod":
            r = a % b  # bvsmod: the sign of the divisor, as Python's %
        elif op == "floordiv":
            q = a / b
            rem = z3.SRem(a, b)
            r = z3.If(z3.And(rem != 0, (rem < 0) != (b < 0)), q - 1, q)
        elif op == "and":
            r = a & b
        elif op == "or":
            r = a | b
        elif op == "xor":
            r = a ^ b
        elif op == "shl":
            r = a << b
        elif op == "shr":
            r = a >> b
        elif op == "eq":
            r = a == b
        elif op == "ne":
            r = a != b
        elif op == "lt":
            r = a < b
        elif op == "le":
            r = a <= b
        elif op == "band":
            r = z3.And(a, b)
        elif op == "bor":
            r = z3.Or(a, b)
        else:  # pragma: no cover
            raise ValueError(f"unknown term {op}")
    terms[id(x)] = (x, r)  # the node is kept, so its id is not reused while the context lives
    return r


# -- the domain ----------------------------------------------------------------------------------


class Vars:
    """Builds the proof's domain: named variables with ranges, and constraints."""

    def __init__(self, prefix: str = "x") -> None:
        self.prefix = prefix
        self.ranges: dict[str, tuple[int, int]] = {}
        self.requires: list[Any] = []
        self.poisoned: set[str] = set()

    def int(self, lo: int, hi: int, name: str | None = None) -> Any:
        """A variable in ``lo..hi`` (the constant itself when ``lo == hi``)."""
        if hi < lo:
            raise ValueError(f"empty range {lo}..{hi}")
        if lo == hi:
            return lo
        name = name or f"{self.prefix}{len(self.ranges)}"
        if name in self.ranges:
            raise ValueError(f"variable {name} declared twice")
        self.ranges[name] = (lo, hi)
        return var(name)

    def bool(self, name: str | None = None) -> Any:
        """A 0/1 variable."""
        return self.int(0, 1, name)

    def poison(self) -> Any:
        """An unspecified value: it may be copied and compared for equality in obligations,
        but a path that branches on it (reads it) makes the proof unknown."""
        name = f"{self.prefix}{len(self.ranges)}_unspecified"
        self.ranges[name] = (-(1 << 20), 1 << 20)
        self.poisoned.add(name)
        return var(name)

    def ref(self, n: int, nullable: bool = True, none: int = -1) -> Any:
        """An index below ``n``, or ``none`` when ``nullable``."""
        if n <= 0:
            return none
        v = self.int(none if nullable else 0, n - 1)
        if nullable and none != -1:
            raise ValueError("ref: only -1 as none is supported")
        return v

    def require(self, cond: Any) -> None:
        """Restrict the domain to states where ``cond`` holds."""
        if _is(cond):
            self.requires.append(_as_bool(cond))
        elif not cond:
            raise ValueError("domain constraint is false for every state")


# -- the explorer ---------------------------------------------------------------------------------


class _Overlay(dict):
    """A model with some variables changed."""

    def __init__(self, base: dict[str, int], patch: dict[str, int]) -> None:
        super().__init__(patch)
        self.base = base

    def __missing__(self, name: str) -> int:
        v = self.base[name]
        self[name] = v
        return v


class _LazyModel(dict):
    """A z3 model as a dict name -> int, evaluated on demand."""

    def __init__(self, model: Any, ctx: Any, bits: int = BITS) -> None:
        super().__init__()
        self.model = model
        self.ctx = ctx
        self.bits = bits

    def __missing__(self, name: str) -> int:
        import z3

        v = self.model.eval(z3.BitVec(name, self.bits, self.ctx),
                            model_completion=True).as_signed_long()
        self[name] = v
        return v


@dataclass
class _Alt:
    literal: Any
    value: Any
    narrow: dict[str, tuple] | None


@dataclass
class PathInfo:
    pc: list[Any]
    result: Any
    model: dict[str, int]
    sets: dict[str, tuple]


class Explorer:
    """Runs a function on symbolic inputs once per feasible path through its code."""

    #: the width of z3's bitvectors (a narrower explorer allows no arithmetic: _NARROW_OPS)
    bits = BITS

    def __init__(self, vs: Vars, *, timeout_ms: int = 20000, max_paths: int = 200_000,
                 deadline: float | None = None) -> None:
        self.ranges = dict(vs.ranges)
        self.poisoned = frozenset(vs.poisoned)
        self.base: dict[str, tuple] = {n: tuple(range(lo, hi + 1))
                                       for n, (lo, hi) in self.ranges.items()
                                       if n not in self.poisoned}
        self.requires = []
        for r in vs.requires:
            vv = _vars(r)
            if len(vv) == 1:
                (n,) = vv
                keep = tuple(x for x in self.base[n] if _eval(r, {n: x}))
                if not keep:
                    raise ValueError("domain constraint is false for every state")
                self.base[n] = keep
            else:
                self.requires.append(r)
        # Constraints over few small variables are propagated over the value sets.
        self.watch: dict[str, list[Any]] = {}
        for r in self.requires:
            for n in _vars(r):
                if n not in vs.poisoned:
                    self.watch.setdefault(n, []).append(r)
        self._prop_cache: dict[Any, Any] = {}
        self._enum_cache: dict[Any, list[_Alt]] = {}
        self.epoch = next(_EPOCHS)
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
        import z3

        self.queries += 1
        self._ensure()
        s = self.solver
        s.push()
        try:
            for lit in literals:
                if type(lit) is Sym:
                    s.add(_to_z3(lit))
                elif type(lit) is bool:
                    if not lit:
                        return None
                else:
                    s.add(lit)  # a ready z3 formula
            r = self._solve(s)
            if r == z3.unsat:
                return None
            return _LazyModel(s.model(), self.ctx, self.bits)
        finally:
            s.pop()

    def _solve(self, s: Any) -> Any:
        """``s.check()`` within the time left; sat or unsat, else :class:`ProofUnknown`.

        z3 catches Ctrl-C itself while it solves and answers ``unknown``
        ("interrupted from keyboard"): that is turned back into
        KeyboardInterrupt, so an interrupt stops the proof instead of
        making it unknown (and a ``--symmetry auto`` run go on unreduced).
        """
        import z3

        _deliver_deferred()
        ms = self.timeout_ms
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ProofUnknown(_OUT_OF_TIME)
            ms = max(1, min(ms, int(left * 1000)))
        if ms != self._solver_ms:
            s.set("timeout", int(ms))
            self._solver_ms = ms
        t0 = time.monotonic()
        r = s.check()
        if r == z3.sat or r == z3.unsat:
            return r
        why = s.reason_unknown()
        if "interrupt" in why or ("cancel" in why and time.monotonic() - t0 < ms / 1000 * 0.9):
            raise KeyboardInterrupt
        if self.deadline is not None and time.monotonic() >= self.deadline - 0.001:
            raise ProofUnknown(_OUT_OF_TIME)
        raise ProofUnknown(f"z3 answered {r} ({why})")

    def _tick(self) -> None:
        """A safe point, once per path: stop past the deadline, or on a signal that arrived
        meanwhile (:func:`_signals_at_safe_points`)."""
        _deliver_deferred()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ProofUnknown(_OUT_OF_TIME)

    def fresh_solver(self) -> None:
        """Start an obligation: a new z3 context and solver, made when it first asks z3."""
        if len(self._enum_cache) > 100_000:
            self._enum_cache.clear()
        if len(self._prop_cache) > 100_000:
            self._prop_cache.clear()
        self.ctx: Any = None
        self.solver: Any = None
        self._solver_ms = self.timeout_ms
        self.zvars: dict[str, Any] = {}
        self.zterms: dict[int, Any] = {}
        self._init_model = None
        self._p_start = getattr(self, "paths", 0)

    def _ensure(self) -> None:
        """The obligation's z3 context and solver (holding the domain), made on first use."""
        import z3

        if self.solver is not None:
            _ZCTX[0], _ZCTX[1], _ZCTX[2], _ZCTX[3] = self.ctx, self.zvars, self.zterms, \
                self.bits
            return
        self.ctx = z3.Context()
        _ZCTX[0], _ZCTX[1], _ZCTX[2], _ZCTX[3] = self.ctx, self.zvars, self.zterms, self.bits
        self.solver = z3.Solver(ctx=self.ctx)
        self.solver.set("timeout", int(self.timeout_ms))
        self._solver_ms = self.timeout_ms
        for n, (lo, hi) in self.ranges.items():
            if n in self.poisoned:
                continue
            v = _to_z3(var(n))
            vals = self.base[n]
            if len(vals) == hi - lo + 1:
                self.solver.add(v >= lo, v <= hi)
            else:
                self.solver.add(z3.Or([v == x for x in vals]))
        for r in self.requires:
            self.solver.add(_to_z3(r))

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
        model = _Overlay(parent, patch)
        memo: dict[int, Any] = {}
        for lit in literals:
            if type(lit) is Sym and not _eval(lit, model, memo):
                return None
        for r in self.requires:
            if patch and not (_vars(r) & patch.keys()):
                continue
            if not _eval(r, model, memo):
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
            bad = next((r for r in self.requires if not _eval(r, model)), None)
            if bad is None:
                return model
            vv = sorted(_vars(bad))
            total = 1
            for u in vv:
                total *= len(self.base.get(u, (0,)))
            if total > 4096:
                return None
            watched = {id(r): r for u in vv for r in self.watch.get(u, ())}.values()
            for combo in itertools.product(*(self.base[u] for u in vv)):
                trial = dict(model)
                trial.update(zip(vv, combo, strict=True))
                if all(_eval(r, trial) for r in watched):
                    model = trial
                    break
            else:
                return None
        return None

    # -- paths -------------------------------------------------------------------------------------

    def run(self, fn: Callable[[], Any]) -> Iterator[PathInfo]:
        """Yield one :class:`PathInfo` per feasible path of ``fn()``."""
        from mcheck.symmetry import PROVING

        work: list[tuple[tuple, list | None, Any]] = [((), None, None)]
        while work:
            prefix, pend, hint = work.pop()
            if pend is None:
                model = self.initial_model()
            else:
                model = self._guess(pend, hint) if hint is not None else None
                if model is None:
                    model = self._check(pend)
            if model is None:
                continue
            self.paths += 1
            if self.paths - self._p_start > self.max_paths:
                raise ProofUnknown(f"more than {self.max_paths} paths")
            self._tick()
            self._start(prefix, model)
            _CUR.append(self)
            proving = PROVING[0]
            PROVING[0] = True  # structure-sharing comparisons do not branch (symmetry.differs)
            try:
                result = fn()
            except _Abort:
                work.extend(reversed(self._new))
                continue
            finally:
                _CUR.pop()
                PROVING[0] = proving
            info = PathInfo(list(self.pc), result, model, self.sets)
            new = self._new
            yield info
            work.extend(reversed(new))

    def _start(self, prefix: tuple, model: dict[str, int]) -> None:
        self.prefix = prefix
        self.decisions: list[int] = []
        self.sets = dict(self.base)
        self.singles = set(self.base_singles)
        self.epoch = next(_EPOCHS)
        self.pc: list[Any] = []
        self.pc_keys: dict[Any, bool] = {}
        self.M = model
        self._new: list[tuple[tuple, list]] = []

    def _apply(self, alt: _Alt) -> None:
        lit = alt.literal
        if _is(lit):
            self.pc.append(lit)
            self.pc_keys[_key(lit)] = True
            if lit.op == "bnot":
                self.pc_keys[_key(lit.args[0])] = False
        if alt.narrow:
            self.sets.update(alt.narrow)
            for n, vals in alt.narrow.items():
                if len(vals) == 1:
                    self.singles.add(n)
            self.epoch = next(_EPOCHS)
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
                vv = sorted(_vars(r))
                total = 1
                for u in vv:
                    total *= len(sets[u])
                    if total > 512:
                        break
                if total > 512:
                    continue
                ck = (_key(r), tuple(sets[u] for u in vv))
                proj = self._prop_cache.get(ck)
                if proj is None:
                    ok = [combo for combo in itertools.product(*(sets[u] for u in vv))
                          if _eval(r, dict(zip(vv, combo, strict=True)))]
                    proj = tuple(tuple(sorted({c[i] for c in ok})) for i in range(len(vv)))
                    self._prop_cache[ck] = proj
                for u, vals in zip(vv, proj, strict=True):
                    if not vals:
                        raise _Abort
                    if vals != sets[u]:
                        sets[u] = vals
                        if len(vals) == 1:
                            self.singles.add(u)
                        self.epoch = next(_EPOCHS)
                        queue.append(u)
            seen_rounds += 1
            if seen_rounds > 10_000:  # pragma: no cover - a safety net
                break

    def _branch(self, alts: list[_Alt]) -> Any:
        if self._probe and len(alts) > 1:
            raise _NeedsBranch
        if len(alts) == 1:
            self._apply(alts[0])
            return alts[0].value
        pos = len(self.decisions)
        if pos < len(self.prefix):
            j = self.prefix[pos]
        else:
            memo: dict[int, Any] = {}
            j = next((k for k, a in enumerate(alts) if _eval(a.literal, self.M, memo)), None)
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

    def _enumerate(self, r: Any, as_bool: bool) -> list[_Alt] | None:
        vv = sorted(_vars(r))
        sizes = [len(self.sets[v]) for v in vv]
        total = 1
        for n in sizes:
            total *= n
        if total > (_ENUM_LIMIT if len(vv) > 1 else 100_000):
            return None
        ck = (_key(r), as_bool, tuple(self.sets[v] for v in vv))
        hit = self._enum_cache.get(ck)
        if hit is not None:
            return hit
        groups: dict[Any, list[tuple]] = {}
        for combo in itertools.product(*(self.sets[v] for v in vv)):
            val = _eval(r, dict(zip(vv, combo, strict=True)))
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
                lit = r if val else _bnot(r)
            else:
                lit = _cmp("eq", r, val)
            alts.append(_Alt(lit, val, narrow or None))
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
        except _NeedsBranch:
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
                if pend is None:
                    model = base_model
                else:
                    model = self._guess(pend, hint) if hint is not None else None
                    if model is None:
                        model = self._check(pend)
                if model is None:
                    continue
                self.paths += 1
                if self.paths - self._p_start > self.max_paths:
                    raise ProofUnknown(f"more than {self.max_paths} paths")
                self._tick()
                self.prefix, self.decisions, self.sets = prefix, [], dict(base_sets)
                self.pc, self.pc_keys, self.M, self._new = list(base_pc), dict(base_keys), \
                    model, []
                self.singles = set(base_singles)
                self.epoch = next(_EPOCHS)
                try:
                    val = fn()
                except _Abort:
                    work.extend(reversed(self._new))
                    continue
                except Exception as e:
                    raise ProofUnknown(f"a property raised {type(e).__name__}: {e}") from None
                results.append((self.pc[nbase:], val))
                work.extend(reversed(self._new))
        finally:
            (self.prefix, self.decisions, self.sets, self.pc, self.pc_keys, self.M,
             self._new, self.singles) = saved
            self.epoch = next(_EPOCHS)
        out = results[-1][1]
        isbool = isinstance(out, bool) or (_is(out) and out.isbool)
        for lits, val in reversed(results[:-1]):
            out = _ite(_conj(lits), val, out) if not isbool else \
                _bool2("bor", _bool2("band", _conj(lits), _as_bool(val)),
                       _bool2("band", _bnot(_conj(lits)), out))
        return out

    def _pe(self, x: Any) -> Any:
        if type(x) is not Sym or _vars(x).isdisjoint(self.singles):
            return x
        return _peval(x, self.sets, self.epoch)

    def _no_poison(self, r: Any) -> None:
        if self.poisoned and _vars(r) & self.poisoned:
            raise ProofUnknown(f"the code branched on a field the domain leaves unspecified: "
                               f"{_show(r)[:160]}")

    def decide(self, cond: Any) -> bool:
        r = self._pe(_as_bool(cond))
        if not _is(r):
            return bool(r)
        self._no_poison(r)
        k = _key(r)
        if k in self.pc_keys:
            return self.pc_keys[k]
        alts = self._enumerate(r, True)
        if alts is None:
            alts = [_Alt(r, True, None), _Alt(_bnot(r), False, None)]
        return self._branch(alts)

    def concretize(self, x: Any) -> int:
        if x.isbool:
            return int(self.decide(x))
        r = self._pe(x)
        if not _is(r):
            return int(r)
        self._no_poison(r)
        alts = self._enumerate(r, False)
        if alts is None:
            b = _bounds(r, self.sets)
            if b is None or b[1] - b[0] > 4096:
                raise ProofUnknown(f"cannot enumerate the values of {_show(r)[:200]}")
            alts = [_Alt(_cmp("eq", r, v), v, None) for v in range(b[0], b[1] + 1)]
        return self._branch(alts)

    # -- obligations ------------------------------------------------------------------------------

    def refute(self, info: PathInfo, conds: Sequence[Any]) -> dict[str, int] | None:
        """A model of the path's condition violating one of ``conds``, or None if none exists.

        The first condition (in order) that can fail is the one reported, so a
        witness's obligation does not depend on which model z3 returns.
        """
        import z3

        epoch = next(_EPOCHS)
        terms: list[Any] = []
        violated = False
        for c in conds:
            r = _peval(_as_bool(c), info.sets, epoch)
            if not _is(r):
                if not r:
                    violated = True
                    terms.append(False)
                continue
            if not _eval(r, info.model):
                violated = True
            terms.append(r)
        residual = [r for r in terms if r is not False]
        if not violated:
            if not residual:
                return None
        self._ensure()
        if not violated:
            bad = z3.Or([self._negation(r) for r in residual])
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
        import z3

        return z3.Not(_to_z3(r))


# -- interrupts -----------------------------------------------------------------------------------


class _Deferred:
    """A SIGINT/SIGTERM handler that only notes the signal; the proof acts on it at its next
    safe point by calling the handler it replaced (which raises KeyboardInterrupt, or what the
    command line installed).  Raised anywhere, an interrupt could leave a z3 object half
    made, whose finaliser then prints a traceback at exit."""

    def __init__(self, previous: dict[int, Any]) -> None:
        self.previous = previous
        self.pending: list[int] = []

    def __call__(self, signum: int, _stack: Any) -> None:
        if signum not in self.pending:
            self.pending.append(signum)

    def deliver(self) -> None:
        if self.pending:
            signum = self.pending.pop(0)
            self.pending.clear()
            handler = self.previous.get(signum)
            if callable(handler):
                handler(signum, None)
            raise KeyboardInterrupt


def _worker_signals() -> None:
    """A proof worker: SIGTERM (the pool's terminate) ends it at once; SIGINT stays deferred
    to its safe points (its obligation then reports "interrupted")."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _signals_now() -> Iterator[None]:
    """The parent of proof workers only waits for them: while it does, a signal acts at
    once (with the handlers a deferral replaced)."""
    import signal

    handler = signal.getsignal(signal.SIGINT)
    if type(handler) is not _Deferred:
        yield
        return
    handler.deliver()
    for n, h in handler.previous.items():
        signal.signal(n, h)
    try:
        yield
    finally:
        for n in handler.previous:
            signal.signal(n, handler)


def _deliver_deferred() -> None:
    import signal

    handler = signal.getsignal(signal.SIGINT)
    if type(handler) is _Deferred:
        handler.deliver()


@contextmanager
def _signals_at_safe_points() -> Iterator[None]:
    """While a proof runs (in the main thread), SIGINT and SIGTERM handlers that are Python
    functions are deferred to the proof's safe points: each path's start and each z3 query
    (z3 itself turns Ctrl-C during a query into an answer that :meth:`Explorer._solve`
    raises as KeyboardInterrupt)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    nums = [n for n in (signal.SIGINT, signal.SIGTERM) if callable(signal.getsignal(n))]
    previous = {n: signal.getsignal(n) for n in nums}
    if any(type(h) is _Deferred for h in previous.values()):  # nested: the outer one defers
        yield
        return
    deferred = _Deferred(previous)
    for n in nums:
        signal.signal(n, deferred)
    try:
        yield
    finally:
        for n in nums:
            signal.signal(n, previous[n])
    deferred.deliver()  # a signal that came after the last safe point


# -- structure helpers ----------------------------------------------------------------------------


def _concrete(x: Any, env: dict[str, int]) -> Any:
    """A symbolic structure with every term evaluated under ``env``."""
    if isinstance(x, tuple):
        return tuple(_concrete(y, env) for y in x)
    if isinstance(x, list):
        return [_concrete(y, env) for y in x]
    if _is(x):
        v = _eval(x, env)
        return bool(v) if x.isbool else int(v)
    return x


def _has_sym(x: Any) -> bool:
    if isinstance(x, (tuple, list)):
        return any(_has_sym(y) for y in x)
    return _is(x)


def _shape(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return tuple(_shape(y) for y in x)
    if _is(x):
        return ("<sym>",)
    return x


def _equal(a: Any, b: Any, out: list[Any]) -> bool:
    """Append the conditions for ``a == b`` to ``out``; False when the shapes differ."""
    if a is b:
        return True
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        if not (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list))) or \
                len(a) != len(b):
            return False
        return all(_equal(x, y, out) for x, y in zip(a, b, strict=True))
    if type(a) is not Sym and type(b) is not Sym:
        if isinstance(a, str) or isinstance(b, str):
            return a == b
        if a != b:
            out.append(False)
        return True
    if a is b or _key(a) == _key(b):
        return True
    out.append(_cmp("eq", _as_int(a), _as_int(b)))
    return True


def _outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", list(fn())
    except Exception as e:  # the model's code raised: part of its behaviour
        return "raise", type(e).__name__


# -- witnesses and certificates -------------------------------------------------------------------


@dataclass
class Witness:
    """Why a proof failed: the obligation, a state, the action and the permutation."""

    obligation: str
    permutation: str
    state: Any
    action: Any = None
    detail: str = ""

    def lines(self, model: Any = None) -> list[str]:
        out = [f"obligation: {self.obligation}", f"permutation: {self.permutation}"]
        if self.action is not None:
            out.append(f"action: {self.action!r}")
        if self.detail:
            out.append(f"detail: {self.detail}")
        out.append(f"state: {self.state!r}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"obligation": self.obligation, "permutation": self.permutation,
                "state": _jsonable(self.state), "action": _jsonable(self.action),
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Witness:
        return cls(d["obligation"], d["permutation"], _tuples(d["state"]),
                   _tuples(d.get("action")), d.get("detail", ""))


def _jsonable(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return [_jsonable(y) for y in x]
    return x


def _tuples(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuples(y) for y in x)
    return x


@dataclass
class Certificate:
    """The outcome of :func:`certify`.

    ``status`` is ``"proved"``, ``"refuted"`` (with a :class:`Witness`),
    ``"unknown"`` (timeout, z3 ``unknown``, path limit: never a proof) or
    ``"none"`` (the configuration has no interchangeable indices).
    """

    status: str
    reason: str = ""
    witness: Witness | None = None
    elapsed: float = 0.0
    obligations: int = 0
    paths: int = 0
    queries: int = 0
    cached: bool = False
    key: str = ""
    per_obligation: dict[str, float] = field(default_factory=dict)
    per_counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: what became of the certificate in the cache (stored, or why not), for people
    cache_note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "proved"

    def summary(self) -> str:
        how = "from cache" if self.cached else f"in {self.elapsed:.2f}s"
        if self.status == "proved":
            return (f"proved {how}: {self.obligations} obligations, {self.paths} paths, "
                    f"{self.queries} z3 queries")
        if self.status == "refuted":
            return f"refuted {how}: {self.reason}"
        return f"{self.status} {how}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason,
                "witness": self.witness.to_dict() if self.witness else None,
                "elapsed": round(self.elapsed, 4), "obligations": self.obligations,
                "paths": self.paths, "queries": self.queries, "key": self.key,
                "engine": ENGINE_VERSION}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        w = d.get("witness")
        return cls(d["status"], d.get("reason", ""), Witness.from_dict(w) if w else None,
                   d.get("elapsed", 0.0), d.get("obligations", 0), d.get("paths", 0),
                   d.get("queries", 0), True, d.get("key", ""))


class _Refuted(Exception):
    def __init__(self, witness: Witness) -> None:
        super().__init__(witness.obligation)
        self.witness = witness


# -- the cache ------------------------------------------------------------------------------------
#
# What a proof depends on and the signed entries are mcheck.proof.cache; here: the key of one
# declaration's proof, and the certificate as an entry's payload.


def proof_key(model: Any, decl: Any) -> str:
    """The cache key of the proof of ``decl`` for ``model`` (:func:`proof_inputs` digested with
    the model's fingerprint and the declaration's version and bounds)."""
    return _proof_key(model, decl)[0]


def proof_inputs(model: Any, decl: Any) -> ProofInputs:
    """What the proof of ``decl`` for ``model`` depends on (:mod:`mcheck.proof.cache`)."""
    return _proof_key(model, decl)[1]


def _proof_key(model: Any, decl: Any) -> tuple[str, ProofInputs]:
    from mcheck.fingerprint import digest

    inputs = cache.proof_inputs(model, decl)
    return digest(("mcheck-symmetry", ENGINE_VERSION, model.fingerprint(), decl.version,
                   tuple(decl.bounds), inputs.digest)), inputs


def _entry_path(key: str) -> FsPath:
    return cache_dir() / f"symmetry-{key}.json"


def is_cached(model: Any, decl: Any) -> bool:
    """True when :func:`certify` would answer from the cache."""
    key, inputs = _proof_key(model, decl)
    return inputs.cacheable and _load_cached(_entry_path(key), key) is not None


def _load_cached(path: FsPath, key: str) -> Certificate | None:
    payload = cache.load_entry(path, key)
    if payload is None or payload.get("engine") != ENGINE_VERSION:
        return None
    if not cache.files_unchanged(payload.get("files")):
        return None  # a source file the proof reached (imported while it ran) changed
    try:
        cert = Certificate.from_dict(payload)
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if cert.status not in ("proved", "refuted") or cert.key != key:
        return None
    return cert


def _store(path: FsPath, cert: Certificate, files: dict[str, str]) -> bool:
    payload = cert.to_dict()
    payload["files"] = files
    return cache.store_entry(path, cert.key, payload)


# -- the proof ------------------------------------------------------------------------------------


def certify(model: Any, decl: Any, *, use_cache: bool = True, budget: float | None = 300.0,
            timeout_ms: int = 20000, max_paths: int = 200_000,
            progress: Callable[[str], None] | None = None, workers: int = 1) -> Certificate:
    """Prove that ``decl`` is a sound symmetry of ``model`` (see the module docstring).

    Cached under ``cache_dir()`` by :func:`proof_key`, which digests
    everything the proof can reach (:mod:`mcheck.proof.cache`); a cached
    certificate is used only when its signed entry is intact and was made
    under the same key.  ``unknown`` results are not cached, and neither is
    a proof whose inputs cannot all be digested.  ``budget`` bounds the
    wall time in seconds (running out is ``unknown``; Ctrl-C raises
    KeyboardInterrupt, never an ``unknown``).  ``workers`` > 1 proves the obligations in that many
    forked processes, with the same verdict and witness as one.
    """
    if not decl.active:
        return Certificate("none", "no set has two or more members")
    key, inputs = _proof_key(model, decl)
    path = _entry_path(key)
    cacheable = use_cache and inputs.cacheable
    if cacheable:
        hit = _load_cached(path, key)
        if hit is not None:
            return hit
    t0 = time.monotonic()
    prover: _Prover | None = None
    try:
        with _signals_at_safe_points():
            prover = _Prover(model, decl, timeout_ms=timeout_ms, max_paths=max_paths,
                             deadline=None if budget is None else t0 + budget,
                             progress=progress)
            prover.run(workers)
        cert = Certificate("proved")
    except _Refuted as r:
        cert = Certificate("refuted", r.witness.obligation, r.witness)
    except ProofUnknown as u:
        cert = Certificate("unknown", str(u))
    cert.elapsed = time.monotonic() - t0
    if prover is not None:
        cert.obligations = prover.obligations
        cert.paths = prover.paths
        cert.queries = prover.queries
        cert.per_obligation = prover.timings
        cert.per_counts = prover.counts
    cert.key = key
    if not use_cache:
        cert.cache_note = "not cached (use_cache=False)"
    elif not inputs.cacheable:
        cert.cache_note = ("not cached: the proof depends on what cannot be digested: "
                           + "; ".join(inputs.unverifiable[:3]))
    elif cert.status not in ("proved", "refuted"):
        cert.cache_note = "not cached: only a proof or a refutation is kept, not an unknown"
    elif not (after := cache.proof_inputs(model, decl)).cacheable:
        cert.cache_note = ("not cached: the proof reached what cannot be digested: "
                           + "; ".join(after.unverifiable[:3]))
    elif _store(path, cert, after.digests or {}):
        cert.cache_note = f"cached in {path}"
    else:
        cert.cache_note = f"not cached: {path} or the secret {cache.secret_path()} cannot be " \
                          "written"
    return cert


_TASKS: list[Any] = []


def _task(i: int) -> tuple[str, Any, str, tuple[int, int, float]]:
    """Run obligation ``i`` of the prover in ``_TASKS`` (in a forked worker)."""
    prover = _TASKS[0]
    name, fn, ex = prover.tasks[i]
    prover.tasks[i] = None  # its terms (and their z3 context) can go when it is done
    p0, q0, t0 = ex.paths, ex.queries, time.monotonic()
    status: str = "ok"
    payload: Any = None
    try:
        prover._execute(name, fn, ex)
    except _Refuted as r:
        status, payload = "refuted", r.witness.to_dict()
    except ProofUnknown as u:
        status, payload = "unknown", str(u)
    except KeyboardInterrupt:  # Ctrl-C reaches every worker: the parent stops the pool
        status, payload = "interrupted", ""
    return status, payload, name, (ex.paths - p0, ex.queries - q0, time.monotonic() - t0)


class _Runner:
    """Proves queued obligations (``tasks``), serially or in forked workers, and keeps the
    figures."""

    def __init__(self, *, timeout_ms: int, max_paths: int, deadline: float | None,
                 progress: Callable[[str], None] | None) -> None:
        self.timeout_ms = timeout_ms
        self.max_paths = max_paths
        self.deadline = deadline
        self.progress = progress
        self.obligations = 0
        self.paths = 0
        self.queries = 0
        self.timings: dict[str, float] = {}
        self.counts: dict[str, tuple[int, int]] = {}
        self.tasks: list[Any] = []

    def _say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def _execute(self, name: str, fn: Callable[[], Any], ex: Explorer) -> None:
        """Prove one obligation (with its own z3 context: its answer depends on it alone)."""
        ex.fresh_solver()
        t0 = time.monotonic()
        p0, q0 = ex.paths, ex.queries
        self.obligations += 1
        self._say(name)
        for info in ex.run(fn):
            conds, context = info.result
            bad = ex.refute(info, conds)
            if bad is not None:
                perm, state, action, detail = context(bad)
                raise _Refuted(Witness(name, perm, state, action, detail))
        finish = getattr(fn, "finish", None)  # a condition across paths (obligation 6)
        if finish is not None:
            failed = finish()
            if failed is not None:
                raise _Refuted(Witness(name, *failed))
        self.paths += ex.paths - p0
        self.queries += ex.queries - q0
        self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - t0
        self.counts[name] = (ex.paths - p0, ex.queries - q0)

    def _run_tasks(self, workers: int) -> None:
        if workers <= 1 or len(self.tasks) < 2:
            for i, task in enumerate(self.tasks):
                self._execute(*task)
                self.tasks[i] = None  # its terms (and their z3 context) can go
            return
        self._parallel(workers)

    def _parallel(self, workers: int) -> None:
        """The obligations in forked worker processes; results are taken in order, so the
        verdict and the witness (the first failing obligation) are those of a serial run."""
        import multiprocessing as mp

        _TASKS[:] = [self]
        try:
            with mp.get_context("fork").Pool(workers, initializer=_worker_signals) as pool, \
                    _signals_now():
                for status, payload, name, stats in pool.imap(_task, range(len(self.tasks))):
                    paths, queries, seconds = stats
                    self.obligations += 1
                    self.paths += paths
                    self.queries += queries
                    self.timings[name] = seconds
                    self.counts[name] = (paths, queries)
                    if status == "refuted":
                        pool.terminate()
                        raise _Refuted(Witness.from_dict(payload))
                    if status == "unknown":
                        pool.terminate()
                        raise ProofUnknown(payload)
                    if status == "interrupted":
                        pool.terminate()
                        raise KeyboardInterrupt
        finally:
            _TASKS[:] = []


class _Prover(_Runner):
    def __init__(self, model: Any, decl: Any, *, timeout_ms: int, max_paths: int,
                 deadline: float | None, progress: Callable[[str], None] | None) -> None:
        from mcheck.model import Kind
        from mcheck.symmetry import generators

        super().__init__(timeout_ms=timeout_ms, max_paths=max_paths, deadline=deadline,
                         progress=progress)
        if decl.domain is None:
            raise ProofUnknown("the declaration gives no domain to prove over")
        self.model = model
        self.decl = decl
        self.gens = generators(decl.sets)
        props = list(model.properties())
        self.invariants = [p for p in props if p.kind is Kind.INVARIANT]
        self.tprops = [p for p in props if p.kind is not Kind.INVARIANT]
        vs = Vars("s")
        self.state = decl.domain(vs, None)[0]
        self.comps = list(decl.components) if decl.components is not None else [None]
        self.cases = {c: (decl.domain(vs, c) if c is not None else [self.state])
                      for c in self.comps}
        self.variants = decl.variants(vs) if decl.variants is not None else [self.state]
        self.vars = vs
        self.explorer = Explorer(vs, timeout_ms=timeout_ms, max_paths=max_paths,
                                 deadline=deadline)
        if self.explorer.initial_model() is None:
            raise ProofUnknown("the declared domain is empty")

    def _prove(self, name: str, fn: Callable[[], Any], explorer: Explorer | None = None
               ) -> None:
        """Queue an obligation: ``fn()`` returns (conditions, context), and every condition
        must hold on every path; ``context(env)`` turns a model into ``(perm name, state,
        action, detail)``."""
        self.tasks.append((name, fn, explorer or self.explorer))

    def run(self, workers: int = 1) -> None:
        self.tasks = []
        self.closure()
        self.action_laws()
        self.signatures()
        self.complete_sets()
        self.invariant_props()
        self.final_states()
        self.steps()
        self.canonicaliser()
        self._run_tasks(workers)

    # 4b. final states
    def final_states(self) -> None:
        from mcheck.model import Model

        model = self.model
        if getattr(type(model), "is_final", None) is Model.is_final:
            return  # the engine's default: no state is final, whatever its permutation
        S = self.state
        decl = self.decl
        for gname, g in self.gens:
            def fn(g: Any = g, gname: str = gname) -> Any:
                v1 = _as_bool(model.is_final(S))
                v2 = _as_bool(model.is_final(decl.permute_state(S, g)))
                return [_iff(v1, v2)], lambda env: (
                    gname, _concrete(S, env), None,
                    "is_final differs between s and its permutation")
            self._prove(f"is_final under {gname}", fn)

    # 6. the canonicaliser
    def canonicaliser(self) -> None:
        self.tasks.extend(_canon_tasks(self.decl.active, timeout_ms=self.timeout_ms,
                                       max_paths=self.max_paths, deadline=self.deadline))

    # 1. the domain is closed under each generator
    def closure(self) -> None:
        ranges = self.vars.ranges
        for k, S in enumerate(self.variants):
            for gname, g in self.gens:
                self._closure(S, g, gname, ranges, _variant(k, self.variants))

    def _closure(self, S: Any, g: Any, gname: str, ranges: dict, tag: str) -> None:
        if True:
            def fn(g: Any = g, gname: str = gname) -> Any:
                conds: list[Any] = []
                gs = self.decl.permute_state(S, g)
                ok = _in_domain(S, gs, ranges, conds)
                if not ok:
                    conds.append(False)
                for r in self.vars.requires:
                    conds.append(_relabel(r, S, gs))
                return conds, lambda env: (gname, _concrete(S, env), None,
                                           "the permuted state leaves the domain")
            self._prove(f"domain closed under {gname}{tag}", fn)

    # 2. permute_state is a group action (symbolic permutations)
    def action_laws(self) -> None:
        from mcheck.symmetry import Perm, SetPerm

        vs = Vars("s")
        S0 = self.decl.domain(vs, None)[0]
        variants = self.decl.variants(vs) if self.decl.variants is not None else [S0]
        sizes = {s.name: s.size for s in self.decl.sets}

        def sym_perm(tag: str) -> Perm:
            parts = {}
            for st in self.decl.active:
                table: list[Any] = list(range(st.size))
                ms = st.members
                for m in ms:
                    table[m] = vs.int(min(ms), max(ms), f"{tag}_{st.name}_{m}")
                    if len(set(range(min(ms), max(ms) + 1)) - set(ms)):
                        vs.require(_any_eq(table[m], ms))
                for i, a in enumerate(ms):
                    for b in ms[i + 1:]:
                        vs.require(_cmp("ne", table[a], table[b]))
                parts[st.name] = SetPerm(table)
            return Perm(parts, sizes)

        a = sym_perm("a")
        b = sym_perm("b")
        ex = Explorer(vs, timeout_ms=self.timeout_ms, max_paths=self.max_paths,
                      deadline=self.deadline)

        for k, S in enumerate(variants):
            self._action_law(S, a, b, ex, _variant(k, variants))

    def _action_law(self, S: Any, a: Any, b: Any, ex: Explorer, tag: str) -> None:
        def fn() -> Any:
            conds: list[Any] = []
            left = self.decl.permute_state(self.decl.permute_state(S, a), b)
            right = self.decl.permute_state(S, a.then(b))
            if not _equal(left, right, conds):
                conds.append(False)
            ident = self.decl.permute_state(S, self.decl.identity())
            if not _equal(ident, S, conds):
                conds.append(False)

            def ctx(env: dict[str, int]) -> Any:
                ta = {n: [_eval(x, env) for x in p.table] for n, p in a.parts.items()}
                tb = {n: [_eval(x, env) for x in p.table] for n, p in b.parts.items()}
                return (f"a={ta}, b={tb}", _concrete(S, env), None,
                        "permute(permute(s, a), b) != permute(s, b after a), or the identity "
                        "changes s")
            return conds, ctx
        self._prove(f"permute_state is a group action{tag}", fn, ex)

    # 3. signatures are invariant
    def signatures(self) -> None:
        S = self.state
        decl = self.decl
        for gname, g in self.gens:
            def fn(g: Any = g, gname: str = gname) -> Any:
                conds: list[Any] = []
                s1 = decl.signatures(S)
                s2 = decl.signatures(decl.permute_state(S, g))
                for st in decl.active:
                    ms = st.members
                    for i, x in enumerate(ms):
                        j = ms.index(g[st.name](x))
                        if not _equal(s1[st.name][i], s2[st.name][j], conds):
                            conds.append(False)
                return conds, lambda env: (gname, _concrete(S, env), None,
                                           "a member's signature changes when the state is "
                                           "permuted")
            self._prove(f"signatures invariant under {gname}", fn)

    # 3b. complete sets
    def complete_sets(self) -> None:
        from mcheck.symmetry import Perm, SetPerm

        S = self.state
        decl = self.decl
        sizes = {s.name: s.size for s in decl.sets}
        for st in decl.active:
            if not st.complete:
                continue
            idx = {m: i for i, m in enumerate(st.members)}
            for x, y in itertools.combinations(st.members, 2):
                table = list(range(st.size))
                table[x], table[y] = y, x
                p = Perm({st.name: SetPerm(table)}, sizes)
                name = f"{st.name}: equal signatures of {x} and {y} mean swapping changes nothing"

                def fn(p: Any = p, x: int = x, y: int = y, st: Any = st,
                       idx: dict = idx) -> Any:
                    sg = decl.signatures(S)[st.name]
                    same: list[Any] = []
                    if not _equal(sg[idx[x]], sg[idx[y]], same):
                        return [], lambda env: ("", None, None, "")
                    guard = _conj(same)
                    if st.complete is not True:
                        c = _explorer().merge(lambda: _as_bool(st.complete(sg[idx[x]])))
                        guard = _bool2("band", guard, c)
                    eq: list[Any] = []
                    if not _equal(decl.permute_state(S, p), S, eq):
                        eq.append(False)
                    cond = _bool2("bor", _bnot(guard), _conj(eq))
                    return [cond], lambda env: (f"{st.name}: swap {x} {y}", _concrete(S, env),
                                                None, "two interchangeable members differ")
                self._prove(name, fn)

    # 4. invariants
    def invariant_props(self) -> None:
        S = self.state
        decl = self.decl
        for p in self.invariants:
            keys = getattr(p.check, "forall_keys", None)
            atom = getattr(p.check, "forall_atom", None)
            if keys is None:
                for gname, g in self.gens:
                    def fn(p: Any = p, g: Any = g, gname: str = gname) -> Any:
                        v1 = _as_bool(p.check(S))
                        v2 = _as_bool(p.check(decl.permute_state(S, g)))
                        return [_iff(v1, v2)], lambda env: (
                            gname, _concrete(S, env), None,
                            f"invariant {p.name} differs between s and its permutation")
                    self._prove(f"invariant {p.name} under {gname}", fn)
                continue
            for k in keys:
                for gname, g in self.gens:
                    gk = decl.permute_key(k, g)
                    if gk not in keys:
                        raise _Refuted(Witness(f"invariant {p.name}: atom keys closed",
                                               gname, None, k,
                                               f"{gk!r} is not an atom key"))

                    def fn(p: Any = p, k: Any = k, gk: Any = gk, g: Any = g,
                           gname: str = gname, atom: Any = atom) -> Any:
                        v1 = _as_bool(atom(S, k))
                        v2 = _as_bool(atom(decl.permute_state(S, g), gk))
                        return [_iff(v1, v2)], lambda env: (
                            gname, _concrete(S, env), k,
                            f"invariant {p.name}: atom {k!r} differs from atom {gk!r} of the "
                            f"permuted state")
                    self._prove(f"invariant {p.name}[{k!r}] under {gname}", fn)

    # 5. steps
    def steps(self) -> None:
        decl = self.decl
        model = self.model
        comps = self.comps
        if decl.components is not None:
            for c in comps:
                for gname, g in self.gens:
                    if decl.permute_key(c, g) not in comps:
                        raise _Refuted(Witness("component keys closed", gname, None, c,
                                               "its image is not a component"))

        def succ(state: Any, c: Any) -> Any:
            if c is None:
                return model.successors(state)
            return decl.successors_of(state, c)

        plan = _component_plan(decl, comps, self.gens) if decl.components is not None else \
            {c: self.gens for c in comps}
        self.component_plan = plan
        for comp, S in ((c, S) for c in comps if c in plan for S in self.cases[c]):
            perms = plan[comp]
            images = [_branch_free(lambda S=S, g=g: decl.permute_state(S, g))
                      for _n, g in perms]

            def fn(c: Any = comp, S: Any = S, images: list = images, perms: list = perms
                   ) -> Any:
                conds: list[Any] = []
                notes: list[tuple[Any, ...]] = []  # (cond index, perm, text, action)
                st1, out1 = _outcome(lambda: succ(S, c))
                self._p1: dict[int, Any] = {}
                for (gname, g), gS in zip(perms, images, strict=True):
                    if gS is None:
                        gS = decl.permute_state(S, g)
                    gc = decl.permute_key(c, g) if c is not None else None
                    st2, out2 = _outcome(lambda gS=gS, gc=gc: succ(gS, gc))
                    n0 = len(conds)
                    self._compare(S, gS, g, st1, out1, st2, out2, conds, notes, gname)
                    for i in range(n0, len(conds)):
                        if not any(n[0] == i for n in notes):
                            notes.append((i, gname, "a next state differs", None))

                def ctx(env: dict[str, int]) -> Any:
                    memo: dict[int, Any] = {}
                    for i, cond in enumerate(conds):
                        if not _eval(_as_bool(cond), env, memo):
                            for j, gname, text, act in notes:
                                if j == i:
                                    return (gname, _concrete(S, env),
                                            c if act is None else _concrete(act, env),
                                            f"component {c!r}: {text}")
                    return ("?", _concrete(S, env), c, "")
                return conds, ctx
            label = f"component {comp!r}" if comp is not None else "successors"
            self._prove(f"{label} commutes", fn)

    def _compare(self, S: Any, gS: Any, g: Any, st1: str, out1: Any, st2: str, out2: Any,
                 conds: list[Any], notes: list[Any], gname: str) -> None:
        decl = self.decl

        def fail(text: str, action: Any = None) -> None:
            notes.append((len(conds), gname, text, action))
            conds.append(False)

        if st1 != st2 or (st1 == "raise" and out1 != out2):
            fail(f"the step {'raises ' + str(out1) if st1 == 'raise' else 'runs'} in s but "
                 f"{'raises ' + str(out2) if st2 == 'raise' else 'runs'} in the permuted state")
            return
        if st1 == "raise":
            return
        mapped = [(decl.permute_action(a, g), decl.permute_state(t, g), a, t) for a, t in out1]
        if len(mapped) != len(out2):
            fail(f"{len(out1)} outcomes in s but {len(out2)} in the permuted state: "
                 f"{[_shape(a) for a, _ in out1]} vs {[_shape(a) for a, _ in out2]}")
            return
        remaining = list(out2)
        for ga, gt, a, t in mapped:
            shape = _shape(ga)
            cands = [i for i, (a2, _t2) in enumerate(remaining) if _shape(a2) == shape]
            if not cands:
                fail(f"action {a!r} is enabled in s but its image {ga!r} is not enabled in the "
                     f"permuted state (there: {[x for x, _ in out2]!r})", a)
                return
            if len(cands) > 1 and _has_sym(ga):
                # Several actions of this shape: pick by concrete values (forks).
                cands = [i for i in cands if _concrete_eq(ga, remaining[i][0])]
                if not cands:
                    fail(f"no image of action {a!r} in the permuted state", a)
                    return
            i = cands[0]
            a2, t2 = remaining.pop(i)
            n0 = len(conds)
            if not _equal(ga, a2, conds):
                fail("the actions differ", a)
            if not _equal(gt, t2, conds):
                fail("the next states differ in shape", a)
            for k in range(n0, len(conds)):
                notes.append((k, gname, "the image of the next state differs from the next "
                                        "state of the permuted state", a))
            ex = _explorer()
            for pi, p in enumerate(self.tprops):
                k1 = (id(t), pi)
                if k1 not in self._p1:
                    self._p1[k1] = _as_bool(ex.merge(lambda p=p, a=a, t=t: _as_bool(
                        p.check(S, a, t))))
                v1 = self._p1[k1]
                v2 = _as_bool(ex.merge(lambda p=p, a2=a2, t2=t2: _as_bool(p.check(gS, a2, t2))))
                if _is(v1) or _is(v2) or v1 != v2:
                    notes.append((len(conds), gname,
                                  f"{p.kind.value} {p.name} differs on the action and its "
                                  "image", a))
                    conds.append(_iff(v1, v2))


# -- 5b. which permutations each component is checked under ---------------------------------------

#: above this many group elements the plan falls back to every component x every generator
_GROUP_LIMIT = 5000


def _perm_key(p: Any) -> tuple:
    return tuple(sorted((n, tuple(t)) for n, t in p.tables().items()))


def _closure(gens: Sequence[Any], identity: Any, limit: int) -> dict[tuple, Any] | None:
    """The group ``gens`` generate, by key (None past ``limit`` elements)."""
    out = {_perm_key(identity): identity}
    todo = [identity]
    while todo:
        x = todo.pop()
        for g in gens:
            y = x.then(g)
            k = _perm_key(y)
            if k not in out:
                if len(out) >= limit:
                    return None
                out[k] = y
                todo.append(y)
    return out


def _perm_name(p: Any, names: dict[tuple, str]) -> str:
    k = _perm_key(p)
    if k in names:
        return names[k]
    return "; ".join(f"{n}: {list(t)}" for n, t in k) or "identity"


def _component_plan(decl: Any, comps: Sequence[Any], gens: list[tuple[str, Any]]
                    ) -> dict[Any, list[tuple[str, Any]]]:
    """Per orbit of components, its first member and the permutations to check it under.

    Obligation 5 asks ``E(c, g)``: ``succ(g S, g c) == g succ(S, c)`` on the
    domain, for every component ``c`` and generator ``g``.  These facts
    compose (``E(c, g)`` and ``E(g c, h)`` give ``E(c, h g)``) and invert
    (``E(c, g)`` gives ``E(g c, g^-1)``, the domain being closed under the
    group), so it is enough to prove, for one member ``c0`` of each orbit of
    components, ``E(c0, t_c)`` for one element ``t_c`` taking ``c0`` to each
    other member ``c`` (a transversal), and ``E(c0, h)`` for generators ``h``
    of the stabiliser of ``c0``: then for any member ``c = t_c c0`` and any
    ``g``, ``g c = t_d c0`` for a member ``d``, ``t_d^-1 g t_c`` fixes
    ``c0``, and ``E(c, g)`` is the composite of ``E(c0, t_c)^-1``,
    ``E(c0, t_d^-1 g t_c)`` and ``E(c0, t_d)``.  Components of a thread that
    has interchangeable siblings are proven once per orbit (open search with
    two threads per process: half the step obligations); a component fixed by
    the whole group keeps exactly the declared generators.  The group is
    enumerated (it is small: a product of symmetric groups of a few members);
    past ``_GROUP_LIMIT`` elements every component is checked under every
    generator, as before.
    """
    from mcheck.symmetry import Perm

    identity = Perm.identity_of(decl.sets)
    group = _closure([g for _n, g in gens], identity, _GROUP_LIMIT)
    if group is None:
        return {c: gens for c in comps}
    names = {_perm_key(g): n for n, g in gens}
    # simplest first: fewest sets moved, then by tables (so transversal elements are
    # generators wherever one will do)
    elements = [group[k] for k in sorted(group, key=lambda k: (len(k), k))]
    plan: dict[Any, list[tuple[str, Any]]] = {}
    placed: set[Any] = set()
    for c0 in comps:
        if c0 in placed:
            continue
        # the orbit, with a transversal element per member (the least by key that reaches it)
        trans: dict[Any, Any] = {}
        stab: list[Any] = []
        for h in elements:
            hc = decl.permute_key(c0, h)
            if hc == c0:
                stab.append(h)
            elif hc not in trans:
                trans[hc] = h
        placed.add(c0)
        placed.update(trans)
        # generators of the stabiliser: the declared generators that fix c0 first, then any
        # element the ones so far do not generate
        chosen: list[Any] = []
        stab_keys = {_perm_key(h) for h in stab}
        fixed = [g for _n, g in gens if _perm_key(g) in stab_keys]
        span = _closure(chosen, identity, _GROUP_LIMIT) or {}
        for h in fixed + stab:
            if _perm_key(h) not in span:
                chosen.append(h)
                span = _closure(chosen, identity, _GROUP_LIMIT) or {}
        plan[c0] = [(_perm_name(h, names), h) for h in chosen] + \
            [(_perm_name(t, names), t) for t in trans.values()]
    return plan


# -- 6. the canonicaliser -------------------------------------------------------------------------

#: how a set's ``complete`` enters the canonicaliser, for obligation names
_KINDS = {"none": "complete for no signature", "all": "complete",
          "some": "complete for some signatures"}


def _complete_kind(complete: Any) -> str:
    """``complete`` as the canonicaliser uses it: never, always, or a predicate of a signature."""
    if complete is True:
        return "all"
    if callable(complete):
        return "some"
    if not complete:
        return "none"
    raise ProofUnknown(f"complete must be a bool or a predicate, not {complete!r}")


def _canon_tasks(sets: Sequence[Any], *, timeout_ms: int, max_paths: int,
                 deadline: float | None) -> list[tuple[str, Callable[[], Any], Explorer]]:
    """Obligation 6 once per distinct (members, size, completeness kind) among ``sets``."""
    out = []
    seen: set[tuple] = set()
    for st in sets:
        kind = _complete_kind(st.complete)
        key = (tuple(st.members), st.size, kind)
        if st.members and key not in seen:
            seen.add(key)
            out.append(_canon_task(st, kind, timeout_ms=timeout_ms, max_paths=max_paths,
                                   deadline=deadline))
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
                deadline: float | None) -> tuple[str, Callable[[], Any], Explorer]:
    """Obligation 6 for one index set: see the module docstring.

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
    vs = Vars("c")
    sig = [vs.int(0, n - 1, f"sig{i}") for i in range(n)]
    flags = [vs.bool(f"complete_at_{v}") for v in range(n)] if kind == "some" else []
    uf: dict[Any, str] = {}
    made: dict[Any, Any] = {}

    def complete_at(x: Any) -> Any:
        """``complete(x)``: the flag of the value ``x`` (one term per variable)."""
        k = x.args[0] if _is(x) and x.op == "var" else None
        c = made.get(k) if k is not None else None
        if c is None:
            c = _cmp("eq", sy.pick(flags, x), 1)
            if k is not None and _is(c):
                made[k] = c
                uf[_key(c)] = k
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
        model = _explorer().M  # the path's model: its signature values for a witness
        vals = tuple(_concrete(sig, model))
        on = [v for v in range(n) if flags and _eval(flags[v], model)]
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
            if _is(c):  # many candidates repeat the same comparison: ask it once
                k = _key(c)
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
                need(_cmp("le", a, b), f"(i) candidate {t} gives {members[k]} a greater "
                                       f"signature than {members[k + 1]}")
                if kind != "none" and inv[k] > inv[k + 1]:
                    same = _cmp("eq", a, b)
                    if kind == "some":
                        same = _bool2("band", same, complete_at(a))
                    need(_bnot(same), f"(i) candidate {t} reorders members "
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
                        need(_cmp("eq", sig2[inv1[k]], sig2[inv2[k]]),
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
                if not _eval(_as_bool(c), env, memo):
                    gname, text = note
                    break
            extra = ""
            if flags:
                on = [v for v in range(n) if _eval(flags[v], env)]
                extra = f" (complete for the signature values {on})"
            vals = tuple(_concrete(sig, env))
            return gname, vals, None, f"signatures {list(vals)}{extra}: {text}"
        return conds, ctx

    fn.finish = finish  # type: ignore[attr-defined]
    fn.found = found  # type: ignore[attr-defined]
    ex = _OrderExplorer(vs, [x.args[0] for x in sig if _is(x)], uf,
                        [f.args[0] for f in flags], timeout_ms=timeout_ms,
                        max_paths=max_paths, deadline=deadline)
    return name, fn, ex


class _OrderExplorer(Explorer):
    """The explorer of obligation 6: it knows that comparisons between the signature variables
    are an order.

    The code under proof sorts the same signatures several times (and in a permuted order),
    so most comparisons it makes are implied by the path's earlier ones through
    transitivity, and an uninterpreted ``complete`` asked about two signatures the path
    proves equal has one answer.  The base explorer would fork on each such question and
    let z3 refute the impossible branch; this one answers it from the path's comparisons
    (the order's reflexive-transitive closure, kept per path), which is exactly what the
    refuted branch's z3 query would establish.  It also builds a model of a new branch
    from its comparisons (the classes of equal variables, ranked along the order) and
    checks it by evaluation before asking z3 for one.  Everything else, and the validity
    of every obligation condition, is the base explorer's (z3).
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
        return self._interned.setdefault(_key(x), x)

    def _check(self, literals: Sequence[Any]) -> dict[str, int] | None:
        """As the base, but the solver keeps the path condition asserted between queries, one
        scope per literal: the next query (the next path, or a branch of this one; the
        search is depth first) pops only what it does not share and adds the rest."""
        import z3

        self.queries += 1
        self._ensure()
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
            s.add(_to_z3(x))
        s.push()
        try:
            for f in extra:
                s.add(f)
            r = self._solve(s)
            if r == z3.unsat:
                return None
            return _LazyModel(s.model(), self.ctx, self.bits)
        finally:
            s.pop()

    def _negation(self, r: Any) -> Any:
        hit = self._negs.get(id(r))
        if hit is None or hit[0] is not r:
            hit = self._negs[id(r)] = (r, super()._negation(r))  # r kept: its id stays its own
        return hit[1]

    def refute(self, info: PathInfo, conds: Sequence[Any]) -> dict[str, int] | None:
        info.pc = [self._intern(x) for x in info.pc]
        return super().refute(info, [self._intern(_as_bool(c)) for c in conds])

    def _apply(self, alt: _Alt) -> None:
        super()._apply(alt)
        if _is(alt.literal):
            self._learn(alt.literal, self.le, self.lt, self.ne, self.ufv)

    def _pair(self, r: Any) -> tuple[str, int, int] | None:
        if r.op in _CMP:
            a, b = r.args
            if _is(a) and _is(b) and a.op == "var" and b.op == "var":
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
            x = self.uf.get(_key(lit))
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
            x = self.uf.get(_key(r))
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
        c = _as_bool(cond)
        if not _is(c):
            return bool(c)
        if self._pair(c) is None and _key(c) not in self.uf:
            raise ProofUnknown(f"the canonicaliser did more with signatures than compare two "
                               f"or ask complete about one: {_show(c)[:160]}")
        v = self._implied(c)
        if v is not None:
            return v
        return super().decide(c)

    def concretize(self, x: Any) -> int:
        raise ProofUnknown(f"the canonicaliser asked for the value of a signature: "
                           f"{_show(x)[:160]}")

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
            if _is(lit):
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
            if _is(lit) and not _eval(lit, model, memo):
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


def certify_canonicaliser(sets: Sequence[Any], *, timeout_ms: int = 20000,
                          max_paths: int = 200_000, budget: float | None = 300.0,
                          progress: Callable[[str], None] | None = None) -> Certificate:
    """Obligation 6 alone, for index sets of any size (not cached; :func:`certify` proves it
    for a declaration's active sets as part of the whole proof)."""
    t0 = time.monotonic()
    runner = _Runner(timeout_ms=timeout_ms, max_paths=max_paths,
                     deadline=None if budget is None else t0 + budget, progress=progress)
    try:
        with _signals_at_safe_points():
            runner.tasks = list(_canon_tasks(sets, timeout_ms=timeout_ms, max_paths=max_paths,
                                             deadline=runner.deadline))
            runner._run_tasks(1)
        cert = Certificate("proved")
    except _Refuted as r:
        cert = Certificate("refuted", r.witness.obligation, r.witness)
    except ProofUnknown as u:
        cert = Certificate("unknown", str(u))
    cert.elapsed = time.monotonic() - t0
    cert.obligations = runner.obligations
    cert.paths = runner.paths
    cert.queries = runner.queries
    cert.per_obligation = runner.timings
    cert.per_counts = runner.counts
    return cert


def _branch_free(fn: Callable[[], Any]) -> Any:
    """``fn()`` when it needs no branch (computed once, outside any path), else None."""
    try:
        return fn()
    except RuntimeError:  # a symbolic value was used outside an exploration: it branches
        return None


def _variant(k: int, variants: Sequence[Any]) -> str:
    return f" (variant {k + 1} of {len(variants)})" if len(variants) > 1 else ""


def _concrete_eq(a: Any, b: Any) -> bool:
    out: list[Any] = []
    if not _equal(a, b, out):
        return False
    return all(bool(c) for c in out)


def _iff(a: Any, b: Any) -> Any:
    a, b = _as_bool(a), _as_bool(b)
    if not _is(a) and not _is(b):
        return a == b
    if _is(a) and _is(b) and _key(a) == _key(b):
        return True
    return _bool2("bor", _bool2("band", a, b), _bool2("band", _bnot(a), _bnot(b)))


def _conj(conds: Sequence[Any]) -> Any:
    out: Any = True
    for c in conds:
        out = _bool2("band", out, c)
    return out


def _any_eq(x: Any, values: Sequence[int]) -> Any:
    out: Any = False
    for v in values:
        out = _bool2("bor", out, _cmp("eq", x, v))
    return out


def _in_domain(S: Any, gS: Any, ranges: dict[str, tuple[int, int]], conds: list[Any]) -> bool:
    """Conditions that every leaf of ``gS`` lies in the range declared at its position in ``S``."""
    if isinstance(S, (tuple, list)):
        if not isinstance(gS, (tuple, list)) or len(S) != len(gS):
            return False
        return all(_in_domain(x, y, ranges, conds) for x, y in zip(S, gS, strict=True))
    if _is(S) and S.op == "var":
        if S.args[0].endswith("_unspecified"):
            return True
        lo, hi = ranges[S.args[0]]
        conds.append(_bool2("band", _cmp("le", lo, gS), _cmp("le", gS, hi)))
        return True
    if _is(S):
        return True  # a derived leaf: constrained through its variables
    if _is(gS):
        conds.append(_cmp("eq", gS, S))
        return True
    return S == gS


def _relabel(r: Any, S: Any, gS: Any) -> Any:
    """Constraint ``r`` (over the variables of ``S``) restated over the leaves of ``gS``."""
    env: dict[str, Any] = {}

    def walk(a: Any, b: Any) -> None:
        if isinstance(a, (tuple, list)):
            for x, y in zip(a, b, strict=True):
                walk(x, y)
        elif _is(a) and a.op == "var":
            env[a.args[0]] = b

    walk(S, gS)
    return _subst(r, env, {})


def _subst(x: Any, env: dict[str, Any], memo: dict[int, Any]) -> Any:
    if not _is(x):
        return x
    i = id(x)
    if i in memo:
        return memo[i]
    if x.op == "var":
        r = env.get(x.args[0], x)
    elif x.op == "ite":
        r = _ite(_subst(x.args[0], env, memo), _subst(x.args[1], env, memo),
                 _subst(x.args[2], env, memo))
    elif x.op == "bnot":
        r = _bnot(_subst(x.args[0], env, memo))
    elif x.op in _CMP:
        r = _cmp(x.op, _subst(x.args[0], env, memo), _subst(x.args[1], env, memo))
    elif x.op in ("band", "bor"):
        r = _bool2(x.op, _subst(x.args[0], env, memo), _subst(x.args[1], env, memo))
    else:
        r = _arith(x.op, _subst(x.args[0], env, memo), _subst(x.args[1], env, memo))
    memo[i] = r
    return r
