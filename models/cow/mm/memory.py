"""mm/memory.c: page faults on anonymous memory, a store, and zap_pte_range.

The fault handlers (do_anonymous_page, do_wp_page with its reuse test
wp_can_reuse, do_swap_page) and the zap of one PTE.  The reuse and swap-in
decisions are the policy's (../../../docs/eras.md, "Write fault",
"Swap-in").
"""

from __future__ import annotations

from ..policy import Policy
from ..vm import (
    LIVE,
    MIGRATION,
    NO_PTE,
    NONE,
    PRESENT,
    SWAP,
    Blocked,
    Frame,
    World,
    present_pte,
    token_bit,
)
from .swap import lru_add_drain
from .swapfile import delete_from_swap_cache, swap_free, try_to_free_swap

__all__ = ["need_fault_lock", "new_anon_page", "anon_fault", "wp_can_reuse", "do_wp_page",
           "do_swap_page", "store", "zap_pte"]


def need_fault_lock(w: World, p: int) -> None:
    """A page fault takes the mmap lock for read and the PTL: blocked during a fork of p."""
    pr = w.procs[p]
    if pr.mmap < 0 or pr.ptl:
        raise Blocked("mmap_lock or PTL held by fork")


def new_anon_page(w: World, pol: Policy, data: int) -> int:
    """alloc + page_add_new_anon_rmap + lru_cache_add: ref 2 (mapping, LRU pagevec)."""
    f = w.alloc_frame()
    w.frames[f] = Frame.new(ref=2, map=1, lru=1, swapcache=NONE,
                            ae=1 if pol.anon_exclusive else 0, data=data)
    return f


# -- faults --------------------------------------------------------------------------


def anon_fault(w: World, pol: Policy, p: int, v: int) -> str:
    """do_anonymous_page() for a write: a new zeroed exclusive page mapped writable.

    Abstracts: page allocation (the search picks the frame), LRU-pagevec
    reference, PageAnonExclusive in E6.  Ignores: the shared zero page for
    read faults (every populating access is modelled as a write fault),
    memcg, userfaultfd.  All eras.  A THP or hugetlb page: ../huge.py.
    """
    if w.cfg.backing != "page":
        from ..huge import huge_fault

        return huge_fault(w, pol, p, v, w.cfg.backing)
    need_fault_lock(w, p)
    pr = w.procs[p]
    f = new_anon_page(w, pol, 0)
    pr.pte[v] = present_pte(f, pr.vm_write[v], 1)
    if pr.L[v] == NONE:
        pr.L[v] = 0  # the process now reads zeroes there
    return f"do_anonymous_page -> f{f}"


def _reuse_mapcount(w: World, f: int) -> bool:
    """E1/E2 do_wp_page: lock_page (sleeps), reuse_swap_page(): mapcount + swapcount <= 1."""
    fr = w.frames[f]
    if fr.locked:
        raise Blocked("lock_page sleeps: page locked by reclaim")
    n = fr.map
    if fr.swapcache != NONE:
        n += w.slots[fr.swapcache].swapcount
    if n == 1 and fr.swapcache != NONE:
        delete_from_swap_cache(w, f)
    return n <= 1


def _trylock(w: World, f: int) -> bool:
    if w.frames[f].locked:
        return False
    if w.cfg.spurious_trylock:
        return bool(w.choose("trylock", [1, 0]))
    return True


def _reuse_page_count(w: World, f: int) -> bool:
    """E3t-E4 do_wp_page (09854ba94c6a): page_count == 1, trylock, mapcount == 1."""
    fr = w.frames[f]
    if fr.ref != 1:
        return False
    if not _trylock(w, f):
        return False
    return fr.map == 1 and fr.ref == 1


def _reuse_page_count_drain(w: World, f: int) -> bool:
    """E5 do_wp_page (53a05ad9f21d, d4c470970d45): drain, free the swap cache, page_count == 1."""
    fr = w.frames[f]
    if fr.ref > 3:
        return False
    if fr.lru:
        lru_add_drain(w)
    sc = 1 if fr.swapcache != NONE else 0
    if fr.ref > 1 + sc:
        return False
    if not _trylock(w, f):
        return False
    if fr.swapcache != NONE:
        try_to_free_swap(w, f)
    return fr.ref == 1


def wp_can_reuse(w: World, pol: Policy, f: int) -> bool:
    """do_wp_page()'s reuse test (wp_can_reuse_anon_folio() since 6.5), the policy's rule.

    E1/E2 mapcount + swapcount under the page lock; E3t-E4 page_count under
    trylock; E5 the same after draining the pagevec and freeing the swap
    cache; E6 PageAnonExclusive, else the E5 test (and page_move_anon_rmap
    sets AE on reuse); precise-2021 active (mapcount) + inactive (swap and
    migration entries) == 1, read together without the page lock.  A policy
    may give its own function ``(world, frame)``.
    """
    rule = pol.wp_reuse
    if callable(rule):
        return bool(rule(w, f))
    if rule == "mapcount":
        return _reuse_mapcount(w, f)
    if rule == "page_count":
        return _reuse_page_count(w, f)
    if rule == "page_count_drain":
        return _reuse_page_count_drain(w, f)
    if rule == "precise":  # the seed's third design: one atomic read of both counts
        fr = w.frames[f]
        return fr.map + fr.inactive == 1
    # anon_exclusive (E6): AE reuses without reading any counter; else the E5 test.
    if w.frames[f].ae:
        return True
    ok = _reuse_page_count_drain(w, f)
    if ok and pol.reuse_sets_ae:
        w.frames[f].ae = 1  # page_move_anon_rmap()
    return ok


def do_wp_page(w: World, pol: Policy, p: int, v: int, unshare: bool = False) -> str:
    """do_wp_page(): a write fault (or, with ``unshare``, FAULT_FLAG_UNSHARE) on a R/O PTE.

    Reuse maps the same page writable (unshare: keeps the PTE R/O and marks
    the page exclusive); copy allocates a new exclusive page, copies the
    data, maps it (writable for a write fault, R/O for unshare) and drops
    the old page's mapping and reference.  The reuse test is the policy's
    (../../../docs/eras.md, "Write fault").  Abstracts: the whole fault, copy included, as
    one step under the PTL (wp_page_copy's unlocked copy window is not split).
    Ignores: KSM, PageWriteback.  A THP or hugetlb page: ../huge.py.
    """
    if w.cfg.backing != "page":  # do_huge_pmd_wp_page(), hugetlb_wp()
        from ..huge import huge_wp_fault

        return huge_wp_fault(w, pol, p, v, w.cfg.backing, unshare)
    need_fault_lock(w, p)
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and not (writable and not unshare)
    what = "unshare" if unshare else "write"
    if wp_can_reuse(w, pol, f):
        if not unshare:
            pr.pte[v] = present_pte(f, 1, 1)
        elif pol.anon_exclusive:
            w.frames[f].ae = 1
        return f"do_wp_page({what}) reuse f{f}"
    old = w.frames[f]
    nf = new_anon_page(w, pol, old.data)
    pr.pte[v] = present_pte(nf, 0 if unshare else 1, 1)
    old.map -= 1
    w.put_page(f)
    return f"do_wp_page({what}) copy f{f} -> f{nf}"


def do_swap_page(w: World, pol: Policy, p: int, v: int, write: bool) -> str:
    """do_swap_page(): fault in a swap PTE, mapping the swap-cache page.

    The page comes from the swap cache, or is read from the slot into a new
    frame that enters the swap cache (ref: swap cache, ours, LRU pagevec).
    lock_page sleeps while reclaim holds the page.  Whether a write fault
    maps it writable (and, in E6, exclusive) is the policy's
    (../../../docs/eras.md, "Swap-in"): reuse_swap_page (E1-E4), fresh-or-page_count (E5,
    c145e0b47c77), SWP_EXCLUSIVE-or-page_count (E6, 1493a1913e34).  A write
    fault not resolved here retries and goes through do_wp_page.  Ignores:
    SWP_SYNCHRONOUS_IO (so "fresh" is never true), swap readahead, KSM,
    writeback, "swap full".
    """
    need_fault_lock(w, p)
    pr = w.procs[p]
    kind, s, excl, _ = pr.pte[v]
    assert kind == SWAP
    sl = w.slots[s]
    if sl.cache != NONE:
        f = sl.cache
        fr = w.frames[f]
        if fr.locked:
            raise Blocked("lock_page sleeps: page locked by reclaim")
        fr.ref += 1  # lookup_swap_cache reference, becomes the mapping's
        src = "swap cache"
    else:
        f = w.alloc_frame()
        w.frames[f] = Frame.new(ref=3, map=0, lru=1, swapcache=s, ae=0, data=sl.data,
                                inactive=sl.swapcount)
        fr = w.frames[f]
        sl.cache = f
        src = "read from slot"
    rule = pol.swapin_reuse
    exclusive = False
    if callable(rule):
        exclusive = bool(rule(w, f, excl, write))
        swap_free(w, s)
    elif rule == "precise":  # active + inactive: our own swap entry is the only reference
        if write and fr.map + fr.inactive == 1:
            delete_from_swap_cache(w, f)
            exclusive = True
        swap_free(w, s)
    elif rule == "mapcount":
        if write:
            n = fr.map + sl.swapcount
            if n == 1:
                delete_from_swap_cache(w, f)
                exclusive = True
        swap_free(w, s)
    else:
        if write and fr.swapcache == s and fr.lru:
            lru_add_drain(w)
        excl_bit = bool(excl) if rule == "swp_exclusive" else False
        swap_free(w, s)
        if fr.swapcache != NONE and write and fr.ref == 2:
            try_to_free_swap(w, f)
        exclusive = excl_bit or fr.ref == 1
    writable = 1 if (write and exclusive and pr.vm_write[v]) else 0
    if pol.anon_exclusive:
        fr.ae = 1 if exclusive else 0
    fr.map += 1
    pr.pte[v] = present_pte(f, writable, 1)
    return (f"do_swap_page({'write' if write else 'read'}) {src} f{f} "
            f"{'exclusive' if exclusive else 'shared'}{' writable' if writable else ' R/O'}")


def store(w: World, pol: Policy, p: int, v: int, token: int) -> str:
    """A CPU store through a writable PTE: no fault, no lock (all eras)."""
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and writable
    w.frames[f].data = token
    pr.pte[v] = present_pte(f, 1, 1)
    pr.L[v] = token
    pr.hist |= token_bit(token)
    return f"store f{f}"


# -- unmap ---------------------------------------------------------------------------------


def zap_pte(w: World, pol: Policy, p: int, v: int) -> str:
    """zap_pte_range() for one PTE (munmap, MADV_DONTNEED, exit), mmap_lock for write.

    Present: mapcount-1 and the mapping's reference dropped (the TLB-flush
    deferral is not modelled).  Swap: free_swap_and_cache.  A migration
    entry just goes (migration restores only the entries it finds).  GUP references
    are untouched: a pin survives, detached, with its frame and expected
    data (../../../docs/eras.md, "Unmap and exit").
    """
    pr = w.procs[p]
    if pr.mmap != 0 or pr.ptl:
        raise Blocked("mmap_lock held")
    kind, idx, _wr, _sd = pr.pte[v]
    if kind == PRESENT:
        fr = w.frames[idx]
        fr.map -= 1
        w.put_page(idx)
        label = f"zap_pte_range: f{idx}"
    elif kind == SWAP:
        sl = w.slots[idx]
        sl.swapcount -= 1
        if sl.cache != NONE:
            w.frames[sl.cache].inactive -= 1
        if sl.swapcount == 0 and sl.cache != NONE:
            cf = w.frames[sl.cache]
            if cf.map == 0 and not cf.locked and cf.ref == 1:
                delete_from_swap_cache(w, sl.cache)
        w.free_slot_if_unused(idx)
        label = f"zap_pte_range: free_swap_and_cache s{idx}"
    elif kind == MIGRATION:
        w.frames[idx].inactive -= 1  # the entry holds no reference, only the inactive count
        label = f"zap_pte_range: migration entry f{idx}"
    else:
        label = "zap_pte_range: none"
    handles = w.handles
    for k in range(len(handles)):
        st, _f, owner, vpn, _pin, _rw, attached, _e = handles.peek(k)
        if st == LIVE and owner == p and vpn == v and attached:
            h = handles[k]
            h.expect = pr.L[v]
            h.attached = 0
    pr.pte[v] = NO_PTE
    pr.L[v] = NONE
    return label
