"""Toy models for the engine tests (no kernel words)."""

from __future__ import annotations

from mcheck import Model, invariant, metric, transition


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
        return {"procs": self.procs}

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

    def format_action(self, action):
        return f"step p{action[0]}"

    def thread(self, action):
        return f"p{action[0]}"

    def threads(self):
        return [f"p{i}" for i in range(self.procs)]


class LostUpdate(Model):
    """Two threads each do ``tmp := x; x := tmp + 1`` once; ``x == 2`` at the end is violated."""

    name = "lost-update"

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
