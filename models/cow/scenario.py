"""Scenarios as data: threads running fixed programs of kernel-level operations.

A scenario is written as the sequence a selftest would drive with pipes:
each entry runs after every earlier entry completed; ``race(...)`` groups
entries that run concurrently, and the checker explores every interleaving
of their atomic steps.  The LRU-pagevec drain always runs free.

Operations (thread names are the scenario's; ``v`` is a page index):

=========================== ===========================================================
``write(T, v, tok)``        a store of token ``tok`` (faults as needed)
``read(T, v)``              a load (faults in a swapped page)
``fork(T, child)``          fork(); ``child`` is a process name of the scenario
``pin(T, v, k, rw, fast)``  pin_user_pages[_fast](FOLL_LONGTERM) into handle ``k``
                            (io_uring fixed buffer, RDMA, gup_test PIN_LONGTERM)
``get(T, v, k, rw, fast)``  get_user_pages[_fast] (vmsplice: R/O; O_DIRECT read: R/W)
``unpin(T, k)``             unpin / put_page of handle ``k``
``dma_write(T, k, tok)``    device write through handle ``k``
``dma_read(T, k)``          device read (pipe read, IORING write_fixed, PIN_LONGTERM_TEST_READ)
``munmap(T, v)``            munmap / MADV_DONTNEED
``exit(T)``                 exit(): zap every PTE
``mprotect(T, v, rw)``      mprotect(PROT_READ[|PROT_WRITE])
``clear_refs(T, v)``        echo 4 > /proc/self/clear_refs (soft-dirty)
``swapout(T, P, v)``        reclaim (MADV_PAGEOUT) of the page process P maps at v
``migrate(T, P, v)``        migration (move_pages(2)) of the page process P maps at v
=========================== ===========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Op", "Race", "Scenario", "race", "write", "read", "fork", "pin", "get", "unpin",
           "dma_write", "dma_read", "munmap", "exit_", "mprotect", "clear_refs", "swapout",
           "migrate", "BACKINGS", "ERA_ORDER", "scenario", "validate"]

ERA_ORDER = ("E1", "E2", "E3t", "E3", "E4", "E5", "E6")

#: What a scenario's page is: a small page, a PMD-mapped anonymous THP, a hugetlb page.
BACKINGS = ("page", "thp", "hugetlb")


@dataclass(frozen=True)
class Op:
    kind: str
    thread: str
    args: tuple = ()
    after: tuple = ()  # ((thread index, ops completed), ...) filled in by the builder

    def describe(self) -> str:
        a = ", ".join(str(x) for x in self.args)
        return f"{self.kind}({a})"


@dataclass(frozen=True)
class Race:
    ops: tuple[Op, ...]


def race(*ops: Op) -> Race:
    """Entries that run concurrently: every interleaving of their steps is explored."""
    return Race(tuple(ops))


def write(t: str, v: int, tok: str) -> Op:
    return Op("write", t, (v, tok))


def read(t: str, v: int) -> Op:
    return Op("read", t, (v,))


def fork(t: str, child: str) -> Op:
    return Op("fork", t, (child,))


def pin(t: str, v: int, k: str, rw: bool = True, fast: bool = False) -> Op:
    return Op("gup", t, (v, k, True, rw, fast))


def get(t: str, v: int, k: str, rw: bool = False, fast: bool = True) -> Op:
    return Op("gup", t, (v, k, False, rw, fast))


def unpin(t: str, k: str) -> Op:
    return Op("unpin", t, (k,))


def dma_write(t: str, k: str, tok: str) -> Op:
    return Op("dma_write", t, (k, tok))


def dma_read(t: str, k: str) -> Op:
    return Op("dma_read", t, (k,))


def munmap(t: str, v: int) -> Op:
    return Op("munmap", t, (v,))


def exit_(t: str) -> Op:
    return Op("exit", t, ())


def mprotect(t: str, v: int, rw: bool) -> Op:
    return Op("mprotect", t, (v, rw))


def clear_refs(t: str, v: int) -> Op:
    return Op("clear_refs", t, (v,))


def swapout(t: str, proc: str, v: int) -> Op:
    return Op("swapout", t, (proc, v))


def migrate(t: str, proc: str, v: int) -> Op:
    return Op("migrate", t, (proc, v))


@dataclass(frozen=True)
class Scenario:
    """A scenario: processes, threads (each in a process), their programs, expectations.

    ``expect`` maps a policy name to the expected verdict: "H" holds, "M"
    missed COW, "W" wrong COW, "U" unnecessary COW with correct data;
    ``sources`` says where each expectation comes from.
    """

    name: str
    title: str
    procs: tuple[str, ...]
    threads: tuple[tuple[str, int], ...]          # (thread name, process index)
    programs: tuple[tuple[Op, ...], ...]
    handles: tuple[str, ...]
    tokens: tuple[str, ...]
    pages: int = 1
    frames: int = 3
    slots: int = 1
    expect: dict[str, str] = field(default_factory=dict, compare=False)
    source: str = ""
    reproduces: str = ""
    #: what the page is: "page" (small), "thp" (PMD-mapped THP) or "hugetlb" (../huge.py)
    backing: str = "page"

    def proc_index(self, name: str) -> int:
        return self.procs.index(name)

    def token(self, name: str) -> int:
        return self.tokens.index(name) + 1  # 0 is the zero page

    def handle(self, name: str) -> int:
        return self.handles.index(name)

    def with_expect(self, **kw: str) -> Scenario:
        e = dict(self.expect)
        e.update(kw)
        return Scenario(self.name, self.title, self.procs, self.threads, self.programs,
                        self.handles, self.tokens, self.pages, self.frames, self.slots, e,
                        self.source, self.reproduces, self.backing)


def _proc_of_thread(name: str, procs: Sequence[str], explicit: dict[str, str]) -> int:
    if name in explicit:
        return procs.index(explicit[name])
    base = name.split(".")[0]
    if base in procs:
        return procs.index(base)
    raise ValueError(f"thread {name!r} belongs to no process; name it 'PROC' or 'PROC.x' "
                     f"or list it in threads=")


def scenario(name: str, title: str, steps: Sequence[Op | Race], *, procs: Sequence[str],
             expect: str | dict[str, str] = "", source: str = "", pages: int = 1,
             frames: int = 3, slots: int = 1, threads: dict[str, str] | None = None,
             reproduces: str = "", backing: str = "page") -> Scenario:
    """Build a scenario from its sequenced steps.

    ``expect`` is either seven verdicts in era order (E1 E2 E3t E3 E4 E5 E6,
    "-" for not applicable) or a dict keyed by policy name.  Thread names
    are process names, or "PROC.x" for a second thread of PROC, or "reclaim"
    style names listed in ``threads`` (reclaim runs in no process: give it
    the first process; it takes no lock of it).
    """
    threads = dict(threads or {})
    _check_steps(name, steps, procs, pages, threads)
    order: list[str] = []
    for entry in steps:
        for op in (entry.ops if isinstance(entry, Race) else (entry,)):
            if op.thread not in order:
                order.append(op.thread)
    tindex = {t: i for i, t in enumerate(order)}
    programs: list[list[Op]] = [[] for _ in order]
    handles: list[str] = []
    tokens: list[str] = []
    done = [0] * len(order)
    for entry in steps:
        group = entry.ops if isinstance(entry, Race) else (entry,)
        after = tuple((i, n) for i, n in enumerate(done) if n)
        for op in group:
            t = tindex[op.thread]
            own = tuple((i, n) for i, n in after if i != t)
            programs[t].append(Op(op.kind, op.thread, op.args, own))
            if op.kind == "gup" and op.args[1] not in handles:
                handles.append(op.args[1])
            if op.kind in ("write", "dma_write") and op.args[-1] not in tokens:
                tokens.append(op.args[-1])
        for op in group:
            done[tindex[op.thread]] += 1
    if isinstance(expect, str):
        verdicts = expect.split()
        if verdicts and len(verdicts) != len(ERA_ORDER):
            raise ValueError(f"scenario {name}: expect needs {len(ERA_ORDER)} verdicts")
        exp = {e: x for e, x in zip(ERA_ORDER, verdicts, strict=False) if x != "-"}
    else:
        exp = dict(expect)
    for v in exp.values():
        if v not in ("H", "M", "W", "U"):
            raise ValueError(f"scenario {name}: verdict {v!r} is not H, M, W or U")
    th = tuple((t, _proc_of_thread(t, procs, threads)) for t in order)
    built = Scenario(name, title, tuple(procs), th, tuple(tuple(p) for p in programs),
                     tuple(handles), tuple(tokens), pages, frames, slots, exp, source,
                     reproduces, backing)
    validate(built)
    return built


#: Per operation kind: the positions of its page-index arguments.
_PAGE_ARGS = MappingProxyType({
    "write": (0,), "read": (0,), "gup": (0,), "munmap": (0,), "mprotect": (0,),
    "clear_refs": (0,), "swapout": (1,), "migrate": (1,), "fork": (), "unpin": (), "dma_write": (),
    "dma_read": (), "exit": ()})
_HANDLE_USERS = ("unpin", "dma_write", "dma_read")


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_steps(name: str, steps: Sequence[Op | Race], procs: Sequence[str], pages: int,
                 threads: dict[str, str]) -> None:
    """Refuse steps that cannot mean anything, in their order (ValueError, one line each).

    A handle must be made by a ``pin``/``get`` in an earlier step than any
    ``unpin``/``dma_*`` of it; a forked child's threads act only after the
    fork; a child is forked once, by another process.
    """
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
        raise ValueError(f"scenario {name}: steps must be a list of operations, got "
                         f"{type(steps).__name__}")
    if not steps:
        raise ValueError(f"scenario {name}: the program is empty; give at least one "
                         "operation, e.g. write(\"P\", 0, \"a\")")
    procs = tuple(procs)
    forked = set()
    for entry in steps:
        for op in (entry.ops if isinstance(entry, Race) else (entry,)
                   if isinstance(entry, Op) else ()):
            if isinstance(op, Op) and op.kind == "fork" and op.args:
                child = op.args[0]
                if child not in procs:
                    raise ValueError(f"scenario {name}: fork() of {child!r}, which is not in "
                                     f"procs={procs!r}; list the child in procs")
                if child == (threads.get(op.thread) or op.thread.split(".")[0]):
                    raise ValueError(f"scenario {name}: {op.thread} forks into its own "
                                     f"process {child}; fork a child listed in procs")
                forked.add(child)
    made: set[str] = set()
    born: set[str] = set()
    for entry in steps:
        if not isinstance(entry, (Op, Race)):
            raise ValueError(f"scenario {name}: step {entry!r} is not an operation; use "
                             "write(), fork(), pin(), race(...) and the other builders")
        group = entry.ops if isinstance(entry, Race) else (entry,)
        if isinstance(entry, Race) and not group:
            raise ValueError(f"scenario {name}: race() with no operation; give it two or "
                             "more operations")
        new_handles: set[str] = set()
        new_children: set[str] = set()
        for op in group:
            if not isinstance(op, Op):
                raise ValueError(f"scenario {name}: {op!r} inside race() is not an operation")
            proc = (threads.get(op.thread) or op.thread.split(".")[0])
            if proc in forked and proc not in born:
                raise ValueError(f"scenario {name}: {op.thread} runs {op.describe()} before "
                                 f"fork() created process {proc}; move it after the fork")
            if op.kind in _HANDLE_USERS and op.args and op.args[0] not in made:
                raise ValueError(f"scenario {name}: {op.describe()} uses handle "
                                 f"{op.args[0]!r} before a pin() or get() made it; pin or "
                                 "get it in an earlier step")
            if op.kind == "gup":
                new_handles.add(op.args[1])
            if op.kind == "fork":
                child = op.args[0]
                if child in born or child in new_children:
                    raise ValueError(f"scenario {name}: {op.describe()} forks {child} a second "
                                     "time; fork each child once")
                new_children.add(child)
        made |= new_handles
        born |= new_children


def validate(s: Scenario) -> None:
    """Refuse a scenario that cannot mean anything (ValueError naming the cause and the fix).

    No frame, no page, no operation, a page index outside ``0..pages-1``, an
    unknown process, handle or token: the search would explore nothing real
    and say HOLDS.
    """
    where = f"scenario {s.name}"
    if s.backing not in BACKINGS:
        raise ValueError(f"{where}: backing={s.backing!r}; use one of {', '.join(BACKINGS)}")
    for what, value, least in (("pages", s.pages, 1), ("frames", s.frames, 1),
                               ("slots", s.slots, 0)):
        if not _is_count(value) or value < least:
            raise ValueError(f"{where}: {what}={value!r}; give a whole number of at least "
                             f"{least}")
    if not s.procs or len(set(s.procs)) != len(s.procs):
        raise ValueError(f"{where}: procs={s.procs!r}; name each process once, e.g. "
                         "procs=(\"P\", \"C\")")
    if not s.programs or not any(s.programs):
        raise ValueError(f"{where}: the program is empty; give at least one operation")
    if len(s.programs) != len(s.threads):
        raise ValueError(f"{where}: {len(s.threads)} threads but {len(s.programs)} programs;"
                         " build it with scenario()")
    for (t, p), prog in zip(s.threads, s.programs, strict=True):
        if not _is_count(p) or not 0 <= p < len(s.procs):
            raise ValueError(f"{where}: thread {t} belongs to process index {p!r}; use one "
                             f"of 0..{len(s.procs) - 1}")
        for op in prog:
            if op.kind not in _PAGE_ARGS:
                raise ValueError(f"{where}: unknown operation {op.kind!r}; use one of "
                                 f"{', '.join(sorted(_PAGE_ARGS))}")
            for i in _PAGE_ARGS[op.kind]:
                v = op.args[i] if i < len(op.args) else None
                if not _is_count(v) or not 0 <= v < s.pages:
                    raise ValueError(f"{where}: {t} runs {op.describe()} with page index "
                                     f"{v!r}; pages={s.pages} allows 0..{s.pages - 1}")
            if op.kind in ("fork", "swapout", "migrate") and op.args[0] not in s.procs:
                raise ValueError(f"{where}: {op.describe()} names process {op.args[0]!r}, "
                                 f"not one of {', '.join(s.procs)}")
            if op.kind in _HANDLE_USERS and op.args[0] not in s.handles:
                raise ValueError(f"{where}: {op.describe()} uses handle {op.args[0]!r}, which "
                                 "no pin() or get() makes; pin or get it first")
            if op.kind in ("write", "dma_write") and op.args[-1] not in s.tokens:
                raise ValueError(f"{where}: token {op.args[-1]!r} is not in tokens")


def describe_program(s: Scenario) -> list[str]:
    """The scenario as numbered lines, for people."""
    out = []
    for (t, p), prog in zip(s.threads, s.programs, strict=True):
        out.append(f"{t} (process {s.procs[p]}): " + "; ".join(op.describe() for op in prog))
    return out

