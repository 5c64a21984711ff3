"""kernel/fork.c dup_mmap() and mm/memory.c copy_page_range(): fork of an anonymous mapping.

A step machine with named phases (``ForkPhase``): begin (mmap_lock for
write, write_protect_seq odd), per page a decide step (copy_present_pte's
decision under the PTL, with page_try_dup_anon_rmap in E6) and an apply
step (write-protect and share, or copy for the child), then end.
"""

from __future__ import annotations

from ..policy import Policy
from ..vm import (
    ALIVE,
    MIGRATION,
    NONE,
    PRESENT,
    SWAP,
    Blocked,
    Thread,
    World,
    migration_pte,
    present_pte,
    swap_pte,
)
from .memory import new_anon_page

__all__ = ["ForkPhase", "fork_step", "fork_begin", "fork_decide", "fork_apply", "fork_end"]


class ForkPhase:
    """The sub-steps of a fork (``Thread.sub``): BEGIN, per page ``decide(v)`` then
    ``apply(v)`` (which reads the decision in ``loc``), then ``end(pages)``."""

    BEGIN = 0

    @staticmethod
    def decide(v: int) -> int:
        return 2 * v + 1

    @staticmethod
    def apply(v: int) -> int:
        return 2 * v + 2

    @staticmethod
    def end(pages: int) -> int:
        return 2 * pages + 1

    @staticmethod
    def page(sub: int) -> int:
        """The page a decide or apply phase is at."""
        return (sub - 1) // 2

    @staticmethod
    def is_decide(sub: int) -> bool:
        return sub % 2 == 1


def fork_step(w: World, pol: Policy, th: Thread, p: int, c: int, pages: int
              ) -> tuple[str, bool]:
    """One step of fork() by process ``p`` into child slot ``c``: (label, finished)."""
    sub = th.sub
    if sub == ForkPhase.BEGIN:
        label = fork_begin(w, pol, p, c)
    elif sub <= ForkPhase.apply(pages - 1):
        v = ForkPhase.page(sub)
        if ForkPhase.is_decide(sub):
            label, decision = fork_decide(w, pol, p, v)
            th.loc = [decision]
        else:
            label = fork_apply(w, pol, p, c, v, th.loc[0])
            th.loc = []
    else:
        return fork_end(w, pol, p), True
    th.sub += 1
    return label, False


def fork_begin(w: World, pol: Policy, p: int, c: int) -> str:
    """dup_mmap() start: mmap_lock for write; E4+: write_protect_seq becomes odd (57efa1fe5957).

    The child mm starts empty, alive, with the parent's VMAs and history.
    """
    pr = w.procs[p]
    if pr.mmap != 0:
        raise Blocked("mmap_lock held")
    pr.mmap = -1
    if pol.fork_seqcount:
        pr.wps += 1
    ch = w.procs[c]
    ch.alive = ALIVE
    ch.vm_write = list(pr.vm_write)
    ch.hist = pr.hist
    return "dup_mmap: mmap_write_lock" + (", raw_write_seqcount_begin" if pol.fork_seqcount
                                          else "")


def fork_decide(w: World, pol: Policy, p: int, v: int) -> tuple[str, int]:
    """copy_present_pte() first half: under the PTL, decide share or copy early.

    E3-E5: copy for the child now if the parent has pinned and the page is
    maybe pinned (copy_present_page, 70e806e4e645).  E6:
    page_try_dup_anon_rmap() copies an exclusive maybe-pinned page; the
    clearing of PageAnonExclusive is done with the write-protect in fork_apply
    (same PTL hold, so only lockless GUP-fast could tell the difference, and
    it reads AE only behind a R/O PTE).  Returns (label, decision: 1 copy, 0 share).
    The page table lock is held until fork_apply; GUP-fast, which takes no
    lock, can run in between: that is the window 57efa1fe5957 closed.
    """
    pr = w.procs[p]
    if pr.ptl:
        raise Blocked("PTL held")
    pr.ptl = 1
    kind, f, _wr, _sd = pr.pte[v]
    if kind != PRESENT:
        return "copy_pte_range: " + ("swap PTE" if kind == SWAP else "migration entry"
                                     if kind == MIGRATION else "no PTE"), 0
    pinned = w.maybe_dma_pinned(f) and (pr.has_pinned or not pol.fork_needs_has_pinned)
    if pol.fork_try_dup:
        if w.frames[f].ae and pinned:
            return "page_try_dup_anon_rmap -EBUSY -> copy", 1
        return "page_try_dup_anon_rmap: not pinned, share", 0
    if pol.fork_early_copy and pinned:
        return "copy_present_page: maybe pinned -> copy", 1
    return "copy_present_pte: share", 0


def fork_apply(w: World, pol: Policy, p: int, c: int, v: int, copy: int) -> str:
    """copy_present_pte() second half: write-protect and share, or give the child a copy.

    Share: get_page + page_dup_rmap (ref+1, map+1), both PTEs R/O when the
    parent's was writable.  Copy: a new exclusive page with the parent's
    data, mapped writable in the child; the parent's PTE stays as it was.
    A swap PTE: swap_duplicate (swapcount+1); E6 clears SWP_EXCLUSIVE in
    both (1493a1913e34).  A migration entry: copy_nonpresent_pte makes a
    writable one readable in both (all eras), and in E6 a readable-exclusive
    one too (6c287605fd56); it holds no reference.  Releases the PTL.  The
    child's ghost value is the parent's at this moment.
    """
    pr, ch = w.procs[p], w.procs[c]
    pr.ptl = 0
    kind, idx, wr, sd = pr.pte[v]
    ch.L[v] = pr.L[v]
    ch.hist |= pr.hist
    if kind == PRESENT:
        if copy:
            nf = new_anon_page(w, pol, w.frames[idx].data)
            ch.pte[v] = present_pte(nf, ch.vm_write[v], 1)
            return f"copy_present_page -> child f{nf}"
        fr = w.frames[idx]
        fr.ref += 1
        fr.map += 1
        if pol.fork_try_dup:
            fr.ae = 0  # ClearPageAnonExclusive, in the same PTL hold as the wrprotect
        pr.pte[v] = present_pte(idx, 0, sd)
        ch.pte[v] = present_pte(idx, 0, sd)
        return f"share f{idx}" + (": wrprotect" if wr else "")
    if kind == SWAP:
        sl = w.slots[idx]
        sl.swapcount += 1
        if sl.cache != NONE:
            w.frames[sl.cache].inactive += 1
        pr.pte[v] = swap_pte(idx, 0)
        ch.pte[v] = swap_pte(idx, 0)
        return f"swap_duplicate s{idx}"
    if kind == MIGRATION:
        w.frames[idx].inactive += 1  # the child's entry
        ent = migration_pte(idx, 0, 0)
        pr.pte[v] = ent
        ch.pte[v] = ent
        return f"copy_nonpresent_pte: migration entry f{idx}" + (
            " -> readable" if wr or sd else "")
    ch.L[v] = NONE
    return "no PTE"


def fork_end(w: World, pol: Policy, p: int) -> str:
    """dup_mmap() end: E4+ write_protect_seq even again; mmap_lock released."""
    pr = w.procs[p]
    if pol.fork_seqcount:
        pr.wps += 1
    pr.mmap = 0
    return "dup_mmap: " + ("raw_write_seqcount_end, " if pol.fork_seqcount else "") + \
        "mmap_write_unlock"
