"""mm/migrate.c: migrate_pages() of one anonymous page, as a step machine.

Phases (``MigratePhase``): ISOLATE (isolate from the LRU and lock the
page), UNMAP (try_to_migrate_one per mapping, mm/rmap.c, repeated: each
PTE becomes a migration entry), MOVE (the refcount freeze of
folio_migrate_mapping, then a new page takes the data and the swap cache),
RESTORE (remove_migration_ptes: each entry becomes a PTE again, to the new
page, or to the old one when the migration failed), DONE (unlock, put the
page back).  Faults and slow GUP on a migration entry wait
(migration_entry_wait); GUP-fast falls back to slow GUP.  Ignores: THP,
file pages, the NUMA-hinting and compaction callers' own pre-checks
(compaction's ``page_count > page_mapcount`` skip, 119d6d59dcc0), soft-dirty
of the entries (the restored PTE is dirty, as swap-in's is here).
"""

from __future__ import annotations

from ..policy import Policy
from ..vm import (
    MIGRATION,
    NONE,
    PRESENT,
    Blocked,
    Frame,
    Thread,
    World,
    migration_pte,
    present_pte,
)
from .rmap import mm_name

__all__ = ["MigratePhase", "migrate_step", "migrate_isolate", "try_to_migrate_one",
           "migrate_move", "remove_migration_pte", "migrate_done", "migration_entry_wait"]


class MigratePhase:
    """The sub-steps of a migration (``Thread.sub``); ``Thread.loc`` is ``[frame]`` from
    UNMAP on (the old page, the new one after a successful MOVE) and the thread holds one
    reference on it (the isolation reference, then the new page's)."""

    ISOLATE = 0
    UNMAP = 1
    MOVE = 2
    RESTORE = 3
    DONE = 4


def migrate_step(w: World, pol: Policy, th: Thread, q: int, v: int) -> tuple[str, bool]:
    """One step of migrating the page process ``q`` maps at ``v``: (label, finished)."""
    M = MigratePhase
    sub = th.sub
    if sub == M.ISOLATE:
        label, f = migrate_isolate(w, pol, q, v)
        if f == NONE:
            return label, True
        th.held, th.held_refs = f, 1
        th.loc = [f]
        th.sub = M.UNMAP
    elif sub == M.UNMAP:
        label, more = try_to_migrate_one(w, pol, th.loc[0])
        if more == 0:
            th.sub = M.MOVE
        elif more < 0:
            th.sub = M.RESTORE
    elif sub == M.MOVE:
        label, nf = migrate_move(w, pol, th.loc[0])
        if nf != NONE:
            th.held = nf
            th.loc = [nf]
        th.sub = M.RESTORE
    elif sub == M.RESTORE:
        label, more = remove_migration_pte(w, pol, th.loc[0])
        if not more:
            th.sub = M.DONE
    else:
        th.held, th.held_refs = NONE, 0
        return migrate_done(w, th.loc[0]), True
    return label, False


def migration_entry_wait() -> None:
    """migration_entry_wait(): a fault or slow GUP on a migration entry sleeps until the
    migration restored the PTE (all eras).  Raises ``Blocked``."""
    raise Blocked("migration_entry_wait")


def migrate_isolate(w: World, pol: Policy, q: int, v: int) -> tuple[str, int]:
    """isolate_lru_page() + folio_lock() of the page mapped at (q, v) (move_pages(2), mbind).

    The page must be on the LRU (a fresh page waits for the pagevec drain)
    and unlocked.  Isolation takes a reference.  No era refuses a pinned page
    here: pre-E6 kernels find out at the refcount freeze (migrate_move), E6
    at the unmap (try_to_migrate_one).  Returns (label, frame or NONE).
    """
    kind, f, _wr, _sd = w.procs[q].pte[v]
    if kind != PRESENT:
        return "migrate_pages: nothing mapped", NONE
    fr = w.frames[f]
    if fr.lru:
        raise Blocked("page still in the LRU pagevec")
    if fr.locked:
        raise Blocked("page locked")
    fr.locked = 1
    fr.ref += 1
    return f"migrate_pages: isolate, lock f{f}", f


def try_to_migrate_one(w: World, pol: Policy, f: int) -> tuple[str, int]:
    """try_to_migrate_one() for the next PTE mapping f (rmap walk order: process, page).

    The PTE becomes a migration entry (no reference, no mapcount: mapcount-1,
    the mapping's reference dropped), writable if the PTE was.  E6
    (6c287605fd56): an exclusive page goes through page_try_share_anon_rmap,
    which refuses a maybe-pinned page (the PTE is restored and the walk
    aborts) and otherwise clears PageAnonExclusive, remembered in the entry
    (writable, or readable-exclusive).  Earlier eras have writable and
    readable entries only, and unmap pinned pages too.  Returns (label,
    state): 1 one more entry, 0 no mapping left, -1 refused.
    """
    for q in range(len(w.procs)):
        for v, (kind, idx, wr, _sd) in enumerate(w.procs.peek(q)[1]):
            if kind == PRESENT and idx == f:
                pr = w.procs[q]
                if pr.ptl:
                    raise Blocked("PTL held")
                fr = w.frames[f]
                ae = fr.ae
                if pol.unmap_try_share and ae and w.maybe_dma_pinned(f):
                    return f"try_to_migrate: {mm_name(q)} page_try_share_anon_rmap -EBUSY", -1
                excl = 1 if (ae and pol.anon_exclusive) else 0
                fr.ae = 0
                pr.pte[v] = migration_pte(f, wr, excl)
                fr.inactive += 1
                fr.map -= 1
                fr.ref -= 1
                what = "writable" if wr else "readable-exclusive" if excl else "readable"
                return f"try_to_migrate: {mm_name(q)} pte -> {what} migration entry", 1
    return "try_to_migrate: done", 0


def migrate_move(w: World, pol: Policy, f: int) -> tuple[str, int]:
    """migrate_folio(): freeze the refcount, copy to a new page, which takes the swap cache.

    Fails (-EAGAIN) when a PTE still maps the page or the refcount is not
    the expected isolation + swap cache (folio_migrate_mapping's
    folio_ref_freeze, migrate_page_move_mapping before 5.16: all eras), so
    any GUP reference, pin or get, keeps the page where it is; fails
    (-ENOMEM) when no page is free.  On success every entry names the new
    page and the old one is freed.  Returns (label, new frame or NONE).
    """
    fr = w.frames[f]
    if fr.map:
        return f"migrate: f{f} mapped again -> -EAGAIN", NONE
    sc = fr.swapcache
    want = 2 if sc != NONE else 1
    if fr.ref != want:
        return f"folio_migrate_mapping: f{f} refcount {fr.ref} != {want} -> -EAGAIN", NONE
    if all(w.frames.peek(i)[0] for i in range(len(w.frames))):
        return "migrate: no free page -> -ENOMEM", NONE
    nf = w.alloc_frame()
    w.frames[nf] = Frame.new(ref=want, map=0, lru=0, swapcache=sc, ae=0, locked=1,
                             data=fr.data, inactive=fr.inactive)
    fr.inactive = 0
    if sc != NONE:
        w.slots[sc].cache = nf
        fr.swapcache = NONE
        fr.ref -= 1
    for q in range(len(w.procs)):
        for v, (kind, idx, wr, excl) in enumerate(w.procs.peek(q)[1]):
            if kind == MIGRATION and idx == f:
                w.procs[q].pte[v] = migration_pte(nf, wr, excl)
    fr.locked = 0
    w.put_page(f)
    return f"migrate_folio f{f} -> f{nf}", nf


def remove_migration_pte(w: World, pol: Policy, f: int) -> tuple[str, int]:
    """remove_migration_pte() for the next entry naming f: a PTE again (map+1, ref+1).

    Writable entries map writable where the VMA still allows it
    (maybe_mkwrite); E6 exclusive entries (writable or readable-exclusive)
    mark the page PageAnonExclusive (RMAP_EXCLUSIVE, 6c287605fd56).  Returns
    (label, 1 one restored, 0 none left).
    """
    for q in range(len(w.procs)):
        for v, (kind, idx, wr, excl) in enumerate(w.procs.peek(q)[1]):
            if kind == MIGRATION and idx == f:
                pr = w.procs[q]
                if pr.ptl:
                    raise Blocked("PTL held")
                fr = w.frames[f]
                writable = 1 if (wr and pr.vm_write[v]) else 0
                pr.pte[v] = present_pte(f, writable, 1)
                fr.inactive -= 1
                fr.map += 1
                fr.ref += 1
                exclusive = pol.anon_exclusive and excl
                if exclusive:
                    fr.ae = 1
                return (f"remove_migration_pte: {mm_name(q)} f{f} {'W' if writable else 'R/O'}"
                        + (" exclusive" if exclusive else "")), 1
    return "remove_migration_ptes: done", 0


def migrate_done(w: World, f: int) -> str:
    """folio_unlock() and putback: drop the reference migration held (all eras)."""
    w.frames[f].locked = 0
    w.put_page(f)
    return f"migrate: unlock, putback f{f}"
