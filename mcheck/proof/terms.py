"""Symbolic terms, and their translation to z3 (the only module that imports z3).

A :class:`Sym` is a term over 32-bit bitvector variables; operators build terms and
fold constants, and a term Python needs concretely asks its proof's explorer to
fork (docs/proof.md, "How the model's code is read").  z3 is imported only inside
the functions that query it, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from mcheck.proof.context import ProofContext, ProofUnknown

__all__ = [
    "BITS",
    "CMP",
    "LazyModel",
    "PY2",
    "Sym",
    "Z3Terms",
    "any_eq",
    "arith",
    "as_bool",
    "as_int",
    "bnot",
    "bool2",
    "cmp",
    "concrete",
    "concrete_eq",
    "conj",
    "equal",
    "evaluate",
    "has_sym",
    "iff",
    "is_sym",
    "ite",
    "logic",
    "new_epoch",
    "peval",
    "satisfiable",
    "shape_of",
    "show",
    "subst",
    "term_key",
    "value_bounds",
    "var",
    "vars_of",
]

BITS = 32


PY2 = MappingProxyType({
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
    "shl": lambda a, b: a << b, "shr": lambda a, b: a >> b,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "band": lambda a, b: bool(a) and bool(b), "bor": lambda a, b: bool(a) or bool(b),
})
CMP = ("eq", "ne", "lt", "le")


class Sym:
    """A symbolic int or bool: a term over the proof's variables.

    Operators build terms; ``bool()``, ``int()``, indexing, hashing and
    formatting ask the current :class:`Explorer` to fork.  ``repr`` shows the
    term without forking.
    """

    __slots__ = ("op", "args", "isbool", "proof", "_vars", "_key", "_pe", "_pe_ep")
    _symbolic = True

    def __init__(self, op: str, args: tuple, isbool: bool = False,
                 proof: ProofContext | None = None) -> None:
        self.op = op
        self.args = args
        self.isbool = isbool
        self.proof = proof  # a variable's; a compound term's is found when first asked (owner)
        self._vars: frozenset | None = None
        self._key: Any = None
        self._pe: Any = None
        self._pe_ep: Any = None

    # arithmetic
    def __add__(self, o: Any) -> Any: return arith("add", self, o)
    def __radd__(self, o: Any) -> Any: return arith("add", o, self)
    def __sub__(self, o: Any) -> Any: return arith("sub", self, o)
    def __rsub__(self, o: Any) -> Any: return arith("sub", o, self)
    def __mul__(self, o: Any) -> Any: return arith("mul", self, o)
    def __rmul__(self, o: Any) -> Any: return arith("mul", o, self)
    def __floordiv__(self, o: Any) -> Any: return arith("floordiv", self, o)
    def __rfloordiv__(self, o: Any) -> Any: return arith("floordiv", o, self)
    def __mod__(self, o: Any) -> Any: return arith("mod", self, o)
    def __rmod__(self, o: Any) -> Any: return arith("mod", o, self)
    def __lshift__(self, o: Any) -> Any: return arith("shl", self, o)
    def __rlshift__(self, o: Any) -> Any: return arith("shl", o, self)
    def __rshift__(self, o: Any) -> Any: return arith("shr", self, o)
    def __rrshift__(self, o: Any) -> Any: return arith("shr", o, self)
    def __and__(self, o: Any) -> Any: return logic("and", self, o)
    def __rand__(self, o: Any) -> Any: return logic("and", o, self)
    def __or__(self, o: Any) -> Any: return logic("or", self, o)
    def __ror__(self, o: Any) -> Any: return logic("or", o, self)
    def __xor__(self, o: Any) -> Any: return logic("xor", self, o)
    def __rxor__(self, o: Any) -> Any: return logic("xor", o, self)
    def __neg__(self) -> Any: return arith("sub", 0, self)
    def __pos__(self) -> Any: return self
    def __invert__(self) -> Any: return arith("sub", -1, self)
    def __abs__(self) -> Any: return ite(cmp("lt", self, 0), arith("sub", 0, self), self)

    # comparisons
    def __eq__(self, o: Any) -> Any: return cmp("eq", self, o)  # type: ignore[override]
    def __ne__(self, o: Any) -> Any: return cmp("ne", self, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Any: return cmp("lt", self, o)
    def __le__(self, o: Any) -> Any: return cmp("le", self, o)
    def __gt__(self, o: Any) -> Any: return cmp("lt", o, self)
    def __ge__(self, o: Any) -> Any: return cmp("le", o, self)

    # forks
    def __bool__(self) -> bool:
        return self._explorer().decide(self)

    def __index__(self) -> int:
        return self._explorer().concretize(self)

    def owner(self) -> ProofContext | None:
        """The proof this term belongs to: that of its variables (None for a term made
        outside any proof)."""
        proof = self.proof
        x = self
        while proof is None:
            x = next((a for a in x.args if type(a) is Sym), None)
            if x is None:
                return None
            proof = x.proof
        self.proof = proof
        return proof

    def _explorer(self) -> Any:
        proof = self.owner()
        if proof is None:
            raise RuntimeError("a symbolic value was used outside a symbolic exploration")
        return proof.explorer()

    __int__ = __index__

    def __hash__(self) -> int:
        return int(self)  # an int hashes to itself: forks like int() (the value is concrete)

    def __format__(self, spec: str) -> str:
        v: Any = bool(self) if self.isbool else int(self)
        return format(v, spec)

    def __str__(self) -> str:
        return format(self, "")

    def __repr__(self) -> str:
        return show(self)

    # branch-free helpers used by mcheck.symmetry
    def _ite(self, a: Any, b: Any) -> Any:
        return ite(self if self.isbool else cmp("ne", self, 0), a, b)

    def _truth(self) -> Any:
        return self if self.isbool else cmp("ne", self, 0)

    def _not(self) -> Any:
        return bnot(self._truth())

    def _and(self, o: Any) -> Any:
        return bool2("band", self._truth(), o)

    def _or(self, o: Any) -> Any:
        return bool2("bor", self._truth(), o)


def is_sym(x: Any) -> bool:
    return type(x) is Sym


def var(name: str, proof: ProofContext | None = None) -> Sym:
    """The variable ``name`` of the proof ``proof``."""
    return Sym("var", (name,), False, proof)


def as_int(x: Any) -> Any:
    if type(x) is Sym:
        return ite(x, 1, 0) if x.isbool else x
    return int(x)


def as_bool(x: Any) -> Any:
    if type(x) is Sym:
        return x if x.isbool else cmp("ne", x, 0)
    return bool(x)


def arith(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return PY2[op](a, b)
    a, b = as_int(a), as_int(b)
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


def logic(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return PY2[op](a, b)
    abool = ((type(a) is Sym) and a.isbool) or isinstance(a, bool)
    bbool = ((type(b) is Sym) and b.isbool) or isinstance(b, bool)
    if abool and bbool:
        if op == "and":
            return bool2("band", a, b)
        if op == "or":
            return bool2("bor", a, b)
        return cmp("ne", as_int(a), as_int(b))
    return arith(op, a, b)


def cmp(op: str, a: Any, b: Any) -> Any:
    if type(a) is not Sym and type(b) is not Sym:
        return PY2[op](a, b)
    if a is b:
        return op in ("eq", "le")
    if ((type(a) is Sym) and a.isbool) or ((type(b) is Sym) and b.isbool):
        if op in ("eq", "ne") and isinstance(a, bool | Sym) and isinstance(b, bool | Sym) and \
                (type(a) is not Sym or a.isbool) and (type(b) is not Sym or b.isbool):
            a, b = as_int(a), as_int(b)
        else:
            a, b = as_int(a), as_int(b)
    return Sym(op, (a, b), True)


def bool2(op: str, a: Any, b: Any) -> Any:
    a, b = as_bool(a), as_bool(b)
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


def bnot(a: Any) -> Any:
    a = as_bool(a)
    if type(a) is not Sym:
        return not a
    if a.op == "bnot":
        return a.args[0]
    return Sym("bnot", (a,), True)


def ite(c: Any, a: Any, b: Any) -> Any:
    c = as_bool(c)
    if type(c) is not Sym:
        return a if c else b
    if a is b or (type(a) is not Sym and type(b) is not Sym and a == b and type(a) is type(b)):
        return a
    isbool = all(((type(x) is Sym) and x.isbool) or isinstance(x, bool) for x in (a, b))
    if not isbool:
        a, b = as_int(a), as_int(b)
    return Sym("ite", (c, a, b), isbool)


def show(x: Any) -> str:
    if not is_sym(x):
        return repr(x)
    if x.op == "var":
        return x.args[0]
    if x.op == "ite":
        return f"ite({show(x.args[0])}, {show(x.args[1])}, {show(x.args[2])})"
    if x.op == "bnot":
        return f"not({show(x.args[0])})"
    return f"({show(x.args[0])} {x.op} {show(x.args[1])})"


def vars_of(x: Any) -> frozenset:
    if not is_sym(x):
        return frozenset()
    if x._vars is None:
        if x.op == "var":
            x._vars = frozenset(x.args)
        else:
            out: frozenset = frozenset()
            for a in x.args:
                if is_sym(a):
                    out = out | vars_of(a)
            x._vars = out
    return x._vars


def term_key(x: Any) -> Any:
    if not is_sym(x):
        return ("c", int(x))
    if x._key is None:
        x._key = (x.op,) + tuple(term_key(a) for a in x.args) if x.op != "var" else ("v", x.args[0])
    return x._key


def evaluate(x: Any, env: dict[str, int], memo: dict[int, Any] | None = None) -> Any:
    """The value of ``x`` under a full assignment ``env``."""
    if not is_sym(x):
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
        v = evaluate(x.args[1], env, memo) if evaluate(x.args[0], env, memo) else \
            evaluate(x.args[2], env, memo)
    elif op == "bnot":
        v = not evaluate(x.args[0], env, memo)
    else:
        v = PY2[op](evaluate(x.args[0], env, memo), evaluate(x.args[1], env, memo))
    memo[i] = v
    return v


def new_epoch() -> object:
    """A fresh epoch for :func:`peval`'s cache on the nodes: unique for as long as a node
    holds it (compared by identity), so no two explorers or proofs can share one."""
    return object()


def peval(x: Any, sets: dict[str, tuple], epoch: object) -> Any:
    """``x`` with every variable whose value set is a singleton replaced, folded.

    Results are cached on the node for ``epoch`` (a new epoch whenever the
    value sets change).
    """
    if type(x) is not Sym:
        return x
    if x._pe_ep is epoch:
        return x._pe
    op = x.op
    args = x.args
    if op == "var":
        s = sets.get(args[0])
        r: Any = s[0] if s is not None and len(s) == 1 else x
    elif op == "ite":
        c = peval(args[0], sets, epoch)
        if type(c) is not Sym:
            r = peval(args[1] if c else args[2], sets, epoch)
        else:
            a = peval(args[1], sets, epoch)
            b = peval(args[2], sets, epoch)
            r = x if (c is args[0] and a is args[1] and b is args[2]) else ite(c, a, b)
    elif op == "bnot":
        a = peval(args[0], sets, epoch)
        r = x if a is args[0] else bnot(a)
    else:
        a = peval(args[0], sets, epoch)
        b = peval(args[1], sets, epoch)
        if a is args[0] and b is args[1]:
            r = x
        elif op in CMP:
            r = cmp(op, a, b)
        elif op in ("band", "bor"):
            r = bool2(op, a, b)
        else:
            r = arith(op, a, b)
    x._pe_ep = epoch
    x._pe = r
    return r


def value_bounds(x: Any, sets: dict[str, tuple]) -> tuple[int, int] | None:
    """An interval containing every value of int term ``x`` (None when unknown)."""
    if not is_sym(x):
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
        a, b = value_bounds(x.args[1], sets), value_bounds(x.args[2], sets)
        if a is None or b is None:
            return None
        return min(a[0], b[0]), max(a[1], b[1])
    a, b = value_bounds(x.args[0], sets), value_bounds(x.args[1], sets)
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


#: the operations a term may use in a context narrower than ``BITS`` (no arithmetic: nothing
#: can leave the range its variables are declared in)
_NARROW_OPS = frozenset(("var", "ite", "bnot", "band", "bor") + CMP)


class Z3Terms:
    """One obligation's z3 context, its variables and its terms by node, at one width.

    Each obligation has its own, so what z3 answers depends on that obligation alone,
    and dropping it frees its terms.  The only place z3 is used (docs/proof.md).
    """

    def __init__(self, bits: int = BITS) -> None:
        import z3

        self.ctx: Any = z3.Context()
        self.bits = bits
        self.vars: dict[str, Any] = {}
        self.terms: dict[int, Any] = {}

    def solver(self, timeout_ms: int) -> Any:
        """A new solver in this context."""
        import z3

        s = z3.Solver(ctx=self.ctx)
        s.set("timeout", int(timeout_ms))
        return s

    def in_values(self, name: str, lo: int, hi: int, vals: Sequence[int]) -> list[Any]:
        """Formulas saying variable ``name`` takes one of ``vals`` (all of ``lo..hi``, or not)."""
        import z3

        v = self.term(var(name))
        if len(vals) == hi - lo + 1:
            return [v >= lo, v <= hi]
        return [z3.Or([v == x for x in vals])]

    def negation(self, r: Any) -> Any:
        import z3

        return z3.Not(self.term(r))

    def any_of(self, formulas: Sequence[Any]) -> Any:
        import z3

        return z3.Or(list(formulas))

    def model(self, solver: Any) -> LazyModel:
        """The solver's model as a dict name -> int."""
        return LazyModel(solver.model(), self.ctx, self.bits)

    def term(self, x: Any) -> Any:
        """``x`` as a z3 expression (translated once per node)."""
        import z3

        ctx = self.ctx
        if not is_sym(x):
            if isinstance(x, bool):
                return z3.BoolVal(x, ctx)
            return z3.BitVecVal(int(x), self.bits, ctx)
        terms = self.terms
        hit = terms.get(id(x))
        if hit is not None:
            return hit[1]
        op = x.op
        if self.bits != BITS and op not in _NARROW_OPS:
            raise ProofUnknown(f"a {op} term in a proof over {self.bits}-bit values")
        if op == "var":
            name = x.args[0]
            zv = self.vars
            r = zv.get(name)
            if r is None:
                r = zv[name] = z3.BitVec(name, self.bits, ctx)
        elif op == "ite":
            r = z3.If(self.term(x.args[0]), self.term(x.args[1]), self.term(x.args[2]))
        elif op == "bnot":
            r = z3.Not(self.term(x.args[0]))
        else:
            a, b = self.term(x.args[0]), self.term(x.args[1])
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


def satisfiable(answer: Any) -> bool | None:
    """A solver's answer: True (sat), False (unsat) or None (unknown)."""
    import z3

    if answer == z3.sat:
        return True
    if answer == z3.unsat:
        return False
    return None


class LazyModel(dict):
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


# -- structures of terms -------------------------------------------------------------------------


def concrete(x: Any, env: dict[str, int]) -> Any:
    """A symbolic structure with every term evaluated under ``env``."""
    if isinstance(x, tuple):
        return tuple(concrete(y, env) for y in x)
    if isinstance(x, list):
        return [concrete(y, env) for y in x]
    if is_sym(x):
        v = evaluate(x, env)
        return bool(v) if x.isbool else int(v)
    return x


def has_sym(x: Any) -> bool:
    if isinstance(x, (tuple, list)):
        return any(has_sym(y) for y in x)
    return is_sym(x)


def shape_of(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return tuple(shape_of(y) for y in x)
    if is_sym(x):
        return ("<sym>",)
    return x


def equal(a: Any, b: Any, out: list[Any]) -> bool:
    """Append the conditions for ``a == b`` to ``out``; False when the shapes differ."""
    if a is b:
        return True
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        if not (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list))) or \
                len(a) != len(b):
            return False
        return all(equal(x, y, out) for x, y in zip(a, b, strict=True))
    if type(a) is not Sym and type(b) is not Sym:
        if isinstance(a, str) or isinstance(b, str):
            return a == b
        if a != b:
            out.append(False)
        return True
    if a is b or term_key(a) == term_key(b):
        return True
    out.append(cmp("eq", as_int(a), as_int(b)))
    return True



def concrete_eq(a: Any, b: Any) -> bool:
    out: list[Any] = []
    if not equal(a, b, out):
        return False
    return all(bool(c) for c in out)


def iff(a: Any, b: Any) -> Any:
    a, b = as_bool(a), as_bool(b)
    if not is_sym(a) and not is_sym(b):
        return a == b
    if is_sym(a) and is_sym(b) and term_key(a) == term_key(b):
        return True
    return bool2("bor", bool2("band", a, b), bool2("band", bnot(a), bnot(b)))


def conj(conds: Sequence[Any]) -> Any:
    out: Any = True
    for c in conds:
        out = bool2("band", out, c)
    return out


def any_eq(x: Any, values: Sequence[int]) -> Any:
    out: Any = False
    for v in values:
        out = bool2("bor", out, cmp("eq", x, v))
    return out



def subst(x: Any, env: dict[str, Any], memo: dict[int, Any]) -> Any:
    if not is_sym(x):
        return x
    i = id(x)
    if i in memo:
        return memo[i]
    if x.op == "var":
        r = env.get(x.args[0], x)
    elif x.op == "ite":
        r = ite(subst(x.args[0], env, memo), subst(x.args[1], env, memo),
                 subst(x.args[2], env, memo))
    elif x.op == "bnot":
        r = bnot(subst(x.args[0], env, memo))
    elif x.op in CMP:
        r = cmp(x.op, subst(x.args[0], env, memo), subst(x.args[1], env, memo))
    elif x.op in ("band", "bor"):
        r = bool2(x.op, subst(x.args[0], env, memo), subst(x.args[1], env, memo))
    else:
        r = arith(x.op, subst(x.args[0], env, memo), subst(x.args[1], env, memo))
    memo[i] = r
    return r
