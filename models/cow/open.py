"""Open search: threads pick their next operation from a budgeted alphabet.

Scripted scenarios find the bugs somebody wrote down.  Here every thread of
every live process may, whenever it is idle, start any operation whose
budget is not spent: a write or read of a page, fork, a pin or get (R/O or
R/W, slow or fast) of a page, a device write through one of its
references, unpin, munmap, mprotect, clear_refs, exit; a reclaim thread
may swap out, and a migration thread migrate, any mapped page.  The
checker covers every choice and every interleaving of the resulting atomic
steps.

The budget is global per operation kind (``fork=1,pin=1,write=2``).  Each
write and device write takes a fresh token; each pin or get the next free
handle; a fork the child process slot the search picks.
"""

from __future__ import annotations

from typing import Any

from .model import OP, OP_NAMES, CowBase
from .policy import Policy
from .vm import ALIVE, LIVE, PRESENT, UNBORN, UNUSED, Config, World, initial_state

__all__ = ["BUDGET_KINDS", "GUP_MODES", "OpenCowModel", "parse_budget", "format_budget",
           "parse_gup_modes", "format_gup_modes"]

BUDGET_KINDS = ("fork", "pin", "get", "write", "read", "dma", "unpin", "unmap", "mprotect",
                "clear_refs", "swapout", "exit", "migrate")
_OP_KIND = {"fork": "fork", "gup_pin": "pin", "gup_get": "get", "write": "write",
            "read": "read", "dma_write": "dma", "unpin": "unpin", "munmap": "unmap",
            "mprotect": "mprotect", "clear_refs": "clear_refs", "swapout": "swapout",
            "exit": "exit", "migrate": "migrate"}


_BUDGET_INDEX = {k: i for i, k in enumerate(BUDGET_KINDS)}
_FORK, _GUP, _WRITE, _DMA_WRITE = OP["fork"], OP["gup"], OP["write"], OP["dma_write"]
_PIN, _GET = _BUDGET_INDEX["pin"], _BUDGET_INDEX["get"]
#: per operation kind, the index in the budget of the kind it draws on (-1: a GUP, which
#: draws on pin or get by its pin bit, and dma_read, which no budget offers)
_KIND_BUDGET = tuple(_BUDGET_INDEX[_OP_KIND[n]] if n in _OP_KIND else -1 for n in OP_NAMES)


def _template_budget(tmpl: tuple) -> int:
    """The index in the budget of the kind a template draws on (a GUP: pin or get)."""
    if tmpl[0] == _GUP:
        return _PIN if tmpl[2] else _GET
    return _KIND_BUDGET[tmpl[0]]


def parse_budget(text: str) -> dict[str, int]:
    """``"fork=1,pin=1,write=2"`` -> ``{"fork": 1, "pin": 1, "write": 2}``."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, num = part.partition("=")
        name = name.strip()
        if not eq or not num.strip().isdigit():
            raise ValueError(f"budget item {part!r}: write KIND=N, e.g. fork=1,pin=1,write=2")
        if name not in BUDGET_KINDS:
            raise ValueError(f"unknown budget kind {name!r}; use {', '.join(BUDGET_KINDS)}")
        out[name] = int(num)
    if not any(out.values()):
        raise ValueError("empty budget: give at least one operation, e.g. --budget write=1")
    return out


GUP_MODES = "rw-slow,rw-fast,ro-slow,ro-fast"
_MODES = {"rw-slow": (1, 0), "rw-fast": (1, 1), "ro-slow": (0, 0), "ro-fast": (0, 1)}


def parse_gup_modes(text: str, flag: str = "--gup-modes") -> tuple[tuple[int, int], ...]:
    """``"rw-fast,ro-slow"`` -> ((rw, fast), ...) in the canonical order."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in _MODES:
            raise ValueError(f"unknown GUP mode {m!r} in {flag}; use {GUP_MODES}")
    if not names:
        raise ValueError(f"empty {flag}; use some of {GUP_MODES}")
    return tuple(_MODES[m] for m in _MODES if m in names)


def format_gup_modes(modes: tuple[tuple[int, int], ...]) -> str:
    """The inverse of :func:`parse_gup_modes`: ``"rw-fast,ro-slow"``."""
    return ",".join(m for m, rf in _MODES.items() if rf in modes)


def format_budget(budget: dict[str, int]) -> str:
    return ",".join(f"{k}={budget[k]}" for k in BUDGET_KINDS if budget.get(k))


class OpenCowModel(CowBase):
    """Every budgeted choice of operations by every thread, under one policy."""

    def __init__(self, policy: Policy, budget: dict[str, int], *, procs: int = 2,
                 threads: int = 1, pages: int = 1, frames: int = 3, slots: int = 1,
                 bias: int = 8, spurious_trylock: bool = False, alloc_lowest: bool = False,
                 policy_ref: str | None = None, gup_modes: str = GUP_MODES,
                 pin_modes: str | None = None, get_modes: str | None = None) -> None:
        if procs < 1 or threads < 1 or pages < 1 or frames < 1 or slots < 0:
            raise ValueError("procs, threads, pages and frames must be at least 1")
        self.policy = policy
        self.policy_ref = policy_ref or policy.name
        self.gup_modes = parse_gup_modes(gup_modes)
        # Pins and gets may take different modes (e.g. pins R/W, gets R/O only, which leaves
        # out the R/W FOLL_GET across fork that open(2) documents); each defaults to
        # gup_modes.
        self.pin_modes = parse_gup_modes(pin_modes, "--pin-modes") if pin_modes is not None \
            else self.gup_modes
        self.get_modes = parse_gup_modes(get_modes, "--get-modes") if get_modes is not None \
            else self.gup_modes
        self.budget = {k: int(budget.get(k, 0)) for k in BUDGET_KINDS}
        self.procs, self.tpp = procs, threads
        handles = self.budget["pin"] + self.budget["get"]
        self.reclaim = self.budget["swapout"] > 0
        self.migration = self.budget["migrate"] > 0
        #: the kernel threads that run in no process, after the process threads
        self.kthreads = tuple(name for name, on in (("reclaim", self.reclaim),
                                                    ("migrate", self.migration)) if on)
        nthreads = procs * threads + len(self.kthreads)
        self.cfg = Config(procs=procs, pages=pages, frames=frames, slots=slots,
                          handles=handles, threads=nthreads, bias=bias,
                          spurious_trylock=spurious_trylock, alloc_lowest=alloc_lowest)
        self.proc_names = ["P"] + [f"C{i}" for i in range(1, procs)]
        self.thread_names = []
        self.thread_proc = []
        for p in range(procs):
            for i in range(threads):
                self.thread_names.append(self.proc_names[p] + (f".{i}" if i else ""))
                self.thread_proc.append(p)
        for name in self.kthreads:
            self.thread_names.append(name)
            self.thread_proc.append(0)
        self.handle_names = [f"h{k}" for k in range(handles)]
        self._templates: dict[int, list[tuple]] = {}
        self._groups: dict[int, tuple[tuple[int, tuple[tuple, ...]], ...]] = {}

    # -- interface -------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"policy": self.policy_ref, "budget": format_budget(self.budget),
                             "procs": self.procs, "threads": self.tpp,
                             "pages": self.cfg.pages, "frames": self.cfg.frames,
                             "slots": self.cfg.slots}
        modes = format_gup_modes(self.gup_modes)
        if modes != GUP_MODES:
            p["gup_modes"] = modes
        if self.pin_modes != self.gup_modes:
            p["pin_modes"] = format_gup_modes(self.pin_modes)
        if self.get_modes != self.gup_modes:
            p["get_modes"] = format_gup_modes(self.get_modes)
        if self.cfg.bias != 8:
            p["bias"] = self.cfg.bias
        if self.cfg.spurious_trylock:
            p["spurious_trylock"] = True
        if self.cfg.alloc_lowest:
            p["alloc_lowest"] = True
        return p

    def fingerprint(self) -> str:
        from mcheck.fingerprint import digest

        return digest(("cow-open", self.version, tuple(sorted(self.policy.switches().items())),
                       tuple(sorted(self.params().items()))))

    def initial_states(self) -> list[tuple]:
        alive = tuple(ALIVE if p == 0 else UNBORN for p in range(self.procs))
        return [initial_state(self.cfg, alive,
                              budget=tuple(self.budget[k] for k in BUDGET_KINDS))]

    def is_final(self, state: tuple) -> bool:
        return True

    def token_name(self, tok: int) -> str:
        return "0" if tok == 0 else f"t{tok}"

    # -- operations ----------------------------------------------------------------------

    def current_op(self, state: tuple, t: int) -> tuple | None:
        op = state[4][t][5]
        return op if op else None

    def finish_op(self, w: World, t: int) -> None:
        th = w.threads[t]
        th.sub = 0
        th.loc = []
        th.op = ()

    def charge(self, w: World, t: int, op: tuple) -> None:
        kind = op[0]
        i = (_PIN if op[3] else _GET) if kind == _GUP else _KIND_BUDGET[kind]
        if i < 0:
            raise ValueError(f"no budget offers {OP_NAMES[kind]}")
        if w.budget[i] <= 0:
            raise ValueError(f"no budget left for {BUDGET_KINDS[i]}")
        w.spend(i)
        if kind == _WRITE or kind == _DMA_WRITE:
            w.tokens += 1

    def templates(self, t: int) -> list[tuple]:
        """The operations thread ``t`` may ever start, in the order they are offered.

        A template is the operation without the arguments the state fills in
        (the write token, the next handle, mprotect's new protection).
        """
        cached = self._templates.get(t)
        if cached is not None:
            return cached
        pages = range(self.cfg.pages)
        kthread = self.kthread(t)
        if kthread:
            kind = OP["swapout"] if kthread == "reclaim" else OP["migrate"]
            out = [(kind, q, v) for q in range(self.procs) for v in pages]
        else:
            out = [(OP["write"], v) for v in pages]
            out += [(OP["read"], v) for v in pages]
            out += [(OP["fork"], c) for c in range(self.procs)]
            out += [(OP["gup"], v, pin, rw, fast) for pin in (1, 0) for v in pages
                    for rw, fast in (self.pin_modes if pin else self.get_modes)]
            out += [(OP["dma_write"], k) for k in range(self.cfg.handles)]
            out += [(OP["unpin"], k) for k in range(self.cfg.handles)]
            out += [(OP["munmap"], v) for v in pages]
            out += [(OP["mprotect"], v) for v in pages]
            out += [(OP["clear_refs"], v) for v in pages]
            out += [(OP["exit"],)]
        self._templates[t] = out
        return out

    def template_groups(self, t: int) -> tuple[tuple[int, tuple[tuple, ...]], ...]:
        """``templates(t)`` cut into runs that draw on one budget: ``(budget index, run)``.

        Precomputed once per thread, so that a state whose budget for a kind is
        spent skips the kind's templates with one test instead of one per
        template (``instance`` would refuse each of them: same operations, same
        order).
        """
        cached = self._groups.get(t)
        if cached is not None:
            return cached
        runs: list[tuple[int, list[tuple]]] = []
        for tmpl in self.templates(t):
            bi = _template_budget(tmpl)
            if runs and runs[-1][0] == bi:
                runs[-1][1].append(tmpl)
            else:
                runs.append((bi, [tmpl]))
        out = tuple((bi, tuple(run)) for bi, run in runs)
        self._groups[t] = out
        return out

    def kthread(self, t: int) -> str:
        """The kernel thread ``t`` is ("reclaim", "migrate"), or "" for a process's thread."""
        i = t - (len(self.thread_names) - len(self.kthreads))
        return self.kthreads[i] if i >= 0 else ""

    def may_start(self, state: tuple, t: int) -> bool:
        """Thread ``t`` may start an operation: its process lives and is not being created."""
        if self.kthread(t):
            return True
        p = self.thread_proc[t]
        if state[2][p][0] != ALIVE:
            return False
        # A child whose fork is still copying runs nothing yet.
        for th in state[4]:
            op = th[5]
            if op and op[0] == _FORK and op[1] == p:
                return False
        return True

    def instance(self, state: tuple, t: int, tmpl: tuple) -> tuple | None:
        """The operation ``tmpl`` stands for in ``state``, or None when it is not enabled."""
        _frames, _slots, procs, handles, _threads, (budget, tokens) = state
        kind = tmpl[0]
        if not budget[_template_budget(tmpl)]:
            return None
        if kind == OP["gup"]:
            _k, v, pin, rw, fast = tmpl
            # Each pin or get takes the next handle when it starts (not the lowest unused
            # one: two GUP calls in flight must not share a handle).
            free_k = self.cfg.handles - budget[_BUDGET_INDEX["pin"]] - \
                budget[_BUDGET_INDEX["get"]]
            assert handles[free_k][0] == UNUSED
            if procs[self.thread_proc[t]][1][v][0] == 0:
                return None
            return (kind, v, free_k, pin, rw, fast)
        if kind == OP["swapout"] or kind == OP["migrate"]:
            _k, q, v = tmpl
            pr = procs[q]
            return tmpl if pr[0] == ALIVE and pr[1][v][0] == PRESENT else None
        p = self.thread_proc[t]
        pr = procs[p]
        if kind == OP["write"]:
            return (kind, tmpl[1], tokens + 1) if pr[2][tmpl[1]] else None
        if kind in (OP["read"], OP["munmap"]):
            return tmpl if pr[1][tmpl[1]][0] != 0 else None
        if kind == OP["fork"]:
            return tmpl if procs[tmpl[1]][0] == UNBORN else None
        if kind in (OP["dma_write"], OP["unpin"]):
            h = handles[tmpl[1]]
            if h[0] != LIVE or h[2] != p:
                return None
            if kind == OP["unpin"]:
                return tmpl
            return (kind, tmpl[1], tokens + 1) if h[5] else None
        if kind == OP["mprotect"]:
            return (kind, tmpl[1], 0 if pr[2][tmpl[1]] else 1)
        if kind == OP["clear_refs"]:
            return tmpl if pr[1][tmpl[1]][0] == PRESENT else None
        assert kind == OP["exit"]
        return tmpl if p != 0 else None

    def start_ops(self, state: tuple, t: int) -> list[tuple]:
        """The operations idle thread ``t`` may start, in template order."""
        if not self.may_start(state, t):
            return []
        budget = state[5][0]
        instance = self.instance
        out = []
        for bi, run in self.template_groups(t):
            if budget[bi]:
                for tmpl in run:
                    op = instance(state, t, tmpl)
                    if op is not None:
                        out.append(op)
        return out

    # -- components (the symmetry proof checks one at a time) ----------------------------

    def components(self) -> list[tuple]:
        """``("busy", t, kind)``, ``("start", t, template)`` for every thread, and the drain.

        ``successors(s)`` is the concatenation of ``successors_of(s, key)`` over
        these keys: a busy thread takes the next step of its operation, an idle
        one starts any enabled template, the drain runs when a page waits in
        the pagevec.
        """
        out: list[tuple] = []
        for t in range(len(self.thread_names)):
            kinds = sorted({tmpl[0] for tmpl in self.templates(t)})
            out += [("busy", t, k) for k in kinds]
            out += [("start", t, tmpl) for tmpl in self.templates(t)]
        return out + [("lru",)]

    def successors_of(self, state: tuple, key: tuple) -> list[tuple[tuple, tuple]]:
        if key[0] == "lru":
            return self._lru_outcomes(state)
        t = key[1]
        op = self.current_op(state, t)
        if key[0] == "busy":
            if op is None or op[0] != key[2]:
                return []
            return self._outcomes(state, t, op, ())
        if op is not None or not self.may_start(state, t):
            return []
        new = self.instance(state, t, key[2])
        if new is None:
            return []
        return self._outcomes(state, t, new, (new,))
