"""The obligations a declared symmetry must meet, and the runner that proves them.

Each obligation is a function run on symbolic states by an explorer; every
condition it returns must hold on every path (docs/proof.md lists obligations
1-6 and 4b and why they make a reduced search sound).  The runner proves them
serially or in forked workers, with the verdict and witness of a serial run.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any

from mcheck.proof.canon import canon_tasks
from mcheck.proof.certificates import Refuted, Witness
from mcheck.proof.context import ProofContext, ProofUnknown
from mcheck.proof.domain import Vars
from mcheck.proof.explorer import Explorer
from mcheck.proof.interrupts import signals_now, worker_signals
from mcheck.proof.plan import component_plan
from mcheck.proof.terms import (
    any_eq,
    as_bool,
    bnot,
    bool2,
    cmp,
    concrete,
    concrete_eq,
    conj,
    equal,
    evaluate,
    has_sym,
    iff,
    is_sym,
    shape_of,
    subst,
)

__all__ = ["Prover", "Runner", "branch_free", "in_domain", "outcome", "relabel", "variant_tag"]


class Runner:
    """Proves queued obligations (``tasks``), serially or in forked workers, and keeps the
    figures."""

    def __init__(self, *, timeout_ms: int, max_paths: int, deadline: float | None,
                 progress: Callable[[str], None] | None,
                 proof: ProofContext | None = None) -> None:
        #: the context every variable, term and explorer of these obligations shares
        self.proof = proof if proof is not None else ProofContext()
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
                raise Refuted(Witness(name, perm, state, action, detail))
        finish = getattr(fn, "finish", None)  # a condition across paths (obligation 6)
        if finish is not None:
            failed = finish()
            if failed is not None:
                raise Refuted(Witness(name, *failed))
        self.paths += ex.paths - p0
        self.queries += ex.queries - q0
        self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - t0
        self.counts[name] = (ex.paths - p0, ex.queries - q0)

    def run_tasks(self, workers: int) -> None:
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

        fork = mp.get_context("fork")
        n = len(self.tasks)
        nxt = fork.Value("i", 0)  # the next obligation a worker takes
        reader, writer = fork.Pipe(duplex=False)
        lock = fork.Lock()
        # forked, each worker has this runner (its tasks, their closures and explorers)
        procs = [fork.Process(target=self._work, args=(nxt, writer, lock), daemon=True)
                 for _ in range(min(workers, n))]
        done: dict[int, tuple] = {}
        try:
            for p in procs:
                p.start()
            writer.close()
            with signals_now():
                for i in range(n):
                    while i not in done:
                        try:
                            if reader.poll(0.5):
                                j, result = reader.recv()
                                done[j] = result
                                continue
                        except EOFError:  # every worker has ended (or is ending)
                            for p in procs:
                                p.join(0.5)
                        if not any(p.is_alive() for p in procs):
                            raise ProofUnknown("a proof worker ended without an answer")
                    status, payload, name, (paths, queries, seconds) = done.pop(i)
                    self.obligations += 1
                    self.paths += paths
                    self.queries += queries
                    self.timings[name] = seconds
                    self.counts[name] = (paths, queries)
                    if status == "refuted":
                        raise Refuted(Witness.from_dict(payload))
                    if status == "unknown":
                        raise ProofUnknown(payload)
                    if status == "interrupted":
                        raise KeyboardInterrupt
                    if status == "error":
                        raise payload
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join()
            reader.close()

    def _work(self, nxt: Any, writer: Any, lock: Any) -> None:
        """A forked worker: prove the next obligation not taken, until none is left."""
        worker_signals()
        while True:
            with nxt.get_lock():
                i = nxt.value
                nxt.value = i + 1
            if i >= len(self.tasks):
                return
            result = self._task(i)
            with lock:
                writer.send((i, result))

    def _task(self, i: int) -> tuple[str, Any, str, tuple[int, int, float]]:
        """Prove obligation ``i`` (in a forked worker): its status and figures."""
        name, fn, ex = self.tasks[i]
        self.tasks[i] = None  # its terms (and their z3 context) can go when it is done
        p0, q0, t0 = ex.paths, ex.queries, time.monotonic()
        status: str = "ok"
        payload: Any = None
        try:
            self._execute(name, fn, ex)
        except Refuted as r:
            status, payload = "refuted", r.witness.to_dict()
        except ProofUnknown as u:
            status, payload = "unknown", str(u)
        except KeyboardInterrupt:  # Ctrl-C reaches every worker: the parent stops them
            status, payload = "interrupted", ""
        except Exception as e:  # the model's code raised outside a path: the parent raises it
            status, payload = "error", _picklable(e)
        return status, payload, name, (ex.paths - p0, ex.queries - q0, time.monotonic() - t0)


class Prover(Runner):
    """The obligations of one declaration of one model (docs/proof.md, obligations 1-6)."""

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
        vs = Vars("s", self.proof)
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
        self.run_tasks(workers)

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
                v1 = as_bool(model.is_final(S))
                v2 = as_bool(model.is_final(decl.permute_state(S, g)))
                return [iff(v1, v2)], lambda env: (
                    gname, concrete(S, env), None,
                    "is_final differs between s and its permutation")
            self._prove(f"is_final under {gname}", fn)

    # 6. the canonicaliser
    def canonicaliser(self) -> None:
        self.tasks.extend(canon_tasks(self.decl.active, timeout_ms=self.timeout_ms,
                                       max_paths=self.max_paths, deadline=self.deadline,
                                       proof=self.proof))

    # 1. the domain is closed under each generator
    def closure(self) -> None:
        ranges = self.vars.ranges
        for k, S in enumerate(self.variants):
            for gname, g in self.gens:
                self._closure(S, g, gname, ranges, variant_tag(k, self.variants))

    def _closure(self, S: Any, g: Any, gname: str, ranges: dict, tag: str) -> None:
        if True:
            def fn(g: Any = g, gname: str = gname) -> Any:
                conds: list[Any] = []
                gs = self.decl.permute_state(S, g)
                ok = in_domain(S, gs, ranges, conds)
                if not ok:
                    conds.append(False)
                for r in self.vars.requires:
                    conds.append(relabel(r, S, gs))
                return conds, lambda env: (gname, concrete(S, env), None,
                                           "the permuted state leaves the domain")
            self._prove(f"domain closed under {gname}{tag}", fn)

    # 2. permute_state is a group action (symbolic permutations)
    def action_laws(self) -> None:
        from mcheck.symmetry import Perm, SetPerm

        vs = Vars("s", self.proof)
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
                        vs.require(any_eq(table[m], ms))
                for i, a in enumerate(ms):
                    for b in ms[i + 1:]:
                        vs.require(cmp("ne", table[a], table[b]))
                parts[st.name] = SetPerm(table)
            return Perm(parts, sizes)

        a = sym_perm("a")
        b = sym_perm("b")
        ex = Explorer(vs, timeout_ms=self.timeout_ms, max_paths=self.max_paths,
                      deadline=self.deadline)

        for k, S in enumerate(variants):
            self._action_law(S, a, b, ex, variant_tag(k, variants))

    def _action_law(self, S: Any, a: Any, b: Any, ex: Explorer, tag: str) -> None:
        def fn() -> Any:
            conds: list[Any] = []
            left = self.decl.permute_state(self.decl.permute_state(S, a), b)
            right = self.decl.permute_state(S, a.then(b))
            if not equal(left, right, conds):
                conds.append(False)
            ident = self.decl.permute_state(S, self.decl.identity())
            if not equal(ident, S, conds):
                conds.append(False)

            def ctx(env: dict[str, int]) -> Any:
                ta = {n: [evaluate(x, env) for x in p.table] for n, p in a.parts.items()}
                tb = {n: [evaluate(x, env) for x in p.table] for n, p in b.parts.items()}
                return (f"a={ta}, b={tb}", concrete(S, env), None,
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
                        if not equal(s1[st.name][i], s2[st.name][j], conds):
                            conds.append(False)
                return conds, lambda env: (gname, concrete(S, env), None,
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
                    if not equal(sg[idx[x]], sg[idx[y]], same):
                        return [], lambda env: ("", None, None, "")
                    guard = conj(same)
                    if st.complete is not True:
                        c = self.proof.explorer().merge(lambda: as_bool(st.complete(sg[idx[x]])))
                        guard = bool2("band", guard, c)
                    eq: list[Any] = []
                    if not equal(decl.permute_state(S, p), S, eq):
                        eq.append(False)
                    cond = bool2("bor", bnot(guard), conj(eq))
                    return [cond], lambda env: (f"{st.name}: swap {x} {y}", concrete(S, env),
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
                        v1 = as_bool(p.check(S))
                        v2 = as_bool(p.check(decl.permute_state(S, g)))
                        return [iff(v1, v2)], lambda env: (
                            gname, concrete(S, env), None,
                            f"invariant {p.name} differs between s and its permutation")
                    self._prove(f"invariant {p.name} under {gname}", fn)
                continue
            for k in keys:
                for gname, g in self.gens:
                    gk = decl.permute_key(k, g)
                    if gk not in keys:
                        raise Refuted(Witness(f"invariant {p.name}: atom keys closed",
                                               gname, None, k,
                                               f"{gk!r} is not an atom key"))

                    def fn(p: Any = p, k: Any = k, gk: Any = gk, g: Any = g,
                           gname: str = gname, atom: Any = atom) -> Any:
                        v1 = as_bool(atom(S, k))
                        v2 = as_bool(atom(decl.permute_state(S, g), gk))
                        return [iff(v1, v2)], lambda env: (
                            gname, concrete(S, env), k,
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
                        raise Refuted(Witness("component keys closed", gname, None, c,
                                               "its image is not a component"))

        def succ(state: Any, c: Any) -> Any:
            if c is None:
                return model.successors(state)
            return decl.successors_of(state, c)

        plan = component_plan(decl, comps, self.gens) if decl.components is not None else \
            {c: self.gens for c in comps}
        self.component_plan = plan
        for comp, S in ((c, S) for c in comps if c in plan for S in self.cases[c]):
            perms = plan[comp]
            images = [branch_free(lambda S=S, g=g: decl.permute_state(S, g))
                      for _n, g in perms]

            def fn(c: Any = comp, S: Any = S, images: list = images, perms: list = perms
                   ) -> Any:
                conds: list[Any] = []
                notes: list[tuple[Any, ...]] = []  # (cond index, perm, text, action)
                st1, out1 = outcome(lambda: succ(S, c))
                self._p1: dict[int, Any] = {}
                for (gname, g), gS in zip(perms, images, strict=True):
                    if gS is None:
                        gS = decl.permute_state(S, g)
                    gc = decl.permute_key(c, g) if c is not None else None
                    st2, out2 = outcome(lambda gS=gS, gc=gc: succ(gS, gc))
                    n0 = len(conds)
                    self._compare(S, gS, g, st1, out1, st2, out2, conds, notes, gname)
                    for i in range(n0, len(conds)):
                        if not any(n[0] == i for n in notes):
                            notes.append((i, gname, "a next state differs", None))

                def ctx(env: dict[str, int]) -> Any:
                    memo: dict[int, Any] = {}
                    for i, cond in enumerate(conds):
                        if not evaluate(as_bool(cond), env, memo):
                            for j, gname, text, act in notes:
                                if j == i:
                                    return (gname, concrete(S, env),
                                            c if act is None else concrete(act, env),
                                            f"component {c!r}: {text}")
                    return ("?", concrete(S, env), c, "")
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
                 f"{[shape_of(a) for a, _ in out1]} vs {[shape_of(a) for a, _ in out2]}")
            return
        remaining = list(out2)
        for ga, gt, a, t in mapped:
            shape = shape_of(ga)
            cands = [i for i, (a2, _t2) in enumerate(remaining) if shape_of(a2) == shape]
            if not cands:
                fail(f"action {a!r} is enabled in s but its image {ga!r} is not enabled in the "
                     f"permuted state (there: {[x for x, _ in out2]!r})", a)
                return
            if len(cands) > 1 and has_sym(ga):
                # Several actions of this shape: pick by concrete values (forks).
                cands = [i for i in cands if concrete_eq(ga, remaining[i][0])]
                if not cands:
                    fail(f"no image of action {a!r} in the permuted state", a)
                    return
            i = cands[0]
            a2, t2 = remaining.pop(i)
            n0 = len(conds)
            if not equal(ga, a2, conds):
                fail("the actions differ", a)
            if not equal(gt, t2, conds):
                fail("the next states differ in shape", a)
            for k in range(n0, len(conds)):
                notes.append((k, gname, "the image of the next state differs from the next "
                                        "state of the permuted state", a))
            ex = self.proof.explorer()
            for pi, p in enumerate(self.tprops):
                k1 = (id(t), pi)
                if k1 not in self._p1:
                    self._p1[k1] = as_bool(ex.merge(lambda p=p, a=a, t=t: as_bool(
                        p.check(S, a, t))))
                v1 = self._p1[k1]
                v2 = as_bool(ex.merge(lambda p=p, a2=a2, t2=t2: as_bool(p.check(gS, a2, t2))))
                if is_sym(v1) or is_sym(v2) or v1 != v2:
                    notes.append((len(conds), gname,
                                  f"{p.kind.value} {p.name} differs on the action and its "
                                  "image", a))
                    conds.append(iff(v1, v2))



def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", list(fn())
    except Exception as e:  # the model's code raised: part of its behaviour
        return "raise", type(e).__name__



def branch_free(fn: Callable[[], Any]) -> Any:
    """``fn()`` when it needs no branch (computed once, outside any path), else None."""
    try:
        return fn()
    except RuntimeError:  # a symbolic value was used outside an exploration: it branches
        return None


def variant_tag(k: int, variants: Sequence[Any]) -> str:
    return f" (variant {k + 1} of {len(variants)})" if len(variants) > 1 else ""



def in_domain(S: Any, gS: Any, ranges: dict[str, tuple[int, int]], conds: list[Any]) -> bool:
    """Conditions that every leaf of ``gS`` lies in the range declared at its position in ``S``."""
    if isinstance(S, (tuple, list)):
        if not isinstance(gS, (tuple, list)) or len(S) != len(gS):
            return False
        return all(in_domain(x, y, ranges, conds) for x, y in zip(S, gS, strict=True))
    if is_sym(S) and S.op == "var":
        if S.args[0].endswith("_unspecified"):
            return True
        lo, hi = ranges[S.args[0]]
        conds.append(bool2("band", cmp("le", lo, gS), cmp("le", gS, hi)))
        return True
    if is_sym(S):
        return True  # a derived leaf: constrained through its variables
    if is_sym(gS):
        conds.append(cmp("eq", gS, S))
        return True
    return S == gS


def relabel(r: Any, S: Any, gS: Any) -> Any:
    """Constraint ``r`` (over the variables of ``S``) restated over the leaves of ``gS``."""
    env: dict[str, Any] = {}

    def walk(a: Any, b: Any) -> None:
        if isinstance(a, (tuple, list)):
            for x, y in zip(a, b, strict=True):
                walk(x, y)
        elif is_sym(a) and a.op == "var":
            env[a.args[0]] = b

    walk(S, gS)
    return subst(r, env, {})



def _picklable(e: Exception) -> Exception:
    """``e``, or a RuntimeError saying what it was when it cannot cross to the parent."""
    import pickle

    try:
        pickle.dumps(e)
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")
