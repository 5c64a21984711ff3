"""Traces: JSON round trip, validation, replay and its refusals."""

from __future__ import annotations

import json

import pytest

from examples.toys import Ladder, LostUpdate, Philosophers
from mcheck import check
from mcheck.errors import UsageError
from mcheck.fingerprint import digest
from mcheck.trace import FORMAT, VERSION, Trace, TraceError, load, replay


def _trace(model, prop, **kw):
    r = check(model, **kw)
    p = r.properties[prop]
    return Trace.from_path(model, p.path, p, "examples/toys.py")


def test_trace_fields():
    t = _trace(LostUpdate(), "final_x_is_2")
    assert (t.format, t.version) == (FORMAT, VERSION)
    assert t.model == "lost-update" and t.model_path == "examples/toys.py"
    assert t.params == {"toy": "lost-update"}
    assert (t.property, t.kind, t.message) == ("final_x_is_2", "invariant", "x = 1 at the end")
    assert t.actions == ((0,), (1,), (0,), (1,))
    assert len(t.states) == 5 and t.states[0] == digest((0, 0, 0, 0, 0))
    assert t.fingerprint == LostUpdate().fingerprint()


def test_json_round_trip(tmp_path):
    t = _trace(Philosophers(3), "deadlock", deadlock=True)
    assert t.kind == "deadlock"
    f = tmp_path / "t.json"
    t.save(f)
    back = load(f)
    assert back == t
    assert back.to_json() == t.to_json()
    assert json.loads(f.read_text())["actions"][0] == ["ph", 0, "left"]
    assert isinstance(back.actions[0], tuple)


@pytest.mark.parametrize("model, prop, kw", [
    (LostUpdate(), "final_x_is_2", {}),
    (LostUpdate(), "stores", {"stop_at_first": False}),
    (Philosophers(3), "deadlock", {"deadlock": True}),
    (Ladder(4), "quiet_at_the_top", {}),
])
def test_replay_reproduces(model, prop, kw):
    t = _trace(model, prop, **kw)
    res = replay(model, t)
    assert res.reproduced
    assert len(res.path) == len(t)
    assert [digest(s) for s in res.path.states] == list(t.states)


def test_replay_of_a_transition_property():
    class Decreasing(LostUpdate):
        name = "decreasing"

        def properties(self):
            from mcheck import transition
            return [transition("x_never_increases", lambda s, a, t: t[0] <= s[0])]

    m = Decreasing()
    t = _trace(m, "x_never_increases")
    assert t.kind == "transition"
    assert replay(m, t).reproduced


def test_replay_refuses_another_fingerprint():
    t = _trace(Ladder(4), "quiet_at_the_top")
    with pytest.raises(TraceError, match=r"model changed since the trace was written "
                                         r"\(fingerprint [0-9a-f]+, now [0-9a-f]+\)"):
        replay(Ladder(5), t)


def test_replay_refuses_an_action_that_is_not_enabled():
    t = _trace(LostUpdate(), "final_x_is_2")
    bad = Trace(**{**t.__dict__, "actions": ((0,), (1,), (5,), (1,))})
    with pytest.raises(TraceError, match=r"step 3: action \[5\] is not enabled "
                                         r"\(enabled: \[0\], \[1\]\)"):
        replay(LostUpdate(), bad)


def test_replay_names_the_step_of_a_stale_state():
    t = _trace(LostUpdate(), "final_x_is_2")
    states = list(t.states)
    states[2] = "0" * 32
    bad = Trace(**{**t.__dict__, "states": tuple(states)})
    with pytest.raises(TraceError, match=r"step 2 \(T1\): the state differs"):
        replay(LostUpdate(), bad)


def test_replay_that_no_longer_fails_is_not_reproduced():
    class Fixed(LostUpdate):
        def properties(self):
            from mcheck import invariant
            return [invariant("final_x_is_2", lambda s: True)] + list(super().properties())[1:]

    t = _trace(LostUpdate(), "final_x_is_2")
    res = replay(Fixed(), t)  # same names and kinds: same fingerprint
    assert not res.reproduced and "holds" in res.message


def _write(tmp_path, data):
    f = tmp_path / "t.json"
    f.write_text(data if isinstance(data, str) else json.dumps(data))
    return f


def test_load_refuses_corrupt_json(tmp_path):
    with pytest.raises(TraceError, match="is not valid JSON") as e:
        load(_write(tmp_path, "{not json"))
    assert "\n" not in str(e.value) and str(e.value).startswith("mcheck: ")
    assert isinstance(e.value, UsageError)


@pytest.mark.parametrize("field", ["model", "model_path", "fingerprint", "params", "property",
                                   "kind", "message", "actions", "states", "mcheck",
                                   "sources", "model_files"])
def test_load_refuses_a_missing_field(tmp_path, field):
    d = _trace(LostUpdate(), "final_x_is_2").to_dict()
    del d[field]
    with pytest.raises(TraceError, match=f"has no field '{field}'"):
        load(_write(tmp_path, d))


@pytest.mark.parametrize("field, value, match", [
    ("version", 3, "format version 3; this mcheck reads versions 1, 2"),
    ("version", True, "format version True"),
    ("sources", [{"param": "toy"}], "source 1 must be an object with the strings param, "
                                    "file, digest and text"),
    ("sources", [{"param": "nope", "file": "f.py", "digest": "0", "text": None}],
     "source 1 is for parameter 'nope', which the trace does not have"),
    ("model_files", [["a.py"]], r"model file 1 must be a list of two strings \(file, digest\)"),
    ("format", "other", "is not an mcheck trace"),
    ("kind", "sometimes", "field 'kind'"),
    ("actions", "[0]", "field 'actions' must be a list"),
    ("actions", [[0], {"a": 1}, [0], [1]], "action 2"),
    ("states", ["a", "b"], "4 actions but 2 state digests"),
    ("params", [], "field 'params' must be an object"),
])
def test_load_validates_fields(tmp_path, field, value, match):
    d = _trace(LostUpdate(), "final_x_is_2").to_dict()
    d[field] = value
    with pytest.raises(TraceError, match=match):
        load(_write(tmp_path, d))


def test_load_refuses_a_missing_file(tmp_path):
    with pytest.raises(TraceError, match="no trace file at"):
        load(tmp_path / "nope.json")


def test_trace_json_is_deterministic():
    a = _trace(LostUpdate(), "final_x_is_2").to_json()
    b = _trace(LostUpdate(), "final_x_is_2").to_json()
    assert a == b and a.isascii()


def test_a_version_2_trace_records_the_model_files_and_no_source_for_plain_params():
    import hashlib
    from pathlib import Path

    toys = Path(__file__).resolve().parents[1] / "examples" / "toys.py"
    m = LostUpdate()
    p = check(m).properties["final_x_is_2"]
    t = Trace.from_path(m, p.path, p, str(toys))
    want = hashlib.blake2b(toys.read_bytes(), digest_size=16).hexdigest()
    assert (t.version, t.sources, t.model_files) == (2, (), (("toys.py", want),))
    assert t.with_files() == t and t.recorded_params is None


def test_a_version_1_trace_loads_without_sources(tmp_path):
    d = _trace(LostUpdate(), "final_x_is_2").to_dict()
    d["version"] = 1
    del d["sources"], d["model_files"]
    t = load(_write(tmp_path, d))
    assert (t.version, t.sources, t.model_files) == (1, (), ())
    assert replay(LostUpdate(), t).reproduced
    assert json.loads(t.to_json()) == d


def test_a_file_parameter_is_recorded_and_its_changes_named(tmp_path):
    """A model whose parameter names a file: the engine records it, whatever the model."""
    from mcheck.trace import changes

    src = tmp_path / "rules.py"
    src.write_text("A = 1\nB = [1, 2]\n")

    class Filed(LostUpdate):
        def params(self):
            return {"toy": "lost-update", "rules": f"{src}:A"}

    m = Filed()
    p = check(m).properties["final_x_is_2"]
    t = Trace.from_path(m, p.path, p, str(tmp_path / "nowhere"))
    [s] = t.sources
    assert (s.param, s.file, s.text) == ("rules", str(src), "A = 1\nB = [1, 2]\n")
    assert t.model_files == ()  # no model module at that path
    src.write_text("A = 1\nB = [1, 3]\nC = 0\n")
    assert changes(t) == ["rules file rules.py differs from the recorded one at "
                          "line 2: 2 -> 3"]
    src.unlink()
    assert changes(t) == [f"rules file {src} is not there"]
    back = t.with_files()
    assert changes(back) == [] and back.params["rules"].endswith("/rules.py:A")
