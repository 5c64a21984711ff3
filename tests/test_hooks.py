"""`mcheck reproduce` and `mcheck conform`: commands a model module brings itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
TOYS = "examples/toys.py"
COW = "models/cow"


def test_reproduce_writes_the_models_program(tmp_path, capsys):
    out = tmp_path / "cve.c"
    assert main(["reproduce", COW, "--scenario", "CVE-2020-29374", "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("// SPDX-License-Identifier: GPL-2.0-only")
    assert "Reproducer for mcheck scenario CVE-2020-29374" in text
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv,fragment", [
    (["reproduce", COW, "--scenario", "S99", "-o", "x.c"], "unknown scenario 'S99'"),
    (["reproduce", COW, "--scenario", "S01"], "the following arguments are required: -o"),
    (["reproduce", COW, "--scenario", "S01", "-o", "x.c", "--iterations", "0"],
     "--iterations 0 is impossible"),
    (["conform", COW, "--scenarios", "S99"], "unknown scenario 'S99'"),
    (["conform", COW, "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_hook_input_is_one_line_and_exit_2(argv, fragment, capsys, tmp_path,
                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [a if a != COW else str(ROOT / COW) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err


def test_a_model_without_the_hook_is_refused(capsys):
    assert main(["reproduce", TOYS, "--anything"]) == 2
    err = capsys.readouterr().err
    assert err == (f"mcheck: the model module '{TOYS}' has no `mcheck_reproduce`; "
                   "`mcheck reproduce` needs a model module that defines "
                   "mcheck_reproduce(argv, prog)\n")


def test_help_of_a_hook_exits_0(capsys):
    assert main(["conform", COW, "--help"]) == 0
    assert "usage: mcheck conform models/cow" in capsys.readouterr().out

