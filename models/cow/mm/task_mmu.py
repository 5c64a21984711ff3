"""fs/proc/task_mmu.c: clear_refs_write() with CLEAR_REFS_SOFT_DIRTY for one PTE."""

from __future__ import annotations

from ..policy import Policy
from ..vm import PRESENT, Blocked, World, present_pte

__all__ = ["clear_refs"]


def clear_refs(w: World, pol: Policy, p: int, v: int) -> str:
    """clear_refs_write() soft-dirty: write-protect the PTE, clear soft-dirty (mmap read lock).

    5.11+ leaves maybe-pinned pages alone ("mm: don't play games with pinned
    pages in clear_page_refs").  Ignores: non-present PTEs (only their
    soft-dirty bit changes, which nothing here reads).
    """
    pr = w.procs[p]
    if pr.mmap < 0 or pr.ptl:
        raise Blocked("mmap_lock held")
    kind, f, _wr, _sd = pr.pte[v]
    if kind != PRESENT:
        return "clear_refs: no page"
    if pol.clear_refs_skip_pinned and w.maybe_dma_pinned(f):
        return "clear_refs: maybe pinned -> skip"
    pr.pte[v] = present_pte(f, 0, 0)
    return "clear_refs: wrprotect, clear soft-dirty"
