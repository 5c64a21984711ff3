"""Kernel operations on the abstract VM, one function per atomic step.

Each function takes a ``World`` (a private copy of one state, see vm.py), the
policy and its arguments, edits the copy, and returns a short label saying
which way the kernel decided ("reuse", "copy", "fallback", ...).  The step
machinery in model.py freezes the copy afterwards, so each step is a pure
function of the state.  A step that cannot run now raises ``Blocked``; an
allocation asks the search to choose the frame or slot (``World.choose``).

Every docstring says what the step abstracts, what it ignores, and the era
or commit it follows (../../docs/eras.md).  Common simplifications: small
anonymous pages only (no THP, hugetlb, KSM, file pages, zero page); a fault
that allocates never fails (no OOM); one LRU pagevec (lru_add_drain drains
every fresh page); the page-table lock and the mmap lock are modelled only
where they exclude a step the kernel really excludes.
"""

from __future__ import annotations

from .policy import Policy
from .vm import (
    ALIVE,
    EXITED,
    LIVE,
    NONE,
    PRESENT,
    RELEASED,
    SWAP,
    Blocked,
    Frame,
    World,
)

__all__ = [
    "anon_fault", "do_wp_page", "do_swap_page", "store",
    "fork_begin", "fork_decide", "fork_apply", "fork_end",
    "gup_fast_begin", "gup_fast_pte", "gup_fast_grab", "gup_fast_recheck",
    "gup_fast_seq_retry", "gup_slow_lock", "gup_slow_follow", "must_unshare",
    "unpin", "dma_write", "zap_pte", "exit_done", "mprotect", "clear_refs",
    "reclaim_isolate", "reclaim_add_to_swap", "reclaim_try_to_unmap", "reclaim_pageout",
    "lru_add_drain", "copy_was_unnecessary",
]


def _bit(token: int) -> int:
    return 1 << token


def _need_fault_lock(w: World, p: int) -> None:
    """A page fault takes the mmap lock for read and the PTL: blocked during a fork of p."""
    pr = w.procs[p]
    if pr.mmap < 0 or pr.ptl:
        raise Blocked("mmap_lock or PTL held by fork")


def _new_anon_page(w: World, pol: Policy, data: int) -> int:
    """alloc + page_add_new_anon_rmap + lru_cache_add: ref 2 (mapping, LRU pagevec)."""
    f = w.alloc_frame()
    w.frames[f] = Frame((2, 1, 1, NONE, 1 if pol.anon_exclusive else 0, 0, data))
    return f


# -- faults --------------------------------------------------------------------------


def anon_fault(w: World, pol: Policy, p: int, v: int) -> str:
    """do_anonymous_page() for a write: a new zeroed exclusive page mapped writable.

    Abstracts: page allocation (the search picks the frame), LRU-pagevec
    reference, PageAnonExclusive in E6.  Ignores: the shared zero page for
    read faults (every populating access is modelled as a write fault),
    memcg, userfaultfd.  All eras.
    """
    _need_fault_lock(w, p)
    pr = w.procs[p]
    f = _new_anon_page(w, pol, 0)
    pr.pte[v] = (PRESENT, f, pr.vm_write[v], 1)
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
        _delete_from_swap_cache(w, f)
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
        _try_to_free_swap(w, f)
    return fr.ref == 1


def _reuse_decision(w: World, pol: Policy, f: int) -> bool:
    rule = pol.wp_reuse
    if callable(rule):
        return bool(rule(w, f))
    if rule == "mapcount":
        return _reuse_mapcount(w, f)
    if rule == "page_count":
        return _reuse_page_count(w, f)
    if rule == "page_count_drain":
        return _reuse_page_count_drain(w, f)
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
    (../../docs/eras.md, "Write fault").  Abstracts: the whole fault, copy included, as one
    step under the PTL (wp_page_copy's unlocked copy window is not split).
    Ignores: KSM, PageWriteback, THP.
    """
    _need_fault_lock(w, p)
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and not (writable and not unshare)
    what = "unshare" if unshare else "write"
    if _reuse_decision(w, pol, f):
        if not unshare:
            pr.pte[v] = (PRESENT, f, 1, 1)
        elif pol.anon_exclusive:
            w.frames[f].ae = 1
        return f"do_wp_page({what}) reuse f{f}"
    old = w.frames[f]
    nf = _new_anon_page(w, pol, old.data)
    pr.pte[v] = (PRESENT, nf, 0 if unshare else 1, 1)
    old.map -= 1
    w.put_page(f)
    return f"do_wp_page({what}) copy f{f} -> f{nf}"


def copy_was_unnecessary(state: tuple, p: int, v: int) -> bool:
    """Was a do_wp_page copy of (p, v) in ``state`` unnecessary?

    True when the faulting process was the only observer of the old page:
    nobody else maps it (mapcount 1) or holds its swap slot, and no GUP
    reference of anyone is on it (the faulting process's own reference
    would make the copy a wrong COW, not an unnecessary one).  Kernel
    transients (swap cache with no swap PTE, LRU pagevec, an in-flight
    GUP-fast grab) do not count as observers (../../docs/oracle.md).
    """
    frames, slots, procs, handles = state[:4]
    kind, f, _w, _sd = procs[p][1][v]
    if kind != PRESENT:
        return False
    ref, mapc, _lru, sc, _ae, _locked, _data = frames[f]
    if mapc != 1:
        return False
    if sc != NONE and slots[sc][0] != 0:
        return False
    return not any(h[0] == LIVE and h[1] == f for h in handles)


def do_swap_page(w: World, pol: Policy, p: int, v: int, write: bool) -> str:
    """do_swap_page(): fault in a swap PTE, mapping the swap-cache page.

    The page comes from the swap cache, or is read from the slot into a new
    frame that enters the swap cache (ref: swap cache, ours, LRU pagevec).
    lock_page sleeps while reclaim holds the page.  Whether a write fault
    maps it writable (and, in E6, exclusive) is the policy's
    (../../docs/eras.md, "Swap-in"): reuse_swap_page (E1-E4), fresh-or-page_count (E5,
    c145e0b47c77), SWP_EXCLUSIVE-or-page_count (E6, 1493a1913e34).  A write
    fault not resolved here retries and goes through do_wp_page.  Ignores:
    SWP_SYNCHRONOUS_IO (so "fresh" is never true), swap readahead, KSM,
    writeback, "swap full".
    """
    _need_fault_lock(w, p)
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
        w.frames[f] = Frame((3, 0, 1, s, 0, 0, sl.data))
        fr = w.frames[f]
        sl.cache = f
        src = "read from slot"
    rule = pol.swapin_reuse
    exclusive = False
    if callable(rule):
        exclusive = bool(rule(w, f, excl, write))
        _swap_free(w, s)
    elif rule == "mapcount":
        if write:
            n = fr.map + sl.swapcount
            if n == 1:
                _delete_from_swap_cache(w, f)
                exclusive = True
        _swap_free(w, s)
    else:
        if write and fr.swapcache == s and fr.lru:
            lru_add_drain(w)
        excl_bit = bool(excl) if rule == "swp_exclusive" else False
        _swap_free(w, s)
        if fr.swapcache != NONE and write and fr.ref == 2:
            _try_to_free_swap(w, f)
        exclusive = excl_bit or fr.ref == 1
    writable = 1 if (write and exclusive and pr.vm_write[v]) else 0
    if pol.anon_exclusive:
        fr.ae = 1 if exclusive else 0
    fr.map += 1
    pr.pte[v] = (PRESENT, f, writable, 1)
    return (f"do_swap_page({'write' if write else 'read'}) {src} f{f} "
            f"{'exclusive' if exclusive else 'shared'}{' writable' if writable else ' R/O'}")


def store(w: World, pol: Policy, p: int, v: int, token: int) -> str:
    """A CPU store through a writable PTE: no fault, no lock (all eras)."""
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and writable
    w.frames[f].data = token
    pr.pte[v] = (PRESENT, f, 1, 1)
    pr.L[v] = token
    pr.hist |= _bit(token)
    return f"store f{f}"


# -- swap cache helpers ------------------------------------------------------------------


def _swap_free(w: World, s: int) -> None:
    """swap_free(): one swap PTE less; the slot goes when nothing names it."""
    w.slots[s].swapcount -= 1
    w.free_slot_if_unused(s)


def _delete_from_swap_cache(w: World, f: int) -> None:
    fr = w.frames[f]
    s = fr.swapcache
    fr.swapcache = NONE
    w.slots[s].cache = NONE
    w.free_slot_if_unused(s)
    w.put_page(f)


def _try_to_free_swap(w: World, f: int) -> None:
    """try_to_free_swap(): drop the swap cache when no swap PTE names the slot."""
    fr = w.frames[f]
    if fr.swapcache != NONE and w.slots[fr.swapcache].swapcount == 0:
        _delete_from_swap_cache(w, f)


def lru_add_drain(w: World) -> str:
    """lru_add_drain(): the LRU pagevec drops its reference on every fresh page.

    Abstracts the per-CPU pagevecs as one; runs as its own free-running
    thread and inside E5+ do_wp_page/do_swap_page (d4c470970d45).
    """
    frames = w.frames
    for f in range(len(frames)):
        if frames.peek(f)[2]:
            frames[f].lru = 0
            w.put_page(f)
    return "lru_add_drain"


# -- fork --------------------------------------------------------------------------------


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
        return "copy_pte_range: " + ("swap PTE" if kind == SWAP else "no PTE"), 0
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
    both (1493a1913e34).  Releases the PTL.  The child's ghost value is the
    parent's at this moment.
    """
    pr, ch = w.procs[p], w.procs[c]
    pr.ptl = 0
    kind, idx, wr, sd = pr.pte[v]
    ch.L[v] = pr.L[v]
    ch.hist |= pr.hist
    if kind == PRESENT:
        if copy:
            nf = _new_anon_page(w, pol, w.frames[idx].data)
            ch.pte[v] = (PRESENT, nf, ch.vm_write[v], 1)
            return f"copy_present_page -> child f{nf}"
        fr = w.frames[idx]
        fr.ref += 1
        fr.map += 1
        if pol.fork_try_dup:
            fr.ae = 0  # ClearPageAnonExclusive, in the same PTL hold as the wrprotect
        pr.pte[v] = (PRESENT, idx, 0, sd)
        ch.pte[v] = (PRESENT, idx, 0, sd)
        return f"share f{idx}" + (": wrprotect" if wr else "")
    if kind == SWAP:
        w.slots[idx].swapcount += 1
        pr.pte[v] = (SWAP, idx, 0, 0)
        ch.pte[v] = (SWAP, idx, 0, 0)
        return f"swap_duplicate s{idx}"
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


# -- GUP ------------------------------------------------------------------------------


def must_unshare(w: World, pol: Policy, f: int, pin: bool, rw: bool) -> bool:
    """Does GUP have to unshare (copy or mark exclusive) before a R/O reference?

    E6 gup_must_unshare() (a7f226604170): R/O FOLL_PIN of a page that is not
    PageAnonExclusive.  David's December 2021 RFC: R/O get or pin of a page
    with mapcount > 1.  Other eras: never.
    """
    rule = pol.gup_unshare
    if rw:
        return False
    if callable(rule):
        return bool(rule(w, f, pin, rw))
    if rule == "unshare_ae":
        return pin and not w.frames[f].ae
    if rule == "unshare_mapcount":
        return w.frames[f].map > 1
    return False


def _foll_write(pol: Policy, pin: bool, rw: bool) -> bool:
    if rw:
        return True
    if pol.gup_unshare == "force_write":  # E2: every get/pin on a COW mapping (17839856fd58)
        return True
    return pol.gup_unshare == "force_write_pin" and pin


def gup_fast_begin(w: World, pol: Policy, p: int, pin: bool) -> tuple[str, int]:
    """internal_get_user_pages_fast() entry: set has_pinned, sample write_protect_seq.

    E3+ FOLL_PIN sets mm->has_pinned (008cfe4418b3).  E4+ FOLL_PIN reads
    write_protect_seq; odd means a fork is running: fall back to slow GUP
    (57efa1fe5957).  Returns (label, seq or -1 for fallback).
    """
    pr = w.procs[p]
    if pin and pol.gup_sets_has_pinned:
        pr.has_pinned = 1
    if pin and pol.fork_seqcount:
        if pr.wps & 1:
            return "raw_read_seqcount: odd -> slow GUP", -1
        return f"raw_read_seqcount == {pr.wps}", pr.wps
    return "gup_fast: local_irq_save", 0


def gup_fast_pte(w: World, pol: Policy, p: int, v: int, pin: bool, rw: bool
                 ) -> tuple[str, tuple | None]:
    """gup_pte_range() (B1, B2): read the PTE locklessly; unsuitable -> fall back.

    Falls back on a non-present PTE, on a R/O PTE for FOLL_WRITE, and on
    every R/O PTE where the era walks as if FOLL_WRITE (E2).
    """
    pte = w.procs[p].pte[v]
    kind, f, wr, _sd = pte
    if kind != PRESENT:
        return "pte not present -> slow GUP", None
    if not wr and (_foll_write(pol, pin, rw) or pol.gup_fast_ro == "fallback"
                   or (pol.gup_fast_ro == "fallback_pin" and pin)):
        return "pte R/O, FOLL_WRITE -> slow GUP", None
    return f"READ_ONCE(pte) = f{f} {'W' if wr else 'R/O'}", pte


def gup_fast_grab(w: World, pol: Policy, f: int, pin: bool) -> tuple[str, bool]:
    """try_grab_folio() (B3): take the reference or pin (ref + BIAS) speculatively."""
    fr = w.frames[f]
    if fr.free:
        return "try_grab_folio: page freed -> slow GUP", False
    fr.ref += w.cfg.bias if pin else 1
    return ("pin" if pin else "get") + f" f{f} (speculative)", True


def gup_fast_recheck(w: World, pol: Policy, p: int, v: int, pte: tuple, pin: bool, rw: bool
                     ) -> tuple[str, bool]:
    """gup_pte_range() (B4, B5): PTE changed -> back off; E6 R/O pin of a non-AE page -> back off.

    The caller drops the speculative reference on back-off.
    """
    now = w.procs[p].pte[v]
    if now != pte:
        return "pte changed -> unpin, slow GUP", False
    f = pte[1]
    if not pte[2] and pol.gup_fast_ro == "back_off_unshare" and must_unshare(w, pol, f, pin,
                                                                              rw):
        return "gup_must_unshare -> unpin, slow GUP", False
    return "pte unchanged", True


def gup_fast_seq_retry(w: World, pol: Policy, p: int, seq: int, pin: bool) -> tuple[str, bool]:
    """read_seqcount_retry(&mm->write_protect_seq) (E4+, FOLL_PIN only): changed -> back off."""
    if pin and pol.fork_seqcount and w.procs[p].wps != seq:
        return "read_seqcount_retry: changed -> unpin, slow GUP", False
    return "gup_fast: done", True


def gup_slow_lock(w: World, pol: Policy, p: int, pin: bool) -> str:
    """__gup_longterm_locked() entry: mmap_read_lock (waits for a fork), set has_pinned."""
    pr = w.procs[p]
    if pr.mmap < 0:
        raise Blocked("mmap_lock held for write by fork")
    pr.mmap += 1
    if pin and pol.gup_sets_has_pinned:
        pr.has_pinned = 1
    return "mmap_read_lock"


def gup_slow_follow(w: World, pol: Policy, p: int, v: int, pin: bool, rw: bool
                    ) -> tuple[str, int]:
    """follow_page_pte() under the PTL, or the fault it needs (one step each).

    Returns (label, frame) when the page can be taken, (label, NONE) after a
    fault (faultin_page; the caller retries).  No PTE: populate.  Swap PTE:
    do_swap_page.  FOLL_WRITE on a R/O PTE: write fault (E2 forces FOLL_WRITE
    for every get/pin, 17839856fd58).  E6: R/O pin of a non-exclusive page:
    unshare fault (-EMLINK, a7f226604170).  Ignores: FOLL_FORCE/FOLL_COW
    (Dirty COW), VMA permission errors, FOLL_LONGTERM migration.
    """
    pr = w.procs[p]
    if pr.ptl:
        raise Blocked("PTL held by fork")
    kind, f, wr, _sd = pr.pte[v]
    if kind == 0:
        return anon_fault(w, pol, p, v), NONE
    if kind == SWAP:
        return do_swap_page(w, pol, p, v, _foll_write(pol, pin, rw)), NONE
    if not wr and _foll_write(pol, pin, rw):
        return do_wp_page(w, pol, p, v), NONE
    if not wr and must_unshare(w, pol, f, pin, rw):
        return do_wp_page(w, pol, p, v, unshare=True), NONE
    return f"follow_page_pte f{f}", f


def take_reference(w: World, p: int, v: int, k: int, f: int, pin: bool, rw: bool) -> None:
    """The handle now owns the reference (slow GUP: taken here; fast: the grab).

    Slow GUP takes it under the mmap lock and the PTL, so the PTE maps ``f``.
    GUP-fast takes no lock: between its PTE recheck and the end of the call,
    munmap or exit may zap the PTE (and a later fault map a new page there).
    The kernel returns the page anyway: gup_fast_pte_range() (mm/gup.c;
    gup_pte_range() before 6.9) rechecks the PTE only right after the grab
    (``pte_val(pte) != pte_val(ptep_get(ptep))``), so the call completes as if
    it had finished before the zap, and the reference survives the unmap
    (../../docs/eras.md, "Unmap and exit"; Documentation/core-api/pin_user_pages.rst: a pinned
    page stays allocated until unpinned).  So when the owner no longer maps
    ``f`` (no PTE, or a PTE to another frame) the handle starts detached,
    and the device must read what the page holds: no COW is involved.  A swap
    PTE still counts as the mapping (reclaim keeps a page GUP holds in the
    swap cache).

    This checks nothing less: the same call completing right after its
    recheck (same ``write_protect_seq``, so the same outcome) is another
    interleaving of the same steps, where the handle is attached and every
    later divergence (a zap freezing the expected value, or a COW away from
    ``f``, which is the 57efa1fe5957 wrong COW) is checked as before.
    All eras.
    """
    h = w.handles[k]
    kind, idx, _wr, _sd = w.procs[p].pte[v]
    mapped = kind == SWAP or (kind == PRESENT and idx == f)
    h.state, h.frame, h.owner, h.vpn, h.pin, h.rw = LIVE, f, p, v, int(pin), int(rw)
    h.attached = 1 if mapped else 0
    h.expect = w.procs[p].L[v] if mapped else w.frames[f].data


def unpin(w: World, k: int) -> str:
    """unpin_user_page() / put_page() on a GUP reference (all eras)."""
    h = w.handles[k]
    assert h.state == LIVE
    h.state = RELEASED
    f = h.frame
    w.put_page(f, w.cfg.bias if h.pin else 1)
    return ("unpin" if h.pin else "put_page") + f" f{f}"


def dma_write(w: World, k: int, token: int) -> str:
    """A device write through a R/W GUP reference (RDMA, io_uring, O_DIRECT read).

    Logically a write to the owner's memory while the owner maps the page
    (ghost L and history follow); to the device's private copy once detached.
    """
    h = w.handles[k]
    assert h.state == LIVE and h.rw
    w.frames[h.frame].data = token
    if h.attached:
        pr = w.procs[h.owner]
        pr.L[h.vpn] = token
        pr.hist |= _bit(token)
    else:
        h.expect = token
        w.procs[h.owner].hist |= _bit(token)
    return f"DMA write f{h.frame}"


# -- unmap, exit, mprotect, clear_refs ------------------------------------------------------


def zap_pte(w: World, pol: Policy, p: int, v: int) -> str:
    """zap_pte_range() for one PTE (munmap, MADV_DONTNEED, exit), mmap_lock for write.

    Present: mapcount-1 and the mapping's reference dropped (the TLB-flush
    deferral is not modelled).  Swap: free_swap_and_cache.  GUP references
    are untouched: a pin survives, detached, with its frame and expected
    data (../../docs/eras.md, "Unmap and exit").
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
        if sl.swapcount == 0 and sl.cache != NONE:
            cf = w.frames[sl.cache]
            if cf.map == 0 and not cf.locked and cf.ref == 1:
                _delete_from_swap_cache(w, sl.cache)
        w.free_slot_if_unused(idx)
        label = f"zap_pte_range: free_swap_and_cache s{idx}"
    else:
        label = "zap_pte_range: none"
    handles = w.handles
    for k in range(len(handles)):
        st, _f, owner, vpn, _pin, _rw, attached, _e = handles.peek(k)
        if st == LIVE and owner == p and vpn == v and attached:
            h = handles[k]
            h.expect = pr.L[v]
            h.attached = 0
    pr.pte[v] = (0, 0, 0, 0)
    pr.L[v] = NONE
    return label


def exit_done(w: World, p: int) -> str:
    """exit_mmap() finished: the mm is gone."""
    w.procs[p].alive = EXITED
    return "exit_mmap: done"


def _upgrade(w: World, pol: Policy, f: int, pte: tuple) -> bool:
    rule = pol.mprotect_upgrade
    if callable(rule):
        return bool(rule(w, f, pte))
    sd = pte[3]
    if rule == "never":
        return False
    if rule in ("exclusive", "exclusive_dirty"):  # all modelled anon PTEs are dirty
        return bool(w.frames[f].ae) and bool(sd)
    if rule == "mapcount":
        return w.frames[f].map == 1 and bool(sd)
    return bool(sd)  # "always": the gate removed


def mprotect(w: World, pol: Policy, p: int, v: int, writable: bool) -> str:
    """change_pte_range() under mmap_lock for write.

    Removing write write-protects the PTE.  Adding write maps a private anon
    PTE writable only where the policy allows (64fe24a3e05e, 6.0: exclusive
    and dirty; 6.2: exclusive; never before) and no soft-dirty fault is due.
    """
    pr = w.procs[p]
    if pr.mmap != 0 or pr.ptl:
        raise Blocked("mmap_lock held")
    pr.vm_write[v] = 1 if writable else 0
    kind, f, wr, sd = pr.pte[v]
    if kind != PRESENT:
        return f"mprotect({'RW' if writable else 'R'})"
    if not writable:
        pr.pte[v] = (PRESENT, f, 0, sd)
        return "mprotect(R): wrprotect"
    if not wr and _upgrade(w, pol, f, pr.pte[v]):
        pr.pte[v] = (PRESENT, f, 1, sd)
        return "mprotect(RW): can_change_pte_writable -> writable"
    return "mprotect(RW): PTE stays R/O"


def clear_refs(w: World, pol: Policy, p: int, v: int) -> str:
    """clear_refs_write() soft-dirty: write-protect the PTE, clear soft-dirty (mmap read lock).

    5.11+ leaves maybe-pinned pages alone ("mm: don't play games with pinned
    pages in clear_page_refs").
    """
    pr = w.procs[p]
    if pr.mmap < 0 or pr.ptl:
        raise Blocked("mmap_lock held")
    kind, f, _wr, _sd = pr.pte[v]
    if kind != PRESENT:
        return "clear_refs: no page"
    if pol.clear_refs_skip_pinned and w.maybe_dma_pinned(f):
        return "clear_refs: maybe pinned -> skip"
    pr.pte[v] = (PRESENT, f, 0, 0)
    return "clear_refs: wrprotect, clear soft-dirty"


# -- reclaim ---------------------------------------------------------------------------------


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


def reclaim_try_to_unmap(w: World, pol: Policy, f: int) -> tuple[str, int]:
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
                pr.pte[v] = (SWAP, s, 1 if (ae and pol.swp_exclusive) else 0, 0)
                w.slots[s].swapcount += 1
                fr.map -= 1
                fr.ref -= 1
                return f"try_to_unmap: {w_name(q)} pte -> s{s}", 1
    return "try_to_unmap: done", 0


def w_name(q: int) -> str:
    return f"mm{q}"


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
            fr.swapcache = NONE
            w.slots[s].cache = NONE
            fr.ref -= 1
            label = f"pageout -> s{s}, freed"
        else:
            label = f"pageout -> s{s}, refcount {fr.ref} != 2: stays in swap cache"
    fr.locked = 0
    w.put_page(f)
    return label
