"""The plain-text rendering of traces."""

from __future__ import annotations

import pytest

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


LOST_UPDATE_FOR_MAIL = """\
4 steps, 2 threads, 2 preemptions (marked *)
initial: x=0, T0.pc=0, T0.tmp=0, T1.pc=0, T1.tmp=0

      CPU 0  CPU 1
step  T0     T1
----  -----  -----
   1  T0
   2*        T1
   3* T0
   4         T1
"""


def test_cpus_and_no_state():
    m = LostUpdate()
    assert render(m, _path(m, "final_x_is_2"), cpus=True, state=False) == LOST_UPDATE_FOR_MAIL


def test_cells_break_between_phrases():
    class Wordy(LostUpdate):
        def annotate(self, state, action, next_state):
            return ["page_try_dup_anon_rmap: not pinned, share"]

    m = Wordy()
    lines = render(m, _path(m, "final_x_is_2"), width=80).splitlines()
    first = lines.index("   1  T0")
    assert lines[first + 1:first + 3] == ["        page_try_dup_anon_rmap:",
                                          "          not pinned, share"]


class _Drawn(LostUpdate):
    def render_trace(self, path, prop, message):
        return "drawn\n"


class _DrawnWithOptions(LostUpdate):
    def render_trace(self, path, prop, message, *, cpus=False, state=True):
        return f"drawn cpus={cpus} state={state}\n"


def test_own_diagram_passes_the_options_only_to_a_model_that_takes_them():
    from mcheck.errors import UsageError
    from mcheck.render import own_diagram

    p = _path(LostUpdate(), "final_x_is_2")
    assert own_diagram(_Drawn(), p, "final_x_is_2", "") == "drawn\n"
    assert own_diagram(_DrawnWithOptions(), p, "final_x_is_2", "", cpus=True,
                       state=False) == "drawn cpus=True state=False\n"
    assert own_diagram(LostUpdate(), p, "final_x_is_2", "", cpus=True) is None
    with pytest.raises(UsageError) as e:
        own_diagram(_Drawn(), p, "final_x_is_2", "", cpus=True, state=False)
    assert e.value.cause == (
        "model 'lost-update' draws its own diagram, and its render_trace() takes no cpus, "
        "state (for --cpus, --no-state)")
    assert e.value.fix == ("add --lanes for the generic lanes, or give the model's "
                           "render_trace() the keyword arguments cpus and state")


def test_show_cpus_no_state_from_the_command_line(tmp_path, capsys):
    from mcheck.cli import main
    from mcheck.trace import Trace

    m = LostUpdate()
    r = check(m).properties["final_x_is_2"]
    f = tmp_path / "t.json"
    Trace.from_path(m, r.path, r, "examples/toys.py").save(f)
    assert main(["show", str(f), "--cpus", "--no-state"]) == 0
    out = capsys.readouterr().out
    assert out == ("lost-update toy=lost-update: final_x_is_2 VIOLATED: x = 1 at the end\n"
                   + LOST_UPDATE_FOR_MAIL)
