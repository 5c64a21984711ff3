"""Scenario -> one self-contained C program that runs it on the real kernel (issue 14).

The program is written in the style of the kernel's COW selftest
(tools/testing/selftests/mm/cow.c): every scenario operation becomes the
syscall the one table in ``syscalls.py`` names; every observation (each
``read`` and ``dma_read``, and at the end each page an alive process still
maps, as the oracle checks it) becomes a KTAP test.  Steps are sequenced as
the scenario says (each runs after every earlier step completed) with a pipe
per thread: the thread that completes a step writes a byte into the pipe of
every thread of the next step.  A ``race(...)`` step starts its operations
together across a spin barrier, and the whole scenario is then looped N
times (argv[1], a fresh process tree each time): the program reports how
many iterations reached a bad outcome.

Expected values come from the scenario's sequential meaning (a ghost run,
like the oracle's ``L``): each process reads what it last wrote or
inherited; a pin or a R/W get reads what its owner would read while the owner
maps the page, the value frozen at unmap after that.  For a race, a value is
accepted when some serialisation of the race gives it.  A wrong value is a
missed COW (M) when the observer never held that token, a wrong COW (W) when
it did (or it is the zero page); a R/O get (vmsplice) is checked for leaks
only, as in the oracle.

Output: ``TAP version 13``, ``1..N``, ``ok``/``not ok`` per check, SKIP with
the reason when an operation cannot be realised here, ``# outcome: X`` (H,
M, W, S skip, E error) and ``# Totals``; exit status 0 pass, 1 fail, 4 skip
(kselftest).  ``mcheck reproduce models/cow --scenario NAME [--policy P]
-o FILE.c`` writes one; ``--trace FILE`` takes a trace of a scenario run or of
open search instead (:func:`from_trace`, :func:`from_open_trace`: a
thread's operations inside one racing window run in a row, each thread
starting its first at the barrier).
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NoReturn

from mcheck.explore import Path
from mcheck.trace import Trace, TraceError, load

from .catalogue import SCENARIOS
from .model import LRU, OP_NAMES
from .open import OpenCowModel, format_budget
from .scenario import Op, Scenario, validate
from .syscalls import HELPERS, gup_variant, realise

__all__ = ["Check", "Plan", "plan", "steps_of", "is_race", "generate", "from_trace",
           "from_open_trace", "main", "DEFAULT_ITERATIONS"]

#: Iterations of a scenario with a race when argv[1] does not say.
DEFAULT_ITERATIONS = 1000


@dataclass(frozen=True)
class Check:
    """One KTAP test: an observation and the values it may see."""

    desc: str
    observer: int                 # process index whose history classifies a wrong value
    accept: frozenset[int]        # token bytes some serialisation expects
    hist: frozenset[int]          # tokens the observer legitimately held
    ro_get: bool = False          # a R/O get: checked for leaks only


@dataclass
class _Thread:
    name: str                     # C-side name (scenario thread, or PROC for a main thread)
    proc: int
    main: bool
    body: list[tuple[int, str, str]] = field(default_factory=list)  # (step, comment, C)


@dataclass
class Plan:
    """What the generator decided: steps, threads, checks, and what keeps it from running."""

    scenario: Scenario
    steps: list[list[tuple[int, Op]]]       # per step: (scenario thread index, op)
    checks: list[Check]
    threads: list[_Thread]
    skip: str                               # non-empty: the whole program is a SKIP
    needs: tuple[str, ...]                  # environment probes
    helpers: tuple[str, ...]
    races: int                              # steps with more than one operation
    children: dict[int, int]                # child process -> forking process
    step_size: list[int]                    # finishers per step (incl. the final step)


def steps_of(s: Scenario) -> list[list[tuple[int, Op]]]:
    """The scenario's steps in order, rebuilt from the programs' ``after`` constraints.

    ``scenario()`` gives every operation of one step the same snapshot of
    completed operations (less its own thread's): a step is the set of
    next operations whose ``after`` equals the current snapshot.  In a race
    (two threads or more) a thread may run several operations in a row,
    each with that same snapshot (a window rebuilt from an open-search
    trace): they join the step in their thread's order.  After a race no
    sequential operation has that snapshot, since another thread of the race
    completed an operation.
    """
    n = len(s.programs)
    done = [0] * n
    out: list[list[tuple[int, Op]]] = []
    while any(done[t] < len(s.programs[t]) for t in range(n)):
        group = []
        snaps = {}
        for t in range(n):
            if done[t] < len(s.programs[t]):
                op = s.programs[t][done[t]]
                snaps[t] = tuple((i, d) for i, d in enumerate(done) if d and i != t)
                if op.after == snaps[t]:
                    group.append((t, op))
        if not group:
            raise ValueError(f"scenario {s.name}: its programs do not form a sequence of steps;"
                             " build it with scenario()")
        if len(group) > 1:
            for t in [t for t, _op in group]:
                k = done[t] + 1
                while k < len(s.programs[t]) and s.programs[t][k].after == snaps[t]:
                    group.append((t, s.programs[t][k]))
                    k += 1
        for t, _op in group:
            done[t] += 1
        out.append(group)
    return out


def is_race(group: Sequence[tuple[int, Op]]) -> bool:
    """Whether a step runs operations of two threads or more concurrently."""
    return len({t for t, _op in group}) > 1


def _serialisations(group: list[tuple[int, Op]]) -> list[tuple[tuple[int, int, Op], ...]]:
    """Every order of a step's operations that keeps each thread's own order.

    Each operation comes as (position in the step, thread, op).
    """
    items = [(j, t, op) for j, (t, op) in enumerate(group)]
    if not is_race(group):
        return [tuple(items)]
    out = []
    for perm in itertools.permutations(items):
        last: dict[int, int] = {}
        ok = True
        for j, t, _op in perm:
            if last.get(t, -1) > j:
                ok = False
                break
            last[t] = j
        if ok:
            out.append(perm)
    return out


class _Ghost:
    """The scenario's sequential meaning: what each observer should read."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.L: dict[int, list[int | None]] = {0: [None] * s.pages}
        self.hist: dict[int, set[int]] = {0: set()}
        self.alive = {0}
        # every process not forked by anyone is a root with its own fresh memory
        forked = {s.proc_index(op.args[0]) for prog in s.programs for op in prog
                  if op.kind == "fork"}
        for p in range(len(s.procs)):
            if p not in forked:
                self.L[p] = [None] * s.pages
                self.hist[p] = set()
                self.alive.add(p)
        self.handles: dict[str, dict] = {}

    def proc(self, t: int) -> int:
        return self.s.threads[t][1]

    def run(self, t: int, op: Op) -> tuple[int, int, bool] | None:
        """Apply ``op``; for an observation, (expected token, observer, ro_get)."""
        p = self.proc(t)
        k = op.kind
        if k == "write":
            v, tok = op.args
            self.L[p][v] = self.s.token(tok)
            self.hist[p].add(self.s.token(tok))
        elif k == "read":
            (v,) = op.args
            if self.L[p][v] is None:
                self.L[p][v] = 0
            return (self.L[p][v] or 0, p, False)
        elif k == "fork":
            c = self.s.proc_index(op.args[0])
            self.L[c] = list(self.L[p])
            self.hist[c] = set(self.hist[p])
            self.alive.add(c)
        elif k == "gup":
            v, name, pin, rw, _fast = op.args
            if self.L[p][v] is None:
                self.L[p][v] = 0
            self.handles[name] = {"owner": p, "v": v, "pin": pin, "rw": rw, "attached": True,
                                  "frozen": None, "live": True}
        elif k == "unpin":
            self.handles[op.args[0]]["live"] = False
        elif k == "dma_write":
            h = self.handles[op.args[0]]
            tok = self.s.token(op.args[1])
            if h["attached"]:
                self.L[h["owner"]][h["v"]] = tok
            else:
                h["frozen"] = tok
            self.hist[h["owner"]].add(tok)
        elif k == "dma_read":
            h = self.handles[op.args[0]]
            want = self.L[h["owner"]][h["v"]] if h["attached"] else h["frozen"]
            return (want or 0, h["owner"], not h["pin"] and not h["rw"])
        elif k == "munmap":
            self._unmap(p, op.args[0])
        elif k == "exit":
            for v in range(self.s.pages):
                self._unmap(p, v)
            self.alive.discard(p)
        return None

    def _unmap(self, p: int, v: int) -> None:
        for h in self.handles.values():
            if h["attached"] and h["owner"] == p and h["v"] == v:
                h["attached"], h["frozen"] = False, self.L[p][v]
        self.L[p][v] = None


def _op_text(op: Op) -> str:
    """An operation as the scenario language writes it (pin/get spelled out)."""
    if op.kind == "gup":
        v, k, pin, rw, fast = op.args
        return f"{'pin' if pin else 'get'}({v}, {k}, rw={rw}, fast={fast})"
    if op.kind == "exit":
        return "exit()"
    return op.describe()


def _describe(s: Scenario, t: int, op: Op) -> str:
    return f"{s.threads[t][0]}: {_op_text(op)}"


def _touches_later(s: Scenario, steps: list, i: int, p: int, v: int) -> bool:
    """Whether process ``p`` (or a process it forks later) uses page ``v`` after step ``i``."""
    for group in steps[i + 1:]:
        for t, op in group:
            if s.threads[t][1] != p:
                continue
            if op.kind == "fork":
                return True
            if op.kind in ("write", "read", "gup", "munmap", "mprotect", "clear_refs") and \
                    op.args[0] == v:
                return True
            if op.kind in ("swapout", "migrate") and op.args[1] == v:
                return True
    return False


def plan(s: Scenario) -> Plan:
    """Decide everything the C program needs (no C text yet)."""
    if len(s.tokens) > 62:
        raise ValueError(f"scenario {s.name}: {len(s.tokens)} tokens; a reproducer handles "
                         "at most 62")
    steps = steps_of(s)
    races = sum(1 for g in steps if is_race(g))
    # the handle variants, and what cannot be realised here
    variant: dict[str, str] = {}
    maker: dict[str, int] = {}
    skip = "" if s.backing == "page" else (
        f"backing {s.backing}: the reproducer maps small pages only (no MADV_HUGEPAGE or "
        "MAP_HUGETLB program yet)")
    needs: list[str] = []
    helpers: list[str] = []

    def use(key: str) -> str:
        nonlocal skip
        r = realise(key)
        if r.skip and not skip:
            skip = f"{key}: {r.skip}"
        for n in r.needs:
            if n not in needs:
                needs.append(n)
        for h in r.helpers:
            if h not in helpers:
                helpers.append(h)
        return key

    children: dict[int, int] = {}
    for group in steps:
        for t, op in group:
            p = s.threads[t][1]
            if op.kind == "gup":
                variant[op.args[1]] = gup_variant(op.args[2], op.args[3])
                maker[op.args[1]] = p
            if op.kind in ("unpin", "dma_read", "dma_write") and maker.get(op.args[0]) != p \
                    and not skip:
                skip = (f"{_op_text(op)} runs in process {s.procs[p]} but the handle "
                        f"belongs to {s.procs[maker[op.args[0]]]}")
            if op.kind == "fork":
                children[s.proc_index(op.args[0])] = p
            if op.kind == "exit" and p not in children and not skip:
                skip = (f"exit() of {s.procs[p]}, which the harness started: the program "
                        "could not observe anything after it")
            if op.kind == "exit" and is_race(group) and not skip:
                skip = "exit() inside a race cannot be waited for"
            if op.kind == "exit" and any(th[1] == p and th[0] != s.procs[p]
                                         for th in s.threads) and not skip:
                skip = (f"exit() of {s.procs[p]} ends its other threads; the model lets "
                        "them run on")
    # ghost runs: one per serialisation of each race step
    orders = [_serialisations(g) for g in steps]
    accept: dict[tuple[int, int], set[int]] = {}
    hist: dict[tuple[int, int], set[int]] = {}
    meta: dict[tuple[int, int], tuple[int, bool]] = {}
    final_sets: list[set[tuple[int, int]]] = []
    final_accept: dict[tuple[int, int], set[int]] = {}
    final_hist: dict[tuple[int, int], set[int]] = {}
    for combo in itertools.product(*orders):
        g = _Ghost(s)
        for i, group in enumerate(combo):
            for j, t, op in group:
                got = g.run(t, op)
                if got is not None:
                    key = (i, j)
                    accept.setdefault(key, set()).add(got[0])
                    hist.setdefault(key, set()).update(g.hist[got[1]])
                    meta[key] = (got[1], got[2])
        mapped = {(p, v) for p in sorted(g.alive) for v in range(s.pages)
                  if g.L[p][v] is not None}
        final_sets.append(mapped)
        for p, v in mapped:
            final_accept.setdefault((p, v), set()).add(g.L[p][v] or 0)
            final_hist.setdefault((p, v), set()).update(g.hist[p])
    finals = sorted(set.intersection(*final_sets)) if final_sets else []
    # threads: one main thread per process, one more per scenario thread not named as one
    threads: list[_Thread] = [_Thread(name, p, True) for p, name in enumerate(s.procs)]
    tid_of: dict[int, int] = {}
    for t, (name, p) in enumerate(s.threads):
        if name == s.procs[p]:
            tid_of[t] = p
        else:
            tid_of[t] = len(threads)
            threads.append(_Thread(name, p, False))
    checks: list[Check] = []
    step_size: list[int] = []
    forker_tid: dict[int, int] = {}
    for i, group in enumerate(steps):
        size = 0
        for j, (t, op) in enumerate(group):
            p = s.threads[t][1]
            tid = tid_of[t]
            comment = _describe(s, t, op)
            page = f"PAGE({op.args[0]})" if op.kind in ("write", "read", "gup", "munmap",
                                                         "mprotect", "clear_refs") else ""
            if op.kind == "write":
                c = realise(use("write")).snippet.format(page=page, tok=s.token(op.args[1]))
            elif op.kind == "read":
                checks.append(_check(s, f"{comment}: the process's view", (i, j), accept,
                                     hist, meta))
                c = realise(use("read")).snippet.format(check=len(checks) - 1, page=page)
            elif op.kind == "fork":
                child = s.proc_index(op.args[0])
                forker_tid[child] = tid
                c = realise(use("fork")).snippet.format(child=child)
            elif op.kind == "gup":
                key = use("gup:" + variant[op.args[1]])
                c = realise(key).snippet.format(h=s.handle(op.args[1]), page=page,
                                                fast=int(op.args[4]))
            elif op.kind in ("unpin", "dma_read", "dma_write"):
                key = use(op.kind + ":" + variant[op.args[0]])
                if op.kind == "dma_read":
                    checks.append(_check(s, f"{comment}: what the device reads", (i, j),
                                         accept, hist, meta))
                tok = s.token(op.args[1]) if op.kind == "dma_write" else 0
                c = realise(key).snippet.format(h=s.handle(op.args[0]), check=len(checks) - 1,
                                                tok=tok)
            elif op.kind == "munmap":
                later = _touches_later(s, steps, i, p, op.args[0])
                c = realise(use("dontneed" if later else "munmap")).snippet.format(page=page)
            elif op.kind == "exit":
                c = realise(use("exit")).snippet
                reaper = forker_tid.get(p)
                if reaper is not None:
                    threads[reaper].body.append(
                        (i, f"reap {s.procs[p]} after its exit()",
                         realise(use("reap")).snippet.format(child=p)))
                    size += 1
                threads[tid].body.append((i, comment, c))
                continue
            elif op.kind == "mprotect":
                prot = "PROT_READ | PROT_WRITE" if op.args[1] else "PROT_READ"
                c = realise(use("mprotect")).snippet.format(page=page, prot=prot)
            elif op.kind == "clear_refs":
                c = realise(use("clear_refs")).snippet
            elif op.kind == "swapout":
                target = s.proc_index(op.args[0])
                if target != p:
                    skip = skip or (f"{_op_text(op)} from a thread of {s.procs[p]}: "
                                    "MADV_PAGEOUT acts on the caller's own mm")
                # the swap-out must happen unless a race, a pin or get, or another
                # process sharing the page may legitimately keep it in memory
                need = int(len(group) == 1 and
                           not _handle_live_on(s, steps, i, target, op.args[1]) and
                           _alive_at(s, steps, i) == {target})
                c = realise(use("swapout")).snippet.format(page=f"PAGE({op.args[1]})",
                                                          need=need, step=i)
            elif op.kind == "migrate":
                c = realise(use("migrate")).snippet  # not realisable: the program skips
            else:  # pragma: no cover - validate() refuses unknown kinds
                raise ValueError(f"unknown operation {op.kind!r}")
            threads[tid].body.append((i, comment, c))
            size += 1
        step_size.append(size)
    # the final step: each alive process reads every page it still maps
    fin = len(steps)
    fin_procs = sorted({p for p, _v in finals})
    for p, v in finals:
        checks.append(Check(f"{s.procs[p]}: final view of page {v}", p,
                            frozenset(final_accept[(p, v)]), frozenset(final_hist[(p, v)])))
        c = realise(use("final")).snippet.format(check=len(checks) - 1, page=f"PAGE({v})")
        threads[p].body.append((fin, f"{s.procs[p]} reads page {v} at the end", c))
    step_size.append(len(fin_procs))
    for name in list(helpers):
        if name not in HELPERS:  # pragma: no cover - the table names only known helpers
            raise ValueError(f"helper {name!r} is not in syscalls.HELPERS")
    order = [h for h in HELPERS if h in helpers]
    return Plan(s, steps, checks, threads, skip, tuple(needs), tuple(order), races, children,
                step_size)


def _handle_live_on(s: Scenario, steps: list, i: int, p: int, v: int) -> bool:
    """Whether a pin or get made before step ``i`` on (p, v) is still held at step ``i``."""
    live: set[str] = set()
    for group in steps[:i]:
        for t, op in group:
            if op.kind == "gup" and s.threads[t][1] == p and op.args[0] == v:
                live.add(op.args[1])
            if op.kind == "unpin":
                live.discard(op.args[0])
    return bool(live)


def _alive_at(s: Scenario, steps: list, i: int) -> set[int]:
    """The processes alive when step ``i`` starts."""
    forked = {s.proc_index(op.args[0]) for g in steps for _t, op in g if op.kind == "fork"}
    alive = {p for p in range(len(s.procs)) if p not in forked}
    for group in steps[:i]:
        for t, op in group:
            if op.kind == "fork":
                alive.add(s.proc_index(op.args[0]))
            if op.kind == "exit":
                alive.discard(s.threads[t][1])
    return alive


def _check(s: Scenario, desc: str, key: tuple[int, int], accept: dict, hist: dict,
           meta: dict) -> Check:
    observer, ro_get = meta[key]
    return Check(desc, observer, frozenset(accept[key]), frozenset(hist[key]), ro_get)


def _mask(tokens: frozenset[int]) -> str:
    return f"0x{sum(1 << t for t in tokens):x}ULL"


def _cstr(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate(s: Scenario, policy: str = "E6", iterations: int | None = None,
             notes: Sequence[str] = ()) -> str:
    """The C program for scenario ``s`` (``policy`` only labels the expected verdict).

    ``notes`` are extra header comment lines (a trace's interleaving).
    """
    p = plan(s)
    iters = iterations if iterations is not None else (DEFAULT_ITERATIONS if p.races else 1)
    expect = s.expect.get(policy, "-")
    tok_names = ["zero page"] + list(s.tokens)
    out: list[str] = []
    w = out.append
    title = f"{s.name}: {s.title}".replace("*/", "* /")
    who = "the model, checking it as a scenario, gives" if s.source == _OPEN_SOURCE else \
        "the catalogue expects"
    w(f"// SPDX-License-Identifier: GPL-2.0-only\n/*\n * Reproducer for mcheck scenario "
      f"{title}\n * Generated by models/cow/reproduce.py; {who} "
      f"{expect} under {policy}.\n *\n")
    for line in _program_lines(s):
        w(f" *   {line.replace('*/', '* /')}\n")
    if notes:
        w(" *\n")
        for line in notes:
            w(f" * {line.replace('*/', '* /')}\n".replace(" \n", "\n"))
    w(f" *\n * Build: cc -Wall -Werror -O2 -pthread -o {s.name} {s.name}.c\n"
      f" * Run:   ./{s.name} [ITERATIONS]   (KTAP; exit 0 pass, 1 fail, 4 skip)\n */\n")
    w(_PRELUDE)
    w(f"#define NSTEPS {len(p.steps) + 1}\n#define NCHECKS {max(len(p.checks), 1)}\n"
      f"#define NPROCS {len(s.procs)}\n#define NTHREADS {len(p.threads)}\n"
      f"#define NHANDLES {max(len(s.handles), 1)}\n#define NPAGES {s.pages}\n"
      f"#define DEFAULT_ITERATIONS {iters}L\n#define RACES {p.races}\n")
    w(_RUNTIME)
    for name in p.helpers:
        w(HELPERS[name])
    w(f"\nstatic const char *const scenario_name = {_cstr(s.name)};\n")
    w(f"static const char *const scenario_title = {_cstr(s.title)};\n")
    w(f"static const char *const skip_static = {_cstr(p.skip)};\n")
    needs = " | ".join(f"NEED_{n.upper()}" for n in p.needs) or "0"
    w(f"static const int needs = {needs};\n")
    w("static const char *const tok_name[] = {" + ", ".join(_cstr(t) for t in tok_names)
      + "};\n")
    w(f"static const int step_size[NSTEPS] = {{{', '.join(map(str, p.step_size))}}};\n")
    w("static int step_size_of(int s)\n{\n\treturn step_size[s];\n}\n")
    racers = [len({t for t, _op in g}) if is_race(g) else 0 for g in p.steps] + [0]
    w(f"static const int race_size[NSTEPS] = {{{', '.join(map(str, racers))}}};\n")
    w("static int race_size_of(int s)\n{\n\treturn race_size[s];\n}\n")
    checks = p.checks or [Check("the scenario ran", 0, frozenset(), frozenset())]
    w("static const char *const check_desc[NCHECKS] = {\n" + "".join(
        f"\t{_cstr(c.desc)},\n" for c in checks) + "};\n")
    w("static const uint64_t accepted[NCHECKS] = {" + ", ".join(
        _mask(c.accept) for c in checks) + "};\n")
    w("static const uint64_t history[NCHECKS] = {" + ", ".join(
        _mask(c.hist) for c in checks) + "};\n")
    w("static const int ro_get[NCHECKS] = {" + ", ".join(
        str(int(c.ro_get)) for c in checks) + "};\n")
    w(f"static const int has_checks = {int(bool(p.checks))};\n")
    swaps = [int(any(op.kind == "swapout" for _t, op in g)) for g in p.steps] + [0]
    w(f"static const int swapout_step[NSTEPS] = {{{', '.join(map(str, swaps))}}};\n")
    # which threads run at each step
    w("\nstatic void signal_step(int s)\n{\n\twhile (s < NSTEPS && !step_size[s])\n"
      "\t\ts++;\n\tswitch (s) {\n")
    for i in range(len(p.steps) + 1):
        tids = sorted({tid for tid, th in enumerate(p.threads) for st, _c, _x in th.body
                       if st == i})
        w(f"\tcase {i}:\n" + "".join(f"\t\tgo({tid});\n" for tid in tids) + "\t\tbreak;\n")
    w("\tdefault:\n\t\tall_done();\n\t}\n}\n")
    # forward declarations of the process and thread functions
    for pi in range(len(s.procs)):
        w(f"static void proc_{pi}(void) __attribute__((noreturn));\n")
    for tid, th in enumerate(p.threads):
        w(f"\n/* thread {th.name} of process {s.procs[th.proc]} */\n"
          f"static void *thr_{tid}(void *arg)\n{{\n\t(void)arg;\n")
        prev = -1
        for st, comment, code in th.body:
            # a thread's further operations in one race step follow its first at once
            w(f"\t/* step {st + 1}: {comment} */\n")
            if st != prev:
                w(f"\twait_go({tid});\n")
                if st < len(p.steps) and is_race(p.steps[st]):
                    w(f"\tarrive({st});\n")
            prev = st
            w(f"\t{code}\n")
            if code != "_exit(0);":
                w(f"\tfinish({st});\n")
        w("\treturn NULL;\n}\n")
    roots = [pi for pi in range(len(s.procs)) if pi not in p.children]
    for pi, name in enumerate(s.procs):
        extras = [tid for tid, th in enumerate(p.threads) if th.proc == pi and not th.main]
        w(f"\n/* process {name} */\nstatic void proc_{pi}(void)\n{{\n")
        if extras:
            w(f"\tpthread_t th[{len(extras)}];\n")
        if pi in roots:
            w("\tsetpgid(0, 0);\n\tmap_memory();\n")
        for j, tid in enumerate(extras):
            w(f"\tif (pthread_create(&th[{j}], NULL, thr_{tid}, NULL))\n"
              f"\t\tfail_error(\"pthread_create failed\");\n")
        w(f"\tthr_{pi}(NULL);\n\twait_end({pi});\n")
        for j, _tid in enumerate(extras):
            w(f"\tpthread_join(th[{j}], NULL);\n")
        w("\treap_all();\n\t_exit(0);\n}\n")
    w("\nstatic void start_roots(pid_t *pids)\n{\n")
    for j, pi in enumerate(roots):
        w(f"\tpids[{j}] = fork();\n\tif (pids[{j}] == 0)\n\t\tproc_{pi}();\n"
          f"\tif (pids[{j}] > 0)\n\t\tsetpgid(pids[{j}], pids[{j}]);\n")
    w(f"}}\n#define NROOTS {len(roots)}\n")
    w(_HARNESS)
    return "".join(out)


def _program_lines(s: Scenario) -> list[str]:
    lines = []
    for i, group in enumerate(steps_of(s)):
        if not is_race(group):
            text = ", ".join(_describe(s, t, op) for t, op in group)
        else:  # a thread's operations in a row, as "T: op1; op2"
            order = list(dict.fromkeys(t for t, _op in group))
            text = "race(" + ", ".join(
                f"{s.threads[t][0]}: " + "; ".join(_op_text(op) for u, op in group if u == t)
                for t in order) + ")"
        lines.append(f"{i + 1}. {text}")
    return lines


_PRELUDE = r"""#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4
#define NEED_IO_URING 1
#define NEED_GUP_TEST 2
#define NEED_SWAP 4
#define NEED_SOFT_DIRTY 8
"""

_RUNTIME = r"""
/* Shared by every process of one iteration (MAP_SHARED): step counters and results. */
struct ctl {
	int done[NSTEPS];
	int arrive[NSTEPS];
	int stop;			/* 1 skip, 2 error */
	char why[256];
	unsigned char got[NCHECKS];
	int seen[NCHECKS];
	int torn[NCHECKS];
	uint64_t mix[NCHECKS];		/* the values a check's page held, as bits */
	int swapped[NSTEPS];
};

static struct ctl *ctl;
static size_t pagesize;
static char *mem;
static pid_t pid_of[NPROCS] __attribute__((unused));
static int go_pipe[NTHREADS][2];
static int end_pipe[NPROCS][2];
static int done_pipe[2];

#define PAGE(v) ((void *)(mem + (size_t)(v) * pagesize))

static void stop_iter(int how, const char *fmt, va_list ap) __attribute__((noreturn));
static void stop_iter(int how, const char *fmt, va_list ap)
{
	if (!__atomic_exchange_n(&ctl->stop, how, __ATOMIC_SEQ_CST)) {
		vsnprintf(ctl->why, sizeof(ctl->why), fmt, ap);
		if (write(done_pipe[1], "x", 1) != 1)
			_exit(1);
	}
	for (;;)
		pause();
}

/* This iteration cannot run here: report a SKIP with the reason. */
static void skip_iter(const char *fmt, ...)
	__attribute__((noreturn, unused, format(printf, 1, 2)));
static void skip_iter(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	stop_iter(1, fmt, ap);
}

/* A syscall the scenario needs failed: an error, never a pass. */
static void fail_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	stop_iter(2, fmt, ap);
}

static void go(int t)
{
	if (write(go_pipe[t][1], "g", 1) != 1)
		fail_error("go pipe: %s", strerror(errno));
}

static void wait_go(int t)
{
	char c;

	while (read(go_pipe[t][0], &c, 1) != 1)
		;
}

static void wait_end(int p)
{
	char c;

	while (read(end_pipe[p][0], &c, 1) != 1)
		;
}

static void all_done(void)
{
	if (write(done_pipe[1], "d", 1) != 1)
		_exit(1);
}

static void signal_step(int s);
static int step_size_of(int s);
static int race_size_of(int s);

/* The last operation of a step to complete starts the next step. */
static void finish(int s)
{
	if (__atomic_add_fetch(&ctl->done[s], 1, __ATOMIC_SEQ_CST) == step_size_of(s))
		signal_step(s + 1);
}

/* The operations of a race start together. */
static void arrive(int s) __attribute__((unused));
static void arrive(int s)
{
	long spins = 0;

	__atomic_add_fetch(&ctl->arrive[s], 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&ctl->arrive[s], __ATOMIC_SEQ_CST) < race_size_of(s))
		if (++spins % 4096 == 0)
			sched_yield();
}

static void reap_all(void)
{
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

static void map_memory(void)
{
	mem = mmap(NULL, NPAGES * pagesize, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		fail_error("mmap: %s", strerror(errno));
	/* base pages, as cow.c's base-page runs */
	madvise(mem, NPAGES * pagesize, MADV_NOHUGEPAGE);
}
"""

_HARNESS = r"""
/* Probe what the scenario needs; a non-empty reason means SKIP. */
static void probe(char *why, size_t len)
{
	why[0] = 0;
	if (needs & NEED_IO_URING) {
		struct io_uring_params p;
		int fd;

		memset(&p, 0, sizeof(p));
		fd = syscall(__NR_io_uring_setup, 1, &p);
		if (fd < 0) {
			snprintf(why, len, "io_uring_setup() failed: %s", strerror(errno));
			return;
		}
		close(fd);
	}
	if (needs & NEED_GUP_TEST) {
		int fd = open("/sys/kernel/debug/gup_test", O_RDWR);

		if (fd < 0) {
			snprintf(why, len, "gup_test not available (CONFIG_GUP_TEST, debugfs): %s",
					strerror(errno));
			return;
		}
		close(fd);
	}
	if (needs & NEED_SWAP) {
		FILE *f = fopen("/proc/swaps", "r");
		char line[512];
		int lines = 0;

		while (f && fgets(line, sizeof(line), f))
			lines++;
		if (f)
			fclose(f);
		if (lines < 2) {
			snprintf(why, len, "no active swap in /proc/swaps (as root: mkswap and swapon a file)");
			return;
		}
	}
	if (needs & NEED_SOFT_DIRTY) {
		char *p = mmap(NULL, pagesize, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t ent = 0;
		int fd = open("/proc/self/pagemap", O_RDONLY);

		if (p != MAP_FAILED)
			memset(p, 1, pagesize);
		if (p == MAP_FAILED || fd < 0 ||
			pread(fd, &ent, sizeof(ent), (uintptr_t)p / pagesize * sizeof(ent)) != sizeof(ent))
			ent = 0;
		if (fd >= 0)
			close(fd);
		if (p != MAP_FAILED)
			munmap(p, pagesize);
		if (!(ent >> 55 & 1)) {
			snprintf(why, len, "no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY unset: "
					"pagemap bit 55 is 0 after a write), so clear_refs cannot "
					"write-protect");
			return;
		}
	}
}

static void print_all_skip(const char *why)
{
	int c;

	for (c = 0; c < NCHECKS; c++)
		printf("ok %d %s # SKIP %s\n", c + 1, check_desc[c], why);
	printf("# outcome: S %s\n", why);
	printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:%d error:0\n", NCHECKS);
}

static void make_pipe(int fds[2])
{
	if (pipe(fds)) {
		printf("Bail out! pipe: %s\n", strerror(errno));
		exit(KSFT_FAIL);
	}
}

/* One run of the whole scenario in a fresh process tree: 0 ran, 1 skipped, 2 error. */
static int run_iteration(void)
{
	pid_t pids[NROOTS];
	struct pollfd pfd;
	int t, p, ret, status;
	long waited = 0;
	char c;

	memset(ctl, 0, sizeof(*ctl));
	for (t = 0; t < NTHREADS; t++)
		make_pipe(go_pipe[t]);
	for (p = 0; p < NPROCS; p++)
		make_pipe(end_pipe[p]);
	make_pipe(done_pipe);
	fflush(stdout);
	start_roots(pids);
	signal_step(0);
	pfd.fd = done_pipe[0];
	pfd.events = POLLIN;
	ret = poll(&pfd, 1, 30000);
	if (ret == 1 && read(done_pipe[0], &c, 1) != 1)
		ret = 0;
	if (ret != 1 && !ctl->stop) {
		ctl->stop = 2;
		snprintf(ctl->why, sizeof(ctl->why), "timed out after 30 s");
	}
	if (ctl->stop) {
		for (t = 0; t < NROOTS; t++)
			if (pids[t] > 0)
				kill(-pids[t], SIGKILL);
	} else {
		for (p = 0; p < NPROCS; p++)
			if (write(end_pipe[p][1], "e", 1) != 1)
				break;
	}
	/* reap everything (we are the subreaper), killing stragglers after 10 s */
	for (;;) {
		ret = waitpid(-1, &status, WNOHANG);
		if (ret < 0 && errno == ECHILD)
			break;
		if (ret > 0)
			continue;
		usleep(1000);
		if (++waited == 10000)
			for (t = 0; t < NROOTS; t++)
				if (pids[t] > 0)
					kill(-pids[t], SIGKILL);
	}
	for (t = 0; t < NTHREADS; t++) {
		close(go_pipe[t][0]);
		close(go_pipe[t][1]);
	}
	for (p = 0; p < NPROCS; p++) {
		close(end_pipe[p][0]);
		close(end_pipe[p][1]);
	}
	close(done_pipe[0]);
	close(done_pipe[1]);
	return ctl->stop;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : DEFAULT_ITERATIONS;
	long it, ran = 0, skipped = 0, bad = 0, missed[NCHECKS] = {0}, wrong[NCHECKS] = {0};
	long torn_ok[NCHECKS] = {0};
	long stale[NCHECKS] = {0}, bad_missed = 0, bad_wrong = 0, values[NCHECKS][64] = {{0}};
	long swapped[NSTEPS] = {0};
	int last[NCHECKS], c, pass = 0, fail = 0;
	char why[256], skip_why[256] = "";

	pagesize = getpagesize();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n");
	printf("# %s: %s\n", scenario_name, scenario_title);
	printf("1..%d\n", NCHECKS);
	if (iterations < 1) {
		printf("Bail out! iterations must be at least 1, got %s\n", argv[1]);
		return KSFT_FAIL;
	}
	if (skip_static[0]) {
		print_all_skip(skip_static);
		return KSFT_SKIP;
	}
	probe(why, sizeof(why));
	if (why[0]) {
		print_all_skip(why);
		return KSFT_SKIP;
	}
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED) {
		printf("Bail out! mmap: %s\n", strerror(errno));
		return KSFT_FAIL;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (c = 0; c < NCHECKS; c++)
		last[c] = -1;
	for (it = 0; it < iterations; it++) {
		int how = run_iteration(), any_m = 0, any_w = 0;

		if (how == 1) {
			skipped++;
			snprintf(skip_why, sizeof(skip_why), "%s", ctl->why);
			continue;
		}
		if (how == 2) {
			for (c = 0; c < NCHECKS; c++)
				printf("not ok %d %s # error in iteration %ld: %s\n", c + 1,
					check_desc[c], it + 1, ctl->why);
			printf("# outcome: E %s\n", ctl->why);
			printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:0 error:%d\n", NCHECKS);
			return KSFT_FAIL;
		}
		ran++;
		for (c = 0; c < NSTEPS; c++)
			swapped[c] += ctl->swapped[c];
		for (c = 0; has_checks && c < NCHECKS; c++) {
			int g = ctl->got[c];

			if (!ctl->seen[c]) {
				printf("Bail out! check %d was never reached\n", c + 1);
				return KSFT_FAIL;
			}
			if (g < 64)
				values[c][g]++;
			if (!ctl->torn[c] && g < 64 && (accepted[c] >> g & 1))
				continue;
			if (ctl->torn[c] && !(ctl->mix[c] & ~accepted[c])) {
				/* every byte an accepted value: a write the race allows tore it */
				torn_ok[c]++;
				continue;
			}
			last[c] = g;
			if (!ctl->torn[c] && g < 64 && (history[c] >> g & 1 || g == 0)) {
				if (ro_get[c]) {
					stale[c]++;
					continue;
				}
				wrong[c]++;
				any_w = 1;
			} else if (ctl->torn[c]) {
				wrong[c]++;
				any_w = 1;
			} else {
				missed[c]++;
				any_m = 1;
			}
		}
		bad += any_m || any_w;
		bad_missed += any_m;
		bad_wrong += any_w && !any_m;
	}
	if (!ran) {
		print_all_skip(skip_why);
		return KSFT_SKIP;
	}
	for (c = 0; c < NCHECKS; c++) {
		const char *seen = last[c] >= 0 && last[c] < (int)(sizeof(tok_name) / sizeof(tok_name[0]))
					? tok_name[last[c]] : "?";

		if (missed[c] || wrong[c]) {
			fail++;
			printf("not ok %d %s # %s: read %s in %ld of %ld iterations\n", c + 1,
				check_desc[c], missed[c] ? "missed COW (another process's data)"
				: "wrong COW (stale own data)", seen, missed[c] + wrong[c], ran);
		} else {
			pass++;
			if (stale[c])
				printf("ok %d %s # stale R/O get in %ld iterations "
					"(read %s; no coherence promised)\n",
					c + 1, check_desc[c], stale[c], seen);
			else if (torn_ok[c])
				printf("ok %d %s # torn by a racing write in %ld iterations "
					"(every byte an accepted value)\n",
					c + 1, check_desc[c], torn_ok[c]);
			else
				printf("ok %d %s\n", c + 1, check_desc[c]);
		}
	}
	for (c = 0; RACES && has_checks && c < NCHECKS; c++) {
		int g;

		printf("# check %d read:", c + 1);
		for (g = 0; g < (int)(sizeof(tok_name) / sizeof(tok_name[0])); g++)
			if (values[c][g])
				printf(" %s %ld", tok_name[g], values[c][g]);
		printf("\n");
	}
	for (c = 0; c < NSTEPS; c++)
		if (swapout_step[c])
			printf("# step %d: MADV_PAGEOUT swapped the page out in %ld/%ld iterations\n",
				c + 1, swapped[c], ran);
	if (RACES)
		printf("# race: %ld/%ld iterations reached a bad outcome (missed %ld, wrong %ld)%s\n",
			bad, ran, bad_missed, bad_wrong, skipped ? ", some iterations skipped" : "");
	if (skipped)
		printf("# %ld iterations skipped: %s\n", skipped, skip_why);
	printf("# outcome: %s %ld/%ld\n", bad_missed ? "M" : bad_wrong ? "W" : "H", bad, ran);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", pass, fail);
	return fail ? KSFT_FAIL : KSFT_PASS;
}
"""


def from_trace(path: str) -> tuple[Scenario, str, list[str]]:
    """(scenario, policy, header notes) for a trace a scenario run or open search exported.

    A scenario trace runs its scenario: a trace through a race becomes the
    scenario's stress loop, and the header lists the trace's interleaving
    (one line per atomic step).  An open-search trace (no scenario in its
    parameters) is rebuilt as a scenario by :func:`from_open_trace`.
    ValueError (one line) for a trace that is not the COW model's.
    """
    from . import resolve_scenario

    try:
        tr = load(path)
    except TraceError as e:
        raise ValueError(f"{e.cause}; {e.fix}" if e.fix else e.cause) from None
    if tr.model != "cow":
        raise ValueError(f"trace {path} is of model {tr.model!r}, not cow; give a trace "
                         "of `mcheck check models/cow --scenario NAME --export DIR` or "
                         "`mcheck explore models/cow --budget ... --export DIR`")
    ref = tr.params.get("scenario")
    if ref is None and "budget" in tr.params:
        return from_open_trace(tr, path)
    if not isinstance(ref, str) or not ref:
        raise ValueError(f"trace {path} names no scenario and no budget (params "
                         f"{sorted(tr.params)}); export it again with `mcheck check "
                         "models/cow --scenario NAME --export DIR`")
    policy = tr.params.get("policy", "E6")
    if not isinstance(policy, str):
        raise ValueError(f"trace {path}: params.policy is {policy!r}, not a name")
    s = SCENARIOS[ref] if ref in SCENARIOS else resolve_scenario(ref)
    notes = [f"From trace {path}: {tr.property} under {policy}: {tr.message}",
             "The trace's interleaving (thread: atomic step):"]
    for a in tr.actions:
        if isinstance(a, (list, tuple)) and len(a) >= 2:
            notes.append(f"  {a[0]}: {a[1]}")
    return s, policy, notes


@dataclass
class _OpenOp:
    """One operation an open-search trace started: who, what, and the steps it spans."""

    thread: str
    op: tuple                     # the model's operation tuple (kind, args...)
    start: int                    # index of its first step in the trace
    end: int                      # index of its last step (len(actions): still running)
    preempted: bool = False       # another thread ran inside it where it could move


#: ``Scenario.source`` of a scenario rebuilt from an open-search trace.
_OPEN_SOURCE = "an open-search trace (models/cow/reproduce.py from_open_trace)"

#: The verdict letter each oracle property stands for.
_PROPERTY_LETTER = MappingProxyType({"missed_cow": "M", "wrong_cow": "W",
                                     "unnecessary_cow": "U"})


def _open_op(model: OpenCowModel, thread: str, op: tuple) -> Op:
    """The scenario operation for the open model's operation tuple ``op``."""
    kind = OP_NAMES[op[0]]
    a = op[1:]
    if kind == "write":
        return Op("write", thread, (a[0], model.token_name(a[1])))
    if kind == "read":
        return Op("read", thread, (a[0],))
    if kind == "fork":
        return Op("fork", thread, (model.proc_names[a[0]],))
    if kind == "gup":
        v, k, pin, rw, fast = a
        return Op("gup", thread, (v, model.handle_names[k], bool(pin), bool(rw), bool(fast)))
    if kind in ("unpin", "dma_read"):
        return Op(kind, thread, (model.handle_names[a[0]],))
    if kind == "dma_write":
        return Op("dma_write", thread, (model.handle_names[a[0]], model.token_name(a[1])))
    if kind == "munmap":
        return Op("munmap", thread, (a[0],))
    if kind == "exit":
        return Op("exit", thread, ())
    if kind == "mprotect":
        return Op("mprotect", thread, (a[0], bool(a[1])))
    if kind == "clear_refs":
        return Op("clear_refs", thread, (a[0],))
    if kind == "swapout":
        # MADV_PAGEOUT acts on the caller's own mm: the reclaim thread becomes a
        # thread of the process whose page it swaps out
        return Op("swapout", f"{model.proc_names[a[0]]}.reclaim", (model.proc_names[a[0]], a[1]))
    if kind == "migrate":
        return Op("migrate", "migrate", (model.proc_names[a[0]], a[1]))
    raise ValueError(f"open-search operation {op!r} has no scenario form")  # pragma: no cover


def _open_ops(model: OpenCowModel, path: Path) -> list[_OpenOp]:
    """The operations of a replayed open-search path, each with the steps it spans."""
    from mcheck.render import steps as rendered

    pre = [r.preemption for r in rendered(model, path)]
    running: dict[int, _OpenOp] = {}
    ops: list[_OpenOp] = []
    n = len(path.actions)
    for i, a in enumerate(path.actions):
        name, _label, choices = a
        if name == LRU:
            continue
        t = model.thread_names.index(name)
        if choices and isinstance(choices[0], tuple):
            running[t] = _OpenOp(name, choices[0], i, n)
            ops.append(running[t])
        if pre[i] and i:
            # a preemption inside an operation: the switched-away thread was mid-way
            prev = model.thread_names.index(path.actions[i - 1][0]) \
                if path.actions[i - 1][0] != LRU else None
            if prev is not None and prev in running:
                running[prev].preempted = True
        if model.current_op(path.states[i + 1], t) is None and t in running:
            running.pop(t).end = i
    return ops


def _windows(model: OpenCowModel, ops: list[_OpenOp]
             ) -> tuple[list[list[_OpenOp]], list[str]]:
    """Cut the operations into steps: operations whose steps interleave race.

    Operations are taken in the order they started.  One joins the current
    step when it started before every operation of the step ended (a thread
    may so run several operations in a row inside one window), unless its
    process is forked inside the step (the program cannot start a child's
    operation together with the fork that creates it): then it starts a new
    step, and the overlap so lost is reported in the second list.
    """
    groups: list[list[_OpenOp]] = []
    lost: list[str] = []
    end = -1
    for o in sorted(ops, key=lambda o: o.start):
        g = groups[-1] if groups else None
        proc = model.thread_proc[model.thread_names.index(o.thread)]
        if OP_NAMES[o.op[0]] == "swapout":
            proc = o.op[1]
        born = g is not None and any(OP_NAMES[x.op[0]] == "fork" and x.op[1] == proc
                                     for x in g)
        if g is not None and o.start <= end and not born:
            g.append(o)
            end = max(end, o.end)
            continue
        if g is not None and o.start <= end:
            lost.append(f"{model.proc_names[proc]}'s {_op_text(_open_op(model, o.thread, o.op))}"
                        " started inside the window of the fork that created it; the program "
                        "runs it after the window")
        groups.append([o])
        end = o.end
    return groups, lost


def _open_scenario(name: str, title: str, groups: list[list[Op]], procs: tuple[str, ...],
                   model: OpenCowModel) -> Scenario:
    """The scenario whose steps are ``groups``, built as ``scenario()`` builds one.

    Unlike ``scenario()``, a step may hold several operations of one thread
    (in its order): each gets the snapshot of the operations completed
    before the step, which :func:`steps_of` reads back as one window.
    """
    order = list(dict.fromkeys(op.thread for g in groups for op in g))
    tindex = {t: i for i, t in enumerate(order)}
    programs: list[list[Op]] = [[] for _ in order]
    handles: list[str] = []
    tokens: list[str] = []
    done = [0] * len(order)
    for g in groups:
        snap = list(done)
        for op in g:
            t = tindex[op.thread]
            after = tuple((i, n) for i, n in enumerate(snap) if n and i != t)
            programs[t].append(Op(op.kind, op.thread, op.args, after))
            if op.kind == "gup" and op.args[1] not in handles:
                handles.append(op.args[1])
            if op.kind in ("write", "dma_write") and op.args[-1] not in tokens:
                tokens.append(op.args[-1])
            done[t] += 1
    threads = tuple((t, procs.index(t.split(".")[0])) for t in order)
    built = Scenario(name, title, procs, threads, tuple(tuple(p) for p in programs),
                     tuple(handles), tuple(tokens), model.cfg.pages, model.cfg.frames,
                     model.cfg.slots, {}, _OPEN_SOURCE)
    validate(built)
    return built


def from_open_trace(tr: Trace, path: str) -> tuple[Scenario, str, list[str]]:
    """(scenario, policy, header notes) for a trace ``mcheck explore --budget`` exported.

    The trace is replayed through the open model it records (a trace of a
    changed model is refused).  Each thread's operations, in the order they
    started, become the scenario's operations; operations whose steps
    interleave in the trace (a thread switched away from in the middle of
    one) become one ``race(...)``, which the program loops as a stress test,
    and operations that did not overlap run in the trace's order, sequenced
    by pipes.  The reclaim thread's swap-out of a process's page runs in
    that process (MADV_PAGEOUT acts on the caller's own mm).  Every handle
    still held at the end is read through its device path by the thread that
    made it, so the oracle's handle observation becomes a check; the final
    view of every mapped page is checked as for any scenario.  The header
    says what the model gives for the rebuilt scenario under the trace's
    policy and under E6.
    """
    from mcheck.trace import replay

    from . import mcheck_models
    from .conform import model_verdict

    try:
        models = mcheck_models(dict(tr.params))
    except ValueError as e:
        raise ValueError(f"trace {path}: its parameters do not build the open model: {e}"
                         ) from None
    model = models[0]
    if len(models) != 1 or not isinstance(model, OpenCowModel):  # pragma: no cover
        raise ValueError(f"trace {path}: its parameters do not name one open-search model")
    try:
        res = replay(model, tr)
    except TraceError as e:
        raise ValueError(f"trace {path}: {e.cause}; {e.fix}" if e.fix
                         else f"trace {path}: {e.cause}") from None
    ops = _open_ops(model, res.path)
    if not ops:
        raise ValueError(f"trace {path} starts no operation; export a trace with at least "
                         "one step")
    groups, lost = _windows(model, ops)
    policy = model.policy_ref
    forked = [model.proc_names[o.op[1]] for o in ops if OP_NAMES[o.op[0]] == "fork"]
    procs = ("P", *forked)
    steps = [[_open_op(model, o.thread, o.op) for o in g] for g in groups]
    # the handles still held at the end: read them where they were made
    held: dict[str, str] = {}
    exited = set()
    for o in sorted(ops, key=lambda o: o.start):
        op = _open_op(model, o.thread, o.op)
        if op.kind == "gup":
            held[op.args[1]] = o.thread
        elif op.kind == "unpin":
            held.pop(op.args[0], None)
        elif op.kind == "exit":
            exited.add(o.thread.split(".")[0])
    steps += [[Op("dma_read", t, (k,))] for k, t in held.items()
              if t.split(".")[0] not in exited]
    name = "open-" + re.sub(r"[^A-Za-z0-9]+", "-", f"{policy}-{tr.property}").strip("-")
    title = (f"open search {format_budget(model.budget)} threads={model.tpp}: {tr.property}: "
             f"{tr.message}")
    built_s = _open_scenario(name, title, steps, procs, model)
    verdicts = {pol: model_verdict(built_s, pol) for pol in dict.fromkeys((policy, "E6"))}
    s = built_s.with_expect(**verdicts)
    windows = sum(1 for g in groups if len({o.thread for o in g}) > 1)
    n_pre = sum(o.preempted for o in ops)
    notes = [f"From open-search trace {path}: {tr.property} under {policy}: {tr.message}",
             f"params: {' '.join(f'{k}={v}' for k, v in tr.params.items())}",
             f"{len(tr.actions)} steps, {len(ops)} operations, {n_pre} preempted inside an "
             f"operation, {windows} racing window{'s' if windows != 1 else ''} (looped)",
             "The model on this program as a scenario: " + ", ".join(
                 f"{pol} {v}" for pol, v in verdicts.items())]
    want = _PROPERTY_LETTER.get(tr.property)
    if want is not None and verdicts[policy] not in ("MW" if want in "MW" else "MWU"):
        notes.append(f"WARNING: the trace is {want} under {policy} but the program as a "
                     f"scenario gives {verdicts[policy]}: the rebuilt sequencing lost it")
    notes += lost
    notes.append("The trace's interleaving (thread: atomic step; * a preemption):")
    from mcheck.render import steps as rendered

    for r in rendered(model, res.path):
        notes.append(f"  {r.index}{'*' if r.preemption else ''} {r.thread}: {r.action}")
    return s, policy, notes


class HelpShown(Exception):
    """``--help`` was given: the help is printed, the command ends with status 0."""


class CommandParser(argparse.ArgumentParser):
    """An argument parser that raises ValueError instead of exiting, so the caller (the
    mcheck command line) prints one line and decides the exit status."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        if status:
            raise ValueError(message or f"exit status {status}")
        raise HelpShown()


def main(argv: list[str] | None = None, prog: str = "python -m models.cow.reproduce") -> int:
    """``mcheck reproduce models/cow --scenario NAME [--policy P] -o FILE.c``.

    Bad input prints one line naming the cause and the fix, and returns 2."""
    try:
        return _main(argv, prog)
    except HelpShown:
        return 0


def _main(argv: list[str] | None, prog: str) -> int:
    ap = CommandParser(prog=prog, description="write a C reproducer for a COW scenario")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--scenario", help="catalogue name or path.py:NAME")
    src.add_argument("--trace", help="a trace file exported by `mcheck check --scenario` or "
                     "`mcheck explore --budget` (--export DIR)")
    ap.add_argument("--policy", default=None, help="the era whose expectation the program "
                    "quotes (default E6, or the trace's)")
    ap.add_argument("--iterations", type=int, default=None,
                    help=f"default iterations of a race scenario (default {DEFAULT_ITERATIONS})")
    ap.add_argument("-o", "--output", required=True, help="the .c file to write ('-': stdout)")
    try:
        args = ap.parse_args(argv)
    except ValueError as e:
        print(f"{prog}: {e}; see {prog} --help", file=sys.stderr)
        return 2
    from . import resolve_policy, resolve_scenario

    try:
        notes: list[str] = []
        if args.trace is not None:
            s, policy, notes = from_trace(args.trace)
        else:
            s = resolve_scenario(args.scenario) if args.scenario not in SCENARIOS else \
                SCENARIOS[args.scenario]
            policy = "E6"
        pol = resolve_policy(args.policy or policy)
        if args.iterations is not None and args.iterations < 1:
            raise ValueError(f"--iterations {args.iterations} is impossible: give at least 1")
        text = generate(s, pol.name, args.iterations, notes)
    except ValueError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    try:
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
    except OSError as e:
        print(f"{prog}: cannot write {args.output}: {e.strerror}; give a writable path",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
