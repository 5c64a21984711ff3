"""Every failing cell has a shortest trace that survives JSON and replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcheck import Verdict, check
from mcheck.trace import Trace, TraceError, changes, load, read, replay
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE
from models.cow.scenario import ERA_ORDER

FAILING = [(s.name, era) for s in CATALOGUE for era in ERA_ORDER
           if s.expect.get(era) in ("M", "W")]


@pytest.mark.parametrize(("scenario", "policy"), FAILING)
def test_failing_cell_trace_replays(tmp_path, scenario: str, policy: str) -> None:
    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    r = check(m)
    [v] = r.violations
    trace = Trace.from_path(m, v.path, v, "models/cow")
    f = tmp_path / "t.json"
    trace.save(f)
    again = load(f)
    [m2] = mcheck_models(dict(again.params))
    rr = replay(m2, again)
    assert rr.reproduced, rr.message
    assert len(rr.path) == len(v.path)


def test_user_scenario_file(tmp_path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(
        'MINE = scenario("mine", "pin, fork, write", [\n'
        '    write("P", 0, "a"), pin("P", 0, "buf"), fork("P", "C"), write("P", 0, "b"),\n'
        '    dma_read("P", "buf"),\n'
        '], procs=("P", "C"))\n')
    verdicts = {}
    for era in ("E3t", "E3"):
        [m] = mcheck_models({"policy": era, "scenario": f"{f}:MINE"})
        verdicts[era] = check(m).properties["wrong_cow"].verdict
    assert verdicts == {"E3t": Verdict.VIOLATED, "E3": Verdict.HOLDS}


def test_user_policy_file_and_its_errors(tmp_path) -> None:
    f = tmp_path / "pol.py"
    f.write_text('MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="mapcount")\n')
    [m] = mcheck_models({"policy": f"{f}:MINE", "scenario": "A4"})
    assert check(m, properties=["missed_cow"]).properties["missed_cow"].verdict is \
        Verdict.VIOLATED
    g = tmp_path / "bad.py"
    g.write_text('BAD = get_policy("E6").replace(no_such_switch=1)\n')
    with pytest.raises(ValueError, match="unknown policy switch 'no_such_switch'"):
        mcheck_models({"policy": f"{g}:BAD"})
    with pytest.raises(ValueError, match="unknown policy 'E9'"):
        mcheck_models({"policy": "E9"})
    with pytest.raises(ValueError, match="unknown scenario"):
        mcheck_models({"scenario": "S99"})


def test_version_aliases() -> None:
    names = {}
    for v in ("5.7", "v5.8", "5.9-rc5", "5.10", "5.15", "5.18", "5.19", "6.0", "6.6"):
        [m] = mcheck_models({"policy": v, "scenario": "S01"})
        names[v] = m.policy.name
    assert names == {"5.7": "E1", "v5.8": "E2", "5.9-rc5": "E3t", "5.10": "E3", "5.15": "E4",
                     "5.18": "E5", "5.19": "E6-5.19", "6.0": "E6-6.0", "6.6": "E6"}


def test_trace_json_is_small_and_versioned() -> None:
    [m] = mcheck_models({"policy": "E1", "scenario": "S03"})
    [v] = check(m).violations
    doc = json.loads(Trace.from_path(m, v.path, v, "models/cow").to_json())
    assert doc["format"] == "mcheck-trace" and doc["params"] == {"policy": "E1",
                                                                 "scenario": "S03"}
    assert doc["actions"][-1] == ["P", "write b: store f0", []]


#: traces/E5-S09-wrong_cow.json as written before traces recorded their files (format 1)
OLD_V1 = """\
{
  "format": "mcheck-trace",
  "version": 1,
  "mcheck": "0.1.0",
  "model": "cow",
  "model_path": "models/cow",
  "fingerprint": "236741c615a6aab9e87d53d4a745dce4",
  "params": {"policy": "E5", "scenario": "S09"},
  "property": "wrong_cow",
  "kind": "invariant",
  "message": "buf (P's pin) reads a, expected b",
  "actions": [
    ["P", "do_anonymous_page -> f0", [0]],
    ["P", "write a: store f0", []],
    ["P", "fork: dup_mmap: mmap_write_lock, raw_write_seqcount_begin", []],
    ["P", "fork: copy_present_pte: share", []],
    ["P", "fork: share f0: wrprotect", []],
    ["P", "fork: dup_mmap: raw_write_seqcount_end, mmap_write_unlock", []],
    ["P", "pin_user_pages: mmap_read_lock", []],
    ["P", "pin_user_pages: follow_page_pte f0 -> buf, mmap_read_unlock", []],
    ["P", "do_wp_page(write) copy f0 -> f1", [1]],
    ["P", "write b: store f1", []]
  ],
  "states": [
    "ee023dad3af20ed9c5db075c7b8a2670",
    "42f1df46ef838bc783f015f55caac94e",
    "471e23cafb94425cef3f2372844d0b7d",
    "bdde82ae519271f1624ad560c397f507",
    "015eaa8b26cde87f12a95963a39232ab",
    "4e54e68351978693d0d23c7a4409c576",
    "56705c566515e6b928e179215baebace",
    "8864add6a2f9f1eaf9bc3c1aecbb3ca4",
    "ce7f61b76b0d2632a25cf4565d7707de",
    "8df1bb1ebd2abc7ba4576ef8989031bf",
    "869f936bee3220a3671e5d1a6544c747"
  ]
}
"""


def test_a_version_1_trace_still_loads_and_replays(tmp_path) -> None:
    f = tmp_path / "old.json"
    f.write_text(OLD_V1)
    t = load(f)
    assert (t.version, t.sources, t.model_files) == (1, (), ())
    [m] = mcheck_models(dict(t.params))
    res = replay(m, t)
    assert res.reproduced and len(res.path) == 10
    assert res.message == "buf (P's pin) reads a, expected b"
    assert t.to_json() == OLD_V1  # written back as it was: still version 1


MINE = 'MINE = get_policy("E6").replace(name="mine", fork_seqcount=False)\n'


def _user_trace(tmp_path):
    """The trace of S07 under a user's E6 without the seqcount, its policy in pol/mine.py."""
    d = tmp_path / "pol"
    d.mkdir()
    pol = d / "mine.py"
    pol.write_text(MINE)
    [m] = mcheck_models({"policy": f"{pol}:MINE", "scenario": "S07"})
    v = check(m).properties["model_error"]
    f = tmp_path / "t.json"
    Trace.from_path(m, v.path, v, "models/cow").save(f)
    return pol, f


def test_a_trace_records_the_user_policy_file(tmp_path) -> None:
    pol, f = _user_trace(tmp_path)
    doc = json.loads(f.read_text())
    assert doc["version"] == 2
    assert doc["sources"] == [{"param": "policy", "file": str(pol),
                               "digest": doc["sources"][0]["digest"], "text": MINE}]
    names = [name for name, _d in doc["model_files"]]
    assert names == sorted(names) and {"__init__.py", "mm/memory.py", "policy.py"} <= set(names)
    assert all(len(d) == 32 for _n, d in doc["model_files"])


def test_a_trace_replays_after_its_policy_file_moved(tmp_path) -> None:
    pol, f = _user_trace(tmp_path)
    pol.rename(tmp_path / "elsewhere.py")
    t = load(f)
    assert t.recorded_params == {"policy": f"{pol}:MINE", "scenario": "S07"}
    [(param, used, why)] = t.used
    assert (param, why) == ("policy", "recorded text")
    assert t.params["policy"] == f"{used}:MINE" and open(used).read() == MINE
    [m] = mcheck_models(dict(t.params))
    res = replay(m, t)
    assert res.reproduced and len(res.path) == 10
    assert m.policy.kernels == "E6 with fork_seqcount=False"
    assert json.loads(t.to_json())["params"]["policy"] == f"{pol}:MINE"  # as recorded


def test_the_recorded_policy_wins_over_an_edited_file_unless_one_is_given(tmp_path) -> None:
    pol, f = _user_trace(tmp_path)
    pol.write_text(MINE.replace("False", "True"))
    t = load(f)
    assert [why for _p, _f, why in t.used] == ["recorded text"]
    [m] = mcheck_models(dict(t.params))
    assert replay(m, t).reproduced
    given = load(f, source=str(pol))  # replay --policy pol/mine.py
    assert given.used == (("policy", str(pol), "given"),)
    [m2] = mcheck_models(dict(given.params))
    with pytest.raises(TraceError) as e:
        replay(m2, given)
    assert e.value.cause.endswith(
        "): policy file mine.py differs from the recorded one at line 1: "
        "fork_seqcount=False -> fork_seqcount=True")
    assert changes(given) == ["policy file mine.py differs from the recorded one at line 1: "
                              "fork_seqcount=False -> fork_seqcount=True"]


def test_a_changed_model_file_is_named(tmp_path) -> None:
    import shutil

    root = Path(__file__).resolve().parents[2] / "models" / "cow"
    copy = tmp_path / "cow"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    [m] = mcheck_models({"policy": "E3", "scenario": "S07"})
    v = check(m).properties["wrong_cow"]
    t = Trace.from_path(m, v.path, v, str(copy))
    assert changes(t) == []
    (copy / "mm" / "gup.py").write_text((copy / "mm" / "gup.py").read_text() + "\n# edited\n")
    (copy / "new.py").write_text("")
    (copy / "conform.py").unlink()
    assert changes(t) == ["model file changed: mm/gup.py", "model file new: new.py",
                          "model file gone: conform.py"]


def test_a_replacement_file_must_exist_and_match_a_recorded_one(tmp_path) -> None:
    _pol, f = _user_trace(tmp_path)
    with pytest.raises(TraceError, match="no file at 'nope.py'"):
        load(f, source="nope.py")
    other = tmp_path / "other.py"
    other.write_text(MINE)
    assert load(f, source=str(other)).used == (("policy", str(other), "given"),)
    [s] = read(f).sources
    assert s.param == "policy"


def test_replay_and_show_from_the_command_line_after_the_policy_moved(tmp_path, capsys) -> None:
    from mcheck.cli import main

    pol, f = _user_trace(tmp_path)
    pol.unlink()
    [(_p, used, _why)] = load(f).used
    assert main(["replay", str(f), "--model", str(Path(__file__).resolve().parents[2] /
                                                  "models" / "cow")]) == 0
    # the label names the file the trace recorded, not the copy it was read from (``used``)
    assert used != str(pol)
    assert capsys.readouterr().out == (
        f"cow policy={pol}:MINE scenario=S07: model_error VIOLATED again after 10 steps: "
        "buf: pinned f0 is mapped but not PageAnonExclusive\n")
    assert main(["show", str(f), "--lanes", "--no-state", "--cpus"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"cow policy={pol}:MINE"  # the title, wrapped between phrases
    assert out[1].startswith("  scenario=S07: model_error VIOLATED")
    head = out.index("      CPU 0" + " " * 43 + "CPU 1")
    assert out[head + 1:head + 5] == ["step  P" + " " * 47 + "P.gup",
                                      "----  " + "-" * 46 + "  " + "-" * 46,
                                      "   1  do_anonymous_page -> f0", "   2  write a: store f0"]


def test_replay_policy_replaces_the_recorded_policy_file(tmp_path, capsys) -> None:
    from mcheck.cli import main

    pol, f = _user_trace(tmp_path)
    cow = str(Path(__file__).resolve().parents[2] / "models" / "cow")
    fixed = tmp_path / "mine.py"
    fixed.write_text(MINE.replace("fork_seqcount=False", "fork_seqcount=True"))
    assert main(["replay", str(f), "--model", cow, "--policy", str(fixed)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fork_seqcount=False -> fork_seqcount=True" in err, err
    same = tmp_path / "again" / "mine.py"
    same.parent.mkdir()
    same.write_text(MINE)
    assert main(["replay", str(f), "--model", cow, "--policy", str(same)]) == 0
    assert "model_error VIOLATED again after 10 steps" in capsys.readouterr().out
    assert main(["replay", str(f), "--policy", str(tmp_path / "nosuch.py")]) == 2
    assert "no file at" in capsys.readouterr().err
