"""mm/mmap.c: exit_mmap(), one zap_pte_range() step per mapped page, then the mm is gone."""

from __future__ import annotations

from ..policy import Policy
from ..vm import EXITED, NONE_K, Thread, World
from .memory import zap_pte

__all__ = ["exit_step", "exit_done"]


def exit_step(w: World, pol: Policy, th: Thread, p: int, pages: int) -> tuple[str, bool]:
    """One step of exit_mmap(): zap the next mapped PTE (``th.sub`` is the next page to look
    at), or, when none is left, end the mm.  Returns (label, finished)."""
    pr = w.procs[p]
    for v in range(th.sub, pages):
        if pr.pte[v][0] != NONE_K:
            label = zap_pte(w, pol, p, v)
            th.sub = v + 1
            return label, False
    return exit_done(w, p), True


def exit_done(w: World, p: int) -> str:
    """exit_mmap() finished: the mm is gone (all eras)."""
    w.procs[p].alive = EXITED
    return "exit_mmap: done"
