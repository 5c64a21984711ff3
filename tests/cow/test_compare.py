"""mcheck compare on the COW model: the committed baseline, regressions, distinguishing traces."""

from __future__ import annotations

import json
from pathlib import Path

from mcheck.cli import main
from mcheck.compare import compare, distinguish, load_baseline, run_matrix
from models.cow import mcheck_matrix, mcheck_models
from models.cow.catalogue import CATALOGUE
from models.cow.policy import CONTROLS, POLICIES
from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "baselines" / "cow.json"
REGEN = "python -m mcheck compare models/cow --policies all --baseline baselines/cow.json " \
        "--update-baseline"


def test_the_committed_baseline_is_current_and_every_expectation_holds():
    mr = run_matrix(mcheck_matrix({"policies": "all"}))
    assert len(mr.cells) == len(POLICIES) * len(CATALOGUE)
    off = [(c.row, c.column, c.letter, c.expected) for c in mr.cells.values()
           if c.matches is False]
    assert off == []
    stale = [c for c in compare(mr, load_baseline(BASELINE)).changes if c.kind != "model"]
    assert stale == [], f"baselines/cow.json is stale; if the change is intended: {REGEN}"


def test_flipping_one_switch_of_a_policy_is_a_regression(tmp_path):
    pol = tmp_path / "pol.py"
    pol.write_text('E4 = get_policy("E4").replace(fork_seqcount=False)\n')
    p = run("compare", "models/cow", "--policies", f"{pol}:E4", "--baseline", BASELINE, "-q",
            cwd=ROOT)
    assert p.returncode == 1, p.stderr
    regressions = [x for x in p.stdout.splitlines() if x.startswith("REGRESSION")]
    assert len(regressions) == 1
    assert regressions[0].startswith("REGRESSION    E4 / S07: held -> wrong COW")
    # the table marks the cell as not what the era expects
    row = next(x for x in p.stdout.splitlines() if x.startswith("S07 "))
    assert row.split()[1] == "W!"


def test_a_grown_count_is_a_regression_too(tmp_path):
    pol = tmp_path / "pol.py"
    pol.write_text('E6 = get_policy("E6").replace(unmap_try_share=False)\n')
    p = run("compare", "models/cow", "--policies", f"{pol}:E6", "--scenarios", "X12b,S18,S01",
            "--baseline", BASELINE, "-q", cwd=ROOT)
    assert p.returncode == 1, p.stderr
    regressions = sorted(x.split(":")[0] for x in p.stdout.splitlines()
                         if x.startswith("REGRESSION"))
    assert regressions == ["REGRESSION    E6 / S18", "REGRESSION    E6 / X12b"]
    assert "model_error 0 -> 1" in p.stdout


def test_distinguishing_trace_e3_e4_s07_is_real_on_both_sides():
    mr = run_matrix(mcheck_matrix({"policies": "E3,E4", "scenarios": "S07,A1"}), keep=True)
    [d] = distinguish(mr, "E3", "E4")
    assert (d.column, d.prop, d.violating, d.holding) == ("S07", "wrong_cow", "E3", "E4")
    assert d.preemptions == 1 and d.first_difference == 3
    first = d.rows[2]
    assert first.left == "fork: dup_mmap: mmap_write_lock"
    assert first.right == "fork: dup_mmap: mmap_write_lock, raw_write_seqcount_begin"
    for policy, side in (("E3", d.left), ("E4", d.right)):
        [m] = mcheck_models({"policy": policy, "scenario": "S07"})
        p = side.path
        assert p.states[0] == m.initial_states()[0]
        for i, a in enumerate(p.actions):
            assert a in m.actions(p.states[i])
            assert m.step(p.states[i], a) == p.states[i + 1]
    # E3's column is its minimal counterexample; E4 runs to its end without one
    assert len(d.left.path) == 13
    assert d.right.path.actions[-1][1] == "buf: device read f1"


def test_unnecessary_cow_distinction_through_the_swap_cache():
    mr = run_matrix(mcheck_matrix({"policies": "E4,E5", "scenarios": "X16"}), keep=True)
    [d] = distinguish(mr, "E4", "E5")
    assert (d.prop, d.kind, d.violating) == ("unnecessary_cow", "metric", "E4")
    row = d.rows[d.first_difference - 1]
    assert row.left == "do_wp_page(write) copy f0 -> f1"
    assert row.right == "do_wp_page(write) reuse f0"


def _main(capsys, *args):
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_the_readme_recipe_renamed_policy_is_compared_not_waved_through(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.chdir(ROOT)
    mine = tmp_path / "mine.py"
    mine.write_text('MINE = get_policy("E6").replace(name="mine", mprotect_upgrade="mapcount")'
                    "\n")
    base = ["compare", "models/cow", "--policies", f"{mine}:MINE", "--scenarios", "A4,S07",
            "--baseline", "baselines/cow.json", "-q"]
    status, out, err = _main(capsys, *base)
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        "NEW           policy mine: not in the baseline (2 cells)\n"
        f"baseline: 0 cells compared: new policy mine; {len(load_baseline(BASELINE).cells)} "
        "baseline cells not run\n"
        "new and missing rows, columns and cells fail the run: compare a renamed policy with "
        "--baseline-row NEW=OLD, or accept them with --allow-new\n")
    status, out, err = _main(capsys, *base, "--baseline-row", "mine=E6")
    assert (status, err) == (1, "")
    lines = out.split("\n\n")[-1].splitlines()
    assert lines[0] == ("REGRESSION    mine (as E6) / A4: held -> missed COW; model_error 0 -> 1;"
                        " states 121 -> 97 (shrank)")
    assert lines[1].startswith("baseline: 2 cells compared: 1 regression, 1 with a changed "
                               "model (fingerprint) and the same outcome; ")


def test_a_baseline_of_another_model_fails_before_the_matrix_runs(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(ROOT)
    other = tmp_path / "counters.json"
    assert _main(capsys, "compare", "examples/counters.py", "--baseline", other,
                 "--update-baseline", "-q")[0] == 0
    status, out, err = _main(capsys, "compare", "models/cow", "--baseline", other, "-q")
    assert (status, out) == (2, "")
    assert err == (f"mcheck: baseline '{other}' is the matrix of the model 'counters' "
                   "(examples/counters.py), not of 'cow' (models/cow); give --baseline a "
                   "baseline of models/cow, or write one with `mcheck compare models/cow "
                   f"--baseline {other} --update-baseline`\n")


def test_baseline_rows_and_columns_the_model_no_longer_knows_are_missing(tmp_path, capsys,
                                                                        monkeypatch):
    """The default run leaves the controls out, but the model still knows them (its lookup):
    not compared, not failed.  A policy or scenario the model does not know is MISSING."""
    monkeypatch.chdir(ROOT)
    doc = json.loads(BASELINE.read_text())
    total = len(doc["cells"])
    run_ = ["compare", "models/cow", "--scenarios", "A4,S07", "-q", "--baseline"]
    n = len(POLICIES) - len(CONTROLS)  # the default run's policies: all but the controls
    status, out, err = _main(capsys, *run_, BASELINE)
    assert (status, err) == (0, "")
    assert out.split("\n\n")[-1] == (f"baseline: {2 * n} cells compared: no change; "
                                     f"{total - 2 * n} baseline cells not run\n")
    rename = {"E6-6.0": "E9", "A4": "A99"}
    doc["rows"] = [rename.get(r, r) for r in doc["rows"]]
    doc["columns"] = [rename.get(c, c) for c in doc["columns"]]
    for c in doc["cells"]:
        c["row"], c["column"] = rename.get(c["row"], c["row"]), rename.get(c["column"],
                                                                           c["column"])
    f = tmp_path / "renamed.json"
    f.write_text(json.dumps(doc))
    rows, cols = len(doc["rows"]), len(doc["columns"])
    status, out, err = _main(capsys, *run_, f)
    assert (status, err) == (1, "")
    assert out.split("\n\n")[-1] == (
        f"MISSING       policy E9: in the baseline ({cols} cells) but neither run nor known "
        "to the model\n"
        f"MISSING       scenario A99: in the baseline ({rows} cells) but neither run nor known "
        "to the model\n"
        "NEW           policy E6-6.0: not in the baseline (2 cells)\n"
        f"NEW           scenario A4: not in the baseline ({n} cells)\n"
        f"baseline: {n - 1} cells compared: missing policy E9, missing scenario A99, new "
        f"policy E6-6.0, new scenario A4; {total - (n - 1) - cols - rows + 1} baseline cells "
        "not run\n"
        "new and missing rows, columns and cells fail the run: compare a renamed policy with "
        "--baseline-row NEW=OLD, or accept them with --allow-new\n")
    status, out, err = _main(capsys, *run_, f, "--allow-new")
    assert (status, err) == (0, "")


def _baseline_cells() -> int:
    """How many cells the committed baseline holds (the file is their one home)."""
    with open(BASELINE, encoding="utf-8") as f:
        return len(json.load(f)["cells"])


def test_json_against_the_committed_baseline_parses_with_the_regression_inside(tmp_path):
    pol = tmp_path / "pol.py"
    pol.write_text('E4 = get_policy("E4").replace(fork_seqcount=False)\n')
    p = run("compare", "models/cow", "--policies", f"{pol}:E4", "--format", "json",
            "--baseline", BASELINE, "-q", cwd=ROOT)
    assert (p.returncode, p.stderr) == (1, "")
    doc = json.loads(p.stdout)
    assert doc["rows"] == ["E4"] and len(doc["cells"]) == len(CATALOGUE)
    b = doc["baseline"]
    assert (b["compared"], b["not_run"], b["fails"], b["regressions"]) == (
        len(CATALOGUE), _baseline_cells() - len(CATALOGUE), True, 1)
    [reg] = [c for c in b["changes"] if c["kind"] == "regression"]
    assert reg == {"kind": "regression", "row": "E4", "column": "S07", "baseline_row": "E4",
                   "what": ["held -> wrong COW", "states 613 -> 529 (shrank)"]}
    assert b["summary"].startswith(f"baseline: {len(CATALOGUE)} cells compared: 1 regression")
