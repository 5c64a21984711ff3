"""mm/swap.c: the LRU pagevec drain."""

from __future__ import annotations

from ..vm import World

__all__ = ["lru_add_drain"]


def lru_add_drain(w: World) -> str:
    """lru_add_drain(): the LRU pagevec drops its reference on every fresh page.

    Abstracts the per-CPU pagevecs as one; runs as its own free-running
    thread and inside E5+ do_wp_page/do_swap_page (d4c470970d45).
    """
    frames = w.frames
    for f in range(len(frames)):
        if frames.peek(f)[2]:
            frames[f].lru = 0
            w.put_page(f)
    return "lru_add_drain"
