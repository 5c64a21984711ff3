"""precise-2021 (issue 15 item 2): the seed's third design, reuse from the active count
(mapcount) and the inactive count (swap and migration entries, ``Frame.inactive``) read
together.  The counter is kept in every era and checked at every state by model_error."""

from __future__ import annotations

import pytest

from mcheck import Verdict, check
from models.cow import mcheck_models
from models.cow.mm import memory
from models.cow.open import OpenCowModel
from models.cow.oracle import accounting_errors
from models.cow.policy import get_policy
from models.cow.vm import PRESENT, SWAP, Frame, World, initial_state


def _shared_with_a_swapped_child(m) -> World:
    """P maps f0 R/O; C's PTE is a swap entry of f0's swap-cache slot s0."""
    w = World(initial_state(m.cfg, (1, 1)), m.cfg)
    w.frames[0] = Frame.new(ref=2, map=1, lru=0, swapcache=0, ae=0, data=1, inactive=1)
    w.slots[0].cache, w.slots[0].swapcount, w.slots[0].data = 0, 1, 1
    w.procs[0].pte[0] = (PRESENT, 0, 0, 1)
    w.procs[1].pte[0] = (SWAP, 0, 0, 0)
    w.procs[0].L[0] = w.procs[1].L[0] = 1
    return w


def _open(policy, budget: str):
    [m] = mcheck_models({"policy": policy, "budget": budget})
    return m


def test_the_inactive_count_is_an_accounting_invariant() -> None:
    m = _open("precise-2021", "write=1")
    w = _shared_with_a_swapped_child(m)
    assert accounting_errors(m, w.freeze()) == []
    w.frames[0].inactive = 0
    assert accounting_errors(m, w.freeze()) == [
        "f0: inactive count 0 != 1 swap and migration entries referencing it"]


def test_precise_reuse_reads_both_counts_and_nothing_else() -> None:
    m = _open("precise-2021", "write=1")
    w = World(_shared_with_a_swapped_child(m).freeze(), m.cfg, (1,))
    assert memory.do_wp_page(w, m.policy, 0, 0) == "do_wp_page(write) copy f0 -> f1"
    w = World(_shared_with_a_swapped_child(m).freeze(), m.cfg)
    w.procs[1].pte[0] = (0, 0, 0, 0)
    w.slots[0].swapcount, w.frames[0].inactive = 0, 0
    w.frames[0].ref += 1  # a GUP get: invisible to both counts
    assert memory.do_wp_page(w, m.policy, 0, 0) == "do_wp_page(write) reuse f0"


def active_only(world: World, frame: int) -> bool:
    """A broken control: precise-2021 reading the active count (mapcount) alone."""
    return world.frames[frame].map == 1


#: (budget, precise-2021's states, the active-only control's states to its missed COW)
INACTIVE_USERS = [({"fork": 1, "write": 2, "migrate": 1}, 2528, 1075),
                  ({"fork": 1, "write": 2, "swapout": 1, "read": 1}, 4950, 2272)]


@pytest.mark.parametrize(("budget", "states", "control_states"), INACTIVE_USERS)
def test_the_inactive_count_is_what_keeps_reuse_correct(budget, states, control_states):
    # With the inactive count, a parent whose child's PTE is a migration or swap entry
    # copies; reading the mapcount alone, it reuses and the child later reads its write.
    pol = get_policy("precise-2021")
    r = check(OpenCowModel(pol, budget), stop_at_first=False, deadlock=True)
    assert (r.verdict, r.states) == (Verdict.HOLDS, states)
    assert r.properties["unnecessary_cow"].count == 0
    ctl = check(OpenCowModel(pol.replace(name="active-only", wp_reuse=active_only), budget),
                properties=["missed_cow"])
    p = ctl.properties["missed_cow"]
    assert (p.verdict, ctl.states, p.message) == (
        Verdict.VIOLATED, control_states, "P reads t2 at page 0, expected t1")
    assert [a[1] for a in p.path.actions][-2:] == ["do_wp_page(write) reuse f0",
                                                   "write t2: store f0"]


def test_a_get_taken_before_fork_is_invisible_to_both_counts() -> None:
    # S04: P's R/O get of an exclusive page needs no unsharing; fork shares the page, P
    # unmaps, C's write reuses (active 1, inactive 0) and P's pipe reads C's data.
    [m] = mcheck_models({"policy": "precise-2021", "scenario": "S04"})
    r = check(m)
    assert r.properties["missed_cow"].verdict is Verdict.VIOLATED
    assert r.properties["missed_cow"].message == "pipe (P's get) reads b, expected a"
