"""Matrices, baselines, regressions and distinguishing traces on a toy family (no kernel)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from examples.counters import Counter, mcheck_matrix
from examples.counters import classify as classify_counters
from mcheck.cli import main
from mcheck.compare import (
    Change,
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
    base = load_baseline(f)
    assert (base.name, base.rows, base.columns) == ("counters", ("atomic", "racy"),
                                                    ("n1", "n2", "n3"))
    assert base.cells[("racy", "n3")].states == 70
    cmp = compare(_run(), base)
    assert (cmp.changes, cmp.compared, cmp.not_run, cmp.fails()) == ((), 6, 0, False)


def test_regressions_fail_and_state_growth_is_only_reported(tmp_path):
    base = {k: c for k, c in _run().cells.items()}
    lossy = _run(lossy=True)
    changes = {(c.row, c.column): c for c in compare(lossy, base).changes}
    assert changes[("atomic", "n2")].kind == "regression"
    assert changes[("atomic", "n2")].what == ("held -> lost update",)
    assert changes[("atomic", "n1")].kind == "model"  # --lossy is in the fingerprint
    assert changes[("atomic", "n1")].what == (
        "the model changed (fingerprint), the outcome did not",)
    # a grown count is a regression on its own; a grown state count is not
    import dataclasses

    fewer = {k: dataclasses.replace(c, counts={"stores": c.counts["stores"] - 1},
                                    states=c.states - 1) for k, c in base.items()}
    ch = {(c.row, c.column): c for c in compare(_run(), fewer).changes}
    assert ch[("atomic", "n1")].kind == "regression"
    assert ch[("atomic", "n1")].what == ("stores 0 -> 1", "states 1 -> 2 (grew)")
    smaller = {k: dataclasses.replace(c, states=c.states - 1) for k, c in base.items()}
    cmp = compare(_run(), smaller)
    assert cmp.kinds() == {"states"} and not cmp.fails()
    text = format_changes(cmp)
    assert text.splitlines()[0] == "STATES        atomic / n1: states 1 -> 2 (grew)"
    assert text.splitlines()[-1] == "baseline: 6 cells compared: 4 states"


def test_undetermined_cells():
    mr = run_matrix(mcheck_matrix({"threads": "3"}), bounds=Bounds(max_states=5))
    assert {c.letter for c in mr.cells.values()} == {"?"}
    cmp = compare(mr, _run().cells)
    assert cmp.kinds() == {"undetermined"} and not cmp.fails()


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


def test_load_baseline_errors_are_usage_errors(tmp_path):
    f = tmp_path / "x.json"
    f.write_text("[]")
    with pytest.raises(UsageError, match="is not an mcheck matrix"):
        load_baseline(f)


def test_compare_output_is_the_same_under_any_hash_seed(tmp_path):
    doc = json.loads(to_json(_run(), COUNTERS))
    doc["rows"] = ["atomic-v1", "racy"]
    for c in doc["cells"]:
        c["row"] = "atomic-v1" if c["row"] == "atomic" else c["row"]
    base = tmp_path / "b.json"
    base.write_text(json.dumps(doc))
    outs = set()
    for seed in ("0", "1", "random"):
        p = run("compare", COUNTERS, "--format", "json", "-q", env={"PYTHONHASHSEED": seed})
        d = run("compare", COUNTERS, "--diff", "atomic", "racy", "-q",
                env={"PYTHONHASHSEED": seed})
        b = run("compare", COUNTERS, "--baseline", base, "--lossy", "--threads", "1,2,4", "-q",
                env={"PYTHONHASHSEED": seed})
        assert b.returncode == 1 and b.stdout.count("\nNEW ") == 2
        outs.add((p.stdout, d.stdout, b.stdout))
    assert len(outs) == 1


# -- baselines that must not pass silently (issue 10, item 7) -----------------------------


def _main(capsys, *args):
    """``mcheck.cli.main`` in this process: (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def _doc():
    return json.loads(to_json(_run(), COUNTERS))


def _save(path, doc):
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _one_error(status, out, err):
    """The bad baseline failed fast: exit 2, one line, nothing run, no traceback."""
    assert status == 2 and out == "" and "Traceback" not in err
    [line] = err.splitlines()
    return line


def _cell(doc, row, column):
    return next(c for c in doc["cells"] if (c["row"], c["column"]) == (row, column))


def test_a_baseline_of_another_model_fails_before_the_matrix_runs(tmp_path, capsys):
    cow = Path(__file__).resolve().parents[1] / "baselines" / "cow.json"
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", cow, "-q"))
    assert line == (
        f"mcheck: baseline '{cow}' is the matrix of the model 'cow' (models/cow), not of "
        f"'counters' ({COUNTERS}); give --baseline a baseline of {COUNTERS}, or write one "
        f"with `mcheck compare {COUNTERS} --baseline {cow} --update-baseline`")


FIX = "regenerate it with `mcheck compare examples/counters.py --baseline {f} " \
      "--update-baseline` (and the run's matrix flags)"


def _edit(**changes):
    def apply(doc):
        for key, value in changes.items():
            if value is _DROP:
                del doc[key]
            else:
                doc[key] = value
        return doc
    return apply


def _edit_cell(i, **changes):
    def apply(doc):
        for key, value in changes.items():
            if value is _DROP:
                del doc["cells"][i][key]
            else:
                doc["cells"][i][key] = value
        return doc
    return apply


_DROP = object()


def _dup_cell(doc):
    doc["cells"].append(dict(doc["cells"][4]))
    return doc


def _both_racy(**changes):
    def apply(doc):
        for c in doc["cells"]:
            if c["row"] == "racy" and c["letter"] == "F":
                c.update(changes)
        return doc
    return apply


BAD_BASELINES = [
    # unreadable
    ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes at "
                  "line 1 column 2)"),
    ("", "is not valid JSON (Expecting value at line 1 column 1)"),
    ("[" * 100_000 + "]" * 100_000,
     "is nested too deeply to read (Python's JSON reader raised RecursionError)"),
    ('{"format": "mcheck-matrix", "version": 1, "name": "counters", "rows": [], '
     '"columns": [], "cells": [], "x": ' + "9" * 5000 + "}",
     "holds an integer of more than 4300 digits (Python refuses to convert it: ValueError)"),
    ('{"format": "mcheck-matrix", "format": "mcheck-matrix"}',
     "names the key 'format' twice in one object (JSON would keep the last one silently)"),
    # not a matrix, or not this version
    ("[]", "is not an mcheck matrix (it is an array, expected an object with format "
           "'mcheck-matrix')"),
    (_edit(format="mcheck-trace"), "is not an mcheck matrix (format 'mcheck-trace', "
                                   "expected 'mcheck-matrix')"),
    (_edit(version=7), "has matrix format version 7; this mcheck reads version 1"),
    (_edit(version=True), "has matrix format version True; this mcheck reads version 1"),
    # missing keys and wrong types in the head
    (_edit(name=_DROP), "has no 'name' field"),
    (_edit(cells=_DROP), "has no 'cells' field"),
    (_edit(name=["counters"]), "has an array for 'name', expected a string"),
    (_edit(rows="atomic,racy"), "has a string for 'rows', expected an array of strings"),
    (_edit(columns=["n1", 2]), "has an array for 'columns', expected an array of strings"),
    (_edit(rows=["atomic", "racy", "atomic"]), "lists 'atomic' twice in 'rows'"),
    (_edit(cells={}), "has an object for 'cells', expected an array of cells"),
    # cells: missing keys, wrong types
    (_edit_cell(0, rank=_DROP), "has cell 1 without the field 'rank'"),
    (_edit_cell(2, states=-1), "has cell 3 (atomic / n3) with a number for 'states', "
                               "expected a whole number >= 0"),
    (_edit_cell(2, states=True), "has cell 3 (atomic / n3) with a boolean for 'states', "
                                 "expected a whole number >= 0"),
    (_edit_cell(0, rank="0"), "has cell 1 (atomic / n1) with a string for 'rank', expected "
                              "a whole number or null"),
    (_edit_cell(0, failure=0), "has cell 1 (atomic / n1) with a number for 'failure', "
                               "expected true or false"),
    (_edit_cell(0, counts={"stores": 1.5}), "has cell 1 (atomic / n1) with an object for "
                                            "'counts', expected an object of whole numbers "
                                            ">= 0"),
    (_edit_cell(0, letter="HH"), "has cell 1 (atomic / n1) with letter 'HH', expected one "
                                 "character"),
    (_edit_cell(0, exhausted="yes"), "has cell 1 (atomic / n1) with a string for "
                                     "'exhausted', expected true or false"),
    (lambda d: {**d, "cells": [1]}, "has cell 1 as a number, expected an object"),
    # cells inconsistent with the head or with each other
    (_edit_cell(0, row="ticket"), "has cell 1 (ticket / n1) whose row is not among its "
                                  "'rows'"),
    (_dup_cell, "has two cells for racy / n2 (cells 5 and 7)"),
    (_edit_cell(4, rank=2), "is inconsistent: it gives letter 'F' rank 2 in cell 5 "
                            "(racy / n2) and rank 1 in cell 6 (racy / n3)"),
    (_edit_cell(4, letter="G", matches=False),
     "is inconsistent: it gives rank 1 to letter 'G' in cell 5 (racy / n2) and to letter 'F' "
     "in cell 6 (racy / n3) (one rank per letter, or a changed letter could not be ranked)"),
    (_edit_cell(4, verdict="held"), "is inconsistent: it gives letter 'F' verdict 'held' in "
                                    "cell 5 (racy / n2) and verdict 'lost update' in cell 6 "
                                    "(racy / n3)"),
    (_edit_cell(4, matches=False), "is inconsistent: cell 5 (racy / n2) has matches False, "
                                   "but letter 'F' with expected 'F' and rank 1 gives True"),
]


@pytest.mark.parametrize(("content", "cause"), BAD_BASELINES,
                         ids=[f"bad{i}" for i in range(len(BAD_BASELINES))])
def test_a_bad_baseline_is_one_line_exit_2_before_anything_runs(tmp_path, capsys, content,
                                                                cause):
    f = tmp_path / "b.json"
    _save(f, content(_doc()) if callable(content) else content)
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", f, "-q"))
    assert line == f"mcheck: baseline '{f}' {cause}; {FIX.format(f=f)}"


def test_unreadable_baseline_paths(tmp_path, capsys):
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", tmp_path, "-q"))
    assert line == f"mcheck: baseline '{tmp_path}' is a directory; give --baseline a " \
                   "baseline file"
    f = tmp_path / "latin1.json"
    f.write_bytes(b'{"name": "caf\xe9"}')
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", f, "-q"))
    assert line.startswith(f"mcheck: baseline '{f}' cannot be read: 'utf-8' codec can't "
                           "decode byte 0xe9 in position 13")
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", "a\0b", "-q"))
    assert line == "mcheck: cannot open baseline 'a\\x00b': embedded null byte; give " \
                   "--baseline a file path"
    none = tmp_path / "none.json"
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", none, "-q"))
    assert line == f"mcheck: no baseline file at '{none}'; write one with `mcheck compare " \
                   f"{COUNTERS} --baseline {none} --update-baseline`"


def test_an_old_baseline_without_the_optional_fields_still_loads(tmp_path, capsys):
    doc = _doc()
    for key in ("mcheck", "model_path", "row_title", "column_title"):
        del doc[key]
    for c in doc["cells"]:
        for key in ("expected", "matches", "detail", "message", "fingerprint", "exhausted"):
            del c[key]
    f = _save(tmp_path / "old.json", doc)
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "-q")
    assert (status, err) == (0, "")
    assert out.endswith("\nbaseline: 6 cells compared: no change\n")


def test_a_letter_that_changed_at_the_same_rank_is_refused(tmp_path, capsys):
    # the baseline is consistent on its own (F renamed G everywhere), not with the run;
    # the comparison runs before anything is printed, so stdout stays empty
    f = _save(tmp_path / "b.json", _both_racy(letter="G", matches=False)(_doc()))
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "-q")
    assert (status, out) == (2, "")
    assert err == (f"mcheck: baseline '{f}' does not match this run: it gives rank 1 to letter "
                   "'G' in the baseline's racy / n2 and to letter 'F' in this run's racy / n2 "
                   "(one rank per letter, or a changed letter could not be ranked); the "
                   "classifier's letters or ranks changed since the baseline was written: "
                   "regenerate it with --update-baseline\n")


def test_a_letter_that_cannot_be_ranked_against_the_old_one_fails(tmp_path, capsys):
    doc = _doc()
    _cell(doc, "atomic", "n2").update(letter="?", verdict="undetermined", rank=None,
                                      matches=None, exhausted=False)
    f = _save(tmp_path / "b.json", doc)
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "-q")
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        "CHANGED       atomic / n2: undetermined -> held\n"
        "baseline: 6 cells compared: 1 changed\n")


def test_the_classifier_must_give_one_rank_per_letter():
    def classify(result):
        c = dict(classify_counters(result))
        if c["letter"] == "F":
            c.update(letter="G" if result.states == 12 else "F")
        return c
    m = mcheck_matrix({})
    m.classify = classify
    with pytest.raises(UsageError) as e:
        run_matrix(m)
    assert str(e.value) == (
        "mcheck: the matrix classifier is inconsistent: it gives rank 1 to letter 'G' in "
        "racy / n2 and to letter 'F' in racy / n3 (one rank per letter, or a changed letter "
        "could not be ranked); give each letter one rank, verdict and failure flag, and each "
        "rank one letter")


def test_new_columns_fail_unless_allowed(tmp_path, capsys):
    f = _save(tmp_path / "b.json", _doc())
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "--threads",
                             "1,2,4", "-q")
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        "NEW           threads n4: not in the baseline (2 cells)\n"
        "baseline: 4 cells compared: new threads n4; 2 baseline cells not run\n"
        "new and missing rows, columns and cells fail the run: compare a renamed variant "
        "with --baseline-row NEW=OLD, or accept them with --allow-new\n")
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "--threads",
                             "1,2,4", "--allow-new", "-q")
    assert (status, err) == (0, "")
    assert out.split("\n\n")[-1] == (
        "NEW           threads n4: not in the baseline (2 cells)\n"
        "baseline: 4 cells compared: new threads n4; 2 baseline cells not run\n")
    # a subset of the baseline is fine: the rest is counted, not failed
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "--threads", "2",
                             "--variants", "racy", "-q")
    assert (status, out.split("\n\n")[-1]) == (
        0, "baseline: 1 cells compared: no change; 5 baseline cells not run\n")


def test_a_renamed_row_is_new_until_it_is_compared_with_its_baseline_row(tmp_path, capsys):
    doc = _doc()
    doc["rows"] = ["atomic-v1", "racy"]
    for c in doc["cells"]:
        if c["row"] == "atomic":
            c["row"] = "atomic-v1"
    f = _save(tmp_path / "b.json", doc)
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "--lossy", "-q")
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        "MISSING       variant atomic-v1: in the baseline (3 cells) but neither run nor known "
        "to the model\n"
        "NEW           variant atomic: not in the baseline (3 cells)\n"
        "baseline: 3 cells compared: missing variant atomic-v1, new variant atomic, 3 with a "
        "changed model (fingerprint) and the same outcome\n"
        "new and missing rows, columns and cells fail the run: compare a renamed variant "
        "with --baseline-row NEW=OLD, or accept them with --allow-new\n")
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f, "--lossy",
                             "--baseline-row", "atomic=atomic-v1", "-q")
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        "REGRESSION    atomic (as atomic-v1) / n2: held -> lost update\n"
        "REGRESSION    atomic (as atomic-v1) / n3: held -> lost update\n"
        "baseline: 6 cells compared: 2 regressions, 4 with a changed model (fingerprint) and "
        "the same outcome\n")
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f,
                             "--baseline-row", "atomic=atomic-v1", "-q")
    assert (status, err, out.split("\n\n")[-1]) == (
        0, "", "baseline: 6 cells compared: no change\n")


def test_a_cell_the_run_no_longer_produces_is_missing():
    m = mcheck_matrix({})
    build = m.build
    m.build = lambda r, c: None if (r, c) == ("racy", "n2") else build(r, c)
    cmp = compare(run_matrix(m), _run().cells)
    assert cmp.changes == (Change("racy", "n2", "missing",
                                  ("lost update in the baseline, not produced by this run",)),)
    assert cmp.fails() and not cmp.fails(allow_new=True)


@pytest.mark.parametrize(("args", "line"), [
    (("--allow-new",), "mcheck: --allow-new needs --baseline FILE; give the baseline to "
                       "compare with: --baseline FILE"),
    (("--baseline-row", "a=b"), "mcheck: --baseline-row needs --baseline FILE; give the "
                                "baseline to compare with: --baseline FILE"),
    (("--baseline", "{f}", "--baseline-row", "atomic"),
     "mcheck: argument --baseline-row: expected ROW=BASELINE_ROW, got 'atomic'; see `mcheck "
     "compare --help`"),
    (("--baseline", "{f}", "--baseline-row", "mine=atomic"),
     "mcheck: --baseline-row mine=atomic: this run has no variant 'mine'; choose from the "
     "run's variants: atomic, racy"),
    (("--baseline", "{f}", "--baseline-row", "atomic=mine"),
     "mcheck: --baseline-row atomic=mine: the baseline '{f}' has no variant 'mine'; choose "
     "from its variants: atomic, racy"),
    (("--baseline", "{f}", "--baseline-row", "atomic=racy", "--baseline-row", "atomic=atomic"),
     "mcheck: --baseline-row names variant 'atomic' twice (atomic=racy and atomic=atomic); "
     "compare each variant with one baseline variant"),
])
def test_baseline_row_and_allow_new_usage_errors(tmp_path, capsys, args, line):
    f = _save(tmp_path / "b.json", _doc())
    args = [a.format(f=f) for a in args]
    assert _one_error(*_main(capsys, "compare", COUNTERS, *args, "-q")) == line.format(f=f)


def test_update_baseline_overwrites_a_corrupt_file_but_not_another_models(tmp_path, capsys):
    f = _save(tmp_path / "b.json", "{")
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f,
                             "--update-baseline", "-q")
    assert (status, err) == (0, "") and out.endswith(f"wrote the baseline {f} (6 cells)\n")
    assert load_baseline(f).cells == _run().cells
    # a classifier whose letters changed: the update goes through, nothing is compared
    _save(f, _both_racy(letter="G", matches=False)(_doc()))
    status, out, err = _main(capsys, "compare", COUNTERS, "--baseline", f,
                             "--update-baseline", "-q")
    assert (status, err) == (0, "")
    assert out.split("\n\n")[-1] == (
        "baseline: not compared: baseline '" + str(f) + "' does not match this run: it gives "
        "rank 1 to letter 'G' in the baseline's racy / n2 and to letter 'F' in this run's "
        "racy / n2 (one rank per letter, or a changed letter could not be ranked)\n"
        f"wrote the baseline {f} (6 cells)\n")
    cow = Path(__file__).resolve().parents[1] / "baselines" / "cow.json"
    other = _save(tmp_path / "cow.json", cow.read_text())
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", other,
                             "--update-baseline", "-q"))
    assert line == (f"mcheck: --update-baseline would overwrite '{other}', the baseline of "
                    "the model 'cow', with one of 'counters'; give --baseline another path, "
                    "or delete the file first")
    assert other.read_text() == cow.read_text()
    line = _one_error(*_main(capsys, "compare", COUNTERS, "--baseline", tmp_path,
                             "--update-baseline", "-q"))
    assert line == f"mcheck: cannot write the baseline '{tmp_path}': it is a directory; " \
                   "give --baseline a file path"


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def test_mutated_baselines_load_or_fail_with_one_line(tmp_path):
    """500 seeded mutations of a valid baseline (a value replaced by one of another type, a
    key dropped, a list item repeated): each loads or is one UsageError line, nothing else."""
    import copy
    import random

    good = _doc()
    paths = [p for p in _paths(good) if p]
    values = [None, True, False, 0, -1, 2**70, 1.5, float("nan"), "", "H", "counters", [],
              ["atomic"], {}, {"stores": 1}]
    rng = random.Random(10)
    f = tmp_path / "m.json"
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(500):
        doc = copy.deepcopy(good)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            parent = doc
            try:
                for k in path[:-1]:
                    parent = parent[k]
                op = rng.random()
                if op < 0.2 and isinstance(parent, dict):
                    del parent[path[-1]]
                elif op < 0.3 and isinstance(parent, list):
                    parent.append(copy.deepcopy(parent[path[-1]]))
                else:
                    parent[path[-1]] = copy.deepcopy(rng.choice(values))
            except (KeyError, IndexError, TypeError):
                pass  # an earlier mutation removed the path
        f.write_text(json.dumps(doc))
        try:
            load_baseline(f, name="counters", model_path=COUNTERS)
            outcomes["loaded"] += 1
        except UsageError as e:
            assert "\n" not in str(e) and str(e).startswith(f"mcheck: baseline '{f}' "), str(e)
            outcomes["refused"] += 1
    assert outcomes == {"loaded": 22, "refused": 478}


# -- issue 13: race diagrams in JUnit, one JSON document with --baseline ---------------------


def test_a_junit_failure_carries_the_race_diagram():
    from mcheck.compare import cell_diagram

    mr = run_matrix(mcheck_matrix({"threads": "2", "lossy": True}), keep=True)
    drawing = cell_diagram(mr, "atomic", "n2")
    assert drawing is not None and drawing.startswith(
        "atomic / n2: all_counted VIOLATED: x = 1 at the end\n")
    [fail] = ET.fromstring(format_junit(mr)).iter("failure")
    assert fail.attrib == {"message": "lost update (expected H)", "type": "F"}
    assert fail.text == ("lost update; states 4, transitions 3, stores 3; x = 1 at the end\n\n"
                         + drawing)
    # without the kept results (the library's default) the body is the verdict alone
    [fail] = ET.fromstring(format_junit(run_matrix(mcheck_matrix(
        {"threads": "2", "lossy": True})))).iter("failure")
    assert fail.text == "lost update; states 4, transitions 3, stores 3; x = 1 at the end"


def test_the_junit_command_draws_the_diagram(tmp_path):
    out = tmp_path / "m.xml"
    p = run("compare", COUNTERS, "--threads", "2", "--lossy", "--output", out, "-q")
    assert p.returncode == 1
    [fail] = ET.parse(out).getroot().iter("failure")
    assert fail.text.split("\n")[2] == "atomic / n2: all_counted VIOLATED: x = 1 at the end"


def test_json_with_a_baseline_is_one_document_with_the_regressions_inside(tmp_path):
    base = tmp_path / "b.json"
    assert run("compare", COUNTERS, "--baseline", base, "--update-baseline", "-q").returncode == 0
    p = run("compare", COUNTERS, "--lossy", "--format", "json", "--baseline", base, "-q")
    assert (p.returncode, p.stderr) == (1, "")
    doc = json.loads(p.stdout)
    assert {k: v for k, v in doc.items() if k != "cells"} == {
        **{k: v for k, v in json.loads(base.read_text()).items() if k != "cells"},
        "baseline": {
            "file": str(base), "compared": 6, "not_run": 0, "allow_new": False, "fails": True,
            "regressions": 2,
            "changes": [
                {"kind": "regression", "row": "atomic", "column": "n2", "baseline_row": "atomic",
                 "what": ["held -> lost update"]},
                {"kind": "regression", "row": "atomic", "column": "n3", "baseline_row": "atomic",
                 "what": ["held -> lost update"]},
                *({"kind": "model", "row": r, "column": c, "baseline_row": r,
                   "what": ["the model changed (fingerprint), the outcome did not"]}
                  for r, c in (("atomic", "n1"), ("racy", "n1"), ("racy", "n2"),
                               ("racy", "n3"))),
            ],
            "summary": "baseline: 6 cells compared: 2 regressions, 4 with a changed model "
                       "(fingerprint) and the same outcome"}}
    assert doc["cells"] == json.loads(to_json(_run(lossy=True), COUNTERS))["cells"]
    # without -q the lines a person reads go to stderr, never after the document
    p = run("compare", COUNTERS, "--lossy", "--format", "json", "--baseline", base)
    assert p.returncode == 1 and json.loads(p.stdout)["baseline"]["regressions"] == 2
    assert p.stderr.splitlines()[1:3] == ["REGRESSION    atomic / n2: held -> lost update",
                                          "REGRESSION    atomic / n3: held -> lost update"]
    # no change: still one document, and exit 0
    p = run("compare", COUNTERS, "--format", "json", "--baseline", base, "-q")
    assert p.returncode == 0
    assert json.loads(p.stdout)["baseline"] == {
        "file": str(base), "compared": 6, "not_run": 0, "allow_new": False, "fails": False,
        "regressions": 0, "changes": [], "summary": "baseline: 6 cells compared: no change"}


def test_json_with_update_baseline_writes_a_plain_baseline(tmp_path):
    base = tmp_path / "b.json"
    assert run("compare", COUNTERS, "--baseline", base, "--update-baseline", "-q").returncode == 0
    p = run("compare", COUNTERS, "--lossy", "--format", "json", "--baseline", base,
            "--update-baseline", "-q")
    assert p.returncode == 0
    assert json.loads(p.stdout)["baseline"]["regressions"] == 2
    assert p.stderr == f"wrote the baseline {base} (6 cells)\n"
    assert "baseline" not in json.loads(base.read_text())
    assert load_baseline(base).cells[("atomic", "n2")].letter == "F"


def test_json_says_why_an_updated_baseline_was_not_compared(tmp_path, capsys):
    f = _save(tmp_path / "b.json", _both_racy(letter="G", matches=False)(_doc()))
    status, out, err = _main(capsys, "compare", COUNTERS, "--format", "json", "--baseline", f,
                             "--update-baseline", "-q")
    assert (status, err) == (0, f"wrote the baseline {f} (6 cells)\n")
    cause = (f"baseline '{f}' does not match this run: it gives rank 1 to letter 'G' in the "
             "baseline's racy / n2 and to letter 'F' in this run's racy / n2 (one rank per "
             "letter, or a changed letter could not be ranked)")
    assert json.loads(out)["baseline"] == {
        "file": str(f), "compared": None, "not_compared": cause, "fails": False,
        "regressions": 0, "changes": [], "summary": f"not compared: {cause}"}
    assert load_baseline(f).cells[("racy", "n2")].letter == "F"
