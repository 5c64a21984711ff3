"""Migration (issue 15, models/cow/mm/migrate.py): the steps on hand-built states, the open
search with a ``migrate`` budget, and the X25-X29 rows' mechanisms."""

from __future__ import annotations

import pytest

from mcheck import Verdict, check
from models.cow import mcheck_models
from models.cow.mm import fork, gup, memory, migrate, mprotect
from models.cow.mm.migrate import MigratePhase
from models.cow.policy import get_policy
from models.cow.vm import (
    MIGRATION,
    NONE,
    PRESENT,
    Blocked,
    Config,
    Frame,
    World,
    initial_state,
)

CFG = Config(procs=2, pages=1, frames=3, slots=1, handles=1, threads=2, bias=8)


def mapped(choices=(), *, ref=1, ae=0, writable=1) -> World:
    """Process 0 maps frame 0 at page 0 with data token 1 (off the pagevec)."""
    w = World(initial_state(CFG, (1, 0)), CFG, tuple(choices))
    w.frames[0] = Frame.new(ref=ref, map=1, lru=0, swapcache=NONE, ae=ae, data=1)
    w.procs[0].pte[0] = (PRESENT, 0, writable, 1)
    w.procs[0].L[0] = 1
    return w


def run_migration(w: World, era: str) -> list[str]:
    """Every step of one migration of (P, page 0) by thread 1, to the end."""
    th = w.threads[1]
    labels = []
    done = False
    while not done:
        label, done = migrate.migrate_step(w, get_policy(era), th, 0, 0)
        labels.append(label)
    return labels


def test_a_migration_moves_the_data_to_a_new_page_and_restores_the_pte() -> None:
    w = mapped([2], ae=1)
    assert run_migration(w, "E6") == [
        "migrate_pages: isolate, lock f0", "try_to_migrate: mm0 pte -> writable migration entry",
        "try_to_migrate: done", "migrate_folio f0 -> f2", "remove_migration_pte: mm0 f2 W "
        "exclusive", "remove_migration_ptes: done", "migrate: unlock, putback f2"]
    assert w.frames[0].free
    assert w.frames[2].freeze() == (1, 1, 0, NONE, 1, 0, 1, 0)
    assert w.procs[0].pte[0] == (PRESENT, 2, 1, 1)


def test_e6_refuses_a_pinned_exclusive_page_and_earlier_eras_fail_at_the_freeze() -> None:
    w = mapped(ae=1, ref=1 + 8)
    labels = run_migration(w, "E6")
    assert labels[1] == "try_to_migrate: mm0 page_try_share_anon_rmap -EBUSY"
    assert w.procs[0].pte[0] == (PRESENT, 0, 1, 1) and w.frames[0].ae == 1
    w = mapped(ref=1 + 8)
    labels = run_migration(w, "E4")
    assert labels[1:5] == ["try_to_migrate: mm0 pte -> writable migration entry",
                           "try_to_migrate: done",
                           "folio_migrate_mapping: f0 refcount 9 != 1 -> -EAGAIN",
                           "remove_migration_pte: mm0 f0 W"]
    assert w.frames[0].freeze() == (9, 1, 0, NONE, 0, 0, 1, 0)


def test_a_readable_exclusive_entry_keeps_the_page_exclusive_in_e6_only() -> None:
    w = mapped([2], ae=1, writable=0)
    assert "readable-exclusive migration entry" in run_migration(w, "E6")[1]
    assert w.frames[2].ae == 1
    # X28: so the 6.2 mprotect upgrade maps it writable without a fault
    w.procs[0].vm_write[0] = 0
    assert mprotect.mprotect(w, get_policy("E6"), 0, 0, True) == \
        "mprotect(RW): can_change_pte_writable -> writable"
    w = mapped([2], writable=0)
    assert "pte -> readable migration entry" in run_migration(w, "E4")[1]


def test_faults_and_slow_gup_wait_on_a_migration_entry_gup_fast_falls_back() -> None:
    w = mapped()
    th = w.threads[1]
    migrate.migrate_step(w, get_policy("E6"), th, 0, 0)
    migrate.migrate_step(w, get_policy("E6"), th, 0, 0)
    assert w.procs[0].pte[0] == (MIGRATION, 0, 1, 0)
    with pytest.raises(Blocked, match="migration_entry_wait"):
        gup.gup_slow_follow(w, get_policy("E6"), 0, 0, True, True)
    assert gup.gup_fast_pte(w, get_policy("E6"), 0, 0, True, True) == \
        ("pte not present -> slow GUP", None)
    assert memory.zap_pte(w, get_policy("E6"), 0, 0) == "zap_pte_range: migration entry f0"


def test_fork_and_mprotect_make_a_writable_entry_readable() -> None:
    for era, excl in (("E4", 0), ("E6", 1)):
        w = mapped(ae=1)
        th = w.threads[1]
        migrate.migrate_step(w, get_policy(era), th, 0, 0)
        migrate.migrate_step(w, get_policy(era), th, 0, 0)
        assert mprotect.mprotect(w, get_policy(era), 0, 0, True) == \
            "mprotect(RW): migration entry -> readable"
        assert w.procs[0].pte[0] == (MIGRATION, 0, 0, excl)
        fork.fork_begin(w, get_policy(era), 0, 1)
        assert fork.fork_decide(w, get_policy(era), 0, 0) == \
            ("copy_pte_range: migration entry", 0)
        assert fork.fork_apply(w, get_policy(era), 0, 1, 0, 0) == \
            "copy_nonpresent_pte: migration entry f0" + (" -> readable" if excl else "")
        assert w.procs[0].pte[0] == w.procs[1].pte[0] == (MIGRATION, 0, 0, 0)


def test_the_phases_are_named_once() -> None:
    assert (MigratePhase.ISOLATE, MigratePhase.UNMAP, MigratePhase.MOVE,
            MigratePhase.RESTORE, MigratePhase.DONE) == (0, 1, 2, 3, 4)


#: (budget, policy, verdict, states): open search with a migration thread
OPEN = [("write=2,migrate=1,fork=1", "E6", Verdict.HOLDS, 2504),
        ("write=2,migrate=1,fork=1", "E1", Verdict.HOLDS, 2240),
        ("write=2,migrate=1,pin=1,dma=1", "E6", Verdict.HOLDS, 1312)]


@pytest.mark.parametrize(("budget", "policy", "verdict", "states"), OPEN)
def test_open_search_with_a_migration_thread(budget, policy, verdict, states) -> None:
    [m] = mcheck_models({"policy": policy, "budget": budget})
    assert m.thread_names[-1] == "migrate"
    r = check(m, stop_at_first=False, deadlock=True)
    assert (r.verdict, r.states) == (verdict, states)
    assert r.properties["model_error"].verdict is Verdict.HOLDS
    assert r.properties["unnecessary_cow"].count == 0


def test_open_search_rediscovers_x26_before_e6_only() -> None:
    opts = {"budget": "fork=1,pin=1,write=2,migrate=1", "gup_modes": "rw-slow"}
    [m] = mcheck_models({"policy": "E4", **opts})
    r = check(m, properties=["wrong_cow"])
    p = r.properties["wrong_cow"]
    assert (p.verdict, r.states, len(p.path.actions)) == (Verdict.VIOLATED, 11566, 16)
    assert [a[1] for a in p.path.actions][6:15] == [
        "migrate: migrate_pages: isolate, lock f0",
        "migrate: try_to_migrate: mm0 pte -> writable migration entry",
        "fork: copy_pte_range: migration entry",
        "fork: copy_nonpresent_pte: migration entry f0 -> readable",
        "fork: dup_mmap: raw_write_seqcount_end, mmap_write_unlock",
        "migrate: try_to_migrate: done",
        "migrate: folio_migrate_mapping: f0 refcount 9 != 1 -> -EAGAIN",
        "migrate: remove_migration_pte: mm0 f0 R/O",
        "do_wp_page(write) copy f0 -> f1"]
    [m6] = mcheck_models({"policy": "E6", **opts})
    r6 = check(m6, stop_at_first=False, deadlock=True)
    assert (r6.verdict, r6.states) == (Verdict.HOLDS, 12284)
