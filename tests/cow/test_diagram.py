"""Race diagrams in the kernel's style: width, ASCII, lanes or listing, the verdict line."""

from __future__ import annotations

from pathlib import Path

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


def _render(scenario, policy, prop, **options):
    from models.cow.diagram import render

    [m] = mcheck_models({"policy": policy, "scenario": scenario})
    mini = minimal_path(m, prop)
    return render(m, mini.path, prop, explain(m, prop, mini.path), **options)


def test_cpus_heads_the_lanes_with_the_threads_under_them():
    lines = _render("S07", "E3", "wrong_cow", cpus=True).splitlines()
    head = lines.index("  CPU 0                                CPU 1")
    assert lines[head + 1:head + 3] == ["  P                                    P.gup",
                                        "  -----                                -----"]
    # without --cpus the thread names head the lanes, as before
    plain = _render("S07", "E3", "wrong_cow").splitlines()
    assert not any("CPU" in x for x in plain)


def test_no_state_drops_the_comment_lines_but_not_the_verdict():
    text = _render("S07", "E3", "wrong_cow", state=False)
    lines = text.splitlines()
    assert [x for x in lines if "//" in x] == [
        "  // wrong COW (oracle wrong_cow): buf (P's pin) reads a, expected b"]
    assert len(lines) == 29 and len(_render("S07", "E3", "wrong_cow").splitlines()) == 43


S07_FOR_MAIL = """\
  S07: GUP-fast R/W pin racing fork: fork sees no pin, then
  write-protects
  policy E3 (5.9-5.10): 13 steps, 1 preemption
  { P alive; C not forked yet; A unmapped; 3 free frames, 1 swap slot }

  CPU 0                                CPU 1
  P                                    P.gup
  -----                                -----
  *A = a
    do_anonymous_page -> f0
    store f0
  fork() -> C
    dup_mmap: mmap_write_lock
    copy_present_pte: share
      (has_pinned == 0)
                                       buf = pin_user_pages_fast(A,
                                         FOLL_WRITE)
                                         gup_fast: local_irq_save
                                         READ_ONCE(pte) = f0 W
                                         pin f0 (speculative)
                                         pte unchanged
                                         gup_fast: done -> buf on f0
    share f0: wrprotect
    dup_mmap: mmap_write_unlock
  *A = b
    do_wp_page(write) copy f0 -> f1
      (page_count 11, mapcount 2)
    store f1

  // wrong COW (oracle wrong_cow): buf (P's pin) reads a, expected b
"""


def test_the_s07_diagram_for_mail_is_exact():
    assert _render("S07", "E3", "wrong_cow", cpus=True, state=False) == S07_FOR_MAIL


def test_a_decision_step_says_why():
    lines = _render("S07", "E3", "wrong_cow").splitlines()
    i = lines.index("    copy_present_pte: share")
    assert lines[i + 1] == "      (has_pinned == 0)"
    i = lines.index("    do_wp_page(write) copy f0 -> f1")
    assert lines[i + 1] == "      (page_count 11, mapcount 2)"
    x24 = _render("X24", "E6", "wrong_cow", state=False).splitlines()
    assert "    page_try_dup_anon_rmap: not pinned, share (has_pinned == 0)" in x24
    assert x24[x24.index("  *A = b") + 1:][:2] == [
        "    do_wp_page(write) copy f0 -> f1 (not PageAnonExclusive,",
        "      page_count 4 before the drain)"]
    cve = _render("CVE-2020-29374", "E1", "missed_cow").splitlines()
    assert cve[cve.index("    copy_present_pte: share") + 1] == \
        "      (no early copy before 5.9)"
    assert cve[cve.index("    do_wp_page(write) reuse f0") + 1] == "      (mapcount 1)"


def test_long_lines_break_between_phrases():
    from models.cow.diagram import wrap

    assert wrap("page_try_dup_anon_rmap: not pinned, share", 35, 4) == [
        "    page_try_dup_anon_rmap:", "      not pinned, share"]
    assert wrap("// f0: allocated, ref 2, map 1, lru 1, data 0", 30, 4) == [
        "    // f0: allocated, ref 2,", "       map 1, lru 1, data 0"]
    assert wrap("x" * 30, 20, 2) == ["  " + "x" * 18, "    " + "x" * 12]


def test_a_derived_policy_is_labelled_as_derived(tmp_path):
    from models.cow.policy import get_policy

    mine = get_policy("E6").replace(name="mine", fork_seqcount=False)
    assert (mine.name, mine.kernels) == ("mine", "E6 with fork_seqcount=False")
    assert mine.summary == "E6 (6.2+) with fork_seqcount=False"
    assert get_policy("E6").replace(fork_seqcount=False).kernels == \
        "E6 with fork_seqcount=False"

    def my_reuse(world, frame):
        return False

    assert get_policy("E4").replace(name="m", wp_reuse=my_reuse,
                                    mprotect_upgrade="mapcount").kernels == \
        "E4 with wp_reuse=my_reuse, mprotect_upgrade=mapcount"
    # a label given explicitly wins, and the named policies keep theirs
    assert get_policy("E6").replace(name="x", kernels="6.9", swp_exclusive=False).kernels == "6.9"
    assert get_policy("E4-no-seqcount").kernels == "broken control"
    f = tmp_path / "mine.py"
    f.write_text('MINE = get_policy("E6").replace(name="mine", fork_seqcount=False)\n')
    [m] = mcheck_models({"policy": f"{f}:MINE", "scenario": "S07"})
    assert m.policy.kernels == "E6 with fork_seqcount=False"


def test_the_svg_marks_the_violating_step_and_hides_ghost_values():
    import xml.etree.ElementTree as ET
    from functools import partial

    from mcheck.svg import render_svg
    from models.cow.diagram import kernel_notes

    [m] = mcheck_models({"policy": "E1", "scenario": "CVE-2020-29374"})
    mini = minimal_path(m, "missed_cow")
    from mcheck.render import steps

    # the generic step lines carry the oracle's ghost values; the model's own notes, which
    # render_svg takes by default, and kernel_notes leave them out
    assert any("L0" in line for st in steps(m, mini.path) for line in st.lines)
    assert "L0" not in render_svg(m, mini.path, title="t")
    svg = render_svg(m, mini.path, title="t", mark="missed_cow violated",
                     notes=partial(kernel_notes, m))
    assert "L0" not in svg and "f0: data a-&gt;b" in svg
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    marked = [r for r in root.iter(f"{ns}rect") if r.get("fill") == "#fdecea"]
    assert len(marked) == 1 and marked[0].get("stroke-width") == "3"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert texts.count("<- missed_cow violated") == 1
    # the mark sits on the last step's row, to the right of its box
    last_box_y = int(marked[0].get("y"))
    label = next(t for t in root.iter(f"{ns}text") if t.text == "<- missed_cow violated")
    assert int(label.get("y")) == last_box_y + 16
    assert "fdecea" not in render_svg(m, mini.path, title="t", mark=None)


ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_switch_table_is_the_named_eras():
    from models.cow.policy import ERAS, SWITCHES

    text = (ROOT / "docs" / "eras.md").read_text()
    table = text.split("## Switches", 1)[1].split("\n\n", 2)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]
    assert rows[0] == ["switch", "E1", "E2", "E3t", "E3", "E4", "E5", "E6"]
    shown = {}
    for row in rows[2:]:
        shown[row[0].strip("`")] = [c.split(" (")[0] for c in row[1:]]
    want = {s: [("yes" if getattr(p, s) else "no") if isinstance(getattr(p, s), bool)
                else getattr(p, s) for p in ERAS]
            for s in SWITCHES if s not in ("fork_needs_has_pinned", "reuse_sets_ae")}
    assert shown == want
    # the two switches left out of the table are on in every era, as the text says
    assert all(p.fork_needs_has_pinned and p.reuse_sets_ae for p in ERAS)


def test_every_docs_citation_names_a_page_that_exists():
    import re

    cited = []
    files = [*ROOT.glob("mcheck/**/*.py"), *ROOT.glob("models/**/*.py"),
             *ROOT.glob("tests/**/*.py"), ROOT / "README.md", *ROOT.glob("docs/*.md")]
    for f in files:
        for m in re.finditer(r"((?:\.\./)*docs/[a-z-]+\.md|\(([a-z-]+\.md)\))", f.read_text()):
            rel = m.group(2) or m.group(1)
            if f.parent.name == "docs" and rel.startswith(".."):
                continue  # docs/README.md shows how code cites: not a link of its own
            base = f.parent if rel.startswith("..") or f.parent.name == "docs" else ROOT
            cited.append((f.relative_to(ROOT).as_posix(), rel, (base / rel).is_file()))
    assert {(f, rel) for f, rel, ok in cited if not ok} == set()
    pages = {rel.rsplit("/", 1)[-1] for _f, rel, _ok in cited}
    assert {"abstract-vm.md", "oracle.md", "eras.md", "scenarios.md",
            "race-diagrams.md"} <= pages
