"""The THP and hugetlb COW paths (models/cow/huge.py) on hand-built states."""

from __future__ import annotations

import pytest

from models.cow import huge
from models.cow.policy import POLICIES, get_policy
from models.cow.vm import NONE, PRESENT, Config, Frame, World, initial_state

CFG = Config(procs=2, pages=1, frames=3, slots=1, handles=1, threads=1, bias=8)


def fields(fr: Frame) -> tuple:
    """(ref, map, lru, swapcache, ae, locked, data) by name, whatever else a frame holds."""
    return (fr.ref, fr.map, fr.lru, fr.swapcache, fr.ae, fr.locked, fr.data)


def mapped(policy: str, *, ref: int, mapc: int, ae: int = 0, choices=()) -> World:
    """Process 0 maps frame 0 (a huge page's head) R/O at page 0, holding data 1."""
    w = World(initial_state(CFG, (1, 0)), CFG, tuple(choices))
    w.frames[0] = Frame.new(ref=ref, map=mapc, lru=0, swapcache=NONE, ae=ae, data=1)
    w.procs[0].pte[0] = (PRESENT, 0, 0, 1)
    w.procs[0].L[0] = 1
    return w


@pytest.mark.parametrize(("backing", "label"), [("thp", "do_huge_pmd_anonymous_page -> f1"),
                                                ("hugetlb", "hugetlb_no_page -> f1")])
def test_a_huge_fault_maps_a_head_page_outside_the_lru_pagevec(backing, label) -> None:
    w = World(initial_state(CFG, (1, 0)), CFG, (1,))
    assert huge.huge_fault(w, get_policy("E6"), 0, 0, backing) == label
    assert fields(w.frames[1]) == (1, 1, 0, NONE, 1, 0, 0)
    assert w.procs[0].pte[0] == (PRESENT, 1, 1, 1)


def test_the_thp_rule_follows_the_5_18_series() -> None:
    want = {
        "E1": "mapcount", "E2": "mapcount", "E3t": "mapcount", "E3": "mapcount",
        "E4": "mapcount", "E5": "page_count", "E6": "anon_exclusive",
        "E6-5.19": "anon_exclusive", "E6-6.0": "anon_exclusive",
        "E6-no-swp-exclusive": "anon_exclusive", "linus-2021": "mapcount",
        "david-2021": "mapcount", "precise-2021": "precise",
    }
    assert {n: huge.thp_reuse_rule(POLICIES[n]) for n in want} == want


@pytest.mark.parametrize("era", ["E1", "E3", "E4"])
def test_thp_reuses_by_mapcount_until_5_17_even_with_a_gup_reference(era) -> None:
    w = mapped(era, ref=2, mapc=1)  # the mapping + a vmsplice get of a process that unmapped
    assert huge.do_huge_pmd_wp_page(w, get_policy(era), 0, 0) == \
        "do_huge_pmd_wp_page(write) reuse f0 (mapcount 1)"
    assert w.procs[0].pte[0] == (PRESENT, 0, 1, 1)


def test_thp_in_5_18_splits_and_copies_into_a_small_page() -> None:
    w = mapped("E5", ref=2, mapc=1, choices=(1,))
    assert huge.do_huge_pmd_wp_page(w, get_policy("E5"), 0, 0) == \
        "do_wp_page(write) copy f0 -> f1: do_huge_pmd_wp_page split the PMD (page_count 2)"
    assert fields(w.frames[0]) == (1, 0, 0, NONE, 0, 0, 1)
    assert fields(w.frames[1]) == (2, 1, 1, NONE, 0, 0, 1)  # a small page, in the pagevec
    assert w.procs[0].pte[0] == (PRESENT, 1, 1, 1)


def test_thp_in_e6_reuses_an_exclusive_page_and_marks_a_sole_owner_exclusive() -> None:
    w = mapped("E6", ref=9, mapc=1, ae=1)  # pinned and exclusive: no counter is read
    assert huge.do_huge_pmd_wp_page(w, get_policy("E6"), 0, 0) == \
        "do_huge_pmd_wp_page(write) reuse f0 (PageAnonExclusive)"
    w = mapped("E6", ref=1, mapc=1)
    assert huge.do_huge_pmd_wp_page(w, get_policy("E6"), 0, 0) == \
        "do_huge_pmd_wp_page(write) reuse f0 (not PageAnonExclusive, page_count 1)"
    assert w.frames[0].ae == 1


@pytest.mark.parametrize("era", ["E1", "E4", "E5", "E6"])
def test_hugetlb_reuses_by_mapcount_in_every_era(era) -> None:
    w = mapped(era, ref=2, mapc=1)
    assert huge.hugetlb_wp(w, get_policy(era), 0, 0) == "hugetlb_wp(write) reuse f0 (mapcount 1)"
    assert w.procs[0].pte[0] == (PRESENT, 0, 1, 1)
    assert w.frames[0].ae == (1 if era == "E6" else 0)


def test_hugetlb_copies_a_shared_page_into_a_huge_page_and_unshare_keeps_it_read_only() -> None:
    w = mapped("E6", ref=2, mapc=2, choices=(2,))
    assert huge.hugetlb_wp(w, get_policy("E6"), 0, 0, unshare=True) == \
        "hugetlb_wp(unshare) copy f0 -> f2 (mapcount 2)"
    assert fields(w.frames[0]) == (1, 1, 0, NONE, 0, 0, 1)
    assert fields(w.frames[2]) == (1, 1, 0, NONE, 1, 0, 1)
    assert w.procs[0].pte[0] == (PRESENT, 2, 0, 1)


def test_precise_2021_decides_a_thp_by_its_active_and_inactive_counts() -> None:
    w = mapped("precise-2021", ref=2, mapc=1)  # a GUP reference is in neither count
    assert huge.do_huge_pmd_wp_page(w, get_policy("precise-2021"), 0, 0) == \
        "do_huge_pmd_wp_page(write) reuse f0 (mapcount 1 + inactive 0)"
