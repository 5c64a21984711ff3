"""The COW model's symmetry: interchangeable frames, swap slots, child processes, threads.

Which indices may be renamed (mcheck.symmetry.IndexSet):

* **frames** and **swap slots**, in every scenario: the allocator prefers
  none by number (the search picks every free one), and no step names a
  frame or slot by its number;
* in open search, the **child process slots** (process 0 is the one that
  exists at the start; with two process slots there is one child and
  nothing to permute), and the **threads of a process** (they draw from the
  same alphabet).  With three or more process slots the lanes of all
  children are permuted together, so the group stays a direct product.

Where the names live (what ``permute_state`` maps):

* frames: a PTE ``(PRESENT, f, w, sd)``, a slot's ``cache``, a handle's
  ``frame`` (also after release), a thread's ``held`` and, in flight, its
  locals: GUP-fast's PTE snapshot keeps the frame in ``loc[2]``, reclaim's
  isolated page is ``loc[0]``;
* slots: a frame's ``swapcache``, a swap PTE ``(SWAP, s, excl, 0)``;
* processes: the process array, a handle's ``owner``, ``fork``'s child and
  ``swapout``'s process in a thread's operation, the thread blocks;
* in actions: the thread name, the frame/slot/``mmN`` numbers in the label,
  the operation an idle thread starts, and the allocation choices (a frame,
  or for ``add_to_swap`` a slot; a spurious trylock's 0/1 stays).

Free frames and slots, unborn process slots and idle threads already have
one canonical form (FREE_FRAME, FREE_SLOT, the initial process record,
IDLE_THREAD), so they are interchangeable as they stand.

The proof's domain (``domain``) and its bounds are described in
``_Bounds.lines``; ``in_domain`` checks a concrete state against them (the
tests check every reachable state of their configurations).
"""

from __future__ import annotations

import re
from typing import Any

from mcheck.symmetry import IndexSet, Perm, SetPerm, Symmetry, Tally, any_of, ite, pick

from .mm.fork import ForkPhase
from .mm.gup import GupPhase
from .mm.migrate import MigratePhase
from .mm.vmscan import ReclaimPhase
from .model import OP, OP_NAMES, CowBase
from .vm import (
    FREE_FRAME,
    MIGRATION,
    NO_PTE,
    NONE,
    NONE_K,
    PRESENT,
    SWAP,
    UNBORN,
    UNUSED,
    UNUSED_HANDLE,
)

__all__ = ["cow_symmetry", "in_domain"]

GUP, FORK, SWAPOUT, MIGRATE = OP["gup"], OP["fork"], OP["swapout"], OP["migrate"]

#: per operation kind: argument kinds, sub-steps, local shapes (lengths of ``loc``)
_ARGS = {
    "write": ("page", "token"), "read": ("page",), "fork": ("proc",),
    "gup": ("page", "handle", "bit", "bit", "bit"), "unpin": ("handle",),
    "dma_write": ("handle", "token"), "dma_read": ("handle",), "munmap": ("page",),
    "exit": (), "mprotect": ("page", "bit"), "clear_refs": ("page",), "swapout": ("proc", "page"),
    "migrate": ("proc", "page"),
}


def _thread_shapes(kind: str, pages: int, bias: int) -> list[tuple]:
    """The shapes a thread in an operation of ``kind`` can have, from the phases its mm module
    names (mm/gup.py GupPhase, mm/fork.py ForkPhase, mm/vmscan.py ReclaimPhase; exit's
    sub-step is the next page to zap, mm/mmap.py).

    Each is ``(sub-steps, locals, held)``: locals ``"none"`` ``()``, ``"seq"``
    GUP-fast's sampled sequence ``(seq,)``, ``"snap"`` its PTE snapshot
    ``(seq, PRESENT, f, w, sd)``, ``"dec"`` fork's decision ``(d,)``, ``"frame"``
    reclaim's page ``(f,)``; held ``"none"`` (NONE, 0 refs), ``"loc2"`` the
    snapshot's frame with 1 or BIAS refs, ``"loc0"`` reclaim's page with 1 ref.
    """
    if kind == "gup":
        G = GupPhase
        slow = (G.SLOW_LOCK, G.SLOW_FOLLOW)
        return [((G.FAST_BEGIN,), "none", "none"), ((G.FAST_PTE,), "seq", "none"),
                ((G.FAST_GRAB,), "snap", "none"),
                ((G.FAST_RECHECK, G.FAST_SEQ_RETRY), "snap", "loc2"), (slow, "none", "none"),
                (slow, "seq", "none"), (slow, "snap", "none")]
    if kind == "fork":
        F = ForkPhase
        odd = (F.BEGIN,) + tuple(F.decide(v) for v in range(pages)) + (F.end(pages),)
        return [(odd, "none", "none"), (tuple(F.apply(v) for v in range(pages)), "dec", "none")]
    if kind == "swapout":
        R = ReclaimPhase
        return [((R.ISOLATE,), "none", "none"),
                ((R.ADD_TO_SWAP, R.UNMAP, R.PAGEOUT), "frame", "loc0")]
    if kind == "migrate":
        M = MigratePhase
        return [((M.ISOLATE,), "none", "none"),
                ((M.UNMAP, M.MOVE, M.RESTORE, M.DONE), "frame", "loc0")]
    if kind == "exit":
        return [(tuple(range(pages + 1)), "none", "none")]
    return [((0,), "none", "none")]


class _Bounds:
    """The bounds of the proof's domain for one configuration."""

    def __init__(self, m: CowBase) -> None:
        c = m.cfg
        self.F, self.S, self.P, self.V, self.H, self.T, self.B = (
            c.frames, c.slots, c.procs, c.pages, c.handles, c.threads, c.bias)
        self.open = hasattr(m, "budget")
        self.migrate = _migrates(m)
        self.kinds = 3 if self.migrate else 2 if self.S else 1  # the PTE kinds in use
        if self.open:
            b = m.budget  # type: ignore[attr-defined]
            self.tokens = b["write"] + b["dma"]
            self.forks = b["fork"]
            self.budget = tuple(b[k] for k in _budget_kinds())
        else:
            scen = m.scenario  # type: ignore[attr-defined]
            self.tokens = len(scen.tokens)
            self.forks = sum(1 for prog in scen.programs for op in prog if op.kind == "fork")
            self.budget = ()
        self.maps = self.P * self.V
        self.ref = self.maps + 2 + (self.H + self.T) * self.B + 1
        self.wps = 2 * self.forks
        self.hist = (1 << (self.tokens + 1)) - 1
        self.sub = {"gup": GupPhase.SLOW_FOLLOW, "fork": ForkPhase.end(self.V), "exit": self.V,
                    "swapout": ReclaimPhase.PAGEOUT, "migrate": MigratePhase.DONE}

    def lines(self) -> list[str]:
        return [
            f"frames {self.F}, slots {self.S}, processes {self.P}, pages {self.V}, "
            f"handles {self.H}, threads {self.T}, BIAS {self.B}, tokens 0..{self.tokens}",
            f"frame: ref 0..{self.ref}, mapcount 0..{self.maps}, lru/AE/locked 0..1, "
            f"swapcache a slot or none, data a token, inactive 0..{self.maps}",
            f"slot: swapcount 0..{self.maps}, cache a frame or none, data a token; a "
            "frame's swapcache names a slot iff that slot's cache names the frame",
            f"process: alive 0..2, PTE kind 0..{self.kinds} naming a frame (present, "
            "migration) or slot (swap) or 0 "
            f"(none, all fields 0), write_protect_seq 0..{self.wps}, mmap_lock -1..{self.T}, "
            f"flags 0..1, L -1..{self.tokens}, history 0..{self.hist}",
            "handle: state 0..2, frame or none, owner a process, page, flags 0..1, expect "
            f"-1..{self.tokens}",
            "stepping thread: every shape of its operation (arguments in range, sub-step 0.."
            "its last, locals of each length the operation uses, held frame or none, held "
            f"refs 0..{self.B}); an idle thread holds nothing",
            "other threads: pc, held frame and held refs in range; their sub-step and locals "
            "unspecified (a proof that reads them fails); in open search their operation is "
            "represented by fork(c) with c a process or -1, which reads as a fork of c or as "
            "no fork (the only question another thread's step asks of it)",
            "budget: each kind 0..its initial value; tokens issued 0..the token budget",
        ]


def _migrates(m: CowBase) -> bool:
    """Can a PTE of this model become a migration entry (a migrate op or budget)?"""
    if hasattr(m, "budget"):
        return bool(m.budget.get("migrate"))  # type: ignore[attr-defined]
    return any(op[0] == MIGRATE for prog in m.programs  # type: ignore[attr-defined]
               for op, _after in prog)


def _budget_kinds() -> tuple[str, ...]:
    from .open import BUDGET_KINDS

    return BUDGET_KINDS


class _Layout:
    """Index sets and the thread map of one model."""

    def __init__(self, m: CowBase) -> None:
        self.m = m
        c = m.cfg
        self.open = hasattr(m, "budget")
        self.migrate = _migrates(m)
        self.nthreads = len(m.thread_names)
        self.tpp = getattr(m, "tpp", 1)
        #: kernel threads (reclaim, migration) are the last threads and are not renamed
        self.kthreads = len(getattr(m, "kthreads", ())) if self.open else 0
        sets = [IndexSet("frames", tuple(range(c.frames)), c.frames,
                         complete=_free_unreferenced_frame),
                IndexSet("slots", tuple(range(c.slots)), c.slots,
                         complete=_free_unreferenced_slot)]
        self.children = self.open and c.procs >= 3
        self.lanes_per_proc = self.open and self.tpp >= 2 and not self.children
        if self.children:
            sets.append(IndexSet("children", tuple(range(1, c.procs)), c.procs))
            if self.tpp >= 2:
                sets.append(IndexSet("lanes of P", tuple(range(self.tpp)), self.tpp,
                                     complete=_no_frame_ref))
                sets.append(IndexSet("lanes of children", tuple(range(self.tpp)), self.tpp))
        if self.lanes_per_proc:
            for q in range(c.procs):
                ms = tuple(q * self.tpp + i for i in range(self.tpp))
                sets.append(IndexSet(f"lanes of {m.proc_names[q]}", ms, self.nthreads,
                                     complete=_no_frame_ref))
        self.sets = sets
        self.names = {s.name for s in sets}
        # the sets thread_perm reads; its answers for concrete permutations, remembered
        self.thread_sets = [st.name for st in sets if st.name not in ("frames", "slots")]
        self._tperms: dict[tuple, SetPerm] = {}
        # scripted: the kind of the operation a thread runs at each pc (-1 when done)
        if not self.open:
            progs = m.programs  # type: ignore[attr-defined]
            self.kinds = [tuple(op[0] for op, _after in prog) + (-1,) for prog in progs]

    def procs(self, p: Perm) -> SetPerm:
        return p["children"] if self.children else _IDENT

    def thread_perm(self, p: Perm) -> SetPerm:
        """The permutation of thread indices the process and lane permutations induce."""
        if not (self.children or self.lanes_per_proc):
            return _IDENT
        parts = [p[n] for n in self.thread_sets]
        if any(sp.symbolic for sp in parts):  # in a proof: build it (no dict lookups on terms)
            return self._thread_perm(p)
        key = tuple(sp.table for sp in parts)
        got = self._tperms.get(key)
        if got is None:
            got = self._tperms[key] = self._thread_perm(p)
        return got

    def _thread_perm(self, p: Perm) -> SetPerm:
        table: list[Any] = []
        tpp = self.tpp
        for t in range(self.nthreads):
            if t >= self.nthreads - self.kthreads:
                table.append(t)
                continue
            if self.lanes_per_proc:
                table.append(p[f"lanes of {self.m.proc_names[t // tpp]}"](t))
                continue
            q, i = divmod(t, tpp)
            q2 = p["children"](q)
            if tpp >= 2:
                i = (p["lanes of P"] if q == 0 else p["lanes of children"])(i)
            table.append(q2 * tpp + i)
        return SetPerm(table)


class _Ident:
    """The identity on every index (a set with nothing to permute)."""

    identity = True

    def __call__(self, x: Any) -> Any:
        return x

    def when(self, cond: Any, x: Any) -> Any:
        return x

    def reorder(self, seq: Any) -> tuple:
        return tuple(seq)


_IDENT = _Ident()


def cow_symmetry(m: CowBase) -> Symmetry:
    """The declared symmetry of a COW model (scripted or open search)."""
    lay = _Layout(m)
    bounds = _Bounds(m)
    dom = _Domain(m, lay, bounds)

    def permute_state(s: tuple, p: Perm) -> tuple:
        return _permute_state(lay, s, p)

    return Symmetry(
        sets=lay.sets,
        permute_state=permute_state,
        signatures=lambda s: _signatures(lay, s),
        permute_action=lambda a, p: _permute_action(lay, a, p),
        domain=dom.build,
        variants=dom.variants,
        components=m.components(),
        successors_of=m.successors_of,
        permute_key=lambda k, p: _permute_key(lay, k, p),
        bounds=bounds.lines(),
        version="1",
    )


# -- the group action -------------------------------------------------------------------------


def _loc_kind(lay: _Layout, t: int, th: tuple) -> Any:
    """The kind of the operation thread ``t`` is in (open: its op; scripted: its program)."""
    if lay.open:
        op = th[5]
        return op[0] if op else -1
    return pick(lay.kinds[t], th[0])


def _permute_thread(lay: _Layout, t: int, th: tuple, pf: Any, pp: Any) -> tuple:
    pc, sub, loc, held, held_refs, op = th
    if held is NONE and not loc and (pp is _IDENT or not op):  # holds no name (never branches)
        return th
    if loc:
        kind = _loc_kind(lay, t, th)
        if len(loc) == 5:  # GUP-fast's PTE snapshot: the frame is loc[GupPhase.SNAP_FRAME]
            loc = (loc[0], loc[1], pf.when(kind == GUP, loc[2]), loc[3], loc[4])
        elif len(loc) == 1:  # reclaim's or migration's isolated page
            loc = (pf.when((kind == SWAPOUT) | (kind == MIGRATE), loc[0]),)
    if op and pp is not _IDENT and len(op) > 1:
        op = (op[0], pp.when((op[0] == FORK) | (op[0] == SWAPOUT) | (op[0] == MIGRATE),
                             op[1])) + op[2:]
    return (pc, sub, loc, pf(held), held_refs, op)


def _permute_state(lay: _Layout, s: tuple, p: Perm) -> tuple:
    frames, slots, procs, handles, threads, glob = s
    pf = p["frames"]
    ps = p["slots"]
    pp = lay.procs(p)
    if pf.identity:
        pf = _IDENT
    if ps.identity:
        ps = _IDENT
    if pp is not _IDENT and pp.identity:
        pp = _IDENT
    pt = lay.thread_perm(p)
    if pt is not _IDENT and pt.identity:
        pt = _IDENT
    if ps is not _IDENT:
        frames = tuple(fr[:3] + (ps(fr[3]),) + fr[4:] for fr in frames)
    if pf is not _IDENT:
        frames = pf.reorder(frames)
        slots = tuple((swc, pf(cache), d) for swc, cache, d in slots)
    if ps is not _IDENT:
        slots = ps.reorder(slots)
    if pf is not _IDENT or ps is not _IDENT:
        procs = tuple((pr[0], tuple((k, pf.when((k == PRESENT) | (k == MIGRATION),
                                                ps.when(k == SWAP, i)), w, x)
                                    for k, i, w, x in pr[1])) + pr[2:] for pr in procs)
    if pp is not _IDENT:
        procs = pp.reorder(procs)
    if pf is not _IDENT or pp is not _IDENT:
        handles = tuple((st, pf(f), pp(o)) + h[3:] for h in handles
                        for st, f, o in (h[:3],))
    if pf is not _IDENT or pp is not _IDENT:
        threads = tuple(_permute_thread(lay, t, th, pf, pp) for t, th in enumerate(threads))
    if pt is not _IDENT:
        threads = pt.reorder(threads)
    return (frames, slots, procs, handles, threads, glob)


_REF = re.compile(r"\b(f|s|mm|P)(\d+)\b")


def _permute_label(label: str, pf: Any, ps: Any, pp: Any) -> str:
    def sub(mo: re.Match) -> str:
        kind, n = mo.group(1), int(mo.group(2))
        m = pf if kind == "f" else ps if kind == "s" else pp
        return f"{kind}{m(n)}"

    return _REF.sub(sub, label)


def _permute_op(op: tuple, pp: Any) -> tuple:
    if pp is _IDENT or len(op) < 2 or op[0] not in (FORK, SWAPOUT, MIGRATE):
        return op
    return (op[0], pp(op[1])) + op[2:]


def _permute_action(lay: _Layout, a: Any, p: Perm) -> Any:
    name, label, choices = a
    m = lay.m
    pf, ps, pp = p["frames"], p["slots"], lay.procs(p)
    if name in m.thread_names:
        name = m.thread_names[lay.thread_perm(p)(m.thread_names.index(name))]
    label = _permute_label(label, pf, ps, pp)
    # An allocation shows in the label; its choice is the last int (a spurious
    # trylock's 0/1, which may precede a frame, is no index).
    ints = [i for i, c in enumerate(choices) if not isinstance(c, (tuple, list))]
    last = ints[-1] if ints else None
    slot = "add_to_swap" in label and " -> s" in label
    frame = not slot and ("-> f" in label or "-> child f" in label or "read from slot" in label)
    out = []
    for i, c in enumerate(choices):
        if isinstance(c, (tuple, list)):
            out.append(_permute_op(tuple(c), pp))
        elif i == last and frame:
            out.append(pf(c))
        elif i == last and slot:
            out.append(ps(c))
        else:
            out.append(c)
    return (name, label, tuple(out))


def _permute_key(lay: _Layout, key: tuple, p: Perm) -> tuple:
    if key[0] in ("busy", "start"):
        t = lay.thread_perm(p)(key[1])
        if key[0] == "busy":
            return ("busy", t, key[2])
        return ("start", t, _permute_op(key[2], lay.procs(p)))
    if key[0] == "pte" and len(key) == 3:
        return ("pte", lay.procs(p)(key[1]), key[2])
    if key[0] == "frame":
        return ("frame", p["frames"](key[1]))
    if key[0] == "slot":
        return ("slot", p["slots"](key[1]))
    return key


# -- signatures --------------------------------------------------------------------------------


def _signatures(lay: _Layout, s: tuple) -> dict[str, list]:
    """Per frame: its fields (the slot abstracted) and weighted counts of who refers to it.

    Weights are positive, so a zero count means nothing refers to the frame:
    an unreferenced free frame is interchangeable with another (``complete``).
    """
    frames, slots, procs, handles, threads, _glob = s
    nf, ns = len(frames), len(slots)
    slotsym = ns >= 2  # with one slot there is nothing to sort
    ptes, refs, sref = Tally(nf), Tally(nf), Tally(ns)
    # ("x is NONE_K / NONE" skips an addition that would add nothing; it never branches on a
    # symbolic value, which is never that very object)
    for pr in procs:
        for k, i, w, x in pr[1]:
            if k is NONE_K:
                continue
            ptes.add(ite(k == PRESENT, i, NONE), 1 + 16 * w)
            if lay.migrate:
                ptes.add(ite(k == MIGRATION, i, NONE), (1 + w + 2 * x) << 8)
            if slotsym:
                sref.add(ite(k == SWAP, i, NONE), 1 + 16 * w)
    for k, h in enumerate(handles):  # an unused handle names no frame
        if h[1] is not NONE:
            refs.add(h[1], (1 + h[0] + 3 * h[4] + 6 * h[5] + 12 * h[6]) << (5 * k))
    for t, th in enumerate(threads):
        if th[3] is not NONE:
            refs.add(th[3], (1 + th[4]) << 20)
        loc = th[2]
        if len(loc) == 5:
            refs.add(ite(_loc_kind(lay, t, th) == GUP, loc[2], NONE), 1 << 26)
        elif len(loc) == 1:
            kind = _loc_kind(lay, t, th)
            refs.add(ite((kind == SWAPOUT) | (kind == MIGRATE), loc[0], NONE), 1 << 26)
    for sl in slots:
        refs.add(sl[1], 1 << 28)
    if slotsym:
        for fr in frames:
            sref.add(fr[3], 1 << 10)
    out: dict[str, list] = {
        "frames": [(fr[0], fr[1], fr[2], fr[3] != NONE, fr[4], fr[5], fr[6], ptes.counts[f],
                    refs.counts[f], fr[7]) for f, fr in enumerate(frames)],
        "slots": [(sl[0], sl[1] != NONE, sl[2], sref.counts[i]) for i, sl in enumerate(slots)]
        if slotsym else [()] * ns,
    }
    if lay.children or lay.lanes_per_proc:
        tsig = [_thread_sig(lay, t, th) for t, th in enumerate(threads)]
        if lay.children:
            out["children"] = [(pr[0], tuple((k, w, x) for k, _i, w, x in pr[1])) + pr[2:]
                               for pr in procs[1:]]
            if lay.tpp >= 2:
                tpp = lay.tpp
                out["lanes of P"] = [tsig[i] for i in range(tpp)]
                # a lane of the children: the multiset of its threads' signatures
                out["lanes of children"] = [
                    tuple(sorted(tsig[q * tpp + i] for q in range(1, len(procs))))
                    for i in range(tpp)]
        else:
            for st in lay.sets[2:]:
                out[st.name] = [tsig[t] for t in st.members]
    return out


def _thread_sig(lay: _Layout, t: int, th: tuple) -> tuple:
    """A thread record with its frame and process references abstracted; the last field says
    whether it holds a frame reference (if not, the signature is the whole record)."""
    pc, sub, loc, held, held_refs, op = th
    if held is NONE and not loc and not (lay.children and op):  # refers to nothing
        return (pc, sub, loc, NONE, held_refs, op, False)
    refs: Any = held != NONE
    if loc:
        kind = _loc_kind(lay, t, th)
        if len(loc) == 5:
            refs = refs | (kind == GUP)
            loc = (loc[0], loc[1], ite(kind == GUP, -9, loc[2]), loc[3], loc[4])
        elif len(loc) == 1:
            isolated = (kind == SWAPOUT) | (kind == MIGRATE)
            refs = refs | isolated
            loc = (ite(isolated, -9, loc[0]),)
    if lay.children and op and len(op) > 1:
        op = (op[0], ite((op[0] == FORK) | (op[0] == SWAPOUT) | (op[0] == MIGRATE), -9, op[1])
              ) + op[2:]
    return (pc, sub, loc, ite(held == NONE, NONE, -9), held_refs, op, refs)


def _free_unreferenced_frame(sig: tuple) -> bool:
    return sig[0] == 0 and sig[7] == 0 and sig[8] == 0


def _free_unreferenced_slot(sig: tuple) -> bool:
    return sig[0] == 0 and not sig[1] and sig[2] == 0 and sig[3] == 0


def _no_frame_ref(sig: tuple) -> bool:
    return not sig[-1]


# -- the proof's domain ---------------------------------------------------------------------------


class _Domain:
    """Builds symbolic states: one generic state, and per component the shapes it can see."""

    #: memos of one proof's symbolic states: not part of what the proof's cache key digests
    __proof_volatile__ = ("_vs", "_generic", "_threads")

    def __init__(self, m: CowBase, lay: _Layout, b: _Bounds) -> None:
        self.m = m
        self.lay = lay
        self.b = b
        self._vs: Any = None
        self._generic: tuple | None = None
        self._threads: dict[Any, tuple] = {}
        self._idle = (0, 0, (), NONE, 0, ())  # an idle open-search thread

    def build(self, v: Any, key: Any = None) -> list[tuple]:
        if v is not self._vs:
            self._vs = v
            self._generic = self._make_generic(v)
            self._threads = {}
        g = self._generic
        assert g is not None
        if key is None or key[0] == "lru":
            return [g]
        if key[0] == "step":  # scripted: thread t at pc
            _s, t, pc = key
            kind = OP_NAMES[self.m.programs[t][pc][0][0]]  # type: ignore[attr-defined]
            return [self._with(g, t, th) for th in self._busy(v, t, kind, pc=pc)]
        if key[0] == "busy":
            _b, t, k = key
            return [self._with(g, t, th) for th in self._busy(v, t, OP_NAMES[k])]
        _st, t, _tmpl = key
        return [self._with(g, t, self._idle)]

    def variants(self, v: Any) -> list[tuple]:
        """States that put every thread in every shape some component gives it (a few:
        state k has thread t in its k-th shape, cycling)."""
        g = self.build(v)[0]
        nthreads = self.lay.nthreads
        shapes: list[list[tuple]] = [[g[4][t]] for t in range(nthreads)]
        for c in self.m.components():
            if c[0] == "lru":
                continue
            t = c[1]
            for st in self.build(v, c):
                rec = st[4][t]
                if all(rec is not r for r in shapes[t]):
                    shapes[t].append(rec)
        n = max(len(x) for x in shapes)
        return [g[:4] + (tuple(shapes[t][k % len(shapes[t])] for t in range(nthreads)),)
                + g[5:] for k in range(n)]

    @staticmethod
    def _with(g: tuple, t: int, th: tuple) -> tuple:
        threads = g[4][:t] + (th,) + g[4][t + 1:]
        return g[:4] + (threads,) + g[5:]

    def _arg(self, v: Any, what: str) -> Any:
        b = self.b
        if what == "page":
            return v.int(0, b.V - 1)
        if what == "token":
            return v.int(1, max(1, b.tokens))
        if what == "proc":
            return v.int(0, b.P - 1)
        if what == "handle":
            return v.int(0, max(0, b.H - 1))
        return v.bool()

    def _busy(self, v: Any, t: int, kind: str, pc: int | None = None) -> list[tuple]:
        ck = (t, kind, pc)
        got = self._threads.get(ck)
        if got is not None:
            return got
        b = self.b
        out = []
        if self.lay.open:
            op = (OP[kind],) + tuple(self._arg(v, a) for a in _ARGS[kind])
        else:
            op = ()
        for subs, locs, held_kind in _thread_shapes(kind, b.V, b.B):
            sub = v.int(min(subs), max(subs))
            v.require(any_of(sub == x for x in subs))
            f = v.int(0, b.F - 1)
            loc = {"none": (), "seq": (v.int(-1, b.wps),), "dec": (v.bool(),), "frame": (f,),
                   "snap": (v.int(-1, b.wps), PRESENT, f, v.bool(), v.bool())}[locs]
            if held_kind == "none":
                held, refs = NONE, 0
            elif held_kind == "loc0":
                held, refs = f, 1
            else:
                held, refs = f, v.int(1, b.B)
                v.require((refs == 1) | (refs == b.B))
            out.append((0 if self.lay.open else pc, sub, loc, held, refs, op))
        self._threads[ck] = out
        return out

    def _make_generic(self, v: Any) -> tuple:
        b = self.b
        tok = b.tokens
        frames = tuple((v.int(0, b.ref), v.int(0, b.maps), v.bool(), v.ref(b.S), v.bool(),
                        v.bool(), v.int(0, tok), v.int(0, b.maps)) for _ in range(b.F))
        for fr in frames:  # a free frame has one form (vm.FREE_FRAME)
            for x, free in zip(fr[1:], FREE_FRAME[1:], strict=True):
                v.require((fr[0] != 0) | (x == free))
            # mappings, the pagevec and the swap cache each hold a reference
            v.require(fr[0] >= fr[1] + fr[2] + (fr[3] != NONE))
        slots = tuple((v.int(0, b.maps), v.ref(b.F), v.int(0, tok)) for _ in range(b.S))
        for sl in slots:  # so has a free slot (vm.FREE_SLOT)
            v.require((sl[0] != 0) | (sl[1] != NONE) | (sl[2] == 0))
        # the swap cache links a frame and a slot both ways (oracle.accounting_ok checks it)
        for f, fr in enumerate(frames):
            for i, sl in enumerate(slots):
                v.require((sl[1] != f) | (fr[3] == i))
                v.require((fr[3] != i) | (sl[1] == f))
        procs = []
        for _p in range(b.P):
            ptes = []
            for _v in range(b.V):
                kind = v.int(0, b.kinds)
                if b.migrate and not b.S:
                    v.require(kind != SWAP)
                idx = v.int(0, max(b.F, b.S) - 1)
                w, x = v.bool(), v.bool()
                for y in (idx, w, x):
                    v.require((kind != 0) | (y == 0))
                v.require((kind != PRESENT) | (idx < b.F))
                if b.migrate:
                    v.require((kind != MIGRATION) | (idx < b.F))
                if b.S:
                    v.require((kind != SWAP) | (idx < b.S))
                    v.require((kind != SWAP) | (x == 0))
                ptes.append((kind, idx, w, x))
            procs.append((v.int(0, 2), tuple(ptes), tuple(v.bool() for _ in range(b.V)),
                          v.int(0, b.wps), v.int(-1, b.T), v.bool(), v.bool(),
                          tuple(v.int(-1, tok) for _ in range(b.V)), v.int(0, b.hist)))
        handles = tuple((v.int(0, 2), v.ref(b.F), v.int(0, b.P - 1), v.int(0, b.V - 1),
                         v.bool(), v.bool(), v.bool(), v.int(-1, tok)) for _ in range(b.H))
        for h in handles:  # and an unused handle (vm.UNUSED_HANDLE); a used one names a frame
            for x, unused in zip(h[1:], UNUSED_HANDLE[1:], strict=True):
                v.require((h[0] != UNUSED) | (x == unused))
            v.require((h[0] == UNUSED) | (h[1] != NONE))
        threads = []
        for t in range(self.lay.nthreads):
            if self.lay.open:
                pc: Any = 0
                op: tuple = (FORK, v.int(-1, b.P - 1))
            else:
                pc = v.int(0, len(self.m.programs[t]))  # type: ignore[attr-defined]
                op = ()
            threads.append((pc, v.poison(), tuple(v.poison() for _ in range(5)), v.ref(b.F),
                            v.int(0, b.B), op))
        glob = (tuple(v.int(0, n) for n in b.budget), v.int(0, tok) if self.lay.open else 0)
        return (frames, slots, tuple(procs), handles, tuple(threads), glob)


# -- membership of concrete states -----------------------------------------------------------------


def _fits(th: tuple, shape: tuple, b: _Bounds) -> bool:
    _pc, sub, loc, held, refs, _op = th
    subs, locs, held_kind = shape
    if sub not in subs:
        return False
    f = None
    if locs == "none":
        ok = loc == ()
    elif locs == "seq":
        ok = len(loc) == 1 and -1 <= loc[0] <= b.wps
    elif locs == "dec":
        ok = len(loc) == 1 and loc[0] in (0, 1)
    elif locs == "frame":
        ok = len(loc) == 1 and 0 <= loc[0] < b.F
        f = loc[0] if ok else None
    else:
        ok = (len(loc) == 5 and -1 <= loc[0] <= b.wps and loc[1] == PRESENT
              and 0 <= loc[2] < b.F and loc[3] in (0, 1) and loc[4] in (0, 1))
        f = loc[2] if ok else None
    if not ok:
        return False
    if held_kind == "none":
        return (held, refs) == (NONE, 0)
    if held_kind == "loc0":
        return (held, refs) == (f, 1)
    return held == f and refs in (1, b.B)



def in_domain(m: CowBase, s: tuple) -> list[str]:
    """Why the concrete state ``s`` lies outside the proof's domain (empty: it lies inside).

    Every thread is checked as the stepping thread of its own component; the
    other-thread representation needs nothing beyond the pc and held ranges
    checked here.
    """
    b = _Bounds(m)
    lay = _Layout(m)
    bad: list[str] = []

    def rng(what: str, x: Any, lo: int, hi: int) -> None:
        if not (isinstance(x, int) and lo <= x <= hi):
            bad.append(f"{what} = {x!r} outside {lo}..{hi}")

    frames, slots, procs, handles, threads, glob = s
    for f, fr in enumerate(frames):
        for name, x, lo, hi in zip(("ref", "map", "lru", "swapcache", "ae", "locked", "data",
                                    "inactive"), fr, (0, 0, 0, -1, 0, 0, 0, 0),
                                   (b.ref, b.maps, 1, b.S - 1, 1, 1, b.tokens, b.maps),
                                   strict=True):
            rng(f"f{f}.{name}", x, lo, hi)
    for f, fr in enumerate(frames):
        if fr[0] == 0 and fr != FREE_FRAME:
            bad.append(f"f{f}: free but {fr!r}")
        if fr[0] < fr[1] + fr[2] + (fr[3] != NONE):
            bad.append(f"f{f}: refcount below mapcount + pagevec + swap cache: {fr!r}")
    for i, sl in enumerate(slots):
        if sl[0] == 0 and sl[1] == NONE and sl[2] != 0:
            bad.append(f"s{i}: free but {sl!r}")
        if sl[1] != NONE and not (0 <= sl[1] < len(frames) and frames[sl[1]][3] == i):
            bad.append(f"s{i}: caches f{sl[1]}, which does not name it")
    for f, fr in enumerate(frames):
        if fr[3] != NONE and not (0 <= fr[3] < len(slots) and slots[fr[3]][1] == f):
            bad.append(f"f{f}: in the swap cache of s{fr[3]}, which does not name it")
    for k, h in enumerate(handles):
        if h[0] == UNUSED and h != (UNUSED, NONE, 0, 0, 0, 0, 0, 0):
            bad.append(f"h{k}: unused but {h!r}")
        if h[0] != UNUSED and h[1] == NONE:
            bad.append(f"h{k}: used but names no frame")
    for i, sl in enumerate(slots):
        for name, x, lo, hi in zip(("swapcount", "cache", "data"), sl, (0, -1, 0),
                                   (b.maps, b.F - 1, b.tokens), strict=True):
            rng(f"s{i}.{name}", x, lo, hi)
    for p, pr in enumerate(procs):
        rng(f"p{p}.alive", pr[0], 0, 2)
        # an unborn process slot has one form: the initial record (vm.initial_state)
        if pr[0] == UNBORN and (pr[1:3] != ((NO_PTE,) * b.V, (1,) * b.V)
                                or pr[3:] != (0, 0, 0, 0, (NONE,) * b.V, 0)):
            bad.append(f"p{p}: unborn but {pr!r}")
        for v, (k, i, w, x) in enumerate(pr[1]):
            rng(f"p{p}.pte{v}.kind", k, 0, b.kinds)
            if k == SWAP and not b.S:
                bad.append(f"p{p}.pte{v}: a swap PTE without swap slots")
            if k == MIGRATION:
                rng(f"p{p}.pte{v}.frame", i, 0, b.F - 1)
            if k == 0 and (i, w, x) != (0, 0, 0):
                bad.append(f"p{p}.pte{v}: a none PTE with fields {(i, w, x)}")
            if k == PRESENT:
                rng(f"p{p}.pte{v}.frame", i, 0, b.F - 1)
            if k == SWAP:
                rng(f"p{p}.pte{v}.slot", i, 0, b.S - 1)
                rng(f"p{p}.pte{v}.sd", x, 0, 0)
            rng(f"p{p}.pte{v}.w", w, 0, 1)
            rng(f"p{p}.pte{v}.sd", x, 0, 1)
        for v, x in enumerate(pr[2]):
            rng(f"p{p}.vm_write{v}", x, 0, 1)
        rng(f"p{p}.wps", pr[3], 0, b.wps)
        rng(f"p{p}.mmap", pr[4], -1, b.T)
        rng(f"p{p}.ptl", pr[5], 0, 1)
        rng(f"p{p}.has_pinned", pr[6], 0, 1)
        for v, x in enumerate(pr[7]):
            rng(f"p{p}.L{v}", x, -1, b.tokens)
        rng(f"p{p}.hist", pr[8], 0, b.hist)
    for k, h in enumerate(handles):
        for name, x, lo, hi in zip(("state", "frame", "owner", "vpn", "pin", "rw", "attached",
                                    "expect"), h, (0, -1, 0, 0, 0, 0, 0, -1),
                                   (2, b.F - 1, b.P - 1, b.V - 1, 1, 1, 1, b.tokens), strict=True):
            rng(f"h{k}.{name}", x, lo, hi)
    for t, th in enumerate(threads):
        pc, sub, loc, held, held_refs, op = th
        rng(f"t{t}.held", held, -1, b.F - 1)
        rng(f"t{t}.held_refs", held_refs, 0, b.B)
        if lay.open:
            rng(f"t{t}.pc", pc, 0, 0)
            kind = OP_NAMES[op[0]] if op else None
        else:
            prog = m.programs[t]  # type: ignore[attr-defined]
            rng(f"t{t}.pc", pc, 0, len(prog))
            kind = OP_NAMES[prog[pc][0][0]] if pc < len(prog) else None
            if op != ():
                bad.append(f"t{t}: a scripted thread with an operation field {op!r}")
        if kind is None or (lay.open and not op):
            if (sub, loc, held, held_refs) != (0, (), NONE, 0) and lay.open:
                bad.append(f"t{t}: idle but {th!r}")
            continue
        if not any(_fits(th, shape, b) for shape in _thread_shapes(kind, b.V, b.B)):
            bad.append(f"t{t}: {kind} in no declared shape: {th!r}")
        if lay.open:
            args = _ARGS[kind]
            if len(op) != 1 + len(args):
                bad.append(f"t{t}: {kind} with arguments {op!r}")
            else:
                for a, x in zip(args, op[1:], strict=True):
                    hi = {"page": b.V - 1, "token": max(1, b.tokens), "proc": b.P - 1,
                          "handle": b.H - 1, "bit": 1}[a]
                    rng(f"t{t}.{kind}.{a}", x, 1 if a == "token" else 0, hi)
    budget, tokens = glob
    for k, (x, hi) in enumerate(zip(budget, b.budget, strict=True)):
        rng(f"budget{k}", x, 0, hi)
    rng("tokens", tokens, 0, b.tokens if lay.open else 0)
    return bad
