"""mm/rmap.c: try_to_unmap_one() for reclaim, one PTE per step in rmap-walk order."""

from __future__ import annotations

from ..policy import Policy
from ..vm import NONE, PRESENT, Blocked, World, swap_pte

__all__ = ["try_to_unmap_one", "mm_name"]


def mm_name(q: int) -> str:
    """How a label names process ``q`` (the symmetry renames ``mmN``)."""
    return f"mm{q}"


def try_to_unmap_one(w: World, pol: Policy, f: int) -> tuple[str, int]:
    """try_to_unmap_one() for the next PTE mapping f (rmap walk order: process, page).

    PTE -> swap entry, swapcount+1, mapcount-1, the mapping's reference
    dropped.  E6: an exclusive maybe-pinned page is refused and the walk
    aborts (page_try_share_anon_rmap, A1-A4); otherwise AE is cleared and
    remembered in SWP_EXCLUSIVE where the arch has it.  A page that is not in
    the swap cache aborts the walk, as try_to_unmap_one()'s
    ``folio_test_swapbacked(folio) != folio_test_swapcache(folio)`` check
    does (with a WARN_ON_ONCE): unreachable here, since add_to_swap either
    succeeded or blocked and reclaim holds the page lock, but it keeps the
    step from naming a slot that does not exist.  Returns (label, state): 1
    unmapped one and more may follow, 0 no mapping left, -1 aborted.
    """
    for q in range(len(w.procs)):
        for v, (kind, idx, _wr, _sd) in enumerate(w.procs.peek(q)[1]):
            if kind == PRESENT and idx == f:
                pr = w.procs[q]
                if pr.ptl:
                    raise Blocked("PTL held")
                fr = w.frames[f]
                if fr.swapcache == NONE:
                    return "try_to_unmap: not in the swap cache (WARN_ON_ONCE)", -1
                ae = fr.ae
                if pol.unmap_try_share and ae and w.maybe_dma_pinned(f):
                    return f"try_to_unmap: P{q} page_try_share_anon_rmap -EBUSY", -1
                fr.ae = 0
                s = fr.swapcache
                pr.pte[v] = swap_pte(s, 1 if (ae and pol.swp_exclusive) else 0)
                w.slots[s].swapcount += 1
                fr.inactive += 1  # the swap entry references the swap-cache page
                fr.map -= 1
                fr.ref -= 1
                return f"try_to_unmap: {mm_name(q)} pte -> s{s}", 1
    return "try_to_unmap: done", 0
