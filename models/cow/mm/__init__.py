"""The kernel's mm paths on the abstract VM, one module per mm/ file a kernel developer compares.

=============== ====================================================================
``memory.py``   mm/memory.c: do_anonymous_page, do_wp_page (wp_can_reuse), do_swap_page,
                a store through a writable PTE, zap_pte_range
``gup.py``      mm/gup.c: GUP-fast and slow GUP as a step machine with named phases
                (incl. the reference grab and the write_protect_seq retry), unpin
``fork.py``     kernel/fork.c + mm/memory.c: dup_mmap, copy_present_pte,
                page_try_dup_anon_rmap, as a step machine with named phases
``vmscan.py``   mm/vmscan.c: shrink_page_list (isolate, add_to_swap, pageout) as a
                step machine with named phases
``migrate.py``  mm/migrate.c: migrate_pages() as a step machine with named phases
                (isolate, try_to_migrate_one, the refcount freeze and copy,
                remove_migration_ptes), migration_entry_wait
``rmap.py``     mm/rmap.c: try_to_unmap_one
``mprotect.py`` mm/mprotect.c: change_pte_range
``mmap.py``     mm/mmap.c: exit_mmap (zap every PTE, then the mm is gone)
``swap.py``     mm/swap.c: lru_add_drain
``swapfile.py`` mm/swapfile.c, mm/swap_state.c: swap_free, try_to_free_swap,
                delete_from_swap_cache
``task_mmu.py`` fs/proc/task_mmu.c: clear_refs_write (soft-dirty)
=============== ====================================================================

Each operation is a pure function of a ``World`` (a private copy of one
state, ../vm.py), the policy and its arguments: it edits the copy and
returns a short label saying which way the kernel decided.  A step that
cannot run now raises ``Blocked``; an allocation asks the search to choose
(``World.choose``).  Every docstring says what the step abstracts, what it
ignores, and the era or commit it follows (../../../docs/eras.md).  Common
simplifications: small anonymous pages only (no THP, hugetlb, KSM, file
pages, zero page); a fault that allocates never fails (no OOM); one LRU
pagevec; the page-table lock and the mmap lock are modelled only where they
exclude a step the kernel really excludes.
"""

from __future__ import annotations

from . import fork, gup, memory, migrate, mmap, mprotect, rmap, swap, swapfile, task_mmu, vmscan

__all__ = ["fork", "gup", "memory", "migrate", "mmap", "mprotect", "rmap", "swap", "swapfile",
           "task_mmu", "vmscan"]
