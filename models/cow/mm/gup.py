"""mm/gup.c: get_user_pages / pin_user_pages, fast and slow, as a step machine; unpin.

The phases of one call are ``GupPhase``: GUP-fast samples
write_protect_seq (FAST_BEGIN), reads the PTE (FAST_PTE), grabs the page
speculatively (FAST_GRAB), rechecks the PTE (FAST_RECHECK) and the seqcount
(FAST_SEQ_RETRY); anything it cannot do falls back to slow GUP, which takes
the mmap lock (SLOW_LOCK) and follows the PTE under the PTL or faults and
retries (SLOW_FOLLOW), where it takes the reference.  A device's access
through a reference (dma_write) is here too: it is what a GUP reference is for.
"""

from __future__ import annotations

from ..policy import Policy
from ..vm import (
    LIVE,
    MIGRATION,
    NONE,
    NONE_K,
    PRESENT,
    RELEASED,
    SWAP,
    Blocked,
    Thread,
    World,
    token_bit,
)
from .memory import anon_fault, do_swap_page, do_wp_page
from .migrate import migration_entry_wait

__all__ = ["GupPhase", "gup_step", "must_unshare", "foll_write", "gup_fast_begin",
           "gup_fast_pte", "gup_fast_grab", "gup_fast_recheck", "gup_fast_seq_retry",
           "gup_slow_lock", "gup_slow_follow", "try_grab_page", "gup_slow_unlock",
           "drop_held", "take_reference", "unpin", "dma_write"]


class GupPhase:
    """The sub-steps of one GUP call (``Thread.sub``).  ``Thread.loc`` holds
    ``[seq]`` after FAST_BEGIN and ``[seq, *pte]`` (the PTE snapshot, its frame at
    ``SNAP_FRAME``) from FAST_PTE on; ``Thread.held`` the speculative grab."""

    FAST_BEGIN = 0
    FAST_PTE = 1
    FAST_GRAB = 2
    FAST_RECHECK = 3
    FAST_SEQ_RETRY = 4
    SLOW_LOCK = 10
    SLOW_FOLLOW = 11
    SNAP_FRAME = 2


def gup_step(w: World, pol: Policy, th: Thread, p: int, v: int, k: int, pin: bool, rw: bool,
             fast: bool) -> tuple[str, int, bool]:
    """One step of a GUP call of process ``p`` on page ``v`` into handle ``k``.

    Returns (label, frame, slow): ``frame`` is NONE while the call goes on,
    else the page the handle now holds; ``slow`` says slow GUP took it.
    """
    P = GupPhase
    sub = th.sub
    if sub == P.FAST_BEGIN and not fast:
        sub = th.sub = P.SLOW_LOCK
    if sub == P.FAST_BEGIN:
        label, seq = gup_fast_begin(w, pol, p, pin)
        th.loc = [seq]
        th.sub = P.SLOW_LOCK if seq < 0 else P.FAST_PTE
    elif sub == P.FAST_PTE:
        label, pte = gup_fast_pte(w, pol, p, v, pin, rw)
        if pte is None:
            th.sub = P.SLOW_LOCK
        else:
            th.loc = [th.loc[0], *pte]
            th.sub = P.FAST_GRAB
    elif sub == P.FAST_GRAB:
        f = th.loc[P.SNAP_FRAME]
        label, ok = gup_fast_grab(w, pol, f, pin)
        if ok:
            th.held, th.held_refs = f, (w.cfg.bias if pin else 1)
            th.sub = P.FAST_RECHECK
        else:
            th.sub = P.SLOW_LOCK
    elif sub == P.FAST_RECHECK:
        label, ok = gup_fast_recheck(w, pol, p, v, tuple(th.loc[1:5]), pin, rw)
        if ok:
            th.sub = P.FAST_SEQ_RETRY
        else:
            drop_held(w, th)
            th.sub = P.SLOW_LOCK
    elif sub == P.FAST_SEQ_RETRY:
        label, ok = gup_fast_seq_retry(w, pol, p, th.loc[0], pin)
        if ok:
            f = th.held
            th.held, th.held_refs = NONE, 0
            take_reference(w, p, v, k, f, pin, rw)
            return label, f, False
        drop_held(w, th)
        th.sub = P.SLOW_LOCK
    elif sub == P.SLOW_LOCK:
        label = gup_slow_lock(w, pol, p, pin)
        th.sub = P.SLOW_FOLLOW
    else:
        label, f = gup_slow_follow(w, pol, p, v, pin, rw)
        if f != NONE:
            try_grab_page(w, f, pin)
            take_reference(w, p, v, k, f, pin, rw)
            gup_slow_unlock(w, p)
            return label, f, True
    return label, NONE, False


def drop_held(w: World, th: Thread) -> None:
    """GUP-fast backs off: drop the speculative reference (or pin) the thread holds."""
    f, n = th.held, th.held_refs
    th.held, th.held_refs = NONE, 0
    w.put_page(f, n)


def try_grab_page(w: World, f: int, pin: bool) -> None:
    """try_grab_page() in follow_page_pte(), under the PTL: FOLL_GET takes a reference,
    FOLL_PIN GUP_PIN_COUNTING_BIAS of them (small pages; all eras since 5.7)."""
    w.frames[f].ref += w.cfg.bias if pin else 1


def gup_slow_unlock(w: World, p: int) -> None:
    """__get_user_pages() done: mmap_read_unlock."""
    w.procs[p].mmap -= 1


def must_unshare(w: World, pol: Policy, f: int, pin: bool, rw: bool) -> bool:
    """Does GUP have to unshare (copy or mark exclusive) before a R/O reference?

    E6 gup_must_unshare() (a7f226604170): R/O FOLL_PIN of a page that is not
    PageAnonExclusive.  David's December 2021 RFC: R/O get or pin of a page
    with mapcount > 1; precise-2021 with active + inactive count > 1.  Other
    eras: never.
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
    if rule == "unshare_precise":
        fr = w.frames[f]
        return fr.map + fr.inactive > 1
    return False


def foll_write(pol: Policy, pin: bool, rw: bool) -> bool:
    """Does this call walk as FOLL_WRITE?  R/W calls; E2 every get/pin on a COW mapping;
    Linus's proposal every pin."""
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
    if not wr and (foll_write(pol, pin, rw) or pol.gup_fast_ro == "fallback"
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
    do_swap_page.  Migration entry: wait (blocked until it is gone).
    FOLL_WRITE on a R/O PTE: write fault (E2 forces FOLL_WRITE for every
    get/pin, 17839856fd58).  E6: R/O pin of a non-exclusive page:
    unshare fault (-EMLINK, a7f226604170).  Ignores: FOLL_FORCE/FOLL_COW
    (Dirty COW), VMA permission errors, FOLL_LONGTERM migration.
    """
    pr = w.procs[p]
    if pr.ptl:
        raise Blocked("PTL held by fork")
    kind, f, wr, _sd = pr.pte[v]
    if kind == NONE_K:
        return anon_fault(w, pol, p, v), NONE
    if kind == SWAP:
        return do_swap_page(w, pol, p, v, foll_write(pol, pin, rw)), NONE
    if kind == MIGRATION:
        migration_entry_wait()
    if not wr and foll_write(pol, pin, rw):
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
    (../../../docs/eras.md, "Unmap and exit"; Documentation/core-api/pin_user_pages.rst: a pinned
    page stays allocated until unpinned).  So when the owner no longer maps
    ``f`` (no PTE, or a PTE to another frame) the handle starts detached,
    and the device must read what the page holds: no COW is involved.  A swap
    PTE still counts as the mapping (reclaim keeps a page GUP holds in the
    swap cache), and so does a migration entry naming ``f`` (the migration
    then fails on the reference and restores the PTE).

    This checks nothing less: the same call completing right after its
    recheck (same ``write_protect_seq``, so the same outcome) is another
    interleaving of the same steps, where the handle is attached and every
    later divergence (a zap freezing the expected value, or a COW away from
    ``f``, which is the 57efa1fe5957 wrong COW) is checked as before.
    All eras.
    """
    h = w.handles[k]
    kind, idx, _wr, _sd = w.procs[p].pte[v]
    mapped = kind == SWAP or ((kind == PRESENT or kind == MIGRATION) and idx == f)
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
        pr.hist |= token_bit(token)
    else:
        h.expect = token
        w.procs[h.owner].hist |= token_bit(token)
    return f"DMA write f{h.frame}"


