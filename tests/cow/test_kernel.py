"""Unit tests of the kernel steps (models/cow/mm/) on hand-built states."""

from __future__ import annotations

import pytest

from models.cow.mm import fork, gup, memory, mprotect, rmap, task_mmu, vmscan
from models.cow.oracle import copy_was_unnecessary
from models.cow.policy import get_policy
from models.cow.vm import (
    LIVE,
    NONE,
    PRESENT,
    SWAP,
    Blocked,
    Config,
    Frame,
    NeedChoice,
    World,
    initial_state,
)

CFG = Config(procs=2, pages=1, frames=3, slots=1, handles=1, threads=1, bias=8)


def world(choices=()) -> World:
    return World(initial_state(CFG, (1, 0)), CFG, tuple(choices))


def mapped(w: World, f: int = 0, *, ref=1, mapc=1, lru=0, ae=0, writable=0, data=1,
           sc=NONE) -> World:
    """Process 0 maps frame f at page 0."""
    w.frames[f] = Frame.new(ref=ref, map=mapc, lru=lru, swapcache=sc, ae=ae, data=data)
    w.procs[0].pte[0] = (PRESENT, f, writable, 1)
    w.procs[0].L[0] = data
    w.procs[0].hist |= 1 << data
    return w


def test_allocation_offers_every_free_frame() -> None:
    w = mapped(world(), 1)
    with pytest.raises(NeedChoice) as e:
        memory.anon_fault(w, get_policy("E6"), 1, 0)
    assert e.value.candidates == [0, 2]


def test_anon_fault_maps_an_exclusive_fresh_page() -> None:
    w = world([2])
    assert memory.anon_fault(w, get_policy("E6"), 0, 0) == "do_anonymous_page -> f2"
    assert w.frames[2].freeze() == (2, 1, 1, NONE, 1, 0, 0, 0)
    assert w.procs[0].pte[0] == (PRESENT, 2, 1, 1)


def test_e1_reuses_by_mapcount_even_with_a_gup_reference() -> None:
    w = mapped(world([1]), ref=2)  # one mapping + one get: invisible to mapcount
    assert memory.do_wp_page(w, get_policy("E1"), 0, 0) == "do_wp_page(write) reuse f0"
    assert w.procs[0].pte[0] == (PRESENT, 0, 1, 1)


def test_e3_copies_on_any_extra_reference() -> None:
    w = mapped(world([1]), ref=2)
    assert memory.do_wp_page(w, get_policy("E3"), 0, 0) == "do_wp_page(write) copy f0 -> f1"
    assert w.frames[0].freeze()[:2] == (1, 0)
    assert w.frames[1].freeze() == (2, 1, 1, NONE, 0, 0, 1, 0)


def test_e3_trylock_failure_copies_and_e1_sleeps() -> None:
    w = mapped(world([1]))
    w.frames[0].locked = 1
    assert "copy" in memory.do_wp_page(w, get_policy("E3"), 0, 0)
    w = mapped(world([1]))
    w.frames[0].locked = 1
    with pytest.raises(Blocked):
        memory.do_wp_page(w, get_policy("E1"), 0, 0)


def test_e5_drains_the_pagevec_and_frees_the_swap_cache_then_reuses() -> None:
    w = mapped(world(), ref=3, lru=1, sc=0)
    w.slots[0].cache = 0
    assert memory.do_wp_page(w, get_policy("E5"), 0, 0) == "do_wp_page(write) reuse f0"
    assert w.frames[0].freeze() == (1, 1, 0, NONE, 0, 0, 1, 0)
    assert w.slots[0].freeze() == (0, NONE, 0)


def test_e6_reuses_exclusive_pages_without_reading_counters() -> None:
    w = mapped(world(), ref=1 + 8, ae=1)  # pinned and exclusive
    assert memory.do_wp_page(w, get_policy("E6"), 0, 0) == "do_wp_page(write) reuse f0"


def test_e6_unshare_copies_a_shared_page_and_maps_it_read_only() -> None:
    w = mapped(world([2]), ref=2, mapc=2)
    w.procs[1].pte[0] = (PRESENT, 0, 0, 1)
    assert "copy" in memory.do_wp_page(w, get_policy("E6"), 0, 0, unshare=True)
    assert w.procs[0].pte[0] == (PRESENT, 2, 0, 1)
    assert w.frames[2].ae == 1


def test_fork_copies_a_pinned_page_early_only_from_e3_on() -> None:
    for era, decision in (("E3t", 0), ("E3", 1), ("E6", 1)):
        w = mapped(world(), ref=1 + 8, writable=1, ae=1)
        w.procs[0].has_pinned = 1
        _, d = fork.fork_decide(w, get_policy(era), 0, 0)
        assert d == decision, era
        assert w.procs[0].ptl == 1


def test_fork_apply_shares_and_write_protects_both() -> None:
    w = mapped(world(), writable=1, ae=1)
    fork.fork_begin(w, get_policy("E6"), 0, 1)
    fork.fork_decide(w, get_policy("E6"), 0, 0)
    fork.fork_apply(w, get_policy("E6"), 0, 1, 0, 0)
    assert w.procs[0].pte[0] == w.procs[1].pte[0] == (PRESENT, 0, 0, 1)
    assert w.frames[0].freeze()[:2] == (2, 2)
    assert w.frames[0].ae == 0
    assert w.procs[1].L[0] == 1
    assert w.procs[0].wps == 1 and w.procs[0].mmap == -1


def test_gup_fast_falls_back_on_an_odd_sequence_from_e4_on() -> None:
    w = world()
    w.procs[0].wps = 1
    assert gup.gup_fast_begin(w, get_policy("E4"), 0, True)[1] == -1
    assert gup.gup_fast_begin(w, get_policy("E3"), 0, True)[1] == 0
    assert w.procs[0].has_pinned == 1


def test_gup_fast_recheck_backs_off_when_the_pte_changed() -> None:
    w = mapped(world(), writable=1)
    pte = w.procs[0].pte[0]
    w.procs[0].pte[0] = (PRESENT, 0, 0, 1)
    assert gup.gup_fast_recheck(w, get_policy("E6"), 0, 0, pte, True, True)[1] is False


def test_slow_gup_waits_for_fork() -> None:
    w = world()
    w.procs[0].mmap = -1
    with pytest.raises(Blocked):
        gup.gup_slow_lock(w, get_policy("E6"), 0, True)


def test_reclaim_keeps_pinned_pages_from_e4_on() -> None:
    for era, kept in (("E3", False), ("E4", True)):
        w = mapped(world(), ref=1 + 8)
        label, f = vmscan.reclaim_isolate(w, get_policy(era), 0, 0)
        assert (f == NONE) is kept, (era, label)


def test_e6_try_to_unmap_refuses_a_pinned_exclusive_page() -> None:
    w = mapped(world(), ref=2 + 8, ae=1, sc=0)  # mapping + swap cache + pin
    w.slots[0].cache = 0
    assert rmap.try_to_unmap_one(w, get_policy("E6"), 0)[1] == -1
    assert w.procs[0].pte[0][0] == PRESENT


def test_try_to_unmap_records_swp_exclusive() -> None:
    w = mapped(world(), ref=2, ae=1, sc=0)
    w.slots[0].cache = 0
    rmap.try_to_unmap_one(w, get_policy("E6"), 0)
    assert w.procs[0].pte[0] == (SWAP, 0, 1, 0)
    assert w.frames[0].freeze()[:2] == (1, 0) and w.frames[0].ae == 0


def test_pageout_leaves_a_referenced_page_in_the_swap_cache() -> None:
    w = world()
    # isolation + swap cache + a get; one swap entry of its slot references it
    w.frames[0] = Frame.new(ref=3, map=0, lru=0, swapcache=0, ae=0, locked=1, data=5,
                            inactive=1)
    w.slots[0].cache = 0
    w.slots[0].swapcount = 1
    assert "stays in swap cache" in vmscan.reclaim_pageout(w, get_policy("E4"), 0)
    assert w.frames[0].freeze() == (2, 0, 0, 0, 0, 0, 5, 1)
    assert w.slots[0].data == 5


def _swapped(w: World, cached: bool, extra_refs: int = 0, excl: int = 0) -> World:
    w.procs[0].pte[0] = (SWAP, 0, excl, 0)
    w.procs[0].L[0] = 1
    w.slots[0].swapcount = 1
    w.slots[0].data = 1
    if cached:
        w.frames[0] = Frame.new(ref=1 + extra_refs, map=0, lru=0, swapcache=0, ae=0, data=1,
                                inactive=1)
        w.slots[0].cache = 0
    return w


def test_swapin_write_reuse_by_mapcount_e4_and_by_page_count_e5() -> None:
    w = _swapped(world(), cached=True, extra_refs=1)  # a GUP get keeps it cached
    assert "exclusive writable" in memory.do_swap_page(w, get_policy("E4"), 0, 0, write=True)
    w = _swapped(world(), cached=True, extra_refs=1)
    assert "shared R/O" in memory.do_swap_page(w, get_policy("E5"), 0, 0, write=True)
    w = _swapped(world(), cached=True, extra_refs=1, excl=1)
    assert "exclusive writable" in memory.do_swap_page(w, get_policy("E6"), 0, 0, write=True)


def test_swapin_reads_a_freed_page_back_into_the_swap_cache() -> None:
    w = _swapped(world([2]), cached=False)
    memory.do_swap_page(w, get_policy("E6"), 0, 0, write=False)
    assert w.frames[2].freeze() == (3, 1, 1, 0, 0, 0, 1, 0)
    assert w.slots[0].freeze() == (0, 2, 1)


def test_mprotect_upgrade_needs_anon_exclusive() -> None:
    w = mapped(world(), ae=1)
    assert "writable" in mprotect.mprotect(w, get_policy("E6"), 0, 0, True)
    w = mapped(world(), ae=0)
    assert "stays R/O" in mprotect.mprotect(w, get_policy("E6"), 0, 0, True)
    w = mapped(world(), ae=1)
    assert "stays R/O" in mprotect.mprotect(w, get_policy("E5"), 0, 0, True)


def test_clear_refs_skips_pinned_pages_from_e4_on() -> None:
    w = mapped(world(), ref=1 + 8, writable=1)
    assert "skip" in task_mmu.clear_refs(w, get_policy("E4"), 0, 0)
    w = mapped(world(), ref=1 + 8, writable=1)
    task_mmu.clear_refs(w, get_policy("E3"), 0, 0)
    assert w.procs[0].pte[0] == (PRESENT, 0, 0, 0)


def test_munmap_detaches_pins_and_freezes_their_expectation() -> None:
    w = mapped(world(), ref=1 + 8, data=3)
    gup.take_reference(w, 0, 0, 0, 0, True, True)
    memory.zap_pte(w, get_policy("E6"), 0, 0)
    h = w.handles[0]
    assert (h.state, h.attached, h.expect) == (LIVE, 0, 3)
    assert w.frames[0].freeze()[:2] == (8, 0)


def test_unnecessary_copy_classification() -> None:
    w = mapped(world(), ref=2, lru=1)
    assert copy_was_unnecessary(w.freeze(), 0, 0)
    gup.take_reference(w, 0, 0, 0, 0, False, False)
    assert not copy_was_unnecessary(w.freeze(), 0, 0)
