"""COW and GUP policies as data: one switch per decision, a named policy per kernel era.

The switches follow the switch table and the decision logic of
../../docs/eras.md.  A policy is a frozen dataclass; a user's policy
starts from a named one and overrides switches (``replace``) or supplies a
decision function where a switch takes one (``wp_reuse``, ``swapin_reuse``,
``gup_unshare``, ``mprotect_upgrade``).  Decision functions have the
signatures documented on the switches below.

Eras (../../docs/eras.md, with their commits):

====== ============== ===============================================================
E1     4.9 - 5.7      mapcount(+swapcount) reuse; fork shares everything
E2     5.8            E1 + GUP breaks COW for every get/pin on a COW mapping (17839856fd58)
E3t    5.9-rc4..rc6   page_count reuse (09854ba94c6a), forced COW reverted (a308c71bf1e6)
E3     5.9 - 5.10     E3t + early copy of maybe-pinned pages at fork (70e806e4e645)
E4     5.11 - 5.17    E3 + write_protect_seq (57efa1fe5957) + pinned pages kept out of
                      the swap cache (feb889fb40fa) + clear_refs skips pinned pages
E5     5.18           page_count reuse after draining the LRU pagevec and freeing the swap
                      cache (53a05ad9f21d, d4c470970d45); swap-in by page_count (c145e0b47c77)
E6     5.19+          PageAnonExclusive (6c287605fd56), unshare for R/O pins (a7f226604170),
                      try_to_unmap refuses pinned exclusive pages, SWP_EXCLUSIVE (1493a1913e34),
                      mprotect upgrade of exclusive pages (64fe24a3e05e, 6.0; clean too 6.2)
====== ============== ===============================================================

The December 2021 designs (../../docs/eras.md).  Source: issue 15's seed,
seed-lkml-2021-12-18.txt, David Hildenbrand's reply to Linus Torvalds's mail of
18 Dec 2021 20:52 in the linux-mm thread of David's RFC v1 (GUP-triggered unsharing,
17 Dec 2021); the seed carries no message ids.  ``linus-2021`` (page_count reuse, pins
break COW), ``david-2021`` (the RFC: GUP-triggered unsharing keyed by mapcount),
``precise-2021`` (the idea in the seed: "having the active and inactive count instead of
just the active (mapcount) part ... active: page tables mapping this page -> mapcount
inactive: page tables referencing this page via swap/migration entry ... We'd have to read
both values atomically in one shot"; the counter is ``Frame.inactive``, vm.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Policy", "POLICIES", "ALIASES", "ERAS", "CONTROLS", "PROPOSALS", "get_policy",
           "policy_names", "SWITCHES"]

WP_REUSE = ("mapcount", "page_count", "page_count_drain", "anon_exclusive", "precise")
SWAPIN_REUSE = ("mapcount", "page_count", "swp_exclusive", "precise")
GUP_UNSHARE = ("none", "force_write", "force_write_pin", "unshare_ae", "unshare_mapcount",
               "unshare_precise")
GUP_FAST_RO = ("follow", "fallback", "fallback_pin", "back_off_unshare")
MPROTECT = ("never", "exclusive_dirty", "exclusive", "mapcount", "always")


@dataclass(frozen=True)
class Policy:
    """The decisions one kernel makes about anonymous COW and GUP.

    Each field is one switch of the table in ../../docs/eras.md ("Switches").
    """

    #: a switch board for the symmetry proof's cache: a proof is shared by every policy that
    #: agrees on the switches it read; a model's ``policy_ref`` only names its policy
    #: (docs/proof.md, "Sharing a proof across switch boards")
    __proof_switch_board__ = ("policy_ref",)

    name: str
    kernels: str
    summary: str
    #: do_wp_page() reuse test: "mapcount" (mapcount + swapcount == 1 under the page lock,
    #: E1/E2), "page_count" (page_count == 1 and mapcount == 1 under trylock, E3t-E4),
    #: "page_count_drain" (E5: drain the LRU pagevec, try to free the swap cache, then
    #: page_count == 1), "anon_exclusive" (E6: PageAnonExclusive, else the E5 test),
    #: "precise" (the seed's third design: active + inactive count == 1, read together,
    #: no page lock), or a function ``(world, frame) -> bool`` (True = reuse).
    wp_reuse: str | Callable[..., bool] = "mapcount"
    #: do_swap_page() on a write fault: "mapcount" (reuse_swap_page, E1-E4), "page_count"
    #: (fresh page or page_count == 1, E5), "swp_exclusive" (E6), "precise" (active +
    #: inactive count == 1: our own swap entry is the only reference), or a function
    #: ``(world, frame, swp_exclusive_bit, write) -> bool`` (True = map exclusive).
    swapin_reuse: str | Callable[..., bool] = "mapcount"
    #: what slow GUP does on a R/O PTE of a COW mapping: "none" (take the reference, E1,
    #: E3-E5), "force_write" (FOLL_WRITE for every get/pin, E2), "force_write_pin" (for pins
    #: only, Linus's proposal), "unshare_ae" (unshare fault for R/O pins of pages that are
    #: not PageAnonExclusive, E6), "unshare_mapcount" (unshare for R/O gets and pins of
    #: pages with mapcount > 1, David's December 2021 RFC), "unshare_precise" (the same
    #: with active + inactive count > 1, the seed's third design), or a function
    #: ``(world, frame, pin, rw) -> bool`` (True = unshare before taking the reference).
    gup_unshare: str | Callable[..., bool] = "none"
    #: GUP-fast on a R/O PTE: "follow", "fallback" (walk as FOLL_WRITE: every R/O PTE falls
    #: back, E2), "fallback_pin" (pins fall back), "back_off_unshare" (R/O pin of a non-AE
    #: page backs off after the grab, E6).
    gup_fast_ro: str = "follow"
    #: fork copies a maybe-pinned page for the child at once (copy_present_page, E3+).
    fork_early_copy: bool = False
    #: ... only when the parent mm has pinned before (mm->has_pinned / MMF_HAS_PINNED).
    fork_needs_has_pinned: bool = True
    #: fork goes through page_try_dup_anon_rmap(): clears PageAnonExclusive, or copies an
    #: exclusive maybe-pinned page (E6).
    fork_try_dup: bool = False
    #: fork raises mm->write_protect_seq; GUP-fast with FOLL_PIN samples and rechecks it (E4+).
    fork_seqcount: bool = False
    #: reclaim keeps maybe-pinned pages out of the swap cache (feb889fb40fa, E4+).
    reclaim_skip_pinned: bool = False
    #: try_to_unmap() and try_to_migrate() refuse to unmap a pinned exclusive page
    #: (page_try_share_anon_rmap, E6, 6c287605fd56).
    unmap_try_share: bool = False
    #: swap PTEs remember exclusivity (SWP_EXCLUSIVE, E6 on x86 and three other archs).
    swp_exclusive: bool = False
    #: mprotect(PROT_WRITE) maps a private anon PTE writable without a fault: "never" (up to
    #: 5.19), "exclusive_dirty" (6.0), "exclusive" (6.2), broken controls "mapcount" and
    #: "always", or a function ``(world, frame, pte) -> bool``.
    mprotect_upgrade: str | Callable[..., bool] = "never"
    #: clear_refs soft-dirty leaves maybe-pinned pages writable (5.11+).
    clear_refs_skip_pinned: bool = False
    #: the kernel tracks PageAnonExclusive; its invariants are checked (E6).
    anon_exclusive: bool = False
    #: pin_user_pages() sets mm->has_pinned / MMF_HAS_PINNED (5.9+).
    gup_sets_has_pinned: bool = False
    #: a copy on a write fault sets AE on the new page and a reuse sets AE (E6); a
    #: broken control turns the reuse half off.
    reuse_sets_ae: bool = True

    def replace(self, **changes: Any) -> Policy:
        """A copy with some switches changed; an unknown switch is an error."""
        unknown = [k for k in changes if k not in SWITCHES and k not in ("name", "kernels",
                                                                         "summary")]
        if unknown:
            raise ValueError(
                f"unknown policy switch {unknown[0]!r}; known switches: {', '.join(SWITCHES)}")
        labels = {k: changes[k] for k in ("name", "kernels", "summary") if k in changes}
        switched = {k: v for k, v in changes.items() if k in SWITCHES}
        if switched and "kernels" not in labels:
            # a derived policy is no kernel: say what it starts from and what it changes,
            # so that a diagram does not describe it as the era it came from
            what = ", ".join(f"{k}={_label_value(v)}" for k, v in switched.items())
            labels["kernels"] = f"{self.name} with {what}"
            if "summary" not in labels:
                labels["summary"] = f"{self.name} ({self.kernels}) with {what}"
        p = dataclasses.replace(self, **{**changes, **labels})
        p.validate()
        return p

    def validate(self) -> None:
        for field, allowed in (("wp_reuse", WP_REUSE), ("swapin_reuse", SWAPIN_REUSE),
                               ("gup_unshare", GUP_UNSHARE), ("gup_fast_ro", GUP_FAST_RO),
                               ("mprotect_upgrade", MPROTECT)):
            v = getattr(self, field)
            if callable(v) and field != "gup_fast_ro":
                continue
            if v not in allowed:
                raise ValueError(f"policy {self.name}: {field} = {v!r} is not one of "
                                 f"{', '.join(allowed)}"
                                 + (" or a function" if field != "gup_fast_ro" else ""))
        for f in dataclasses.fields(self):
            if f.type == "bool" and not isinstance(getattr(self, f.name), bool):
                raise ValueError(f"policy {self.name}: {f.name} must be True or False")

    def switches(self) -> dict[str, Any]:
        """Switch name -> value; functions are shown by name and a digest of their source."""
        out: dict[str, Any] = {}
        for name in SWITCHES:
            v = getattr(self, name)
            if callable(v):
                try:
                    src = inspect.getsource(v)
                except (OSError, TypeError):
                    src = getattr(v, "__qualname__", repr(v))
                v = f"fn:{getattr(v, '__qualname__', 'function')}:" + hashlib.blake2b(
                    src.encode(), digest_size=6).hexdigest()
            out[name] = v
        return out


def _label_value(value: Any) -> str:
    """A switch value as a label shows it: a function by its name, a string bare."""
    if callable(value):
        return str(getattr(value, "__name__", "function"))
    return str(value)


SWITCHES = tuple(f.name for f in dataclasses.fields(Policy)
                 if f.name not in ("name", "kernels", "summary"))


E1 = Policy(
    "E1", "4.9-5.7",
    "mapcount(+swapcount) reuse in do_wp_page and do_swap_page; fork shares every page",
)
E2 = E1.replace(
    name="E2", kernels="5.8",
    summary="E1 + GUP forces a COW break for every get/pin on a COW mapping (17839856fd58)",
    gup_unshare="force_write", gup_fast_ro="fallback",
)
E3t = E1.replace(
    name="E3t", kernels="5.9-rc4..5.9-rc6",
    summary="page_count reuse under trylock (09854ba94c6a); forced COW reverted (a308c71bf1e6);"
            " no early copy at fork yet",
    wp_reuse="page_count",
)
E3 = E3t.replace(
    name="E3", kernels="5.9-5.10",
    summary="E3t + early copy of maybe-pinned pages at fork (70e806e4e645, has_pinned)",
    fork_early_copy=True, gup_sets_has_pinned=True,
)
E4 = E3.replace(
    name="E4", kernels="5.11-5.17",
    summary="E3 + write_protect_seq vs GUP-fast (57efa1fe5957) + pinned pages kept out of the"
            " swap cache (feb889fb40fa) + clear_refs skips pinned pages",
    fork_seqcount=True, reclaim_skip_pinned=True, clear_refs_skip_pinned=True,
)
E5 = E4.replace(
    name="E5", kernels="5.18",
    summary="page_count reuse after LRU drain and swap-cache freeing (53a05ad9f21d,"
            " d4c470970d45); swap-in by page_count (c145e0b47c77)",
    wp_reuse="page_count_drain", swapin_reuse="page_count",
)
E6 = E5.replace(
    name="E6", kernels="6.2+",
    summary="PageAnonExclusive (6c287605fd56), unshare for R/O pins (a7f226604170), "
            "try_to_unmap refuses pinned exclusive pages, SWP_EXCLUSIVE (1493a1913e34), "
            "mprotect upgrade of exclusive pages (64fe24a3e05e, Nadav Amit 6.2)",
    wp_reuse="anon_exclusive", swapin_reuse="swp_exclusive", gup_unshare="unshare_ae",
    gup_fast_ro="back_off_unshare", fork_try_dup=True, unmap_try_share=True,
    swp_exclusive=True, mprotect_upgrade="exclusive", anon_exclusive=True,
)
E6_519 = E6.replace(
    name="E6-5.19", kernels="5.19",
    summary="E6 as first merged: no mprotect upgrade yet",
    mprotect_upgrade="never",
)
E6_60 = E6.replace(
    name="E6-6.0", kernels="6.0-6.1",
    summary="E6 with the 6.0 mprotect upgrade (exclusive and dirty, 64fe24a3e05e)",
    mprotect_upgrade="exclusive_dirty",
)

LINUS = E4.replace(
    name="linus-2021", kernels="proposal (LKML, 17-18 Dec 2021)",
    summary="Linus's proposal: page_count reuse, GUP pins break COW so pinned pages are"
            " exclusive, no COW for pinned pages at fork, the seqcount, no swap of pinned pages",
    gup_unshare="force_write_pin", gup_fast_ro="fallback_pin",
)
DAVID = E4.replace(
    name="david-2021", kernels="proposal (RFC v1, 17 Dec 2021)",
    summary="David's December 2021 RFC on 5.16: GUP-triggered unsharing (FAULT_FLAG_UNSHARE)"
            " of R/O references to anonymous pages with mapcount > 1; GUP-fast backs off to"
            " slow GUP where it would have to unshare",
    # GUP-fast backs off: the RFC (20211217113049.23850-1-david@redhat.com) is titled "fix
    # the COW security issue for THP and hugetlb", and that reproducer (vmsplice) takes its
    # reference through GUP-fast, so its gup_must_unshare() must act there too (as it does
    # in a7f226604170, the merged form).  Following the PTE there would leave S03t/S03h open.
    gup_unshare="unshare_mapcount", gup_fast_ro="back_off_unshare",
)

PRECISE = DAVID.replace(
    name="precise-2021", kernels="proposal (LKML, 18 Dec 2021)",
    summary="David's third design in the seed (his reply to Linus, 18 Dec 2021): precise COW"
            " from the active count (mapcount) and an inactive count (swap and migration"
            " entries) read together, for reuse, swap-in and GUP unsharing (GUP-fast backs off"
            " where slow GUP would unshare, as the RFC's gup_must_unshare does)",
    wp_reuse="precise", swapin_reuse="precise", gup_unshare="unshare_precise",
    gup_fast_ro="back_off_unshare",
)

E6_NO_SWP = E6.replace(
    name="E6-no-swp-exclusive", kernels="5.19-6.2 on archs without SWP_EXCLUSIVE",
    summary="E6 where swap PTEs cannot remember exclusivity (all but x86, arm64, s390,"
            " ppc64/book3s until 6.3)",
    swp_exclusive=False,
)

CONTROL_MPROTECT = E6.replace(
    name="E6-mprotect-no-ae", kernels="broken control",
    summary="E6 with the PageAnonExclusive gate removed from the mprotect upgrade",
    mprotect_upgrade="always",
)
CONTROL_NOSEQ = E4.replace(
    name="E4-no-seqcount", kernels="broken control",
    summary="E4 without write_protect_seq: the 57efa1fe5957 race comes back",
    fork_seqcount=False,
)
CONTROL_NO_EARLY_COPY = E4.replace(
    name="E4-no-early-copy", kernels="broken control",
    summary="E4 without the early copy of pinned pages at fork",
    fork_early_copy=False,
)
CONTROL_NO_UNSHARE = E6.replace(
    name="E6-no-unshare", kernels="broken control",
    summary="E6 without unsharing for R/O pins",
    gup_unshare="none", gup_fast_ro="follow",
)
CONTROL_SWAP_PINNED = E4.replace(
    name="E4-swap-pinned", kernels="broken control",
    summary="E4 without feb889fb40fa: pinned pages go to the swap cache",
    reclaim_skip_pinned=False,
)
CONTROL_NO_TRY_SHARE = E6.replace(
    name="E6-no-try-share", kernels="broken control",
    summary="E6 whose try_to_unmap swaps out pinned exclusive pages",
    unmap_try_share=False, reclaim_skip_pinned=False,
)
CONTROL_REUSE_NO_AE = E6.replace(
    name="E6-reuse-keeps-ae-clear", kernels="broken control",
    summary="E6 whose do_wp_page reuse maps writable without setting PageAnonExclusive",
    reuse_sets_ae=False,
)

ERAS = (E1, E2, E3t, E3, E4, E5, E6)
PROPOSALS = (LINUS, DAVID, PRECISE)
VARIANTS = (E6_519, E6_60, E6_NO_SWP)
CONTROLS = (CONTROL_MPROTECT, CONTROL_NOSEQ, CONTROL_NO_EARLY_COPY, CONTROL_NO_UNSHARE,
            CONTROL_SWAP_PINNED, CONTROL_NO_TRY_SHARE, CONTROL_REUSE_NO_AE)
POLICIES: dict[str, Policy] = {p.name: p for p in ERAS + VARIANTS + PROPOSALS + CONTROLS}

ALIASES = {
    "4.9": "E1", "4.14": "E1", "4.19": "E1", "5.4": "E1", "5.7": "E1",
    "5.8": "E2",
    "5.9-rc4": "E3t", "5.9-rc5": "E3t", "5.9-rc6": "E3t",
    "5.9": "E3", "5.10": "E3",
    "5.11": "E4", "5.12": "E4", "5.13": "E4", "5.14": "E4", "5.15": "E4", "5.16": "E4",
    "5.17": "E4",
    "5.18": "E5",
    "5.19": "E6-5.19", "6.0": "E6-6.0", "6.1": "E6-6.0", "6.2": "E6", "6.6": "E6",
    "6.12": "E6", "6.18": "E6",
}


def policy_names() -> list[str]:
    return list(POLICIES)


def get_policy(name: str) -> Policy:
    """A named policy or a version alias ("5.10", "v5.10"); a clear error otherwise."""
    key = name[1:] if name.startswith("v") and name[1:2].isdigit() else name
    key = ALIASES.get(key, key)
    if key in POLICIES:
        return POLICIES[key]
    raise ValueError(f"unknown policy {name!r}; use one of {', '.join(POLICIES)}, a version "
                     f"such as 5.10, or path.py:NAME for your own")
