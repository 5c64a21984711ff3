"""Toy models for the engine tests and the benchmark (no kernel words).

A model module: ``mcheck check examples/toys.py --toy increments --procs 2``.
Without ``--toy`` every toy is checked, each with its default size.
"""

from __future__ import annotations

from mcheck import Model, invariant, metric, transition
from mcheck.symmetry import IndexSet, Symmetry


class Increments(Model):
    """The benchmark toy: N identical processes racing on a shared counter.

    Each process has ``pc`` in 0..5 and ``r`` in 0..3; the shared ``x`` is in
    0..7; all start at zero.  A process's step does ``r := x mod 4`` at pc 0,
    ``x := (r + 1) mod 8`` at pc 1, nothing more at pcs 2-5, and always
    ``pc := (pc + 1) mod 6``.  State: ``(x, pc0, r0, pc1, r1, ...)``.
    With 4 processes: 907,216 states and 3,628,864 transitions (Rumur and
    SPIN agree).
    """

    name = "increments"

    def __init__(self, procs: int = 4, check_bound: bool = False) -> None:
        self.procs = procs
        self.check_bound = check_bound

    def params(self):
        return {"toy": "increments", "procs": self.procs}

    def initial_states(self):
        return [(0,) * (1 + 2 * self.procs)]

    def actions(self, state):
        return [(i,) for i in range(self.procs)]

    def step(self, state, action):
        i = action[0]
        x = state[0]
        pc = state[1 + 2 * i]
        r = state[2 + 2 * i]
        if pc == 0:
            r = x % 4
        elif pc == 1:
            x = (r + 1) % 8
        s = list(state)
        s[0] = x
        s[1 + 2 * i] = (pc + 1) % 6
        s[2 + 2 * i] = r
        return tuple(s)

    def successors(self, state):
        x = state[0]
        out = []
        for i in range(self.procs):
            k = 1 + 2 * i
            pc = state[k]
            if pc == 0:
                out.append(((i,), state[:k] + (1, x % 4) + state[k + 2:]))
            elif pc == 1:
                out.append(((i,), ((state[k + 1] + 1) % 8,) + state[1:k] + (2,) + state[k + 1:]))
            else:
                out.append(((i,), state[:k] + ((pc + 1) % 6,) + state[k + 1:]))
        return out

    def describe(self, state):
        d = {"x": state[0]}
        for i in range(self.procs):
            d[f"p{i}.pc"] = state[1 + 2 * i]
            d[f"p{i}.r"] = state[2 + 2 * i]
        return d

    def symmetry(self):
        """The processes are interchangeable: a process is its (pc, r) pair."""
        n = self.procs

        def pairs(s):
            return [(s[1 + 2 * i], s[2 + 2 * i]) for i in range(n)]

        def permute_state(s, p):
            out = [s[0]]
            for pc, r in p["procs"].reorder(pairs(s)):
                out += (pc, r)
            return tuple(out)

        def permute_action(a, p):
            return (p["procs"](a[0]),)

        def domain(v, key=None):
            return [(v.int(0, 7),) + tuple(x for _ in range(n) for x in (v.int(0, 5),
                                                                          v.int(0, 3)))]

        return Symmetry(
            sets=[IndexSet("procs", tuple(range(n)), n, complete=True)],
            permute_state=permute_state, permute_action=permute_action,
            signatures=lambda s: {"procs": pairs(s)},
            domain=domain, components=[(i,) for i in range(n)],
            successors_of=lambda s, a: [(a, self.step(s, a))], permute_key=permute_action,
            bounds=["x in 0..7, every pc in 0..5, every r in 0..3: all states of the shape"])

    def format_action(self, action):
        return f"step p{action[0]}"

    def thread(self, action):
        return f"p{action[0]}"

    def threads(self):
        return [f"p{i}" for i in range(self.procs)]


class LostUpdate(Model):
    """Two threads each do ``tmp := x; x := tmp + 1`` once; ``x == 2`` at the end is violated."""

    name = "lost-update"

    def params(self):
        return {"toy": "lost-update"}

    def initial_states(self):
        return [(0, 0, 0, 0, 0)]  # x, pc0, tmp0, pc1, tmp1

    def actions(self, s):
        return [(t,) for t in (0, 1) if s[1 + 2 * t] < 2]

    def step(self, s, a):
        t = a[0]
        k = 1 + 2 * t
        x, pc, tmp = s[0], s[k], s[k + 1]
        if pc == 0:
            tmp = x
        else:
            x = tmp + 1
        out = list(s)
        out[0], out[k], out[k + 1] = x, pc + 1, tmp
        return tuple(out)

    def is_final(self, s):
        return s[1] == 2 and s[3] == 2

    def properties(self):
        return [
            invariant("final_x_is_2", lambda s: not (s[1] == 2 and s[3] == 2) or s[0] == 2,
                      "both increments land", lambda s: f"x = {s[0]} at the end"),
            transition("x_never_decreases", lambda s, a, t: t[0] >= s[0]),
            metric("stores", lambda s, a, t: s[1 + 2 * a[0]] == 1, "stores to x"),
        ]

    def format_action(self, a):
        return f"T{a[0]}"

    def thread(self, a):
        return f"T{a[0]}"

    def describe(self, s):
        return {"x": s[0], "T0.pc": s[1], "T0.tmp": s[2], "T1.pc": s[3], "T1.tmp": s[4]}


class Philosophers(Model):
    """N philosophers, N forks: take the left fork, then the right, eat, put both down.

    Deadlocks when every philosopher holds a left fork.  State:
    ``(pc0, ..., pc{N-1}, fork0, ..., fork{N-1})`` with pc 0 thinking, 1
    holding the left fork, 2 eating, and a fork's holder or -1.
    """

    name = "philosophers"

    def __init__(self, procs: int = 3) -> None:
        self.procs = procs

    def params(self):
        return {"toy": "philosophers", "procs": self.procs}

    def initial_states(self):
        return [(0,) * self.procs + (-1,) * self.procs]

    def actions(self, s):
        n = self.procs
        out = []
        for i in range(n):
            pc = s[i]
            if pc == 0 and s[n + i] == -1:
                out.append(("ph", i, "left"))
            elif pc == 1 and s[n + (i + 1) % n] == -1:
                out.append(("ph", i, "right"))
            elif pc == 2:
                out.append(("ph", i, "put"))
        return out

    def step(self, s, a):
        n = self.procs
        i = a[1]
        out = list(s)
        if s[i] == 0:
            out[i], out[n + i] = 1, i
        elif s[i] == 1:
            out[i], out[n + (i + 1) % n] = 2, i
        else:
            out[i], out[n + i], out[n + (i + 1) % n] = 0, -1, -1
        return tuple(out)

    def properties(self):
        n = self.procs
        return [
            invariant("neighbours_never_both_eat",
                      lambda s: not any(s[i] == 2 and s[(i + 1) % n] == 2 for i in range(n)),
                      "two neighbours never eat at once"),
            metric("meals", lambda s, a, t: t[a[1]] == 2, "a philosopher starts eating"),
        ]

    def thread(self, a):
        return f"ph{a[1]}"

    def threads(self):
        return [f"ph{i}" for i in range(self.procs)]

    def format_action(self, a):
        return {"left": "take left fork", "right": "take right fork",
                "put": "put forks down"}[a[2]]

    def describe(self, s):
        n = self.procs
        names = ("thinking", "has left fork", "eating")
        d = {f"ph{i}": names[s[i]] for i in range(n)}
        for i in range(n):
            d[f"fork{i}"] = "free" if s[n + i] == -1 else f"ph{s[n + i]}"
        return d


class Ladder(Model):
    """A climber goes up ``height`` rungs while a bell toggles; ringing at the top is a bug.

    The violation is reachable only at depth ``height + 1``, the diameter, so
    a depth bound below that gives UNDETERMINED and one at it VIOLATED.
    State: ``(rung, bell)``.
    """

    name = "ladder"

    def __init__(self, height: int = 5) -> None:
        self.height = height

    def params(self):
        return {"toy": "ladder", "height": self.height}

    def initial_states(self):
        return [(0, 0)]

    def actions(self, s):
        return [("climber",), ("bell",)] if s[0] < self.height else [("bell",)]

    def step(self, s, a):
        if a[0] == "climber":
            return (s[0] + 1, s[1])
        return (s[0], 1 - s[1])

    def properties(self):
        h = self.height
        return [invariant("quiet_at_the_top", lambda s: not (s[0] == h and s[1] == 1),
                          "the bell is silent when the climber is at the top",
                          lambda s: f"the bell rings at rung {s[0]}")]

    def threads(self):
        return ["climber", "bell"]

    def format_action(self, a):
        return "climb" if a[0] == "climber" else "toggle bell"

    def describe(self, s):
        return {"rung": s[0], "bell": "ringing" if s[1] else "silent"}


# -- the model-module API ---------------------------------------------------------

TOYS = ("increments", "lost-update", "philosophers", "ladder")
_SIZES = {"increments": ("procs", 2), "philosophers": ("procs", 3), "ladder": ("height", 5)}


def mcheck_arguments(parser):
    """The toys' own flags."""
    parser.add_argument("--toy", choices=TOYS, help="the toy to check (default: all)")
    parser.add_argument("--procs", type=int, metavar="N",
                        help="processes of increments (default 2) or philosophers (default 3)")
    parser.add_argument("--height", type=int, metavar="N", help="rungs of ladder (default 5)")


def _make(toy, options):
    if toy == "lost-update":
        return LostUpdate()
    key, default = _SIZES[toy]
    n = options.get(key)
    n = default if n is None else n
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"--{key} must be a whole number above zero, got {n!r}")
    return {"increments": Increments, "philosophers": Philosophers, "ladder": Ladder}[toy](n)


def mcheck_models(options):
    """One model for ``--toy``, else one per toy."""
    toy = options.get("toy")
    if toy is None:
        return [_make(t, options) for t in TOYS]
    if toy not in TOYS:
        raise ValueError(f"unknown toy {toy!r}: choose one of {', '.join(TOYS)}")
    for key in ("procs", "height"):
        if options.get(key) is not None and _SIZES.get(toy, (None,))[0] != key:
            raise ValueError(f"--{key} does not apply to the {toy} toy")
    return [_make(toy, options)]
