"""Huge pages: a PMD-mapped anonymous THP and a hugetlb page, where their COW differs.

Scoped to what rows S03t and S03h need (../../../shared/design/kernel-facts.md
§4.4).  A scenario's ``backing`` ("thp", "hugetlb"; "page" is the default)
says what its one page is; the frame stands for the huge page's head, since
the model has one page per mapping.  What is the same as for a small page
stays in ``mm/``: fork shares the PMD and write-protects it (copy_huge_pmd,
copy_hugetlb_page_range), GUP grabs the head (follow_trans_huge_pmd,
follow_hugetlb_page), zap drops the mapping.  What differs is here:

* the fault that populates: a compound page never waits in the LRU pagevec
  (``__lru_cache_add`` drains at once for compound pages; hugetlb pages are
  not on the LRU), so it starts with page_count 1;
* the write (or unshare) fault on a R/O huge mapping: do_huge_pmd_wp_page()
  for THP, hugetlb_wp() (hugetlb_cow() before 6.0) for hugetlb.

Not modelled: partial munmap/mprotect of a THP (one page per mapping: the
split they cause is the fallback below), khugepaged, the huge zero page,
swap of THP (split first), hugetlb reservations, and hugetlb's fork before
5.11 (4eae4efa2c29 brought the early copy of pinned pages to hugetlb; the
model's fork follows the small-page era rule).
"""

from __future__ import annotations

from .mm.memory import need_fault_lock, new_anon_page, wp_can_reuse
from .policy import Policy
from .vm import NONE, PRESENT, Blocked, Frame, World, present_pte

__all__ = ["huge_fault", "huge_wp_fault", "thp_reuse_rule", "do_huge_pmd_wp_page",
           "hugetlb_wp"]


def huge_fault(w: World, pol: Policy, p: int, v: int, backing: str) -> str:
    """do_huge_pmd_anonymous_page() / hugetlb_no_page(): a new zeroed huge page, writable.

    Abstracts: the huge page as its head frame, page_count 1 (no LRU-pagevec
    reference for a compound page), PageAnonExclusive in E6.  Ignores:
    allocation failure (the kernel falls back to small pages for THP),
    hugetlb reservations.  All eras.
    """
    need_fault_lock(w, p)
    pr = w.procs[p]
    f = w.alloc_frame()
    w.frames[f] = Frame.new(ref=1, map=1, lru=0, swapcache=NONE,
                            ae=1 if pol.anon_exclusive else 0, data=0)
    pr.pte[v] = present_pte(f, pr.vm_write[v], 1)
    if pr.L[v] == NONE:
        pr.L[v] = 0
    what = "do_huge_pmd_anonymous_page" if backing == "thp" else "hugetlb_no_page"
    return f"{what} -> f{f}"


def huge_wp_fault(w: World, pol: Policy, p: int, v: int, backing: str,
                  unshare: bool = False) -> str:
    """The write or unshare fault on a R/O huge mapping: the THP or the hugetlb path."""
    if backing == "thp":
        return do_huge_pmd_wp_page(w, pol, p, v, unshare)
    return hugetlb_wp(w, pol, p, v, unshare)


def thp_reuse_rule(pol: Policy) -> str:
    """The reuse test of do_huge_pmd_wp_page(): mapcount, page_count, anon_exclusive, precise.

    Until 5.17 do_huge_pmd_wp_page() and do_swap_page() both decided by
    reuse_swap_page(), mapcount + swapcount (kernel-facts T4; c444eb564fb1),
    and the 5.18 series moved both to page_count (3bff7e3f1f16 for THP,
    c145e0b47c77 for swap-in): so the THP test is mapcount while the
    policy's swap-in test is, page_count in E5 and the E6 test with
    PageAnonExclusive (6c287605fd56) after.  Linus's and David's RFC, built
    on 5.16, keep mapcount; precise-2021 and a policy's own ``wp_reuse``
    function decide THP as they decide a small page.
    """
    if callable(pol.wp_reuse):
        return "function"
    if pol.wp_reuse == "precise":
        return "precise"
    if pol.swapin_reuse == "mapcount":
        return "mapcount"
    return "anon_exclusive" if pol.wp_reuse == "anon_exclusive" else "page_count"


def _thp_can_reuse(w: World, pol: Policy, f: int) -> tuple[bool, str]:
    """The reuse test of do_huge_pmd_wp_page() and the counters it read."""
    fr = w.frames[f]
    rule = thp_reuse_rule(pol)
    if rule == "function":
        return bool(pol.wp_reuse(w, f)), "the policy's wp_reuse"  # type: ignore[operator]
    if rule == "precise":
        return wp_can_reuse(w, pol, f), f"mapcount {fr.map} + inactive {fr.inactive}"
    if rule == "mapcount":
        # reuse_swap_page() under lock_page(), which sleeps (E1-E4)
        if fr.locked:
            raise Blocked("lock_page sleeps: page locked by reclaim")
        swc = w.slots[fr.swapcache].swapcount if fr.swapcache != NONE else 0
        return fr.map + swc <= 1, f"mapcount {fr.map}" + (f" + swapcount {swc}" if swc else "")
    if rule == "anon_exclusive" and fr.ae:
        return True, "PageAnonExclusive"
    # 3bff7e3f1f16: trylock_page, try_to_free_swap, page_count == 1 (no swap cache here:
    # a THP is split before it is swapped)
    lead = "not PageAnonExclusive, " if rule == "anon_exclusive" else ""
    ok = fr.ref == 1 and not fr.locked
    if ok and rule == "anon_exclusive" and pol.reuse_sets_ae:
        fr.ae = 1  # page_move_anon_rmap()
    return ok, f"{lead}page_count {fr.ref}"


def do_huge_pmd_wp_page(w: World, pol: Policy, p: int, v: int, unshare: bool = False) -> str:
    """do_huge_pmd_wp_page(): a write (or FAULT_FLAG_UNSHARE) fault on a R/O PMD-mapped THP.

    Reuse maps the PMD writable (unshare: leaves it R/O and marks the page
    exclusive).  Otherwise the PMD is split (__split_huge_pmd) and the fault
    falls back to do_wp_page() on the PTE, which copies the subpage into a
    small page: after a failed THP test the PTE test fails too (it reads the
    same counters of the one frame), so the fallback is the copy.  The test
    is thp_reuse_rule(): mapcount until 5.17 (the THP variant of
    CVE-2020-29374 lived there), page_count from 3bff7e3f1f16 (5.18),
    PageAnonExclusive first from 6c287605fd56 (5.19).  Ignores: the huge
    zero page, the pre-5.8 attempt to copy the whole THP (the same outcome
    for the one page modelled).
    """
    need_fault_lock(w, p)
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and not (writable and not unshare)
    what = "unshare" if unshare else "write"
    ok, why = _thp_can_reuse(w, pol, f)
    if ok:
        if not unshare:
            pr.pte[v] = present_pte(f, 1, 1)
        elif pol.anon_exclusive:
            w.frames[f].ae = 1
        return f"do_huge_pmd_wp_page({what}) reuse f{f} ({why})"
    old = w.frames[f]
    nf = new_anon_page(w, pol, old.data)  # a small page: the PMD was split
    pr.pte[v] = present_pte(nf, 0 if unshare else 1, 1)
    old.map -= 1
    w.put_page(f)
    return f"do_wp_page({what}) copy f{f} -> f{nf}: do_huge_pmd_wp_page split the PMD ({why})"


def hugetlb_wp(w: World, pol: Policy, p: int, v: int, unshare: bool = False) -> str:
    """hugetlb_wp() (hugetlb_cow() before 6.0): a write or unshare fault on a R/O hugetlb PTE.

    Reuse iff the page is anonymous and mapcount == 1, in every era: hugetlb
    never took page_count (kernel-facts §2(a): "hugetlb keeps the old
    mapcount==1 rule even in E6", 6c287605fd56), so a GUP reference held by a
    process that unmapped the page is invisible and the reuse leaks (S03h;
    cow.c marks its hugetlb vmsplice cases xfail).  E6: a PageAnonExclusive
    page is reused at once, and a reuse sets the bit.  A copy is a new huge
    page (page_count 1).  Ignores: hugetlb reservations and the
    unmap_ref_private path of a failed allocation.
    """
    need_fault_lock(w, p)
    pr = w.procs[p]
    kind, f, writable, _sd = pr.pte[v]
    assert kind == PRESENT and not (writable and not unshare)
    what = "unshare" if unshare else "write"
    fr = w.frames[f]
    if pol.anon_exclusive and fr.ae:
        ok, why = True, "PageAnonExclusive"
    else:
        ok, why = fr.map == 1, f"mapcount {fr.map}"
        if ok and pol.anon_exclusive and pol.reuse_sets_ae:
            fr.ae = 1  # page_move_anon_rmap()
    if ok:
        if not unshare:
            pr.pte[v] = present_pte(f, 1, 1)
        elif pol.anon_exclusive:
            fr.ae = 1
        return f"hugetlb_wp({what}) reuse f{f} ({why})"
    nf = w.alloc_frame()
    w.frames[nf] = Frame.new(ref=1, map=1, lru=0, swapcache=NONE,
                             ae=1 if pol.anon_exclusive else 0, data=fr.data)
    pr.pte[v] = present_pte(nf, 0 if unshare else 1, 1)
    fr.map -= 1
    w.put_page(f)
    return f"hugetlb_wp({what}) copy f{f} -> f{nf} ({why})"
