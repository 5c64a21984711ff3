"""mm/vmscan.c: shrink_page_list() on one anonymous page, as a step machine.

Phases (``ReclaimPhase``): ISOLATE (isolate and lock the page, the
feb889fb40fa pinned check), ADD_TO_SWAP (mm/swap_state.c), UNMAP
(try_to_unmap_one per mapping, mm/rmap.c, repeated), PAGEOUT (write the
slot, __remove_mapping's refcount freeze, unlock).
"""

from __future__ import annotations

from ..policy import Policy
from ..vm import NONE, PRESENT, Blocked, Thread, World
from .rmap import try_to_unmap_one

__all__ = ["ReclaimPhase", "reclaim_step", "reclaim_isolate", "reclaim_add_to_swap",
           "reclaim_pageout"]


class ReclaimPhase:
    """The sub-steps of reclaim (``Thread.sub``); ``Thread.loc`` is ``[frame]`` from
    ADD_TO_SWAP on and the thread holds the isolation reference."""

    ISOLATE = 0
    ADD_TO_SWAP = 1
    UNMAP = 2
    PAGEOUT = 3


def reclaim_step(w: World, pol: Policy, th: Thread, q: int, v: int) -> tuple[str, bool]:
    """One step of reclaiming the page process ``q`` maps at ``v``: (label, finished)."""
    R = ReclaimPhase
    sub = th.sub
    if sub == R.ISOLATE:
        label, f = reclaim_isolate(w, pol, q, v)
        if f == NONE:
            return label, True
        th.held, th.held_refs = f, 1
        th.loc = [f]
        th.sub = R.ADD_TO_SWAP
    elif sub == R.ADD_TO_SWAP:
        label = reclaim_add_to_swap(w, pol, th.loc[0])
        th.sub = R.UNMAP
    elif sub == R.UNMAP:
        label, more = try_to_unmap_one(w, pol, th.loc[0])
        if more != 1:
            th.sub = R.PAGEOUT
    else:
        th.held, th.held_refs = NONE, 0
        return reclaim_pageout(w, pol, th.loc[0]), True
    return label, False


def reclaim_isolate(w: World, pol: Policy, p: int, v: int) -> tuple[str, int]:
    """shrink_page_list() on the page mapped at (p, v): isolate, lock, feb889fb40fa check.

    The page must be on the LRU (a fresh page waits for the pagevec drain).
    Isolation takes a reference and the page lock, held to the end of the
    pass.  E4+: a maybe-pinned page not yet in the swap cache is kept
    (keep_locked).  Returns (label, frame or NONE when there is nothing to do).
    """
    kind, f, _wr, _sd = w.procs[p].pte[v]
    if kind != PRESENT:
        return "shrink_page_list: nothing mapped", NONE
    fr = w.frames[f]
    if fr.lru:
        raise Blocked("page still in the LRU pagevec")
    if fr.locked:
        raise Blocked("page locked")
    if pol.reclaim_skip_pinned and fr.swapcache == NONE and w.maybe_dma_pinned(f):
        return "shrink_page_list: maybe pinned -> keep", NONE
    fr.locked = 1
    fr.ref += 1
    return f"shrink_page_list: isolate, lock f{f}", f


def reclaim_add_to_swap(w: World, pol: Policy, f: int) -> str:
    """add_to_swap(): a slot (the search picks it) and the swap-cache reference."""
    fr = w.frames[f]
    if fr.swapcache != NONE:
        return f"already in swap cache s{fr.swapcache}"
    s = w.alloc_slot()
    fr.swapcache = s
    fr.ref += 1
    w.slots[s].cache = f
    return f"add_to_swap f{f} -> s{s}"


def reclaim_pageout(w: World, pol: Policy, f: int) -> str:
    """pageout() and __remove_mapping(): write the slot, free the page if only the cache holds it.

    A page still mapped is kept.  Otherwise its data goes to the slot; the
    refcount freeze succeeds only at isolation + swap cache (2), so any GUP
    reference leaves the page unmapped in the swap cache (the state behind
    the wrong-COW-after-swap cases).  Unlocks and drops the isolation
    reference.
    """
    fr = w.frames[f]
    label = "keep (still mapped)"
    if fr.map == 0 and fr.swapcache != NONE:
        s = fr.swapcache
        w.slots[s].data = fr.data
        if fr.ref == 2:
            fr.inactive -= w.slots[s].swapcount  # the page leaves: its entries name the slot
            fr.swapcache = NONE
            w.slots[s].cache = NONE
            fr.ref -= 1
            label = f"pageout -> s{s}, freed"
        else:
            label = f"pageout -> s{s}, refcount {fr.ref} != 2: stays in swap cache"
    fr.locked = 0
    w.put_page(f)
    return label
