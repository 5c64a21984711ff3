"""The COW model on mcheck's interface: threads stepping the abstract VM.

Each thread runs one operation at a time; each operation is a sequence of
atomic steps (the ``mm`` package, one module per mm/ file).  ``CowModel``
runs a scenario's fixed programs;
``models.cow.open.OpenCowModel`` lets threads pick operations from a budget.
Both share the step machinery here.

Actions are ``(thread, label, choices)``: ``label`` says what the step did
(the decision the kernel took), ``choices`` what the search picked (the
operation an idle thread starts, in open search; the frames or slots an
allocation took).  Operations are ``(kind, args...)`` tuples of ints.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from mcheck import Model, invariant, metric
from mcheck.symmetry import forall

from .mm import fork, gup, memory, migrate, mmap, mprotect, task_mmu, vmscan
from .mm.swap import lru_add_drain
from .oracle import (
    MISSED,
    WRONG,
    accounting_atom,
    accounting_errors,
    accounting_keys,
    coherence_errors,
    copy_was_unnecessary,
    leak_errors,
    observer_class,
    observer_keys,
)
from .policy import Policy
from .scenario import Scenario
from .vm import (
    ALIVE,
    LIVE,
    MIGRATION,
    NONE,
    NONE_K,
    PRESENT,
    SWAP,
    Blocked,
    Config,
    NeedChoice,
    World,
    initial_state,
)

__all__ = ["CowBase", "CowModel", "LRU", "OP_NAMES", "OP"]

LRU = "lru"  # the free-running LRU-pagevec drain

#: Operation kinds; an operation in a state is ``(kind index, int args...)`` so that
#: states hold ints and tuples only.
OP_NAMES = ("write", "read", "fork", "gup", "unpin", "dma_write", "dma_read", "munmap",
            "exit", "mprotect", "clear_refs", "swapout", "migrate")
OP = {name: i for i, name in enumerate(OP_NAMES)}
#: the step method of each operation kind (``CowBase._op_<name>``)
_OP_METHODS = tuple("_op_" + name for name in OP_NAMES)


class CowBase(Model):
    """Step machinery, properties and rendering shared by scripted and open models."""

    name = "cow"
    version = "2"  # 2: frames carry the inactive count (issue 15)
    policy: Policy
    cfg: Config
    thread_names: list[str]
    thread_proc: list[int]
    proc_names: list[str]
    handle_names: list[str]
    # The last state's accounting counts (oracle._counts): a memo, so a proof's cache key
    # names it without reading its contents.
    __proof_volatile__ = ("_counts_memo",)

    @property
    def counts_memo(self) -> list:
        """The oracle's memo of the last state's counts: ``[state, counts, tallies]``, this
        model's."""
        memo = self.__dict__.get("_counts_memo")
        if memo is None:
            memo = self.__dict__["_counts_memo"] = [None, None, None]
        return memo

    # -- what subclasses supply ---------------------------------------------------------

    def current_op(self, state: tuple, t: int) -> tuple | None:
        """The operation thread ``t`` runs next, or None when it cannot start one."""
        raise NotImplementedError

    def start_ops(self, state: tuple, t: int) -> list[tuple]:
        """Operations an idle thread may start (open search); empty for scripts."""
        return []

    def token_name(self, tok: int) -> str:
        raise NotImplementedError

    def finish_op(self, w: World, t: int) -> None:
        """Bookkeeping when thread ``t`` completes its operation."""
        th = w.threads[t]
        th.pc += 1
        th.sub = 0
        th.loc = []
        th.op = ()

    # -- the interface ----------------------------------------------------------------

    def threads(self) -> list[str]:
        return self.thread_names + [LRU]

    def thread(self, action: Any) -> str:
        return action[0]

    def successors(self, state: tuple) -> Iterator[tuple[tuple, tuple]]:
        out: list[tuple[tuple, tuple]] = []
        for t in range(len(self.thread_names)):
            op = self.current_op(state, t)
            if op is not None:
                out.extend(self._outcomes(state, t, op, ()))
            else:
                for new in self.start_ops(state, t):
                    out.extend(self._outcomes(state, t, new, (new,)))
        out.extend(self._lru_outcomes(state))
        return iter(out)

    def _lru_outcomes(self, state: tuple) -> list[tuple[tuple, tuple]]:
        """The free-running drain: enabled while a fresh page waits in the pagevec."""
        for f in state[0]:  # a loop, not any(<generator>): this runs on every state
            if f[2]:
                break
        else:
            return []
        w = World(state, self.cfg)
        lru_add_drain(w)
        return [((LRU, "lru_add_drain", ()), w.freeze())]

    def components(self) -> list[tuple]:
        """Keys of the parts of ``successors`` (see ``successors_of``)."""
        raise NotImplementedError

    def successors_of(self, state: tuple, key: tuple) -> list[tuple[tuple, tuple]]:
        """The outcomes of one component; ``successors`` is their concatenation."""
        raise NotImplementedError

    def symmetry(self) -> Any:
        """Physical frames and swap slots are interchangeable (open search: more, see there)."""
        from .symmetry import cow_symmetry

        return cow_symmetry(self)

    def actions(self, state: tuple) -> list[tuple]:
        return [a for a, _ in self.successors(state)]

    def step(self, state: tuple, action: Any) -> tuple:
        name, label, choices = action
        choices = tuple(tuple(c) if isinstance(c, list) else c for c in choices)
        if name == LRU:
            w = World(state, self.cfg)
            lru_add_drain(w)
            return w.freeze()
        if name not in self.thread_names:
            raise ValueError(f"no thread {name!r}")
        t = self.thread_names.index(name)
        op = self.current_op(state, t)
        prefix: tuple = ()
        if op is None:
            if not choices or not isinstance(choices[0], tuple) or \
                    choices[0] not in self.start_ops(state, t):
                raise ValueError(f"action {action!r} is not enabled")
            op, prefix = choices[0], choices[:1]
        w = World(state, self.cfg, choices[len(prefix):])
        got = self._run(w, t, op, bool(prefix))
        if got != label:
            raise ValueError(f"action {action!r} is not enabled (the step does {got!r})")
        return w.freeze()

    def properties(self) -> list:
        observers = observer_keys(self)
        return [
            invariant("missed_cow", forall(observers, lambda s, k: observer_class(s, k) != MISSED),
                      "no process or GUP reference sees data another process wrote after"
                      " they stopped sharing (isolation)",
                      lambda s: "; ".join(leak_errors(self, s)), exercised=self.compared),
            invariant("wrong_cow", forall(observers, lambda s, k: observer_class(s, k) != WRONG),
                      "a process's own data never diverges from its mapping or its pins"
                      " (coherence)",
                      lambda s: "; ".join(coherence_errors(self, s)), exercised=self.compared),
            invariant("model_error", forall(accounting_keys(self),
                                            partial(accounting_atom, self, self.counts_memo)),
                      "the kernel's accounting: refcount discipline, mapcount, swapcount,"
                      " no use after free, E6 exclusivity invariants",
                      lambda s: "; ".join(accounting_errors(self, s))),
            metric("unnecessary_cow", self._unnecessary,
                   "do_wp_page or hugetlb_wp copies a page the faulting process alone could "
                   "observe",
                   lambda s, a, t: f"{a[0]}: {a[1]}"),
        ]

    def compared(self, s: tuple) -> bool:
        """True when some view in ``s`` is compared with its ghost (mcheck's vacuity hook).

        A view is compared when an alive process maps a page (present or
        swapped) whose ghost ``L[v]`` is set, or a GUP reference is live.  A
        HOLDS of missed_cow / wrong_cow where no reachable state compares
        anything (nothing written, nothing pinned) is vacuous: mcheck warns.
        """
        for pr in s[2]:
            if pr[0] == ALIVE:
                for (kind, _i, _w, _x), want in zip(pr[1], pr[7], strict=True):
                    if want != NONE and kind in (PRESENT, SWAP, MIGRATION):
                        return True
        return any(h[0] == LIVE for h in s[3])

    def _unnecessary(self, s: tuple, a: Any, t: tuple) -> bool:
        name, label = a[0], a[1]
        if not label.startswith(("do_wp_page", "hugetlb_wp")) or " copy " not in label:
            return False
        ti = self.thread_names.index(name)
        op = self.current_op(s, ti)
        if op is None:  # started by this very action (open search)
            op = a[2][0]
        return copy_was_unnecessary(s, self.thread_proc[ti], op[1])

    def format_action(self, action: Any) -> str:
        return str(action[1])

    def describe(self, state: tuple) -> dict[str, Any]:
        frames, slots, procs, handles, _threads = state[:5]
        out: dict[str, Any] = {}
        for i, f in enumerate(frames):
            ref, mapc, lru, sc, ae, locked, data, inactive = f
            if ref == 0:
                out[f"f{i}"] = "free"
                continue
            out[f"f{i}.ref"] = ref
            out[f"f{i}.map"] = mapc
            out[f"f{i}.lru"] = lru
            out[f"f{i}.swapcache"] = "-" if sc == NONE else f"s{sc}"
            if self.policy.anon_exclusive:
                out[f"f{i}.AE"] = ae
            out[f"f{i}.locked"] = locked
            out[f"f{i}.data"] = self.token_name(data)
            if self.policy.wp_reuse == "precise":  # only the precise design reads it
                out[f"f{i}.inactive"] = inactive
        for i, sl in enumerate(slots):
            swc, cache, data = sl
            out[f"s{i}"] = ("free" if swc == 0 and cache == NONE else
                            f"swapcount {swc} cache {'-' if cache == NONE else f'f{cache}'} "
                            f"data {self.token_name(data)}")
        for p, pr in enumerate(procs):
            pn = self.proc_names[p]
            alive, ptes, _vmw, wps, _mmap, _ptl, hp, L, _hist = pr
            out[f"{pn}.alive"] = alive
            for v, pte in enumerate(ptes):
                out[f"{pn}.pte{v}"] = self.pte_name(pte)
                out[f"{pn}.L{v}"] = "-" if L[v] == NONE else self.token_name(L[v])
            out[f"{pn}.wps"] = wps
            out[f"{pn}.has_pinned"] = hp
        for k, h in enumerate(handles):
            st, f, _owner, _vpn, pin, rw, att, _exp = h
            if st == LIVE:
                out[self.handle_names[k]] = (
                    f"{'pin' if pin else 'get'} {'RW' if rw else 'R/O'} f{f}"
                    f"{'' if att else ' detached'}")
            else:
                out[self.handle_names[k]] = "-" if st == 0 else "released"
        return out

    def render_trace(self, path: Any, prop: str, message: str, *, cpus: bool = False,
                     state: bool = True) -> str:
        """The race diagram in the kernel's style (diagram.py): lanes headed CPU 0, CPU 1
        with ``cpus``, without the ``//`` state lines when ``state`` is False."""
        from .diagram import render

        return render(self, path, prop, message, cpus=cpus, state=state)

    def trace_notes(self, state: tuple, action: tuple, next_state: tuple) -> list[str]:
        """What a step changed in kernel state, without the oracle's ghost values (for
        pictures: ``mcheck show --svg``)."""
        from .diagram import kernel_notes

        return kernel_notes(self, state, action, next_state)

    def schedule_choice(self, action: Any) -> Any:
        """The frames or slots an allocation took, or the operation an idle thread started."""
        return tuple(action[2])

    def annotate(self, state: tuple, action: Any, next_state: tuple) -> list[str]:
        """The kernel objects a step changed, one line each: ``f0: ref 2->3, map 1->2``."""
        before, after = self.describe(state), self.describe(next_state)
        groups: dict[str, list[str]] = {}
        for key in list(after) + [k for k in before if k not in after]:
            old, new = before.get(key), after.get(key)
            if old == new:
                continue
            obj, _, field = key.partition(".")
            if not field:  # a whole object: a frame allocated or freed, a slot, a handle
                if new == "free":
                    text = "freed"
                elif old == "free":
                    continue  # its fields follow as "allocated"
                else:
                    text = f"{old} -> {new}"
            elif old is None:
                if field == "locked" and not new:
                    continue
                text = f"{field} {new}"
                if not groups.get(obj):
                    groups[obj] = ["allocated"]
            elif new is None:
                continue  # a field of an object freed by this step ("freed" says it)
            else:
                text = f"{field} {old}->{new}"
            groups.setdefault(obj, []).append(text)
        return [f"{obj}: {', '.join(changes)}" for obj, changes in groups.items()]

    @staticmethod
    def pte_name(pte: tuple) -> str:
        kind, idx, w, _x = pte
        if kind == PRESENT:
            return f"f{idx} {'W' if w else 'R/O'}"
        if kind == SWAP:
            return f"swap s{idx}{' excl' if w else ''}"
        if kind == MIGRATION:
            return f"migration f{idx} {'W' if w else 'R/O excl' if _x else 'R/O'}"
        return "none"

    # -- steps ----------------------------------------------------------------------------

    def _outcomes(self, state: tuple, t: int, op: tuple, prefix: tuple
                  ) -> list[tuple[tuple, tuple]]:
        out = []
        pending: list[tuple] = [()]
        name = self.thread_names[t]
        starting = bool(prefix)
        while pending:
            choices = pending.pop(0)
            w = World(state, self.cfg, choices)
            try:
                label = self._run(w, t, op, starting)
            except Blocked:
                continue
            except NeedChoice as e:
                pending[0:0] = [choices + (c,) for c in e.candidates]
                continue
            out.append(((name, label, prefix + choices), w.freeze()))
        return out

    def charge(self, w: World, t: int, op: tuple) -> None:
        """Open search: consume the budget of ``op``; scripts have none."""

    def _run(self, w: World, t: int, op: tuple, starting: bool) -> str:
        """One step of thread ``t`` in ``op``; ``starting``: an idle thread takes ``op`` (and
        its budget, open search) as it runs its first step."""
        th = w.threads[t]
        if starting:
            th.op = op
            self.charge(w, t, op)
        return getattr(self, _OP_METHODS[op[0]])(w, t, th, op[1:])

    def _proc(self, t: int) -> int:
        return self.thread_proc[t]

    def _op_write(self, w: World, t: int, th: Any, args: tuple) -> str:
        p, (v, tok) = self._proc(t), args
        pr = w.procs[p]
        kind, _f, wr, _sd = pr.pte[v]
        if kind == NONE_K:
            return memory.anon_fault(w, self.policy, p, v)
        if kind == SWAP:
            return memory.do_swap_page(w, self.policy, p, v, write=True)
        if kind == MIGRATION:
            migrate.migration_entry_wait()
        if not wr:
            if not pr.vm_write[v]:
                raise Blocked("write to a read-only VMA")
            return memory.do_wp_page(w, self.policy, p, v)
        label = memory.store(w, self.policy, p, v, tok)
        self.finish_op(w, t)
        return f"write {self.token_name(tok)}: {label}"

    def _op_read(self, w: World, t: int, th: Any, args: tuple) -> str:
        p, (v,) = self._proc(t), args
        kind, f, _wr, _sd = w.procs[p].pte[v]
        if kind == SWAP:
            return memory.do_swap_page(w, self.policy, p, v, write=False)
        if kind == MIGRATION:
            migrate.migration_entry_wait()
        self.finish_op(w, t)
        return f"read: load f{f}" if kind == PRESENT else "read: no page"

    def _op_fork(self, w: World, t: int, th: Any, args: tuple) -> str:
        label, done = fork.fork_step(w, self.policy, th, self._proc(t), args[0],
                                     self.cfg.pages)
        if done:
            self.finish_op(w, t)
        return f"fork: {label}"

    def _op_gup(self, w: World, t: int, th: Any, args: tuple) -> str:
        v, k, pin, rw, fast = args
        what = ("pin_user_pages" if pin else "get_user_pages") + ("_fast" if fast else "")
        label, f, slow = gup.gup_step(w, self.policy, th, self._proc(t), v, k, pin, rw, fast)
        if f == NONE:
            return f"{what}: {label}"
        self.finish_op(w, t)
        hname = self.handle_names[k]
        if slow:
            return f"{what}: {label} -> {hname}, mmap_read_unlock"
        return f"{what}: {label} -> {hname} on f{f}"

    def _op_unpin(self, w: World, t: int, th: Any, args: tuple) -> str:
        k = args[0]
        label = gup.unpin(w, k)
        self.finish_op(w, t)
        return f"{self.handle_names[k]}: {label}"

    def _op_dma_write(self, w: World, t: int, th: Any, args: tuple) -> str:
        k, tok = args
        label = gup.dma_write(w, k, tok)
        self.finish_op(w, t)
        return f"{self.handle_names[k]}: {label} {self.token_name(tok)}"

    def _op_dma_read(self, w: World, t: int, th: Any, args: tuple) -> str:
        k = args[0]
        h = w.handles[k]
        self.finish_op(w, t)
        return f"{self.handle_names[k]}: device read f{h.frame}"

    def _op_munmap(self, w: World, t: int, th: Any, args: tuple) -> str:
        label = memory.zap_pte(w, self.policy, self._proc(t), args[0])
        self.finish_op(w, t)
        return f"munmap: {label}"

    def _op_exit(self, w: World, t: int, th: Any, args: tuple) -> str:
        label, done = mmap.exit_step(w, self.policy, th, self._proc(t), self.cfg.pages)
        if done:
            self.finish_op(w, t)
        return f"exit: {label}"

    def _op_mprotect(self, w: World, t: int, th: Any, args: tuple) -> str:
        v, rw = args
        label = mprotect.mprotect(w, self.policy, self._proc(t), v, bool(rw))
        self.finish_op(w, t)
        return label

    def _op_clear_refs(self, w: World, t: int, th: Any, args: tuple) -> str:
        label = task_mmu.clear_refs(w, self.policy, self._proc(t), args[0])
        self.finish_op(w, t)
        return label

    def _op_swapout(self, w: World, t: int, th: Any, args: tuple) -> str:
        q, v = args
        label, done = vmscan.reclaim_step(w, self.policy, th, q, v)
        if done:
            self.finish_op(w, t)
        return f"reclaim: {label}"

    def _op_migrate(self, w: World, t: int, th: Any, args: tuple) -> str:
        q, v = args
        label, done = migrate.migrate_step(w, self.policy, th, q, v)
        if done:
            self.finish_op(w, t)
        return f"migrate: {label}"


def _compile(s: Scenario) -> list[list[tuple[tuple, tuple]]]:
    """The scenario's programs with names turned into ints: [(op, after), ...] per thread."""
    out = []
    for prog in s.programs:
        ops = []
        for o in prog:
            a = o.args
            if o.kind == "write":
                op = (OP["write"], a[0], s.token(a[1]))
            elif o.kind == "fork":
                op = (OP["fork"], s.proc_index(a[0]))
            elif o.kind == "gup":
                op = (OP["gup"], a[0], s.handle(a[1]), int(a[2]), int(a[3]), int(a[4]))
            elif o.kind in ("unpin", "dma_read"):
                op = (OP[o.kind], s.handle(a[0]))
            elif o.kind == "dma_write":
                op = (OP["dma_write"], s.handle(a[0]), s.token(a[1]))
            elif o.kind in ("swapout", "migrate"):
                op = (OP[o.kind], s.proc_index(a[0]), a[1])
            elif o.kind == "mprotect":
                op = (OP["mprotect"], a[0], int(a[1]))
            else:
                op = (OP[o.kind], *a)
            ops.append((op, o.after))
        out.append(ops)
    return out


class CowModel(CowBase):
    """A scenario checked under a policy."""

    def __init__(self, scenario: Scenario, policy: Policy, *, bias: int = 8,
                 spurious_trylock: bool = False, policy_ref: str | None = None,
                 alloc_lowest: bool = False,
                 scenario_ref: str | None = None) -> None:
        self.scenario = scenario
        self.policy = policy
        self.policy_ref = policy_ref or policy.name
        self.scenario_ref = scenario_ref or scenario.name
        s = scenario
        self.cfg = Config(procs=len(s.procs), pages=s.pages, frames=s.frames, slots=s.slots,
                          handles=len(s.handles), threads=len(s.threads), bias=bias,
                          spurious_trylock=spurious_trylock, alloc_lowest=alloc_lowest,
                          backing=s.backing)
        self.thread_names = [t for t, _ in s.threads]
        self.thread_proc = [p for _, p in s.threads]
        self.proc_names = list(s.procs)
        self.handle_names = list(s.handles)
        self.programs = _compile(s)
        children = {op.args[0] for prog in s.programs for op in prog if op.kind == "fork"}
        self._alive = tuple(0 if name in children else 1 for name in s.procs)

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"policy": self.policy_ref, "scenario": self.scenario_ref}
        if self.cfg.bias != 8:
            p["bias"] = self.cfg.bias
        if self.cfg.spurious_trylock:
            p["spurious_trylock"] = True
        if self.cfg.alloc_lowest:
            p["alloc_lowest"] = True
        return p

    def fingerprint(self) -> str:
        from mcheck.fingerprint import digest

        s = self.scenario
        return digest(("cow", self.version, tuple(sorted(self.policy.switches().items())),
                       s.procs, s.threads, tuple(tuple(p) for p in self.programs),
                       s.pages, s.frames, s.slots, self.cfg.bias, self.cfg.spurious_trylock)
                      + (("alloc_lowest",) if self.cfg.alloc_lowest else ())
                      + ((s.backing,) if s.backing != "page" else ()))

    def initial_states(self) -> list[tuple]:
        return [initial_state(self.cfg, self._alive)]

    def current_op(self, state: tuple, t: int) -> tuple | None:
        threads = state[4]
        prog = self.programs[t]
        pc = threads[t][0]
        if pc >= len(prog):
            return None
        op, after = prog[pc]
        for u, n in after:
            if threads[u][0] < n:
                return None
        return op

    def is_final(self, state: tuple) -> bool:
        threads = state[4]
        return all(threads[t][0] >= len(p) for t, p in enumerate(self.programs))

    def components(self) -> list[tuple]:
        """``("step", t, pc)``: thread ``t`` runs operation ``pc`` of its program; the drain."""
        return [("step", t, pc) for t, prog in enumerate(self.programs)
                for pc in range(len(prog))] + [("lru",)]

    def successors_of(self, state: tuple, key: tuple) -> list[tuple[tuple, tuple]]:
        if key[0] == "lru":
            return self._lru_outcomes(state)
        _step, t, pc = key
        if state[4][t][0] != pc:
            return []
        op = self.current_op(state, t)
        if op is None:
            return []
        return self._outcomes(state, t, op, ())

    def token_name(self, tok: int) -> str:
        if tok == 0:
            return "0"
        return self.scenario.tokens[tok - 1]
