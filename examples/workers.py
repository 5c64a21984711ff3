"""Workers that mostly compute alone: the example of partial-order reduction (no kernel words).

``mcheck check examples/workers.py --workers-n 3 --steps 4 --reduce on``

Each of N workers takes ``steps`` private steps (its own counter), then adds
one to a shared total, then stops.  Invariant ``total_below``: the total stays
below ``limit`` (default N: it holds).  With ``--limit`` at most N it is
violated once that many workers have added.  The private steps of different
workers commute, and no property reads them, so a reduced search runs each
worker's private steps without interleaving the others': (steps + 1)^N + ...
states shrink to a few per worker.

Components are one per worker and kind of step (``("work", i)`` and
``("add", i)``), declared with the symmetry; the footprint analysis proves
each component's reads and writes.
"""

from __future__ import annotations

from typing import Any

from mcheck import Model, invariant, metric, transition
from mcheck.symmetry import IndexSet, Symmetry


class Workers(Model):
    """State ``(total, c0, c1, ...)``: ``c_i`` counts worker i's steps (``steps`` is
    the add, beyond it the worker is done)."""

    name = "workers"

    def __init__(self, n: int = 3, steps: int = 4, limit: int | None = None,
                 with_metric: bool = False, guard_add: bool = False) -> None:
        self.n = n
        self.steps = steps
        self.limit = n + 1 if limit is None else limit
        self.with_metric = with_metric
        self.guard_add = guard_add

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"workers_n": self.n, "steps": self.steps, "limit": self.limit}
        if self.with_metric:
            p["with_metric"] = True
        if self.guard_add:
            p["guard_add"] = True
        return p

    def initial_states(self) -> list[tuple]:
        return [(0,) * (1 + self.n)]

    def _work(self, s: tuple, i: int) -> list[tuple[tuple, tuple]]:
        c = s[1 + i]
        if c < self.steps:
            return [((f"w{i}", "work"), s[:1 + i] + (c + 1,) + s[2 + i:])]
        return []

    def _add(self, s: tuple, i: int) -> list[tuple[tuple, tuple]]:
        c = s[1 + i]
        if c == self.steps and (not self.guard_add or s[0] < self.n):
            return [((f"w{i}", "add"), (s[0] + 1,) + s[1:1 + i] + (c + 1,) + s[2 + i:])]
        return []

    def _of(self, s: tuple, key: tuple) -> list[tuple[tuple, tuple]]:
        return self._work(s, key[1]) if key[0] == "work" else self._add(s, key[1])

    def successors(self, s: tuple) -> list[tuple[tuple, tuple]]:
        return [x for i in range(self.n) for k in ("work", "add") for x in self._of(s, (k, i))]

    def actions(self, s: tuple) -> list[tuple]:
        return [a for a, _ in self.successors(s)]

    def step(self, s: tuple, a: tuple) -> tuple:
        return dict(self.successors(s))[a]

    def thread(self, a: tuple) -> str:
        return a[0]

    def threads(self) -> list[str]:
        return [f"w{i}" for i in range(self.n)]

    def is_final(self, s: tuple) -> bool:
        return all(c > self.steps for c in s[1:])

    def properties(self) -> list[Any]:
        out = [invariant("total_below", lambda s: s[0] < self.limit,
                         "the shared total stays below the limit"),
               transition("adds_one", lambda s, a, t: t[0] - s[0] in (0, 1),
                          "a step adds at most one to the total")]
        if self.with_metric:
            out.append(metric("adds", lambda s, a, t: a[1] == "add", "a worker adds"))
        return out

    def symmetry(self) -> Symmetry:
        n, steps = self.n, self.steps
        comps = [(k, i) for i in range(n) for k in ("work", "add")]

        def domain(v: Any, key: Any = None) -> list[tuple]:
            return [(v.int(0, n),) + tuple(v.int(0, steps + 1) for _ in range(n))]

        return Symmetry(
            sets=[IndexSet("workers", tuple(range(n)), n)],
            permute_state=lambda s, p: (s[0],) + p["workers"].reorder(s[1:]),
            permute_action=lambda a, p: (f"w{p['workers'](int(a[0][1:]))}", a[1]),
            signatures=lambda s: {"workers": list(s[1:])},
            domain=domain, components=comps, successors_of=self._of,
            permute_key=lambda k, p: (k[0], p["workers"](k[1])),
            bounds=[f"total in 0..{n}, every counter in 0..{steps + 1}"])


def mcheck_arguments(parser: Any) -> None:
    parser.add_argument("--workers-n", type=int, default=3, help="workers (default 3)")
    parser.add_argument("--steps", type=int, default=4, help="private steps each (default 4)")
    parser.add_argument("--limit", type=int, default=None,
                        help="the invariant's bound on the total (default workers + 1: holds)")
    parser.add_argument("--with-metric", action="store_true", help="also count the adds")


def mcheck_models(options: dict[str, Any]) -> list[Workers]:
    n, steps = options.get("workers_n") or 3, options.get("steps")
    steps = 4 if steps is None else steps
    if n < 1 or steps < 0:
        raise ValueError("--workers-n must be at least 1 and --steps at least 0")
    return [Workers(n, steps, options.get("limit"), bool(options.get("with_metric")))]
