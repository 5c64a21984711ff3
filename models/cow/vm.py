"""The abstract VM's state: frames, swap slots, processes, GUP handles, threads, ghosts.

The state the checker stores is an immutable tuple of ints and tuples
(``World.freeze``).  A step decodes it into a private, mutable ``World``,
lets the kernel operations of the ``mm`` package edit that copy, and freezes the
result, so every step is a pure function from state to state.

Layout (see ../../docs/abstract-vm.md, "State"):

* frame (struct page): ``ref`` (page_count), ``map`` (page_mapcount), ``lru``
  (a fresh page's LRU-pagevec reference until drained), ``swapcache`` (slot
  or NONE), ``ae`` (PageAnonExclusive), ``locked`` (page lock, held by
  reclaim), ``data`` (content token), ``inactive`` (David Hildenbrand's
  "inactive count" of the seed: page tables referencing the page through a
  swap entry of its swap-cache slot or a migration entry; kept in every era,
  read only by ``precise-2021``).  A free frame is all zero with
  ``swapcache == NONE``: one canonical free form.
* swap slot: ``swapcount`` (swap PTEs naming it), ``cache`` (frame or NONE),
  ``data`` (what pageout wrote).  Free when both counts are zero.
* process (mm): ``alive`` (UNBORN, ALIVE, EXITED), ``pte[v]``, ``vm_write[v]``
  (VM_WRITE of the VMA),
  ``wps`` (write_protect_seq), ``mmap`` (0 free, -1 held for write, n > 0
  readers), ``ptl`` (a fork holds the page-table locks between its per-PTE
  decide and apply), ``has_pinned`` (mm->has_pinned / MMF_HAS_PINNED), the
  ghost ``L[v]`` (what the process would read if memory were private) and
  ``hist`` (a bit set of the tokens the process legitimately held).
* PTE: ``(NONE_K, 0, 0, 0)``, ``(PRESENT, frame, writable, softdirty)``,
  ``(SWAP, slot, swp_exclusive, 0)``, ``(MIGRATION, frame, writable, exclusive)``
  (a migration entry names the page being migrated; it holds no reference
  and no mapcount).
* handle (a GUP reference): ``state`` (UNUSED/LIVE/RELEASED), ``frame``,
  ``owner``, ``vpn``, ``pin`` (FOLL_PIN, else FOLL_GET), ``rw``,
  ``attached`` (owner still maps ``vpn``), ``expect`` (ghost: what the
  device should read through it).
* thread: ``pc`` (operations completed; scripted scenarios only), ``sub``
  (step within the operation), ``loc`` (locals of the operation in
  flight), ``held`` and ``held_refs`` (references an in-flight step holds:
  a GUP-fast grab before its recheck, reclaim's or migration's isolation reference),
  ``op`` (open search: the operation in flight, or ``()`` when idle).
* global: the open search's remaining budget per operation kind and the
  number of write tokens issued (``((), 0)`` for a scripted scenario).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mcheck.symmetry import differs

__all__ = [
    "NONE", "NONE_K", "PRESENT", "SWAP", "MIGRATION", "NO_PTE", "migration_pte",
    "UNUSED", "LIVE", "RELEASED", "UNBORN", "ALIVE", "EXITED",
    "Config", "Frame", "Slot", "Proc", "Handle", "Thread", "World", "NeedChoice", "Blocked",
    "present_pte", "swap_pte", "token_bit",
]

NONE = -1  # no frame / no slot

NONE_K, PRESENT, SWAP, MIGRATION = 0, 1, 2, 3
NO_PTE = (NONE_K, 0, 0, 0)


def present_pte(frame: int, writable: int, soft_dirty: int) -> tuple:
    """A present PTE: ``(PRESENT, frame, writable, soft_dirty)``."""
    return (PRESENT, frame, writable, soft_dirty)


def swap_pte(slot: int, exclusive: int) -> tuple:
    """A swap PTE: ``(SWAP, slot, SWP_EXCLUSIVE, 0)``."""
    return (SWAP, slot, exclusive, 0)


def migration_pte(frame: int, writable: int, exclusive: int) -> tuple:
    """A migration entry: ``(MIGRATION, frame, writable, exclusive)``; E6 has writable,
    readable-exclusive and readable entries (6c287605fd56), earlier eras writable and readable."""
    return (MIGRATION, frame, writable, exclusive)


def token_bit(token: int) -> int:
    """A write token's bit in a process's history set."""
    return 1 << token

UNUSED, LIVE, RELEASED = 0, 1, 2  # handle states

UNBORN, ALIVE, EXITED = 0, 1, 2  # process states (an exited slot is never reused)


@dataclass(frozen=True)
class Config:
    """Sizes of one configuration."""

    procs: int
    pages: int
    frames: int
    slots: int
    handles: int
    threads: int
    bias: int = 8          # GUP_PIN_COUNTING_BIAS; page_maybe_dma_pinned is ref >= bias
    spurious_trylock: bool = False  # let trylock_page fail at will (not only under reclaim)
    alloc_lowest: bool = False  # broken control: the allocator takes the lowest free frame
    backing: str = "page"  # the one page: a small page, a PMD-mapped THP or hugetlb (huge.py)


class NeedChoice(Exception):
    """Raised by an allocation that needs the search to choose: carries the candidates."""

    def __init__(self, what: str, candidates: list[int]) -> None:
        super().__init__(what)
        self.what = what
        self.candidates = candidates


class Blocked(Exception):
    """Raised by a step that cannot run now (a lock is held, nothing to allocate)."""


class Frame:
    __slots__ = ("ref", "map", "lru", "swapcache", "ae", "locked", "data", "inactive")

    def __init__(self, t: tuple) -> None:
        (self.ref, self.map, self.lru, self.swapcache, self.ae, self.locked, self.data,
         self.inactive) = t

    @classmethod
    def new(cls, *, ref: int, map: int, lru: int, swapcache: int, ae: int, data: int,
            locked: int = 0, inactive: int = 0) -> Frame:
        """A frame built by field name."""
        return cls((ref, map, lru, swapcache, ae, locked, data, inactive))

    def freeze(self) -> tuple:
        return (self.ref, self.map, self.lru, self.swapcache, self.ae, self.locked, self.data,
                self.inactive)

    @property
    def free(self) -> bool:
        return self.ref == 0


FREE_FRAME = (0, 0, 0, NONE, 0, 0, 0, 0)


class Slot:
    __slots__ = ("swapcount", "cache", "data")

    def __init__(self, t: tuple) -> None:
        self.swapcount, self.cache, self.data = t

    def freeze(self) -> tuple:
        return (self.swapcount, self.cache, self.data)

    @property
    def free(self) -> bool:
        return self.swapcount == 0 and self.cache == NONE


FREE_SLOT = (0, NONE, 0)


class Proc:
    __slots__ = ("alive", "pte", "vm_write", "wps", "mmap", "ptl", "has_pinned", "L", "hist")

    def __init__(self, t: tuple) -> None:
        (alive, pte, vmw, self.wps, self.mmap, self.ptl, self.has_pinned, L, self.hist) = t
        self.alive = alive
        self.pte = list(pte)
        self.vm_write = list(vmw)
        self.L = list(L)

    @staticmethod
    def record(*, alive: int, pte: tuple, vm_write: tuple, L: tuple, wps: int = 0,
               mmap: int = 0, ptl: int = 0, has_pinned: int = 0, hist: int = 0) -> tuple:
        """A process record (as states hold it) built by field name."""
        return (alive, pte, vm_write, wps, mmap, ptl, has_pinned, L, hist)

    def freeze(self) -> tuple:
        return (self.alive, tuple(self.pte), tuple(self.vm_write), self.wps, self.mmap,
                self.ptl, self.has_pinned, tuple(self.L), self.hist)


class Handle:
    __slots__ = ("state", "frame", "owner", "vpn", "pin", "rw", "attached", "expect")

    def __init__(self, t: tuple) -> None:
        (self.state, self.frame, self.owner, self.vpn, self.pin, self.rw, self.attached,
         self.expect) = t

    def freeze(self) -> tuple:
        return (self.state, self.frame, self.owner, self.vpn, self.pin, self.rw, self.attached,
                self.expect)


UNUSED_HANDLE = (UNUSED, NONE, 0, 0, 0, 0, 0, 0)


class Thread:
    __slots__ = ("pc", "sub", "loc", "held", "held_refs", "op")

    def __init__(self, t: tuple) -> None:
        self.pc, self.sub, loc, self.held, self.held_refs, self.op = t
        self.loc = list(loc)

    def freeze(self) -> tuple:
        return (self.pc, self.sub, tuple(self.loc), self.held, self.held_refs, self.op)


IDLE_THREAD = (0, 0, (), NONE, 0, ())


class _Lazy:
    """A tuple of records decoded into mutable objects only where a step touches them.

    ``freeze`` shares every untouched (or unchanged) element with the input
    state, so a step costs what it touches and successor states share
    structure in memory.
    """

    __slots__ = ("orig", "objs", "cls")

    def __init__(self, orig: tuple, cls: type) -> None:
        self.orig = orig
        self.objs: dict[int, Any] = {}
        self.cls = cls

    def __getitem__(self, i: int) -> Any:
        o = self.objs.get(i)
        if o is None:
            o = self.objs[i] = self.cls(self.orig[i])
        return o

    def __setitem__(self, i: int, obj: Any) -> None:
        self.objs[i] = obj

    def __len__(self) -> int:
        return len(self.orig)

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self.orig)):
            yield self[i]

    def peek(self, i: int) -> tuple:
        """Element ``i`` as a tuple, without decoding it."""
        o = self.objs.get(i)
        return self.orig[i] if o is None else o.freeze()

    def freeze(self) -> tuple:
        """The tuple with the decoded elements frozen (``World.freeze`` skips a _Lazy that
        decoded none: then it is ``orig``)."""
        out = list(self.orig)
        changed = False
        for i, o in self.objs.items():
            f = o.freeze()
            if differs(f, out[i]):
                out[i] = f
                changed = True
        return tuple(out) if changed else self.orig


class World:
    """A private, mutable view of a state for one step (decoded lazily).

    ``budget`` is the open search's remaining budget as a tuple: a step that
    spends some replaces it (``freeze`` keeps the state's own tuple when no
    step did).
    """

    __slots__ = ("cfg", "frames", "slots", "procs", "handles", "threads", "choices", "_ci",
                 "notes", "budget", "tokens", "_glob")

    def __init__(self, state: tuple, cfg: Config, choices: tuple = ()) -> None:
        frames, slots, procs, handles, threads, glob = state
        self._glob = glob
        self.budget, self.tokens = glob
        self.cfg = cfg
        self.frames = _Lazy(frames, Frame)
        self.slots = _Lazy(slots, Slot)
        self.procs = _Lazy(procs, Proc)
        self.handles = _Lazy(handles, Handle)
        self.threads = _Lazy(threads, Thread)
        self.choices = choices
        self._ci = 0
        self.notes: list[str] = []

    def freeze(self) -> tuple:
        glob = self._glob
        if self.budget is not glob[0] or self.tokens != glob[1]:
            glob = (self.budget, self.tokens)
        fr, sl, pr, ha, th = self.frames, self.slots, self.procs, self.handles, self.threads
        return (fr.freeze() if fr.objs else fr.orig, sl.freeze() if sl.objs else sl.orig,
                pr.freeze() if pr.objs else pr.orig, ha.freeze() if ha.objs else ha.orig,
                th.freeze() if th.objs else th.orig, glob)

    def spend(self, i: int) -> None:
        """Open search: one operation of budget kind ``i`` starts."""
        b = self.budget
        self.budget = b[:i] + (b[i] - 1,) + b[i + 1:]

    # -- nondeterministic allocation ------------------------------------------------

    def choose(self, what: str, candidates: list[int]) -> int:
        """The search's choice among ``candidates`` (every one is explored)."""
        if not candidates:
            raise Blocked(f"no free {what}")
        if self._ci < len(self.choices):
            c = self.choices[self._ci]
            self._ci += 1
            if c not in candidates:
                raise ValueError(f"choice {c} is not a free {what}")
            return c
        raise NeedChoice(what, candidates)

    def alloc_frame(self) -> int:
        """A free frame chosen by the search; the page allocator prefers none by number."""
        frames = self.frames
        free = [i for i in range(len(frames)) if frames.peek(i)[0] == 0]
        if self.cfg.alloc_lowest:  # a broken control: not symmetric in the frames
            free = free[:1]
        return self.choose("frame", free)

    def alloc_slot(self) -> int:
        slots = self.slots
        return self.choose("slot", [i for i in range(len(slots))
                                    if slots.peek(i)[0] == 0 and slots.peek(i)[1] == NONE])

    def note(self, text: str) -> None:
        """A remark for the race diagram (the decision a step took)."""
        self.notes.append(text)

    # -- helpers used by the kernel operations ----------------------------------------

    def maybe_dma_pinned(self, f: int) -> bool:
        """page_maybe_dma_pinned(): refcount >= GUP_PIN_COUNTING_BIAS (small pages)."""
        return self.frames[f].ref >= self.cfg.bias

    def free_frame_if_unused(self, f: int) -> None:
        fr = self.frames[f]
        if fr.ref == 0:
            assert fr.map == 0 and fr.swapcache == NONE and fr.inactive == 0, \
                "freeing a mapped, cached or entry-referenced page"
            self.frames[f] = Frame(FREE_FRAME)

    def put_page(self, f: int, n: int = 1) -> None:
        """put_page(): drop ``n`` references; the last one frees the frame."""
        self.frames[f].ref -= n
        self.free_frame_if_unused(f)

    def free_slot_if_unused(self, s: int) -> None:
        sl = self.slots[s]
        if sl.swapcount == 0 and sl.cache == NONE:
            self.slots[s] = Slot(FREE_SLOT)

    def handles_on(self, f: int) -> list[Handle]:
        return [h for h in self.handles if h.state == LIVE and h.frame == f]


def initial_state(cfg: Config, alive: tuple[int, ...], vm_write: bool = True,
                  budget: tuple[int, ...] = ()) -> tuple:
    """All frames and slots free, every PTE none, every thread at its first operation.

    ``budget`` is the open search's remaining operation budget (empty for a
    scripted scenario); the last element of the state also counts the write
    tokens issued so far.
    """
    frames = tuple(FREE_FRAME for _ in range(cfg.frames))
    slots = tuple(FREE_SLOT for _ in range(cfg.slots))
    procs = tuple(
        Proc.record(alive=alive[p], pte=tuple(NO_PTE for _ in range(cfg.pages)),
                    vm_write=tuple(1 if vm_write else 0 for _ in range(cfg.pages)),
                    L=tuple(NONE for _ in range(cfg.pages)))
        for p in range(cfg.procs))
    handles = tuple(UNUSED_HANDLE for _ in range(cfg.handles))
    threads = tuple(IDLE_THREAD for _ in range(cfg.threads))
    return (frames, slots, procs, handles, threads, (tuple(budget), 0))
