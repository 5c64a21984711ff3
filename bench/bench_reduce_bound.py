"""What could Lipton's atomic blocks save on the COW model?  A measured estimate.

    python bench/bench_reduce_bound.py                        # fork=1,pin=1,write=2,swapout=1
    python bench/bench_reduce_bound.py --target T1 --symmetry # an issue-11 target (long)

Issue 11 asks for 20x fewer states than the unreduced search.  The sound
stubborn-set reduction (``--reduce on``, mcheck/reduce.py) reduces no COW state:
every enabled COW step is visible to ``missed_cow`` or ``model_error``.  Lipton's
right movers need no visibility condition for invariants, so this bench measures
the most that blocks of right movers could merge, with the mover relation taken
from the reachable states themselves instead of a proof:

* a step of a thread in a phase (its component and, for a busy thread, its
  sub-step) is a **right mover** when, in every reachable state, it commutes to
  the right of every step another group (thread, or the LRU drain) can take after
  it: ``a`` then ``b`` reaches a state that ``b`` then ``a`` (the same actions)
  reaches too;
* the **block search** then runs: after a right mover of a thread, only that
  thread moves (if it can); states inside blocks are visited (invariants would be
  checked there) but not stored.

A mover relation proved by z3 over the proof's domain holds in particular on the
reachable states, so it can have only fewer movers than this one: the number is
what blocks of this granularity could reach at best.  (A stubborn-set oracle that
only checks commutation in the current state is no estimate: on the default
configuration it stores 6.9x fewer states but misses 324 of the 711 final
states, so it is not a reduction at all.)

States are stored as 64-bit hashes (a collision only blurs an estimate).
``--symmetry`` canonicalises with the model's declared symmetry (unproved here;
``mcheck explore --symmetry on`` proves it) for the combined numbers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {
    "small": {"budget": "fork=1,pin=1,write=2,swapout=1"},
    "T1": {"budget": "fork=1,pin=1,get=1,write=2,unmap=1,swapout=1"},
    "T2": {"budget": "fork=1,pin=1,get=1,write=2,unmap=1,mprotect=1,clear_refs=1"},
    "T3": {"budget": "fork=1,pin=1,write=2,swapout=1,mprotect=1", "threads": 2},
    # two pages and a frame more: steps on different pages may commute
    "pages2": {"budget": "fork=1,pin=1,write=2,swapout=1", "pages": 2, "frames": 4},
}


class Cow:
    """The COW model's components grouped by thread (the drain is its own group)."""

    def __init__(self, budget: str, sizes: dict[str, int], symmetry: bool) -> None:
        from mcheck.symmetry import Canonicaliser
        from models.cow import mcheck_models

        opts: dict[str, Any] = {"policy": "E6", "budget": budget,
                                "gup_modes": "rw-slow,rw-fast,ro-fast"}
        opts.update(sizes)
        self.model = mcheck_models(opts)[0]
        decl = self.model.symmetry()
        self.comps = list(decl.components)
        self.succ_of = decl.successors_of
        self.canon: Callable[[Any], Any] = Canonicaliser(decl) if symmetry else (lambda s: s)
        self.group = [c[1] if c[0] in ("busy", "start") else -1 for c in self.comps]

    def by_group(self, s: Any) -> dict[int, list[tuple[int, Any, Any]]]:
        """Enabled steps of ``s`` by group: ``(component index, action, next state)``."""
        out: dict[int, list[tuple[int, Any, Any]]] = {}
        for i, c in enumerate(self.comps):
            for a, t in self.succ_of(s, c):
                out.setdefault(self.group[i], []).append((i, a, t))
        return out

    def start(self) -> tuple[set[int], list[Any]]:
        """The hashes of the (canonical) initial states, and the states: a search's start."""
        seen: set[int] = set()
        level = []
        for s in self.model.initial_states():
            s = self.canon(s)
            if hash(s) not in seen:
                seen.add(hash(s))
                level.append(s)
        return seen, level

    def keep(self, seen: set[int], nxt: list[Any], t: Any) -> None:
        """Store ``t`` (canonical) for the next level unless it is stored already."""
        t = self.canon(t)
        h = hash(t)
        if h not in seen:
            seen.add(h)
            nxt.append(t)

    def key(self, s: Any, i: int) -> tuple:
        """A step's mover key: its component and, for a busy thread, its sub-step."""
        c = self.comps[i]
        return (i, s[4][c[1]][1]) if c[0] == "busy" else (i,)


def _after(cow: Cow, s: Any, g: int, action: Any) -> Any:
    """The state group ``g``'s step ``action`` leads to from ``s`` (None: not enabled)."""
    for i, c in enumerate(cow.comps):
        if cow.group[i] == g:
            for a, t in cow.succ_of(s, c):
                if a == action:
                    return t
    return None


def full(cow: Cow) -> tuple[int, set]:
    """States of the full search, and the hashes of its final states (no step enabled)."""
    final = set()
    seen, level = cow.start()
    while level:
        nxt = []
        for s in level:
            n = 0
            for _a, t in cow.model.successors(s):
                n += 1
                cow.keep(seen, nxt, t)
            if not n:
                final.add(hash(s))
        level = nxt
    return len(seen), final


def movers(cow: Cow) -> tuple[set, set, int]:
    """The mover keys measured on the full graph: (right movers, keys seen, states)."""
    seen, level = cow.start()
    keys: set = set()
    bad: set = set()
    while level:
        nxt = []
        for s in level:
            groups = cow.by_group(s)
            for g, steps in groups.items():
                for i, a, t in steps:
                    k = cow.key(s, i)
                    keys.add(k)
                    if k in bad:
                        continue
                    for h, theirs in cow.by_group(t).items():
                        if h == g:
                            continue
                        for _j, b, u in theirs:
                            # b from s: among s's own steps, already computed
                            mid = next((x for _i, y, x in groups.get(h, ()) if y == b), None)
                            if mid is None or _after(cow, mid, g, a) != u:
                                bad.add(k)
                                break
                        if k in bad:
                            break
            for steps in groups.values():
                for _i, _a, t in steps:
                    cow.keep(seen, nxt, t)
        level = nxt
    return keys - bad, keys, len(seen)


def lipton(cow: Cow, right: set) -> tuple[int, int, set]:
    """States stored by the block search with the ``right`` movers, states visited
    inside blocks, and the hashes of the final states it reached."""
    final = set()
    seen, level = cow.start()
    inside = 0
    while level:
        nxt = []
        for s in level:
            stack: list[tuple[Any, int | None]] = [(s, None)]
            mids: set = set()
            while stack:
                x, owner = stack.pop()
                groups = cow.by_group(x)
                if not groups:
                    final.add(hash(cow.canon(x)))
                if owner is not None and owner in groups:
                    groups = {owner: groups[owner]}
                for g, steps in groups.items():
                    for i, _a, t in steps:
                        if cow.key(x, i) in right:
                            h = hash(t)
                            if (h, g) not in mids:
                                mids.add((h, g))
                                inside += 1
                                stack.append((t, g))
                            continue
                        cow.keep(seen, nxt, t)
        level = nxt
    return len(seen), inside, final


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=sorted(TARGETS), default="small")
    ap.add_argument("--symmetry", action="store_true",
                    help="canonicalise with the declared symmetry (combined numbers)")
    a = ap.parse_args()
    cfg = TARGETS[a.target]
    sizes = {k: v for k, v in cfg.items() if k != "budget"}
    cow = Cow(cfg["budget"], sizes, a.symmetry)
    flags = "".join(f" --{k} {v}" for k, v in sizes.items())
    print(f"{a.target}: --budget {cfg['budget']}{flags}{' --symmetry' if a.symmetry else ''}",
          flush=True)
    t0 = time.perf_counter()
    n, final = full(cow)
    print(f"  full search          {n:>10} states  ({time.perf_counter() - t0:.0f} s)",
          flush=True)
    t0 = time.perf_counter()
    right, keys, n2 = movers(cow)
    assert n2 == n
    names = sorted(f"{cow.comps[k[0]]}" + (f"@{k[1]}" if len(k) > 1 else "") for k in right)
    print(f"  right movers: {len(right)} of {len(keys)} step keys: {', '.join(names)}",
          flush=True)
    q, inside, reached = lipton(cow, right)
    print(f"  Lipton-block oracle  {q:>10} states  {n / q:5.2f}x fewer  ({inside} visited "
          f"inside blocks; {time.perf_counter() - t0:.0f} s)", flush=True)
    # the self-check: a reduction reaches every final state of the full search
    print(f"  final states: full {len(final)}, reached by the blocks {len(reached & final)}"
          f"{'' if reached == final else '  MISMATCH: not a reduction'}")


if __name__ == "__main__":
    main()
