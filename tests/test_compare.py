"""Matrices, baselines, regressions and distinguishing traces on a toy family (no kernel)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from examples.counters import Counter, mcheck_matrix
from mcheck.compare import (
    compare,
    distinguish,
    format_changes,
    format_junit,
    format_markdown,
    format_table,
    load_baseline,
    run_matrix,
    to_json,
)
from mcheck.errors import UsageError
from mcheck.explore import Bounds
from mcheck.render import count_preemptions
from mcheck.svg import render_svg
from tests.test_cli import assert_usage_error, run

COUNTERS = "examples/counters.py"

TABLE = """\
threads \\ variant  atomic  racy
-----------------  ------  -----
n1                 H=  2   H=  3
n2                 H=  4   F= 12
n3                 H=  8   F= 70
"""


def _run(**options):
    return run_matrix(mcheck_matrix(options), keep=True)


def test_table_is_exact_and_cells_carry_counts():
    mr = _run()
    assert format_table(mr).startswith(TABLE)
    c = mr.cells[("racy", "n2")]
    assert (c.letter, c.verdict, c.rank, c.failure, c.matches) == ("F", "lost update", 1,
                                                                    True, True)
    assert (c.states, c.transitions, c.counts) == (12, 12, {"stores": 6})
    assert c.message == "x = 1 at the end"


def test_markdown_and_junit():
    mr = _run(threads="2")
    md = format_markdown(mr)
    assert md.splitlines()[:4] == ["| variant \\ threads | n2 |", "|---|:---:|",
                                   "| atomic | `H=  4` |", "| racy | `F= 12` |"]
    root = ET.fromstring(format_junit(mr))
    assert root.attrib == {"name": "counters", "tests": "2", "failures": "0", "errors": "0",
                           "skipped": "1"}
    cases = {(c.attrib["classname"], c.attrib["name"]): [x.tag for x in c]
             for c in root.iter("testcase")}
    assert cases == {("counters.atomic", "n2"): [], ("counters.racy", "n2"): ["skipped"]}
    lossy = run_matrix(mcheck_matrix({"threads": "2", "lossy": True}))
    root = ET.fromstring(format_junit(lossy))
    assert root.attrib["failures"] == "1"
    [fail] = root.iter("failure")
    assert fail.attrib["message"] == "lost update (expected H)"


def test_json_round_trip_and_determinism(tmp_path):
    text = to_json(_run(), COUNTERS)
    assert text == to_json(_run(), COUNTERS)
    doc = json.loads(text)
    assert doc["format"] == "mcheck-matrix" and doc["version"] == 1
    assert [(c["row"], c["column"]) for c in doc["cells"]][:2] == [("atomic", "n1"),
                                                                   ("atomic", "n2")]
    f = tmp_path / "b.json"
    f.write_text(text)
    cells = load_baseline(f)
    assert cells[("racy", "n3")].states == 70
    assert compare(_run(), cells) == []


def test_regressions_fail_and_state_growth_is_only_reported(tmp_path):
    base = {k: c for k, c in _run().cells.items()}
    lossy = _run(lossy=True)
    changes = {(c.row, c.column): c for c in compare(lossy, base)}
    assert changes[("atomic", "n2")].kind == "regression"
    assert changes[("atomic", "n2")].what == ("held -> lost update",)
    assert changes[("atomic", "n1")].kind == "model"  # --lossy is in the fingerprint
    assert changes[("atomic", "n1")].what == (
        "the model changed (fingerprint), the outcome did not",)
    # a grown count is a regression on its own; a grown state count is not
    import dataclasses

    fewer = {k: dataclasses.replace(c, counts={"stores": c.counts["stores"] - 1},
                                    states=c.states - 1) for k, c in base.items()}
    ch = {(c.row, c.column): c for c in compare(_run(), fewer)}
    assert ch[("atomic", "n1")].kind == "regression"
    assert ch[("atomic", "n1")].what == ("stores 0 -> 1", "states 1 -> 2 (grew)")
    smaller = {k: dataclasses.replace(c, states=c.states - 1) for k, c in base.items()}
    ch = compare(_run(), smaller)
    assert {c.kind for c in ch} == {"states"}
    text = format_changes(ch, 6, 0)
    assert text.splitlines()[0] == "STATES        atomic / n1: states 1 -> 2 (grew)"
    assert text.splitlines()[-1] == "baseline: 6 cells compared: 4 states"


def test_undetermined_cells():
    mr = run_matrix(mcheck_matrix({"threads": "3"}), bounds=Bounds(max_states=5))
    assert {c.letter for c in mr.cells.values()} == {"?"}
    ch = compare(mr, _run().cells)
    assert {c.kind for c in ch} == {"undetermined"}


def test_distinguishing_trace_replays_on_both_rows():
    mr = _run(threads="2,3")
    [d2, d3] = distinguish(mr, "atomic", "racy")
    assert (d2.column, d2.prop, d2.violating, d2.holding) == ("n2", "all_counted", "racy",
                                                             "atomic")
    assert d2.preemptions == 1 and d2.first_difference == 3
    for d in (d2, d3):
        for row, run_ in (("atomic", d.left), ("racy", d.right)):
            m = Counter(row, int(d.column[1:]))
            p = run_.path
            assert p.states[0] == m.initial_states()[0]
            for i, a in enumerate(p.actions):
                assert a in m.actions(p.states[i])
                assert m.step(p.states[i], a) == p.states[i + 1]
        # the racy column is its minimal trace: shortest, fewest preemptions
        assert count_preemptions(Counter("racy", int(d.column[1:])), d.right.path) == \
            d.preemptions


def test_svg_is_well_formed_and_deterministic():
    m = Counter("racy", 2)
    mr = _run(threads="2")
    [d] = distinguish(mr, "atomic", "racy")
    svg = render_svg(m, d.right.path, title="counter: all_counted VIOLATED", footer="x = 1")
    assert svg == render_svg(m, d.right.path, title="counter: all_counted VIOLATED",
                             footer="x = 1")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "T0" in texts and "T1" in texts and "x = 1" in texts
    assert texts.count("T1 step") == 2 and "2*" in texts  # the preempting step is marked
    assert svg.isascii()


# -- the command line --------------------------------------------------------------------


def test_compare_cli_baseline_cycle(tmp_path):
    base = tmp_path / "base.json"
    p = run("compare", COUNTERS, "--baseline", base, "--update-baseline", "-q")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(TABLE) and f"wrote the baseline {base} (6 cells)" in p.stdout
    p = run("compare", COUNTERS, "--baseline", base, "-q")
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("baseline: 6 cells compared: no change\n")
    p = run("compare", COUNTERS, "--baseline", base, "--lossy", "-q")
    assert p.returncode == 1
    lines = [x for x in p.stdout.splitlines() if x.startswith("REGRESSION")]
    assert lines == [
        "REGRESSION    atomic / n2: held -> lost update",
        "REGRESSION    atomic / n3: held -> lost update",
    ]


def test_compare_cli_formats_and_output(tmp_path):
    out = tmp_path / "m.xml"
    p = run("compare", COUNTERS, "--output", out, "-q")
    assert p.returncode == 0 and p.stdout.startswith(TABLE)
    assert ET.parse(out).getroot().attrib["tests"] == "6"
    p = run("compare", COUNTERS, "--format", "json", "-q")
    assert json.loads(p.stdout)["format"] == "mcheck-matrix"
    p = run("compare", COUNTERS, "--diff", "atomic", "racy", "--format", "json", "-q")
    doc = json.loads(p.stdout)
    assert [d["column"] for d in doc["distinctions"]] == ["n2", "n3"]


@pytest.mark.parametrize(("args", "fragments"), [
    (("--variants", "atomic,sloppy"), ("unknown variant 'sloppy'",)),
    (("--bogus",), ("unknown flag '--bogus'",)),
    (("--update-baseline",), ("--update-baseline needs --baseline FILE",)),
    (("--diff", "atomic", "nope"), ("no variant 'nope' in the matrix",)),
])
def test_compare_cli_usage_errors(args, fragments):
    assert_usage_error(run("compare", COUNTERS, *args, "-q"), *fragments)


def test_compare_cli_refuses_bad_baselines(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert_usage_error(run("compare", COUNTERS, "--baseline", bad, "-q"),
                       "is not valid JSON", "--update-baseline")
    bad.write_text('{"format": "mcheck-matrix", "version": 7, "cells": []}')
    assert_usage_error(run("compare", COUNTERS, "--baseline", bad, "-q"), "version 7")
    bad.write_text('{"format": "mcheck-matrix", "version": 1, "cells": [{"row": "x"}]}')
    assert_usage_error(run("compare", COUNTERS, "--baseline", bad, "-q"), "cell 1 is malformed")
    assert_usage_error(run("compare", COUNTERS, "--baseline", tmp_path / "none.json", "-q"),
                       "no baseline file")
    assert_usage_error(run("compare", "examples/toys.py", "-q"), "defines no mcheck_matrix()")


def test_load_baseline_errors_are_usage_errors(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("[]")
    with pytest.raises(UsageError, match="is not an mcheck matrix"):
        load_baseline(f)


def test_compare_output_is_the_same_under_any_hash_seed():
    outs = set()
    for seed in ("0", "1", "random"):
        p = run("compare", COUNTERS, "--format", "json", "-q", env={"PYTHONHASHSEED": seed})
        d = run("compare", COUNTERS, "--diff", "atomic", "racy", "-q",
                env={"PYTHONHASHSEED": seed})
        outs.add((p.stdout, d.stdout))
    assert len(outs) == 1
