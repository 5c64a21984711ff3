"""Open search: threads pick their next operation from a budgeted alphabet.

Scripted scenarios find the bugs somebody wrote down.  Here every thread of
every live process may, whenever it is idle, start any operation whose
budget is not spent: a write or read of a page, fork, a pin or get (R/O or
R/W, slow or fast) of a page, a device write through one of its
references, unpin, munmap, mprotect, clear_refs, exit; a reclaim thread
may swap out any mapped page.  The checker covers every choice and every
interleaving of the resulting atomic steps.

The budget is global per operation kind (``fork=1,pin=1,write=2``).  Each
write and device write takes a fresh token; each pin or get the next free
handle; a fork the child process slot the search picks.
"""

from __future__ import annotations

from typing import Any

from .model import OP, OP_NAMES, CowBase
from .policy import Policy
from .vm import ALIVE, LIVE, PRESENT, UNBORN, UNUSED, Config, World, initial_state

__all__ = ["BUDGET_KINDS", "OpenCowModel", "parse_budget", "format_budget"]

BUDGET_KINDS = ("fork", "pin", "get", "write", "read", "dma", "unpin", "unmap", "mprotect",
                "clear_refs", "swapout", "exit")
_OP_KIND = {"fork": "fork", "gup_pin": "pin", "gup_get": "get", "write": "write",
            "read": "read", "dma_write": "dma", "unpin": "unpin", "munmap": "unmap",
            "mprotect": "mprotect", "clear_refs": "clear_refs", "swapout": "swapout",
            "exit": "exit"}


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


def parse_gup_modes(text: str) -> tuple[tuple[int, int], ...]:
    """``"rw-fast,ro-slow"`` -> ((rw, fast), ...) in the canonical order."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    for m in names:
        if m not in _MODES:
            raise ValueError(f"unknown GUP mode {m!r}; use {GUP_MODES}")
    if not names:
        raise ValueError(f"empty --gup-modes; use some of {GUP_MODES}")
    return tuple(_MODES[m] for m in _MODES if m in names)


def format_budget(budget: dict[str, int]) -> str:
    return ",".join(f"{k}={budget[k]}" for k in BUDGET_KINDS if budget.get(k))


class OpenCowModel(CowBase):
    """Every budgeted choice of operations by every thread, under one policy."""

    def __init__(self, policy: Policy, budget: dict[str, int], *, procs: int = 2,
                 threads: int = 1, pages: int = 1, frames: int = 3, slots: int = 1,
                 bias: int = 8, spurious_trylock: bool = False,
                 policy_ref: str | None = None, gup_modes: str = GUP_MODES) -> None:
        if procs < 1 or threads < 1 or pages < 1 or frames < 1 or slots < 0:
            raise ValueError("procs, threads, pages and frames must be at least 1")
        self.policy = policy
        self.policy_ref = policy_ref or policy.name
        self.gup_modes = parse_gup_modes(gup_modes)
        self.budget = {k: int(budget.get(k, 0)) for k in BUDGET_KINDS}
        self.procs, self.tpp = procs, threads
        handles = self.budget["pin"] + self.budget["get"]
        self.reclaim = self.budget["swapout"] > 0
        nthreads = procs * threads + (1 if self.reclaim else 0)
        self.cfg = Config(procs=procs, pages=pages, frames=frames, slots=slots,
                          handles=handles, threads=nthreads, bias=bias,
                          spurious_trylock=spurious_trylock)
        self.proc_names = ["P"] + [f"C{i}" for i in range(1, procs)]
        self.thread_names = []
        self.thread_proc = []
        for p in range(procs):
            for i in range(threads):
                self.thread_names.append(self.proc_names[p] + (f".{i}" if i else ""))
                self.thread_proc.append(p)
        if self.reclaim:
            self.thread_names.append("reclaim")
            self.thread_proc.append(0)
        self.handle_names = [f"h{k}" for k in range(handles)]

    # -- interface -------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"policy": self.policy_ref, "budget": format_budget(self.budget),
                             "procs": self.procs, "threads": self.tpp,
                             "pages": self.cfg.pages, "frames": self.cfg.frames,
                             "slots": self.cfg.slots}
        modes = ",".join(m for m, rf in _MODES.items() if rf in self.gup_modes)
        if modes != GUP_MODES:
            p["gup_modes"] = modes
        if self.cfg.bias != 8:
            p["bias"] = self.cfg.bias
        if self.cfg.spurious_trylock:
            p["spurious_trylock"] = True
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
        kind = OP_NAMES[op[0]]
        key = _OP_KIND["gup_pin" if op[3] else "gup_get"] if kind == "gup" else _OP_KIND[kind]
        i = BUDGET_KINDS.index(key)
        if w.budget[i] <= 0:
            raise ValueError(f"no budget left for {key}")
        w.budget[i] -= 1
        if kind in ("write", "dma_write"):
            w.tokens += 1

    def start_ops(self, state: tuple, t: int) -> list[tuple]:
        frames, _slots, procs, handles, threads, (budget, tokens) = state
        left = dict(zip(BUDGET_KINDS, budget, strict=True))
        p = self.thread_proc[t]
        ops: list[tuple] = []
        if self.reclaim and t == len(self.thread_names) - 1:
            if left["swapout"]:
                for q, pr in enumerate(procs):
                    if pr[0] != ALIVE:
                        continue
                    for v, pte in enumerate(pr[1]):
                        if pte[0] == PRESENT:
                            ops.append((OP["swapout"], q, v))
            return ops
        pr = procs[p]
        if pr[0] != ALIVE:
            return ops
        if any(th[5] and th[5][0] == OP["fork"] and th[5][1] == p for th in threads):
            return ops  # the process is still being created
        tok = tokens + 1
        pages = range(self.cfg.pages)
        if left["write"]:
            ops.extend((OP["write"], v, tok) for v in pages if pr[2][v])
        if left["read"]:
            ops.extend((OP["read"], v) for v in pages if pr[1][v][0] != 0)
        if left["fork"]:
            ops.extend((OP["fork"], c) for c, q in enumerate(procs) if q[0] == UNBORN)
        # Each pin or get takes the next handle when it starts (not the lowest unused one:
        # two GUP calls in flight must not share a handle).
        free_k = self.cfg.handles - left["pin"] - left["get"]
        if free_k < self.cfg.handles:
            assert handles[free_k][0] == UNUSED
            for pin, key in ((1, "pin"), (0, "get")):
                if left[key]:
                    ops.extend((OP["gup"], v, free_k, pin, rw, fast) for v in pages
                               if pr[1][v][0] != 0 for rw, fast in self.gup_modes)
        mine = [k for k, h in enumerate(handles) if h[0] == LIVE and h[2] == p]
        if left["dma"]:
            ops.extend((OP["dma_write"], k, tok) for k in mine if handles[k][5])
        if left["unpin"]:
            ops.extend((OP["unpin"], k) for k in mine)
        if left["unmap"]:
            ops.extend((OP["munmap"], v) for v in pages if pr[1][v][0] != 0)
        if left["mprotect"]:
            for v in pages:
                ops.append((OP["mprotect"], v, 0 if pr[2][v] else 1))
        if left["clear_refs"]:
            ops.extend((OP["clear_refs"], v) for v in pages if pr[1][v][0] == PRESENT)
        if left["exit"] and p != 0:
            ops.append((OP["exit"],))
        return ops

