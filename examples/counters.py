"""A model family for ``mcheck compare``: N threads increment a shared counter once.

Two variants (the matrix rows): ``atomic`` (one step: ``x += 1``) and
``racy`` (two steps: ``tmp := x``, then ``x := tmp + 1``).  Columns are
thread counts.  The invariant ``all_counted`` (``x == N`` at the end) fails
for ``racy`` with two or more threads; the metric ``stores`` counts the
transitions that write ``x``.

    mcheck compare examples/counters.py --threads 1,2,3
    mcheck compare examples/counters.py --diff atomic racy

``--lossy`` makes the atomic variant drop every second increment (a
deliberately broken variant, for regression tests).
"""

from __future__ import annotations

from mcheck import Model, Result, Verdict, invariant, metric
from mcheck.compare import Matrix

VARIANTS = ("atomic", "racy")


class Counter(Model):
    """State ``(x, pc0, tmp0, pc1, tmp1, ...)``; a thread is done at pc 2."""

    name = "counter"

    def __init__(self, variant: str = "racy", threads: int = 2, lossy: bool = False) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; use {', '.join(VARIANTS)}")
        if threads < 1:
            raise ValueError("--threads must be at least 1")
        self.variant, self.n, self.lossy = variant, threads, lossy

    def params(self):
        p = {"variant": self.variant, "threads": self.n}
        if self.lossy:
            p["lossy"] = True
        return p

    def initial_states(self):
        return [(0,) + (0, 0) * self.n]

    def actions(self, s):
        return [(i,) for i in range(self.n) if s[1 + 2 * i] < 2]

    def step(self, s, a):
        i = a[0]
        k = 1 + 2 * i
        out = list(s)
        if self.variant == "atomic":
            bump = 0 if self.lossy and s[0] % 2 else 1
            out[0], out[k] = s[0] + bump, 2
        elif s[k] == 0:
            out[k], out[k + 1] = 1, s[0]
        else:
            out[0], out[k] = s[k + 1] + 1, 2
        return tuple(out)

    def is_final(self, s):
        return all(s[1 + 2 * i] == 2 for i in range(self.n))

    def properties(self):
        return [
            invariant("all_counted", lambda s: not self.is_final(s) or s[0] == self.n,
                      "every increment lands", lambda s: f"x = {s[0]} at the end"),
            metric("stores", lambda s, a, t: t[1 + 2 * a[0]] == 2, "transitions that write x"),
        ]

    def thread(self, a):
        return f"T{a[0]}"

    def format_action(self, a):
        return f"T{a[0]} step"


def mcheck_arguments(parser):
    parser.add_argument("--variant", default="racy", help="atomic or racy (default racy)")
    parser.add_argument("--threads", type=int, default=2, help="threads (default 2)")
    parser.add_argument("--lossy", action="store_true", help="break the atomic variant")


def mcheck_models(options):
    variant = options.get("variant") or "racy"
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; use {', '.join(VARIANTS)}")
    threads = options.get("threads")
    threads = 2 if threads is None else threads
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"--threads must be a whole number above zero, got {threads!r}")
    return [Counter(variant, threads, bool(options.get("lossy")))]


def mcheck_matrix_arguments(parser):
    parser.add_argument("--variants", default="atomic,racy", help="rows (default atomic,racy)")
    parser.add_argument("--threads", default="1,2,3", help="columns: thread counts")
    parser.add_argument("--lossy", action="store_true", help="break the atomic variant")


def classify(result: Result) -> dict:
    lost = result.properties["all_counted"].verdict is Verdict.VIOLATED
    if lost:
        letter = "F"
    elif not result.exhausted:
        letter = "?"
    else:
        letter = "H"
    return {"letter": letter, "verdict": {"F": "lost update", "H": "held",
                                          "?": "undetermined"}[letter],
            "rank": {"F": 1, "H": 0, "?": None}[letter], "failure": lost,
            "counts": {"stores": result.properties["stores"].count},
            "message": result.properties["all_counted"].message}


def mcheck_matrix(options):
    rows = [v.strip() for v in (options.get("variants") or "atomic,racy").split(",")]
    for v in rows:
        if v not in VARIANTS:
            raise ValueError(f"unknown variant {v!r}; use {', '.join(VARIANTS)}")
    cols = []
    threads = options.get("threads")
    for x in str("1,2,3" if threads is None else threads).split(","):
        if not x.strip().isdigit() or int(x) < 1:
            raise ValueError(f"--threads takes thread counts above zero, e.g. 1,2,3; got {x!r}")
        cols.append(f"n{int(x)}")
    lossy = bool(options.get("lossy"))
    return Matrix(
        name="counters", rows=rows, columns=cols,
        build=lambda r, c: Counter(r, int(c[1:]), lossy),
        classify=classify,
        expect=lambda r, c: "F" if r == "racy" and int(c[1:]) > 1 else "H",
        lookup=lambda ref: ref if ref in VARIANTS else None,
        row_title="variant", column_title="threads",
        legend=["H held; F lost update (x != N at the end)."],
    )
