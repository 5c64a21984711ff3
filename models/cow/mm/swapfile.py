"""mm/swapfile.c and mm/swap_state.c: swap counts and the swap cache."""

from __future__ import annotations

from ..vm import NONE, World

__all__ = ["swap_free", "delete_from_swap_cache", "try_to_free_swap"]


def swap_free(w: World, s: int) -> None:
    """swap_free(): one swap PTE less (and one inactive reference of the swap-cache page);
    the slot goes when nothing names it (all eras)."""
    sl = w.slots[s]
    sl.swapcount -= 1
    if sl.cache != NONE:
        w.frames[sl.cache].inactive -= 1
    w.free_slot_if_unused(s)


def delete_from_swap_cache(w: World, f: int) -> None:
    """delete_from_swap_cache(): the page leaves the swap cache and drops its reference."""
    fr = w.frames[f]
    s = fr.swapcache
    fr.swapcache = NONE
    fr.inactive -= w.slots[s].swapcount  # its swap entries no longer reference this page
    w.slots[s].cache = NONE
    w.free_slot_if_unused(s)
    w.put_page(f)


def try_to_free_swap(w: World, f: int) -> None:
    """try_to_free_swap(): drop the swap cache when no swap PTE names the slot."""
    fr = w.frames[f]
    if fr.swapcache != NONE and w.slots[fr.swapcache].swapcount == 0:
        delete_from_swap_cache(w, f)
