"""The scenario catalogue: the historical matrix, cow.c's anon tests, the reproducers.

Expected verdicts are in era order E1 E2 E3t E3 E4 E5 E6 ("-": the row does
not apply).  ``source`` says where they come from: "kf" = the historical
matrix of ../../docs/scenarios.md, "cow.c" = the selftest's own expectations,
"own" = this project's inference from the era rules of ../../docs/eras.md
(rows the matrix does not show; the reasoning is in the title or the
comment above the row).

Conventions: P is the process under test, C its child; "P.gup" is a second
thread of P (GUP-fast racing fork); "reclaim" is the page-reclaim thread
(MADV_PAGEOUT), which takes no mmap lock; "migrate" is the migration
thread (move_pages(2)), which takes none either.  Page 0 is populated with token
"a" first, as cow.c does with memset(mem, 1, size).
"""

from __future__ import annotations

from .scenario import (
    Scenario,
    clear_refs,
    dma_read,
    dma_write,
    exit_,
    fork,
    get,
    migrate,
    mprotect,
    munmap,
    pin,
    race,
    read,
    scenario,
    swapout,
    unpin,
    write,
)

__all__ = ["SCENARIOS", "CATALOGUE", "get_scenario"]

PC = ("P", "C")
RECLAIM = {"reclaim": "P"}
MIGRATE = {"migrate": "P"}


def _rows() -> list[Scenario]:
    rows = [
        # -- the historical matrix (../../docs/scenarios.md) -------------------------------
        scenario("S01", "basic fork COW: P writes after fork, C must not see it", [
            write("P", 0, "a"), fork("P", "C"), write("P", 0, "b"), read("C", 0),
        ], procs=PC, expect="H H H H H H H", source="kf", reproduces="cow.c A1"),
        scenario("S02", "S01 + P mprotect R then RW before writing (mprotect optimization)", [
            write("P", 0, "a"), fork("P", "C"), mprotect("P", 0, False), mprotect("P", 0, True),
            write("P", 0, "b"), read("C", 0),
        ], procs=PC, expect="H H H H H H H", source="kf", reproduces="cow.c A2"),
        scenario("S03", "CVE-2020-29374: C vmsplices the page, unmaps it; P writes", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="kf", reproduces="cow.c A3"),
        scenario("S04", "P vmsplices before fork, unmaps after; C writes; P reads the pipe", [
            write("P", 0, "a"), get("P", 0, "pipe"), fork("P", "C"), munmap("P", 0),
            write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, expect="M M H H H H H", source="kf", reproduces="cow.c A5"),
        scenario("S05", "fork; P vmsplices and unmaps; C writes; P reads the pipe", [
            write("P", 0, "a"), fork("P", "C"), get("P", 0, "pipe"), munmap("P", 0),
            write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="kf", reproduces="cow.c A6"),
        scenario("S06", "R/W longterm pin, then fork (child alive), then P writes", [
            write("P", 0, "a"), pin("P", 0, "buf"), fork("P", "C"), write("P", 0, "b"),
            dma_read("P", "buf"),
        ], procs=PC, expect="W W W H H H H", source="kf", reproduces="cow.c A8"),
        scenario("S07", "GUP-fast R/W pin racing fork: fork sees no pin, then write-protects", [
            write("P", 0, "a"),
            race(fork("P", "C"), pin("P.gup", 0, "buf", fast=True)),
            write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC, expect="W W W W H H H", source="kf",
            reproduces="57efa1fe5957 (fork vs GUP-fast)"),
        scenario("S08", "R/W pin; mprotect R, clear soft-dirty, mprotect RW; P writes", [
            write("P", 0, "a"), pin("P", 0, "buf"), mprotect("P", 0, False), clear_refs("P", 0),
            mprotect("P", 0, True), write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC[:1], expect="H H W W W W H", source="kf", reproduces="cow.c A7"),
        scenario("S09", "fork (child alive); R/O pin on the shared page; P writes", [
            write("P", 0, "a"), fork("P", "C"), pin("P", 0, "buf", rw=False),
            write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC, expect="W H W W W W H", source="kf", reproduces="cow.c A9"),
        # X10 (own row): S09 through GUP-fast
        # (cow.c A10).  E2's fast walk falls back on the R/O PTE and slow GUP breaks COW.
        scenario("X10", "S09 with the R/O pin taken by GUP-fast", [
            write("P", 0, "a"), fork("P", "C"), pin("P", 0, "buf", rw=False, fast=True),
            write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC, expect="W H W W W W H", source="own (cow.c A10)",
            reproduces="cow.c A10"),
        scenario("S11", "mprotect R, clear soft-dirty, mprotect RW; R/O pin; P writes", [
            write("P", 0, "a"), mprotect("P", 0, False), clear_refs("P", 0),
            mprotect("P", 0, True), pin("P", 0, "buf", rw=False), write("P", 0, "b"),
            dma_read("P", "buf"),
        ], procs=PC[:1], expect="H H W W W W H", source="kf", reproduces="cow.c A13"),
        scenario("S12a", "R/W pin; reclaim leaves the pinned page in the swap cache; P reads,"
                 " then writes", [
            write("P", 0, "a"), pin("P", 0, "buf"), swapout("reclaim", "P", 0),
            read("P", 0), write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC[:1], threads=RECLAIM, expect="H H W W H H H", source="kf",
            reproduces="io_uring_swap.c"),
        # Own row X12b: the feb889fb40fa check-then-pin window (the VFIO/io_uring race): reclaim
        # finds the page unpinned, a pin lands, add_to_swap and try_to_unmap proceed.  E4/E5
        # leave the pinned page in the swap cache (wrong COW on the next write); E6's
        # try_to_unmap refuses the pinned exclusive page; E1/E2 reuse by mapcount.
        scenario("X12b", "R/W pin racing reclaim's pinned check (feb889fb40fa window)", [
            write("P", 0, "a"),
            race(swapout("reclaim", "P", 0), pin("P.gup", 0, "buf")),
            read("P", 0), write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC[:1], threads=RECLAIM, expect="H H W W W W H", source="own",
            reproduces="docs/eras.md, Reclaim: racy check-then-pin"),
        # Own rows X13, X13w: O_DIRECT read (R/W FOLL_GET) racing swap-out (aarcange's
        # page_count_do_wp_page-swap.c, failing on v5.11).  The GUP reference keeps the
        # page in the swap cache.  X13: a read faults it back R/O, then the write goes
        # through do_wp_page: page_count (E3t-E5) copies, mapcount (E1/E2) reuses,
        # SWP_EXCLUSIVE (E6, part 3 "reliable R/W FOLL_GET") keeps it exclusive.
        scenario("X13", "O_DIRECT R/W get; swap-out; P reads, writes; device writes", [
            write("P", 0, "a"), get("P", 0, "dio", rw=True, fast=False),
            swapout("reclaim", "P", 0), read("P", 0), write("P", 0, "b"),
            dma_write("P", "dio", "v"), read("P", 0),
        ], procs=PC[:1], threads=RECLAIM, expect="H H W W W W H", source="own",
            reproduces="page_count_do_wp_page-swap.c"),
        # X13w: the write faults the swap PTE in directly.  E1-E4 reuse_swap_page()
        # (mapcount + swapcount == 1) maps it writable; E5's do_swap_page needs
        # page_count == 1 (c145e0b47c77), maps R/O and do_wp_page copies; E6 has the bit.
        scenario("X13w", "O_DIRECT R/W get; swap-out; P writes (swap-in write fault)", [
            write("P", 0, "a"), get("P", 0, "dio", rw=True, fast=False),
            swapout("reclaim", "P", 0), write("P", 0, "b"), dma_write("P", "dio", "v"),
            read("P", 0),
        ], procs=PC[:1], threads=RECLAIM, expect="H H H H H W H", source="own",
            reproduces="page_count_do_wp_page-swap.c"),
        # Own row X16: unnecessary COW through the swap cache.  After swap-in by a read
        # the page stays in the swap cache; page_count (E3t-E4) sees map + swap cache = 2
        # and copies; E5 frees the swap cache first (53a05ad9f21d); E1/E2 count
        # mapcount + swapcount = 1; E6 restores exclusivity from SWP_EXCLUSIVE.
        scenario("X16", "swap out, read back (page stays in the swap cache), P writes", [
            write("P", 0, "a"), swapout("reclaim", "P", 0), read("P", 0), write("P", 0, "b"),
        ], procs=PC[:1], threads=RECLAIM, expect="H H U U U H H", source="own",
            reproduces="53a05ad9f21d (unnecessary COW via the swap cache)"),
        # Own row X18: a previously shared page (the child exited) is written.  Reuse in
        # every era; page_count eras copy while the LRU pagevec still holds the page.
        scenario("X18", "fork; child exits; P writes the previously shared page", [
            write("P", 0, "a"), fork("P", "C"), exit_("C"), write("P", 0, "b"),
        ], procs=PC, expect="H H U U U H H", source="own"),
        # Own rows X22, X22g, X23, X23g: GUP-fast racing munmap or exit.  GUP-fast grabs
        # the page and rechecks the PTE, then munmap (exit) zaps it before the call returns.
        # mm/gup.c gup_fast_pte_range() (gup_pte_range() before 6.9) rechecks the PTE only
        # right after try_grab_folio(); nothing later undoes the grab, so the call returns
        # the page as if it had completed before the zap, and a GUP reference survives the
        # unmap (zap_pte_range() never touches it; ../../docs/eras.md, "Unmap and exit";
        # Documentation/core-api/pin_user_pages.rst).  The device reads the data the page
        # held; P's later write faults in a new page (X22).  No COW is involved, so every
        # era holds.
        scenario("X22", "GUP-fast R/W pin racing munmap; P writes the page again", [
            write("P", 0, "a"),
            race(pin("P.gup", 0, "buf", rw=True, fast=True), munmap("P", 0)),
            write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC[:1], expect="H H H H H H H", source="own (mm/gup.c gup_fast_pte_range)",
            reproduces="issue 10 item 4 (GUP-fast vs munmap)"),
        scenario("X22g", "GUP-fast R/W get (O_DIRECT read) racing munmap; P writes again", [
            write("P", 0, "a"),
            race(get("P.gup", 0, "dio", rw=True, fast=True), munmap("P", 0)),
            write("P", 0, "b"), dma_read("P", "dio"),
        ], procs=PC[:1], expect="H H H H H H H", source="own (mm/gup.c gup_fast_pte_range)",
            reproduces="issue 10 item 4 (GUP-fast vs munmap)"),
        scenario("X23", "GUP-fast R/W pin racing exit", [
            write("P", 0, "a"),
            race(pin("P.gup", 0, "buf", rw=True, fast=True), exit_("P")),
            dma_read("P.gup", "buf"),
        ], procs=PC[:1], expect="H H H H H H H", source="own (mm/gup.c gup_fast_pte_range)",
            reproduces="issue 10 item 4 (GUP-fast vs exit)"),
        scenario("X23g", "GUP-fast R/W get (O_DIRECT read) racing exit", [
            write("P", 0, "a"),
            race(get("P.gup", 0, "dio", rw=True, fast=True), exit_("P")),
            dma_read("P.gup", "dio"),
        ], procs=PC[:1], expect="H H H H H H H", source="own (mm/gup.c gup_fast_pte_range)",
            reproduces="issue 10 item 4 (GUP-fast vs exit)"),
        # Own row X24: real kernel behaviour in every era, not a model bug.  A R/W FOLL_GET
        # is not a pin: fork shares the page (page_maybe_dma_pinned() counts only FOLL_PIN;
        # E6's page_try_dup_anon_rmap() copies only maybe-pinned pages), so the parent's
        # next write copies the page away from the reference.  open(2), NOTES on O_DIRECT:
        # "O_DIRECT I/O should never be run concurrently with the fork(2) system call, if
        # the memory buffer is a private mapping"; ../../docs/eras.md (FOLL_GET refs are never
        # "pinned").  Block O_DIRECT itself pins since 6.5 (David Howells' series moving
        # bio_iov_iter_get_pages() to iov_iter_extract_pages(), "to prevent VM copy-on-write
        # from malfunctioning during a concurrent fork()"), so on 6.5+ the row stands for the
        # callers that still take references (iov_iter_get_pages2()), not for block O_DIRECT.
        scenario("X24", "R/W get (FOLL_GET, as block O_DIRECT before 6.5), then fork (child"
                 " alive), P writes: open(2)'s O_DIRECT and fork", [
            write("P", 0, "a"), get("P", 0, "dio", rw=True), fork("P", "C"),
            write("P", 0, "b"), dma_read("P", "dio"),
        ], procs=PC, expect="W W W W W W W", source="own (open(2) NOTES: O_DIRECT and fork)",
            reproduces="open(2): O_DIRECT concurrently with fork(2)"),
        scenario("S14", "O_DIRECT R/W get; clear_refs soft-dirty; P writes; device writes", [
            write("P", 0, "a"), get("P", 0, "dio", rw=True, fast=False), clear_refs("P", 0),
            write("P", 0, "b"), dma_write("P", "dio", "v"), read("P", 0),
        ], procs=PC[:1], expect="H H W W W W H", source="kf",
            reproduces="page_count_do_wp_page.c"),
        scenario("S15", "fresh page still in the LRU pagevec mapped R/O; P writes", [
            write("P", 0, "a"), mprotect("P", 0, False), mprotect("P", 0, True),
            write("P", 0, "b"),
        ], procs=PC[:1], expect="H H U U U H H", source="kf",
            reproduces="53a05ad9f21d / d4c470970d45 (unnecessary COW)"),
        scenario("S18", "GUP-fast pin racing try_to_unmap's clear-PTE / check-pinned / clear-AE",
                 [
            write("P", 0, "a"),
            race(swapout("reclaim", "P", 0), pin("P.gup", 0, "buf", fast=True)),
            read("P", 0), write("P", 0, "b"), dma_read("P", "buf"),
        ], procs=PC[:1], threads=RECLAIM, expect="- - - - - - H", source="kf",
            reproduces="088b8aa537c2 (holds under sequential consistency)"),
        scenario("S21", "negative control: fork (C alive); P mprotect R then RW; P writes", [
            write("P", 0, "a"), fork("P", "C"), mprotect("P", 0, False), mprotect("P", 0, True),
            write("P", 0, "b"), read("C", 0),
        ], procs=PC, expect={"E6": "H", "E6-mprotect-no-ae": "M"}, source="kf"),
        # -- cow.c anon tests (../../docs/scenarios.md), base page -------------------------
        scenario("A1", "Basic COW after fork()", [
            write("P", 0, "a"), fork("P", "C"), write("P", 0, "b"), read("C", 0),
        ], procs=PC, expect="H H H H H H H", source="cow.c"),
        scenario("A2", "Basic COW after fork() with mprotect() optimization", [
            write("P", 0, "a"), fork("P", "C"), mprotect("P", 0, False), mprotect("P", 0, True),
            write("P", 0, "b"), read("C", 0),
        ], procs=PC, expect="H H H H H H H", source="cow.c"),
        scenario("A3", "vmsplice() + unmap in child", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="cow.c"),
        scenario("A4", "vmsplice() + unmap in child with mprotect() optimization", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            mprotect("P", 0, False), mprotect("P", 0, True), write("P", 0, "b"),
            dma_read("C", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="cow.c"),
        scenario("A5", "vmsplice() before fork(), unmap in parent after fork()", [
            write("P", 0, "a"), get("P", 0, "pipe"), fork("P", "C"), munmap("P", 0),
            write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, expect="M M H H H H H", source="cow.c"),
        scenario("A6", "vmsplice() + unmap in parent after fork()", [
            write("P", 0, "a"), fork("P", "C"), get("P", 0, "pipe"), munmap("P", 0),
            write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="cow.c"),
        scenario("A7", "R/O-mapping a page registered as iouring fixed buffer", [
            write("P", 0, "a"), pin("P", 0, "fixed"), mprotect("P", 0, False),
            clear_refs("P", 0), mprotect("P", 0, True), write("P", 0, "b"),
            dma_read("P", "fixed"),
        ], procs=PC[:1], expect="H H W W W W H", source="cow.c"),
        scenario("A8", "fork() with an iouring fixed buffer", [
            write("P", 0, "a"), pin("P", 0, "fixed"), fork("P", "C"), write("P", 0, "b"),
            dma_read("P", "fixed"),
        ], procs=PC, expect="W W W H H H H", source="cow.c"),
        scenario("A9", "R/O GUP pin on R/O-mapped shared page", [
            write("P", 0, "a"), fork("P", "C"), pin("P", 0, "ro", rw=False),
            write("P", 0, "b"), dma_read("P", "ro"),
        ], procs=PC, expect="W H W W W W H", source="cow.c"),
        scenario("A10", "R/O GUP-fast pin on R/O-mapped shared page", [
            write("P", 0, "a"), fork("P", "C"), pin("P", 0, "ro", rw=False, fast=True),
            write("P", 0, "b"), dma_read("P", "ro"),
        ], procs=PC, expect="W H W W W W H", source="cow.c"),
        scenario("A11", "R/O GUP pin on R/O-mapped previously-shared page", [
            write("P", 0, "a"), fork("P", "C"), exit_("C"), pin("P", 0, "ro", rw=False),
            write("P", 0, "b"), dma_read("P", "ro"),
        ], procs=PC, expect="H H W W W W H", source="cow.c"),
        scenario("A12", "R/O GUP-fast pin on R/O-mapped previously-shared page", [
            write("P", 0, "a"), fork("P", "C"), exit_("C"),
            pin("P", 0, "ro", rw=False, fast=True), write("P", 0, "b"), dma_read("P", "ro"),
        ], procs=PC, expect="H H W W W W H", source="cow.c"),
        scenario("A13", "R/O GUP pin on R/O-mapped exclusive page", [
            write("P", 0, "a"), mprotect("P", 0, False), clear_refs("P", 0),
            mprotect("P", 0, True), pin("P", 0, "ro", rw=False), write("P", 0, "b"),
            dma_read("P", "ro"),
        ], procs=PC[:1], expect="H H W W W W H", source="cow.c"),
        scenario("A14", "R/O GUP-fast pin on R/O-mapped exclusive page", [
            write("P", 0, "a"), mprotect("P", 0, False), clear_refs("P", 0),
            mprotect("P", 0, True), pin("P", 0, "ro", rw=False, fast=True),
            write("P", 0, "b"), dma_read("P", "ro"),
        ], procs=PC[:1], expect="H H W W W W H", source="cow.c"),
        # -- cow.c "with swapped out base page" runs of the vmsplice cases ------------------
        scenario("A3s", "vmsplice() + unmap in child, with swapped out base page", [
            write("P", 0, "a"), swapout("reclaim", "P", 0), fork("P", "C"),
            get("C", 0, "pipe"), munmap("C", 0), write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, threads=RECLAIM, expect="M H M M M H H", source="cow.c"),
        scenario("A5s", "vmsplice() before fork(), unmap in parent, with swapped out base page",
                 [
            write("P", 0, "a"), swapout("reclaim", "P", 0), get("P", 0, "pipe"),
            fork("P", "C"), munmap("P", 0), write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, threads=RECLAIM, expect="M M H H H H H", source="own"),
        scenario("A6s", "vmsplice() + unmap in parent after fork(), with swapped out base page",
                 [
            write("P", 0, "a"), swapout("reclaim", "P", 0), fork("P", "C"),
            get("P", 0, "pipe"), munmap("P", 0), write("C", 0, "b"), dma_read("P", "pipe"),
        ], procs=PC, threads=RECLAIM, expect="M H M M M H H", source="cow.c"),
        # -- reproducers ------------------------------------------------------------------
        # -- migration (issue 15): own rows; the rules are in ../../docs/eras.md, "Migration" --
        # X25: every era keeps the pin coherent: before E6 the PTE becomes a migration entry
        # but the refcount freeze fails on the pin (-EAGAIN) and the old PTE comes back; E6
        # refuses at the unmap (page_try_share_anon_rmap, 6c287605fd56).
        scenario("X25", "migration of a pinned page fails or is refused; P writes, the device"
                 " writes, P reads", [
            write("P", 0, "a"), pin("P", 0, "buf"), migrate("migrate", "P", 0),
            write("P", 0, "b"), dma_write("P", "buf", "v"), read("P", 0),
        ], procs=PC[:1], threads=MIGRATE, expect="H H H H H H H",
            source="own (migrate_folio's refcount freeze; 6c287605fd56)"),
        # X26: fork copies a migration entry without asking whether the page is pinned
        # (copy_nonpresent_pte: a writable entry becomes readable in both), so before E6 a
        # fork inside the window makes the pinned page COW-shared again; the migration then
        # fails on the pin and restores R/O PTEs, and P's write copies the page away from the
        # pin.  E1/E2 share pinned pages at fork anyway (RDMA-fork); E3-E5's early copy looks
        # at present PTEs only.  E6 never unmaps a pinned exclusive page, so fork copies it.
        scenario("X26", "fork while a pinned page is being migrated, P writes, device reads", [
            write("P", 0, "a"), pin("P", 0, "mr"),
            race(migrate("migrate", "P", 0), fork("P", "C")),
            write("P", 0, "b"), dma_read("P", "mr"),
        ], procs=PC, threads=MIGRATE, frames=4, expect="W W W W W W H",
            source="own (copy_nonpresent_pte; 6c287605fd56)"),
        # X27: GUP-fast finds a migration entry and falls back to slow GUP, which waits; a
        # grab of the old page before the unmap either keeps it (refcount freeze fails) or is
        # dropped at the recheck: the pin ends on the page P maps, in every era.
        scenario("X27", "migration racing pin_user_pages_fast; P writes, device reads", [
            write("P", 0, "a"),
            race(migrate("migrate", "P", 0), pin("P.gup", 0, "buf", fast=True)),
            write("P", 0, "b"), dma_read("P.gup", "buf"),
        ], procs=PC[:1], threads=MIGRATE, expect="H H H H H H H",
            source="own (gup_fast_pte_range; migration_entry_wait)"),
        # X28: an exclusive R/O PTE becomes a readable-exclusive entry in E6, so the page is
        # PageAnonExclusive again after migration and mprotect(RW) maps it writable without a
        # fault (tests/cow/test_migrate.py checks the trace); earlier eras fault and reuse.
        # The migration is no COW: P reads its own data in every era.
        scenario("X28", "mprotect R, migrate, mprotect RW, P writes and reads", [
            write("P", 0, "a"), mprotect("P", 0, False), migrate("migrate", "P", 0),
            mprotect("P", 0, True), write("P", 0, "b"), read("P", 0),
        ], procs=PC[:1], threads=MIGRATE, expect="H H H H H H H",
            source="own (6c287605fd56 readable-exclusive entries)"),
        # X29: fork during migration of an ordinary page: the entries become readable in both,
        # the restore maps both R/O to the new page, P's write copies it: no leak to C.
        scenario("X29", "fork while P's page is being migrated, P writes, C reads", [
            write("P", 0, "a"), race(migrate("migrate", "P", 0), fork("P", "C")),
            write("P", 0, "b"), read("C", 0),
        ], procs=PC, threads=MIGRATE, expect="H H H H H H H",
            source="own (copy_nonpresent_pte)"),
        scenario("CVE-2020-29374", "Jann Horn's vmsplice.c (Project Zero 2045)", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, expect="M H H H H H H", source="kf S03"),
        scenario("CVE-2020-29374-swap", "the swap variant in c145e0b47c77's message", [
            write("P", 0, "a"), swapout("reclaim", "P", 0), fork("P", "C"),
            get("C", 0, "pipe"), munmap("C", 0), write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, threads=RECLAIM, expect="M H M M M H H", source="kf §3 (c145e0b47c77)"),
        scenario("RDMA-fork", "the 5.9-rc4 RDMA regression: pinned buffer, fork without"
                 " MADV_DONTFORK, parent writes, device reads", [
            write("P", 0, "a"), pin("P", 0, "mr"), fork("P", "C"), write("P", 0, "b"),
            dma_read("P", "mr"), unpin("P", "mr"),
        ], procs=PC, expect="W W W H H H H", source="kf §3 (S58, S28)"),
        # -- huge pages (../huge.py) -----------------------------------------------------
        # S03t, S03h: S03 on a PMD-mapped THP and on hugetlb.  THP reused by
        # mapcount + swapcount until 5.17 (reuse_swap_page), so page_count reuse (E3t) left
        # the THP variant open until 3bff7e3f1f16 (5.18); E2's forced COW covers both.
        scenario("S03t", "CVE-2020-29374 with a PMD-mapped THP", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, expect="M H M M M H H", backing="thp",
            source="kf S03t (Hildenbrand's COW summary; COW fixes part 1 RFC v2 cover)",
            reproduces="vmsplice-v5.11.c (aarcange kernel-testcases-for-v5.11)"),
        # A known kernel limitation, kept as the expected verdict (an xfail): hugetlb_wp()
        # still reuses by mapcount == 1 in E6 (6c287605fd56), and cow.c marks its hugetlb
        # vmsplice cases xfail ("harder to fix and nobody really cares").
        scenario("S03h", "CVE-2020-29374 with hugetlb (E6: a known limitation, cow.c xfail)", [
            write("P", 0, "a"), fork("P", "C"), get("C", 0, "pipe"), munmap("C", 0),
            write("P", 0, "b"), dma_read("C", "pipe"),
        ], procs=PC, expect="M H M M M M M", backing="hugetlb",
            source="kf S03h (COW fixes part 1 RFC v2 cover; cow.c hugetlb xfail)",
            reproduces="vmsplice-hugetlb-v5.11.c (aarcange kernel-testcases-for-v5.11)"),
    ]
    return rows


CATALOGUE: list[Scenario] = _rows()
SCENARIOS: dict[str, Scenario] = {s.name: s for s in CATALOGUE}


def get_scenario(name: str) -> Scenario:
    if name in SCENARIOS:
        return SCENARIOS[name]
    raise ValueError(f"unknown scenario {name!r}; use one of {', '.join(SCENARIOS)} or "
                     f"path.py:NAME for your own")
