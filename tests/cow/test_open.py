"""Open search rediscovers the known bugs without scripts and exhausts E6.

State counts are pinned: a change is a semantic change of the model and must be
explained in its commit.
"""

from __future__ import annotations

import json

import pytest

from mcheck import Verdict, check
from models.cow import mcheck_models

# (name, options, policy that has the bug, property, pinned states to the first
#  violation under that policy, pinned states of E6's exhaustive run)
REDISCOVERY = [
    ("CVE-2020-29374 shape", {"budget": "fork=1,get=1,unmap=1,write=2",
                              "gup_modes": "ro-slow,ro-fast"},
     "E1", "missed_cow", 2919, 5215),
    ("RDMA fork", {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-slow"},
     "E3t", "wrong_cow", 830, 1229),
    ("fork vs GUP-fast", {"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-fast",
                          "threads": 2},
     "E3", "wrong_cow", 20561, 20162),
    ("pin racing reclaim", {"budget": "pin=1,swapout=1,write=2,read=1",
                            "gup_modes": "rw-slow,rw-fast"},
     "E4", "wrong_cow", 1181, 1081),
]


def _model(policy: str, opts: dict):
    [m] = mcheck_models({"policy": policy, **opts})
    return m


@pytest.mark.parametrize(("name", "opts", "era", "prop", "found_at", "e6_states"),
                         REDISCOVERY, ids=[r[0] for r in REDISCOVERY])
def test_rediscovery(name, opts, era, prop, found_at, e6_states) -> None:
    r = check(_model(era, opts), properties=[prop])
    assert r.properties[prop].verdict is Verdict.VIOLATED
    assert r.states == found_at
    e6 = check(_model("E6", opts))
    assert e6.verdict is Verdict.HOLDS
    assert e6.states == e6_states
    assert e6.properties["unnecessary_cow"].count == 0


def test_unnecessary_cow_found_under_e3_not_e5() -> None:
    opts = {"budget": "write=2,mprotect=2"}
    e3 = check(_model("E3", opts)).properties["unnecessary_cow"]
    assert (e3.count, len(e3.path)) == (6, 5)
    for era in ("E5", "E6"):
        assert check(_model(era, opts)).properties["unnecessary_cow"].count == 0


def test_the_race_trace_has_the_race() -> None:
    r = check(_model("E3", REDISCOVERY[2][1]), properties=["wrong_cow"])
    labels = [a[1] for a in r.properties["wrong_cow"].path.actions]
    decide = labels.index("fork: copy_present_pte: share")
    grab = next(i for i, x in enumerate(labels) if "(speculative)" in x)
    apply = labels.index("fork: share f0: wrprotect") if "fork: share f0: wrprotect" in \
        labels else next(i for i, x in enumerate(labels) if x.startswith("fork: share"))
    assert decide < grab < apply


def test_e6_rw_get_across_fork_is_the_known_o_direct_limit() -> None:
    # FOLL_GET (O_DIRECT) is not a pin: fork shares the page, the parent's write copies.
    r = check(_model("E6", {"budget": "fork=1,get=1,write=2", "gup_modes": "rw-slow"}),
              properties=["wrong_cow"])
    assert r.properties["wrong_cow"].verdict is Verdict.VIOLATED


def test_budget_errors() -> None:
    with pytest.raises(ValueError, match="unknown budget kind 'forks'"):
        _model("E6", {"budget": "forks=1"})
    with pytest.raises(ValueError, match="write KIND=N"):
        _model("E6", {"budget": "fork"})
    with pytest.raises(ValueError, match="unknown GUP mode"):
        _model("E6", {"budget": "pin=1", "gup_modes": "rw"})
    with pytest.raises(ValueError, match="exclude each other"):
        _model("E6", {"budget": "pin=1", "scenario": "S01"})


@pytest.mark.parametrize("era", ["E1", "E2", "E3t", "E3", "E4", "E5", "E6"])
@pytest.mark.parametrize("kind", ["pin", "get"])
def test_gup_fast_racing_munmap_is_no_cow(era, kind) -> None:
    # GUP-fast grabs the page and rechecks the PTE, munmap zaps it, then the call returns:
    # the reference holds the page's last data (issue 10 item 4; catalogue rows X22, X22g).
    r = check(_model(era, {"budget": f"{kind}=1,unmap=1,write=1", "threads": 2}))
    assert r.verdict is Verdict.HOLDS
    assert (r.states, r.transitions) == (1411, 3101)


@pytest.mark.parametrize(("kind", "states"), [("pin", 17590), ("get", 9727)])
def test_gup_fast_racing_exit_is_no_cow(kind, states) -> None:
    # The same race with the child's exit (catalogue rows X23, X23g).  Gets are R/O here:
    # a R/W get across fork is the documented O_DIRECT limit (row X24).
    r = check(_model("E6", {"budget": f"fork=1,{kind}=1,exit=1,write=1", "threads": 2,
                            "gup_modes": "rw-fast,ro-fast" if kind == "pin" else "ro-fast"}))
    assert r.verdict is Verdict.HOLDS
    assert r.states == states


def _gups(m) -> list[tuple]:
    return [t[2:] for t in m.templates(0) if t[0] == 3]  # (pin, rw, fast)


def test_pins_and_gets_take_their_own_gup_modes() -> None:
    from models.cow.open import OpenCowModel
    from models.cow.policy import get_policy

    budget = {"fork": 1, "pin": 1, "get": 1, "write": 2}
    both = OpenCowModel(get_policy("E6"), budget, gup_modes="rw-slow")
    assert _gups(both) == [(1, 1, 0), (0, 1, 0)]
    split = OpenCowModel(get_policy("E6"), budget, pin_modes="rw-slow,rw-fast",
                         get_modes="ro-fast")
    assert _gups(split) == [(1, 1, 0), (1, 1, 1), (0, 0, 1)]
    assert (split.params()["pin_modes"], split.params()["get_modes"]) == \
        ("rw-slow,rw-fast", "ro-fast")
    assert "gup_modes" not in split.params() and split.fingerprint() != both.fingerprint()
    # R/W gets across fork are the O_DIRECT limit open(2) documents (row X24); with gets
    # R/O the same budget holds.
    r = check(both, stop_at_first=False)
    assert r.properties["wrong_cow"].verdict is Verdict.VIOLATED
    assert r.properties["wrong_cow"].message == "h0 (P's get) reads t1, expected t2"
    ro = OpenCowModel(get_policy("E6"), budget, gup_modes="rw-slow", get_modes="ro-slow")
    assert _gups(ro) == [(1, 1, 0), (0, 0, 0)]
    r = check(ro)
    assert (r.verdict, r.states) == (Verdict.HOLDS, 6881)


def test_mode_errors_name_the_flag() -> None:
    from models.cow.open import OpenCowModel
    from models.cow.policy import get_policy

    with pytest.raises(ValueError, match="unknown GUP mode 'rw' in --get-modes"):
        OpenCowModel(get_policy("E6"), {"get": 1}, get_modes="rw")
    with pytest.raises(ValueError, match="unknown GUP mode 'x' in --pin-modes"):
        OpenCowModel(get_policy("E6"), {"pin": 1}, pin_modes="ro-fast,x")


def test_the_command_line_passes_pin_and_get_modes(capsys) -> None:
    from mcheck.cli import main

    args = ["explore", "models/cow", "--policy", "E6", "--budget", "fork=1,get=1,write=2",
            "--gup-modes", "rw-slow", "-q", "--json"]
    assert main(args) == 1  # R/W gets across fork: X24
    capsys.readouterr()
    assert main([*args, "--get-modes", "ro-slow"]) == 0
    doc = json.loads(capsys.readouterr().out)
    [model] = doc["models"]
    assert model["params"]["get_modes"] == "ro-slow"
