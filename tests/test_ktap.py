"""``mcheck compare --format ktap``: exact output, checked by a small KTAP parser.

The parser follows the rules of the kernel's ``tools/testing/kunit/kunit_parser.py``
and of Documentation/dev-tools/ktap.rst: a version line, an optional ``# Subtest:``
line, a plan ``1..N``, then per test its diagnostic lines (``# ...``), its subtests
(a whole KTAP block indented by two more spaces) and its result line ``ok|not ok N
[- ]DESCRIPTION [# DIRECTIVE]``, numbered from 1; the number of results must be the
plan's.  A parent with a failing subtest must fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from examples.counters import mcheck_matrix
from mcheck.compare import cell_diagram, format_ktap, run_matrix
from mcheck.explore import Bounds
from tests.test_cli import run

COUNTERS = "examples/counters.py"
_RESULT = re.compile(r"^(ok|not ok) ([0-9]+)( - )?([^#]*)( # (.*))?$")
_PLAN = re.compile(r"^1\.\.([0-9]+)$")


class KtapError(ValueError):
    """Output that is not valid KTAP."""


@dataclass
class KTest:
    number: int
    name: str
    ok: bool
    directive: str
    diagnostics: list[str] = field(default_factory=list)
    subtests: list[KTest] = field(default_factory=list)
    subtest_name: str = ""


def _block(lines: list[str], i: int, indent: str) -> tuple[list[KTest], str, int, list[str]]:
    """Parse one KTAP block at ``indent`` from line ``i``: (tests, subtest name, next
    line, trailing diagnostics)."""
    if i >= len(lines) or lines[i] != f"{indent}KTAP version 1":
        raise KtapError(f"line {i + 1}: expected {indent!r}KTAP version 1")
    i += 1
    name = ""
    if i < len(lines) and lines[i].startswith(f"{indent}# Subtest: "):
        name = lines[i][len(indent) + len("# Subtest: "):]
        i += 1
    if i >= len(lines) or not _PLAN.match(lines[i][len(indent):]) \
            or not lines[i].startswith(indent) or lines[i][len(indent)] == " ":
        raise KtapError(f"line {i + 1}: expected a plan 1..N at indent {len(indent)}")
    plan = int(_PLAN.match(lines[i][len(indent):]).group(1))
    i += 1
    tests: list[KTest] = []
    diags: list[str] = []
    subs: list[KTest] = []
    sub_name = ""
    while i < len(lines):
        line = lines[i]
        if not line.startswith(indent) or (indent and line[len(indent):len(indent) + 1] == ""):
            break  # the block ended: the parent's result line
        body = line[len(indent):]
        if body == "  KTAP version 1":
            if subs:
                raise KtapError(f"line {i + 1}: two subtest blocks before one result")
            subs, sub_name, i, tail = _block(lines, i, indent + "  ")
            diags.extend(tail)
            continue
        if body.startswith(" "):
            raise KtapError(f"line {i + 1}: indented line outside a subtest block: {line!r}")
        if body == "#" or body.startswith("# "):
            diags.append(body[2:])
            i += 1
            continue
        m = _RESULT.match(body)
        if m is None:
            raise KtapError(f"line {i + 1}: neither a result, a plan nor a diagnostic: {line!r}")
        number = int(m.group(2))
        if number != len(tests) + 1:
            raise KtapError(f"line {i + 1}: test {number}, expected {len(tests) + 1}")
        ok = m.group(1) == "ok"
        if subs and ok and any(not s.ok for s in subs):
            raise KtapError(f"line {i + 1}: ok, but a subtest failed")
        tests.append(KTest(number, m.group(4).strip(), ok, m.group(6) or "", diags, subs,
                           sub_name))
        diags, subs, sub_name = [], [], ""
        i += 1
    if len(tests) != plan:
        raise KtapError(f"plan 1..{plan} at indent {len(indent)}, but {len(tests)} results")
    if subs:
        raise KtapError("a subtest block without its result line")
    return tests, name, i, diags


def parse_ktap(text: str) -> tuple[list[KTest], list[str]]:
    """The top-level tests of a KTAP document and its trailing diagnostic lines."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tests, _name, i, tail = _block(lines, 0, "")
    if i != len(lines):
        raise KtapError(f"line {i + 1}: text after the last result: {lines[i]!r}")
    return tests, tail


# -- the parser itself can fail -------------------------------------------------------------


@pytest.mark.parametrize(("text", "cause"), [
    ("1..1\nok 1 a\n", "line 1: expected ''KTAP version 1"),
    ("KTAP version 1\nok 1 a\n", "line 2: expected a plan 1..N at indent 0"),
    ("KTAP version 1\n1..2\nok 1 a\n", "plan 1..2 at indent 0, but 1 results"),
    ("KTAP version 1\n1..2\nok 1 a\nok 3 b\n", "line 4: test 3, expected 2"),
    ("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 x\nok 1 a\n",
     "line 6: ok, but a subtest failed"),
    ("KTAP version 1\n1..1\n   ok 1 a\n", "line 3: indented line outside a subtest block"),
    ("KTAP version 1\n1..1\nok 1 a\nREGRESSION x\n",
     "line 4: neither a result, a plan nor a diagnostic"),
])
def test_the_parser_refuses_malformed_ktap(text, cause):
    with pytest.raises(KtapError) as e:
        parse_ktap(text)
    assert str(e.value).startswith(cause)


# -- the toy family: every kind of line, exact ----------------------------------------------


def _lossy():
    return run_matrix(mcheck_matrix({"threads": "1,2", "lossy": True}), keep=True)


def test_ktap_of_a_failing_cell_is_exact_with_its_race_diagram():
    mr = _lossy()
    drawing = cell_diagram(mr, "atomic", "n2")
    assert drawing is not None
    assert drawing.split("\n")[0] == "atomic / n2: all_counted VIOLATED: x = 1 at the end"
    assert "T0 step" in drawing and "T1 step" in drawing
    expected = "\n".join([
        "KTAP version 1",
        "1..2",
        "  KTAP version 1",
        "  # Subtest: atomic",
        "  1..2",
        "  ok 1 n1",
        "  # n2: F lost update (expected H): x = 1 at the end",
        *(f"  # {line}".rstrip() for line in drawing.split("\n")),
        "  not ok 2 n2",
        "not ok 1 atomic",
        "  KTAP version 1",
        "  # Subtest: racy",
        "  1..2",
        "  ok 1 n1",
        "  ok 2 n2 # XFAIL lost update (expected F)",
        "ok 2 racy",
        "# Totals: pass:2 fail:1 xfail:1 xpass:0 skip:0 error:0",
    ]) + "\n"
    text = format_ktap(mr)
    assert text == expected
    tests, tail = parse_ktap(text)
    assert [(t.number, t.name, t.ok, t.subtest_name) for t in tests] == [
        (1, "atomic", False, "atomic"), (2, "racy", True, "racy")]
    assert [(s.name, s.ok, s.directive) for s in tests[0].subtests] == [
        ("n1", True, ""), ("n2", False, "")]
    assert tests[0].subtests[1].diagnostics[:2] == [
        "n2: F lost update (expected H): x = 1 at the end",
        "atomic / n2: all_counted VIOLATED: x = 1 at the end"]
    assert [(s.name, s.ok, s.directive) for s in tests[1].subtests] == [
        ("n1", True, ""), ("n2", True, "XFAIL lost update (expected F)")]
    assert tail == ["Totals: pass:2 fail:1 xfail:1 xpass:0 skip:0 error:0"]


def test_ktap_without_kept_results_has_no_diagram():
    mr = run_matrix(mcheck_matrix({"threads": "2", "lossy": True}))
    assert format_ktap(mr).split("\n")[5:8] == [
        "  # n2: F lost update (expected H): x = 1 at the end", "  not ok 1 n2",
        "not ok 1 atomic"]


def test_an_undetermined_cell_is_skipped_with_the_bound():
    mr = run_matrix(mcheck_matrix({"threads": "1,3"}), bounds=Bounds(max_states=5), keep=True)
    assert format_ktap(mr) == """\
KTAP version 1
1..2
  KTAP version 1
  # Subtest: atomic
  1..2
  ok 1 n1
  ok 2 n3 # SKIP undetermined: --max-states 5 reached after 5 states
ok 1 atomic
  KTAP version 1
  # Subtest: racy
  1..2
  ok 1 n1
  ok 2 n3 # SKIP undetermined: --max-states 5 reached after 5 states
ok 2 racy
# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:2 error:0
"""
    parse_ktap(format_ktap(mr))


def test_a_row_whose_every_cell_is_undetermined_is_skipped():
    mr = run_matrix(mcheck_matrix({"threads": "3"}), bounds=Bounds(max_states=5), keep=True)
    text = format_ktap(mr)
    assert "ok 1 atomic # SKIP every cell undetermined\n" in text
    tests, _ = parse_ktap(text)
    assert [t.directive for t in tests] == ["SKIP every cell undetermined"] * 2


def test_the_command_prints_ktap_and_exits_as_the_table_would(tmp_path):
    p = run("compare", COUNTERS, "--format", "ktap", "--lossy", "--threads", "1,2", "-q")
    assert (p.returncode, p.stderr) == (1, "")
    assert p.stdout == format_ktap(_lossy())
    p = run("compare", COUNTERS, "--format", "ktap", "--threads", "1,3", "--max-states", "5",
            "-q")
    assert p.returncode == 3 and p.stdout.count("# SKIP undetermined") == 2
    out = tmp_path / "m.ktap"
    p = run("compare", COUNTERS, "--output", out, "-q")
    assert p.returncode == 0 and p.stdout.startswith("threads \\ variant")
    assert out.read_text() == format_ktap(run_matrix(mcheck_matrix({}), keep=True))


def test_ktap_with_a_baseline_keeps_the_comparison_off_stdout(tmp_path):
    base = tmp_path / "b.json"
    assert run("compare", COUNTERS, "--baseline", base, "--update-baseline", "-q").returncode == 0
    p = run("compare", COUNTERS, "--lossy", "--format", "ktap", "--baseline", base)
    assert p.returncode == 1
    parse_ktap(p.stdout)
    assert p.stderr.splitlines()[1:] == [
        "REGRESSION    atomic / n2: held -> lost update",
        "REGRESSION    atomic / n3: held -> lost update",
        "baseline: 6 cells compared: 2 regressions, 4 with a changed model (fingerprint) and "
        "the same outcome"]


# -- the COW model ---------------------------------------------------------------------------


def test_cow_expected_historical_failures_are_xfail():
    p = run("compare", "models/cow", "--format", "ktap", "--policies", "E1,E6", "--scenarios",
            "S07,A3", "-q")
    assert (p.returncode, p.stderr) == (0, "")
    assert p.stdout == """\
KTAP version 1
1..2
  KTAP version 1
  # Subtest: E1
  1..2
  ok 1 S07 # XFAIL wrong COW (expected W)
  ok 2 A3 # XFAIL missed COW (expected M)
ok 1 E1
  KTAP version 1
  # Subtest: E6
  1..2
  ok 1 S07
  ok 2 A3
ok 2 E6
# Totals: pass:2 fail:0 xfail:2 xpass:0 skip:0 error:0
"""


def test_cow_a_regressed_user_policy_fails_with_the_kernel_style_diagram(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text('E4 = get_policy("E4").replace(fork_seqcount=False)\n')
    p = run("compare", "models/cow", "--format", "ktap", "--policies", f"{mine}:E4",
            "--scenarios", "S07,S01", "-q")
    assert (p.returncode, p.stderr) == (1, "")
    mr = run_matrix(mcheck_matrix_cow(mine), keep=True)
    model = mr.models[("E4", "S07")]
    drawing = cell_diagram(mr, "E4", "S07")
    res = mr.results[("E4", "S07")]
    prop = res.properties["wrong_cow"]
    assert drawing == model.render_trace(prop.path, "wrong_cow", prop.message).rstrip("\n")
    assert p.stdout == "\n".join([
        "KTAP version 1", "1..1", "  KTAP version 1", "  # Subtest: E4", "  1..2",
        "  # S07: W wrong COW (expected H): buf (P's pin) reads a, expected b",
        *(f"  # {line}".rstrip() for line in drawing.split("\n")),
        "  not ok 1 S07", "  ok 2 S01", "not ok 1 E4",
        "# Totals: pass:1 fail:1 xfail:0 xpass:0 skip:0 error:0"]) + "\n"
    tests, _ = parse_ktap(p.stdout)
    assert not tests[0].ok and tests[0].subtests[0].diagnostics[-1] == \
        "  // wrong COW (oracle wrong_cow): buf (P's pin) reads a, expected b"


def mcheck_matrix_cow(mine):
    from models.cow.matrix import mcheck_matrix as cow_matrix

    return cow_matrix({"policies": f"{mine}:E4", "scenarios": "S07,S01"})


def test_cow_whole_default_matrix_is_valid_ktap():
    p = run("compare", "models/cow", "--format", "ktap", "-q")
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout.startswith("KTAP version 1\n1..13\n")
    tests, tail = parse_ktap(p.stdout)
    # a failure the catalogue does not expect (a proposal's, or an era's in a scenario with
    # no expectation for it) is "not ok", as in JUnit; the exit status stays the table's
    assert [(t.name, t.ok) for t in tests] == [
        ("E1", True), ("E2", True), ("E3t", False), ("E3", False), ("E4", False),
        ("E5", False), ("E6", True), ("linus-2021", False), ("david-2021", False),
        ("precise-2021", False), ("E6-5.19", False), ("E6-6.0", False),
        ("E6-no-swp-exclusive", False)]
    assert sum(len(t.subtests) for t in tests) == 689
    assert tail == ["Totals: pass:516 fail:50 xfail:123 xpass:0 skip:0 error:0"]
    failed = [s for t in tests for s in t.subtests if not s.ok]
    assert len(failed) == 50 and all(len(s.diagnostics) > 5 for s in failed)  # diagrams


def test_ktap_of_distinguishing_traces_is_refused_in_one_line():
    p = run("compare", COUNTERS, "--diff", "atomic", "racy", "--format", "ktap")
    assert (p.returncode, p.stdout) == (2, "")
    assert p.stderr == ("mcheck: --diff prints distinguishing traces as text or JSON, not as "
                        "ktap; drop --format, or give --format json\n")
