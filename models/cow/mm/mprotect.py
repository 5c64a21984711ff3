"""mm/mprotect.c: change_pte_range() for one private anonymous PTE."""

from __future__ import annotations

from ..policy import Policy
from ..vm import MIGRATION, PRESENT, Blocked, World, migration_pte, present_pte

__all__ = ["can_change_pte_writable", "mprotect"]


def can_change_pte_writable(w: World, pol: Policy, f: int, pte: tuple) -> bool:
    """Does mprotect(PROT_WRITE) map this R/O PTE writable without a fault (the policy's)?

    "never" (up to 5.19), "exclusive_dirty" (64fe24a3e05e, 6.0; all modelled
    anon PTEs are dirty), "exclusive" (6.2), broken controls "mapcount" and
    "always", or a function ``(world, frame, pte)``.  A soft-dirty fault due
    (soft-dirty clear) keeps the PTE R/O.
    """
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
    if kind == MIGRATION and wr:
        # change_pte_range() makes a writable migration entry readable whatever the new
        # protection: readable-exclusive in E6 (6c287605fd56), readable before
        pr.pte[v] = migration_pte(f, 0, 1 if pol.anon_exclusive else 0)
        return f"mprotect({'RW' if writable else 'R'}): migration entry -> readable"
    if kind != PRESENT:
        return f"mprotect({'RW' if writable else 'R'})"
    if not writable:
        pr.pte[v] = present_pte(f, 0, sd)
        return "mprotect(R): wrprotect"
    if not wr and can_change_pte_writable(w, pol, f, pr.pte[v]):
        pr.pte[v] = present_pte(f, 1, sd)
        return "mprotect(RW): can_change_pte_writable -> writable"
    return "mprotect(RW): PTE stays R/O"
