"""A pool of interchangeable cells and processes that borrow them (a symmetry example).

Each process borrows a free cell, writes its mark into it and gives it back;
a cell is ``(owner, mark)`` with owner -1 when free.  The search picks which
free cell a borrow takes, so the cells are interchangeable, and the model
declares them so (``symmetry()``); z3 certifies the declaration before
``--symmetry`` prunes with it.

``--lowest-free`` is the classic broken variant: a borrow takes the
lowest-numbered free cell.  That is not symmetric (renaming the cells
changes which one a borrow takes), and the proof must refuse it with a
witness: a state, the action and the permutation.

``--leak`` lets a process write its mark into a cell it no longer holds (a
violation with a trace, for the trace tests).

    mcheck check examples/allocator.py --cells 3 --procs 2 --symmetry on
    mcheck check examples/allocator.py --lowest-free --symmetry on     # refused, exit 2
"""

from __future__ import annotations

from mcheck import Model, invariant
from mcheck.symmetry import IndexSet, Symmetry, Tally

__all__ = ["Allocator", "mcheck_arguments", "mcheck_models"]

IDLE, HOLDS, WROTE, GAVE_BACK = 0, 1, 2, 3


class Allocator(Model):
    """``procs`` processes borrowing from ``cells`` cells.

    State: ``(cells, procs)``; a cell is ``(owner, mark)``, a process
    ``(pc, cell)``.  Process ``p`` (pc IDLE) borrows a free cell, writes
    ``p + 1`` into it (HOLDS -> WROTE), gives it back (WROTE -> GAVE_BACK)
    and then idles again; with ``leak`` it may write once more after giving
    the cell back.
    """

    name = "allocator"

    def __init__(self, cells: int = 3, procs: int = 2, lowest_free: bool = False,
                 leak: bool = False) -> None:
        self.cells = cells
        self.procs = procs
        self.lowest_free = lowest_free
        self.leak = leak

    def params(self):
        p = {"cells": self.cells, "procs": self.procs}
        if self.lowest_free:
            p["lowest_free"] = True
        if self.leak:
            p["leak"] = True
        return p

    def initial_states(self):
        return [(tuple((-1, 0) for _ in range(self.cells)),
                 tuple((IDLE, -1) for _ in range(self.procs)))]

    def _free(self, cells):
        return [c for c in range(self.cells) if cells[c][0] == -1]

    def _proc_actions(self, state, p):
        cells, procs = state
        pc, c = procs[p]
        if pc == IDLE:
            free = self._free(cells)
            if self.lowest_free:
                free = free[:1]
            return [(p, "borrow", f) for f in free]
        if pc == HOLDS:
            return [(p, "write", c)]
        if pc == WROTE:
            return [(p, "give back", c)]
        out = [(p, "rest", -1)]
        if self.leak:
            out.append((p, "write", c))
        return out

    def actions(self, state):
        return [a for p in range(self.procs) for a in self._proc_actions(state, p)]

    def step(self, state, action):
        cells, procs = state
        p, what, c = action
        cells, procs = list(cells), list(procs)
        pc = procs[p][0]
        if what == "borrow":
            cells[c] = (p, 0)
            procs[p] = (HOLDS, c)
        elif what == "write":
            cells[c] = (cells[c][0], p + 1)
            procs[p] = (WROTE, c) if pc == HOLDS else (IDLE, -1)
        elif what == "give back":
            cells[c] = (-1, 0)
            procs[p] = (GAVE_BACK, c)
        else:
            procs[p] = (IDLE, -1)
        return (tuple(cells), tuple(procs))

    def properties(self):
        return [invariant("marks_are_owned",
                          lambda s: all(m == 0 or m == o + 1 for o, m in s[0]),
                          "a cell's mark is its owner's",
                          lambda s: "a cell carries a mark its owner did not write")]

    def format_action(self, a):
        return f"p{a[0]} {a[1]}" + (f" c{a[2]}" if a[2] >= 0 else "")

    def thread(self, a):
        return f"p{a[0]}"

    def threads(self):
        return [f"p{i}" for i in range(self.procs)]

    # -- the declared symmetry ------------------------------------------------------

    def symmetry(self):
        """Cells are interchangeable: nothing but the search picks one by its number."""
        n, procs = self.cells, self.procs

        def permute_state(s, p):
            pc = p["cells"]
            cells = pc.reorder(s[0])
            return (cells, tuple((st, pc(c)) for st, c in s[1]))

        def permute_action(a, p):
            return (a[0], a[1], p["cells"](a[2]))

        def signatures(s):
            held = Tally(n)
            for st, c in s[1]:
                held.add(c, 1 + st)
            return {"cells": [(o, m, held.counts[i]) for i, (o, m) in enumerate(s[0])]}

        def domain(v, key=None):
            cells = tuple((v.int(-1, procs - 1), v.int(0, procs)) for _ in range(n))
            ps = tuple((v.int(0, 3), v.ref(n)) for _ in range(procs))
            for st, c in ps:
                v.require((st == IDLE) == (c == -1))  # an idle process holds no cell
            return [(cells, ps)]

        return Symmetry(
            sets=[IndexSet("cells", tuple(range(n)), n,
                           complete=lambda sig: sig == (-1, 0, 0))],
            permute_state=permute_state, permute_action=permute_action,
            signatures=signatures, domain=domain,
            components=[(p,) for p in range(procs)],
            successors_of=lambda s, k: [(a, self.step(s, a)) for a in
                                        self._proc_actions(s, k[0])],
            bounds=[f"{n} cells, each (owner -1..{procs - 1}, mark 0..{procs}); {procs} "
                    "processes, pc 0..3, holding a cell (or the one given back) iff not idle"])


def mcheck_arguments(parser):
    parser.add_argument("--cells", type=int, default=3, help="cells in the pool (default 3)")
    parser.add_argument("--procs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--lowest-free", action="store_true",
                        help="broken: a borrow takes the lowest-numbered free cell")
    parser.add_argument("--leak", action="store_true",
                        help="a process may write into a cell it gave back (a violation)")


def mcheck_models(options):
    cells = options.get("cells")
    cells = 3 if cells is None else cells
    procs = options.get("procs")
    procs = 2 if procs is None else procs
    for flag, n in (("--cells", cells), ("--procs", procs)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{flag} must be a whole number above zero, got {n!r}")
    return [Allocator(cells, procs, bool(options.get("lowest_free")), bool(options.get("leak")))]
