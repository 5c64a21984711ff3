"""Minimal traces: shortest, then fewest preemptions, checked against brute force."""

from __future__ import annotations

import pytest

from examples.toys import Ladder, LostUpdate, Philosophers
from mcheck import Model, check, invariant
from mcheck.explore import Path
from mcheck.minimize import SearchLimit, minimal_path
from mcheck.model import Kind
from mcheck.render import count_preemptions


class Relay(Model):
    """Three threads each take ``steps`` steps; the bug needs thread 2's last step first.

    The violating states are those where thread 2 is done while threads 0
    and 1 have each taken at least one step.  BFS (thread 0 first) reaches
    one by hopping between threads; the calm order is 0, 1, then 2 to the end.
    """

    name = "relay"

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps

    def initial_states(self):
        return [(0, 0, 0)]

    def actions(self, s):
        return [(i,) for i in range(3) if s[i] < self.steps]

    def step(self, s, a):
        out = list(s)
        out[a[0]] += 1
        return tuple(out)

    def properties(self):
        n = self.steps
        return [invariant("no_relay", lambda s: not (s[2] == n and s[0] and s[1]))]

    def thread(self, a):
        return f"t{a[0]}"


def _violates(model, prop, path):
    p = next(x for x in model.properties() if x.name == prop) if prop != "deadlock" else None
    if p is None:
        last = path.states[-1]
        return not list(model.successors(last)) and not model.is_final(last)
    if p.kind is Kind.INVARIANT:
        return not p.check(path.states[-1])
    s, a, t = path.states[-2], path.actions[-1], path.states[-1]
    ok = p.check(s, a, t)
    return ok if p.kind is Kind.METRIC else not ok


def _all_paths(model, length):
    def walk(states, actions):
        if len(actions) == length:
            yield Path(tuple(states), tuple(actions))
            return
        for a, t in model.successors(states[-1]):
            yield from walk(states + [t], actions + [a])
    for s in model.initial_states():
        yield from walk([s], [])


def _brute_force(model, prop, length):
    return min(count_preemptions(model, p) for p in _all_paths(model, length)
               if _violates(model, prop, p))


@pytest.mark.parametrize(("model", "prop", "bfs", "minimal"), [
    (LostUpdate(), "final_x_is_2", 2, 1),
    (Relay(3), "no_relay", 2, 1),
    (Philosophers(3), "deadlock", 2, 1),
    (Philosophers(4), "deadlock", 3, 1),
    (Ladder(3), "quiet_at_the_top", 0, 0),
    (LostUpdate(), "stores", 0, 0),
])
def test_minimal_has_the_bfs_length_and_the_fewest_preemptions(model, prop, bfs, minimal):
    r = check(model, stop_at_first=False, deadlock=prop == "deadlock")
    path = r.properties[prop].path
    m = minimal_path(model, prop)
    assert (count_preemptions(model, path), m.preemptions) == (bfs, minimal)
    assert len(m.path) == len(path)
    assert count_preemptions(model, m.path) == m.preemptions
    assert _violates(model, prop, m.path)
    assert m.preemptions == _brute_force(model, prop, len(path))
    # the path is a real one: every step is the model's own
    for i, a in enumerate(m.path.actions):
        assert model.step(m.path.states[i], a) == m.path.states[i + 1]


def test_lost_update_minimal_trace_is_pinned():
    m = minimal_path(LostUpdate(), "final_x_is_2")
    # T1 reads, T0 reads and writes (one preemption), T1 writes after T0 is done
    assert m.path.actions == ((1,), (0,), (0,), (1,))
    assert m.path.states[-1] == (1, 2, 0, 2, 0)


def test_no_violation_gives_none_and_unknown_property_is_an_error():
    assert minimal_path(LostUpdate(), "x_never_decreases") is None
    with pytest.raises(ValueError, match="unknown property 'nope'"):
        minimal_path(LostUpdate(), "nope")


def test_state_limit():
    with pytest.raises(SearchLimit):
        minimal_path(Relay(6), "no_relay", max_states=10)


def test_violating_initial_state_gives_an_empty_path():
    class Broken(Ladder):
        def initial_states(self):
            return [(self.height, 1)]

    m = minimal_path(Broken(2), "quiet_at_the_top")
    assert len(m.path) == 0 and m.preemptions == 0


# -- the command line --------------------------------------------------------------------


def test_minimize_cli_rewrites_a_trace_and_it_replays(tmp_path):
    import json

    from tests.test_cli import TOYS, assert_usage_error, run

    p = run("check", TOYS, "--toy", "lost-update", "--export", tmp_path)
    [f] = tmp_path.glob("*final_x_is_2.json")
    out = tmp_path / "min.json"
    p = run("minimize", f, "-o", out)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ("lost-update toy=lost-update: final_x_is_2: 4 steps, 2 preemptions -> "
                        f"4 steps, 1 preemption; wrote {out}\n")
    assert json.loads(out.read_text())["actions"] == [[1], [0], [0], [1]]
    r = run("replay", out)
    assert r.returncode == 0, r.stderr
    p = run("minimize", f)  # to stdout, the summary on stderr
    assert json.loads(p.stdout)["actions"] == [[1], [0], [0], [1]]
    assert "-> 4 steps, 1 preemption" in p.stderr
    s = run("show", out, "--svg", tmp_path / "t.svg")
    assert s.returncode == 0 and "1 preemption" in s.stdout
    assert (tmp_path / "t.svg").read_text().startswith("<svg ")
    assert_usage_error(run("minimize", tmp_path / "nope.json"), "no trace file")


def test_check_minimal_flag():
    from tests.test_cli import TOYS, run

    p = run("check", TOYS, "--toy", "lost-update", "--minimal")
    assert p.returncode == 1
    assert "4 steps, 2 threads, 1 preemption" in p.stdout
