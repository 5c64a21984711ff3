"""The plain-text rendering of traces."""

from __future__ import annotations

from examples.toys import Ladder, LostUpdate, Philosophers
from mcheck import check
from mcheck.explore import Path
from mcheck.render import count_preemptions, render, steps

LOST_UPDATE = """\
lost-update: final_x_is_2 VIOLATED: x = 1 at the end
4 steps, 2 threads, 2 preemptions (marked *)
initial: x=0, T0.pc=0, T0.tmp=0, T1.pc=0, T1.tmp=0

step  T0               T1
----  ---------------  ---------------
   1  T0
        T0.pc: 0 -> 1
   2*                  T1
                         T1.pc: 0 -> 1
   3* T0
        x: 0 -> 1
        T0.pc: 1 -> 2
   4                   T1
                         T1.pc: 1 -> 2
"""


def _path(model, prop, **kw):
    return check(model, **kw).properties[prop].path


def test_lost_update_rendering_is_exact():
    m = LostUpdate()
    text = render(m, _path(m, "final_x_is_2"),
                  title="lost-update: final_x_is_2 VIOLATED: x = 1 at the end")
    assert text == LOST_UPDATE


def test_lanes_follow_model_threads_and_changed_fields_only():
    m = Ladder(2)
    text = render(m, _path(m, "quiet_at_the_top"))
    lines = text.splitlines()
    header = next(x for x in lines if x.startswith("step"))
    assert header.index("climber") < header.index("bell")
    bell_row = next(x for x in lines if "toggle bell" in x)
    assert bell_row.index("toggle bell") == header.index("bell")
    assert "rung: 0 -> 1" in text and "bell: silent -> ringing" in text
    assert "rung: 2 -> 2" not in text  # unchanged fields are not shown
    assert text.isascii() and "\t" not in text


def test_preemptions():
    m = LostUpdate()
    assert count_preemptions(m, _path(m, "final_x_is_2")) == 2
    m = Ladder(3)  # the climber is at the top when the bell rings: no preemption
    assert count_preemptions(m, _path(m, "quiet_at_the_top")) == 0
    m = Philosophers(3)
    p = _path(m, "deadlock", deadlock=True)
    assert count_preemptions(m, p) == 2
    assert [s.preemption for s in steps(m, p)] == [False, True, True]


def test_long_cells_are_wrapped_within_the_width():
    m = Philosophers(4)
    text = render(m, _path(m, "deadlock", deadlock=True), width=60)
    assert max(len(x) for x in text.splitlines()) <= 60


def test_annotate_hook_replaces_the_generic_diff():
    class Annotated(LostUpdate):
        def annotate(self, state, action, next_state):
            return [f"x is {next_state[0]}"]

    m = Annotated()
    text = render(m, _path(m, "final_x_is_2"))
    assert "x is 1" in text and "->" not in text


def test_empty_path():
    m = LostUpdate()
    s0 = m.initial_states()[0]
    text = render(m, Path((s0,), ()))
    assert text.startswith("0 steps, 0 threads, 0 preemptions")
