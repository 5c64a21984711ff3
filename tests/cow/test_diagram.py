"""Race diagrams in the kernel's style: width, ASCII, lanes or listing, the verdict line."""

from __future__ import annotations

import pytest

from mcheck.minimize import explain, minimal_path
from models.cow import mcheck_models
from models.cow.catalogue import CATALOGUE
from models.cow.scenario import ERA_ORDER

FAILING = [(s.name, era, "missed_cow" if s.expect[era] == "M" else "wrong_cow")
           for s in CATALOGUE for era in ERA_ORDER if s.expect.get(era) in ("M", "W")]
WITNESSES = [(s.name, era, "unnecessary_cow") for s in CATALOGUE for era in ERA_ORDER
             if s.expect.get(era) == "U"]


def _diagram(scenario, policy, prop):
    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    mini = minimal_path(m, prop)
    return m, mini, m.render_trace(mini.path, prop, explain(m, prop, mini.path))


@pytest.mark.parametrize(("scenario", "policy", "prop"), FAILING + WITNESSES)
def test_every_diagram_keeps_the_kernel_rules(scenario, policy, prop):
    _m, mini, text = _diagram(scenario, policy, prop)
    lines = text.splitlines()
    assert text.isascii() and "\t" not in text
    assert max(len(x) for x in lines) <= 75
    cls = {"missed_cow": "missed COW", "wrong_cow": "wrong COW",
           "unnecessary_cow": "unnecessary COW"}[prop]
    kind = "metric" if prop == "unnecessary_cow" else "oracle"
    last = next(x for x in reversed(lines) if not x.startswith("  //   "))
    assert last.startswith(f"  // {cls} ({kind} {prop})")
    assert f"{len(mini.path)} steps, {mini.preemptions} preemption" in text


def test_two_lanes_s07():
    _m, _mini, text = _diagram("S07", "E3", "wrong_cow")
    lines = text.splitlines()
    head = lines.index("  P                                    P.gup")
    assert lines[head + 1] == "  -                                    -----"
    pin = next(i for i, x in enumerate(lines) if "pin_user_pages_fast" in x)
    assert lines[pin].index("buf =") == 39  # the second lane
    assert "  fork() -> C" in lines and "    copy_present_pte: share" in lines
    assert "      // f0: ref 10->11, map 1->2" in lines
    # the fork's write-protect comes after the pin landed: that is the race
    assert lines.index("    share f0: wrprotect") > pin
    assert lines[-1] == "  // wrong COW (oracle wrong_cow): buf (P's pin) reads a, expected b"


def test_three_lanes_that_do_not_fit_become_an_rmap_style_listing():
    _m, _mini, text = _diagram("S12a", "E3", "wrong_cow")
    lines = text.splitlines()
    assert "  P:" in lines and "  reclaim:" in lines and "  lru:" in lines
    assert "   (R1) MADV_PAGEOUT(P:A)" in lines
    assert "  interleaving: P1 P2 P3 P4 L1 R1 R2 R3 R4 R5 P5 P6 P7 P8" in lines


def test_ghost_values_are_not_kernel_state():
    _m, _mini, text = _diagram("CVE-2020-29374", "E1", "missed_cow")
    assert "L0" not in text
    assert "do_wp_page(write) reuse f0" in text
