"""C reproducers from scenarios, and the conformance run against this kernel (issue 14).

The pure parts (the step reconstruction, the ghost's expected values, the
table, the static skips) are pinned exactly.  The compiled parts need a C
compiler and skip without one; the swap test needs root.  Programs run here
are the quick ones (one iteration, or 200 of a race); ``S07 10000`` is the
issue's stress bar and is run by hand (see the report).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from models.cow.catalogue import CATALOGUE, SCENARIOS
from models.cow.conform import (
    CC_FLAGS,
    Outcome,
    Row,
    compile_program,
    conform,
    format_table,
    kernel_era,
    parse_ktap,
    run_program,
    swap_space,
)
from models.cow.conform import main as _conform_main
from models.cow.reproduce import from_trace, generate, plan, steps_of
from models.cow.reproduce import main as _reproduce_main
from models.cow.scenario import Op, Scenario
from models.cow.syscalls import HELPERS, TABLE

ROOT = Path(__file__).resolve().parents[2]


def reproduce_main(argv: list[str]) -> int:
    """The reproduce command, its messages headed "reproduce:"."""
    return _reproduce_main(argv, "reproduce")


def conform_main(argv: list[str]) -> int:
    """The conform command, its messages headed "conform:"."""
    return _conform_main(argv, "conform")

HAVE_CC = shutil.which("cc") is not None
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler (cc) on PATH")
needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="swap needs root (mkswap/swapon of a temporary file)")

#: Scenarios no user-space program can realise on 6.x, and why (the first words).
STATIC_SKIPS = {
    "X13": "gup:get-rw", "X13w": "gup:get-rw", "X22g": "gup:get-rw", "X24": "gup:get-rw",
    "S14": "gup:get-rw",
    "X23": "exit() of P, which the harness started",
    "X23g": "exit() of P, which the harness started",
    "X25": "migrate", "X26": "migrate", "X27": "migrate", "X28": "migrate", "X29": "migrate",
}


# -- the table ------------------------------------------------------------------------------

def test_the_table_has_one_row_per_operation_variant() -> None:
    assert sorted(TABLE) == sorted([
        "write", "read", "fork", "reap", "exit", "munmap", "dontneed", "mprotect",
        "clear_refs", "swapout", "migrate", "final",
        "gup:pin-rw", "gup:pin-ro", "gup:get-ro", "gup:get-rw",
        "unpin:pin-rw", "unpin:pin-ro", "unpin:get-ro", "unpin:get-rw",
        "dma_read:pin-rw", "dma_read:pin-ro", "dma_read:get-ro", "dma_read:get-rw",
        "dma_write:pin-rw", "dma_write:pin-ro", "dma_write:get-ro", "dma_write:get-rw",
    ])
    for key, row in TABLE.items():
        assert row.cite, f"{key} cites nothing"
        assert row.skip or row.snippet, f"{key} neither realises nor skips"
        for name in row.helpers:
            assert name in HELPERS, f"{key} needs unknown helper {name}"
    assert TABLE["gup:pin-rw"].syscalls == "io_uring_setup + IORING_REGISTER_BUFFERS"
    assert TABLE["gup:get-ro"].syscalls == "pipe() + vmsplice()"
    assert "IORING_OP_WRITE_FIXED" in TABLE["dma_read:pin-rw"].syscalls
    assert "IORING_OP_READ_FIXED" in TABLE["dma_write:pin-rw"].syscalls
    assert "MADV_PAGEOUT" in TABLE["swapout"].syscalls


# -- the plan -------------------------------------------------------------------------------

def test_steps_are_rebuilt_from_the_programs() -> None:
    s = SCENARIOS["S07"]
    got = [[(s.threads[t][0], op.kind, op.args) for t, op in g] for g in steps_of(s)]
    assert got == [
        [("P", "write", (0, "a"))],
        [("P", "fork", ("C",)), ("P.gup", "gup", (0, "buf", True, True, True))],
        [("P", "write", (0, "b"))],
        [("P", "dma_read", ("buf",))],
    ]
    assert [len(steps_of(x)) for x in (SCENARIOS["S01"], SCENARIOS["X12b"])] == [4, 5]


def test_the_cve_checks_what_the_pipe_and_the_parent_read() -> None:
    p = plan(SCENARIOS["CVE-2020-29374"])
    assert [(c.desc, c.observer, sorted(c.accept), sorted(c.hist), c.ro_get)
            for c in p.checks] == [
        ("C: dma_read(pipe): what the device reads", 1, [1], [1], True),
        ("P: final view of page 0", 0, [2], [1, 2], False),
    ]
    assert (p.skip, p.needs, p.races, p.step_size) == ("", (), 0, [1, 1, 1, 1, 1, 1, 1])


def test_a_race_accepts_what_some_serialisation_gives() -> None:
    # X22: the pin before munmap keeps "a"; after it, the pin faults in the page "b" lands on
    p = plan(SCENARIOS["X22"])
    assert [(c.desc, sorted(c.accept)) for c in p.checks] == [
        ("P: dma_read(buf): what the device reads", [1, 2]),
        ("P: final view of page 0", [2]),
    ]
    assert (p.races, p.step_size, p.needs) == (1, [1, 2, 1, 1, 1], ("io_uring",))
    # S07: either order leaves the pin on P's page; the child keeps "a"
    p = plan(SCENARIOS["S07"])
    assert [(c.desc, sorted(c.accept)) for c in p.checks] == [
        ("P: dma_read(buf): what the device reads", [2]),
        ("P: final view of page 0", [2]),
        ("C: final view of page 0", [1]),
    ]


def test_munmap_becomes_madv_dontneed_only_when_the_page_is_used_again() -> None:
    assert "MADV_DONTNEED" in generate(SCENARIOS["X22"])        # P writes page 0 again
    assert "MADV_DONTNEED" not in generate(SCENARIOS["CVE-2020-29374"])
    assert "munmap(PAGE(0), pagesize)" in generate(SCENARIOS["CVE-2020-29374"])


#: Catalogue rows every step of which a program realises (some still need swap, io_uring,
#: gup_test or soft-dirty at run time).  Rows added later are in neither list.
REALISABLE = ("S01 S02 S03 S04 S05 S06 S07 S08 S09 X10 S11 S12a X12b X16 X18 X22 S15 S18 S21 "
              "A1 A2 A3 A4 A5 A6 A7 A8 A9 A10 A11 A12 A13 A14 A3s A5s A6s CVE-2020-29374 "
              "CVE-2020-29374-swap RDMA-fork").split()


def test_what_cannot_be_realised_is_a_skip_with_its_reason() -> None:
    for name, why in STATIC_SKIPS.items():
        assert plan(SCENARIOS[name]).skip.startswith(why), name
    assert "O_DIRECT pins instead" in plan(SCENARIOS["X24"]).skip
    assert [n for n in REALISABLE if plan(SCENARIOS[n]).skip] == []


def test_generation_is_deterministic_across_hash_seeds() -> None:
    code = ("import hashlib; from models.cow.catalogue import CATALOGUE; "
            "from models.cow.reproduce import generate; "
            "print(hashlib.sha256(''.join(generate(s) for s in CATALOGUE).encode()).hexdigest())")
    outs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}
                           ).stdout for seed in ("0", "1", "random")}
    assert len(outs) == 1


# -- the command lines ----------------------------------------------------------------------

def test_reproduce_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "cve.c"
    assert reproduce_main(["--scenario", "CVE-2020-29374", "-o", str(out)]) == 0
    assert out.read_text() == generate(SCENARIOS["CVE-2020-29374"], "E6")


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenario", "S99", "-o", "x.c"], "reproduce: unknown scenario 'S99'; use one of"),
    (["--scenario", "S01", "--policy", "E9", "-o", "x.c"], "reproduce: unknown policy 'E9'"),
    (["--scenario", "S01", "--iterations", "0", "-o", "x.c"],
     "reproduce: --iterations 0 is impossible: give at least 1"),
    (["--scenario", "S01", "-o", "/nonexistent/dir/x.c"],
     "reproduce: cannot write /nonexistent/dir/x.c: No such file or directory; give a "
     "writable path"),
])
def test_reproduce_refuses_bad_input_in_one_line(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert reproduce_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scenarios", "S99"], "conform: unknown scenario 'S99'; use catalogue names such as "
     "S01,CVE-2020-29374\n"),
    (["--iterations", "0"], "conform: --iterations 0 is impossible: give at least 1\n"),
    (["--policy", "E9"], "conform: unknown policy 'E9'"),
])
def test_conform_refuses_bad_input_in_one_line(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert conform_main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err


def test_the_kernel_version_maps_to_its_era() -> None:
    assert kernel_era("5.10.0-23-amd64") == ("E3", "5.10.0-23-amd64: alias 5.10")
    assert kernel_era("6.18.44-fc-v1147") == ("E6", "6.18.44-fc-v1147: alias 6.18")
    assert kernel_era("6.15.2") == (
        "E6", "6.15.2: no alias for 6.15, the newest alias below it is 6.12")
    with pytest.raises(ValueError, match="has no MAJOR.MINOR version"):
        kernel_era("bogus")
    with pytest.raises(ValueError, match="older than every version alias"):
        kernel_era("3.10.0")


def test_a_malformed_report_is_an_error() -> None:
    good = "TAP version 13\n1..1\nok 1 x\n# outcome: H 0/1\n"
    assert parse_ktap(good, 0).letter == "H"
    assert parse_ktap(good, 1) == Outcome("E", "outcome H but exit status 1", 1,
                                          tuple(good.splitlines()))
    assert parse_ktap("1..1\nok 1 x\n", 0).detail == "no 'TAP version 13' header"
    assert parse_ktap("TAP version 13\n1..2\nok 1 x\n# outcome: H\n", 0).detail == \
        "plan ['1..2'] but 1 results"
    assert parse_ktap("TAP version 13\n1..1\nok 1 x\n", 0).detail == "no '# outcome:' line"


def test_the_table_says_agree_disagree_and_skip() -> None:
    rows = [Row("A", "U", Outcome("H", "0/1", 0)), Row("B", "M", Outcome("H", "0/1", 0)),
            Row("C", "H", Outcome("S", "why", 4)), Row("D", "W", Outcome("W", "1/1", 1))]
    assert [r.agree for r in rows] == ["yes", "no", "skip", "yes"]
    assert format_table(rows, "E6", "x").splitlines()[-1] == \
        "4 scenarios: 3 ran, 2 agree, 1 disagree, 1 skipped"


# -- compiled: every catalogue program builds with -Wall -Werror ------------------------------

@needs_cc
def test_every_catalogue_program_compiles(tmp_path: Path) -> None:
    def build(name: str) -> tuple[str, str]:
        path = tmp_path / re.sub(r"\W", "_", name)
        return name, compile_program(generate(SCENARIOS[name]), str(path))

    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = dict(pool.map(build, SCENARIOS))
    assert {n: e for n, e in errors.items() if e} == {}
    assert len(errors) == len(CATALOGUE) >= 46
    assert CC_FLAGS[:2] == ("-Wall", "-Werror")


def _build(tmp_path: Path, name: str, source: str | None = None) -> str:
    path = str(tmp_path / re.sub(r"\W", "_", name))
    err = compile_program(source if source is not None else generate(SCENARIOS[name]), path)
    assert err == ""
    return path


@needs_cc
def test_the_cve_program_passes_on_this_kernel(tmp_path: Path) -> None:
    out = run_program(_build(tmp_path, "CVE-2020-29374"))
    assert out.ktap == (
        "TAP version 13",
        "# CVE-2020-29374: Jann Horn's vmsplice.c (Project Zero 2045)",
        "1..2",
        "ok 1 C: dma_read(pipe): what the device reads",
        "ok 2 P: final view of page 0",
        "# outcome: H 0/1",
        "# Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0",
    )
    assert (out.letter, out.status) == ("H", 0)


def _mutate(source: str, table: str, values: str) -> str:
    """Replace one of the program's per-check tables (a deliberately wrong expectation)."""
    pattern = rf"static const uint64_t {table}\[NCHECKS\] = \{{[^}}]*\}};"
    assert re.search(pattern, source)
    return re.sub(pattern, f"static const uint64_t {table}[NCHECKS] = {{{values}}};", source)


@needs_cc
def test_a_wrong_expectation_fails_as_wrong_or_missed_cow(tmp_path: Path) -> None:
    src = generate(SCENARIOS["S01"])
    # the child's read (token a) now expected to be b: a is its own data -> wrong COW
    wrong = _mutate(src, "accepted", "0x4ULL, 0x4ULL, 0x2ULL")
    out = run_program(_build(tmp_path, "S01w", wrong))
    assert (out.letter, out.status) == ("W", 1)
    assert "not ok 1 C: read(0): the process's view # wrong COW (stale own data): read a in 1 " \
           "of 1 iterations" in out.ktap
    # ... and with an empty history, a leak from elsewhere -> missed COW
    missed = _mutate(wrong, "history", "0x0ULL, 0x0ULL, 0x0ULL")
    out = run_program(_build(tmp_path, "S01m", missed))
    assert (out.letter, out.status) == ("M", 1)
    assert out.ktap[-2:] == ("# outcome: M 1/1",
                             "# Totals: pass:2 fail:1 xfail:0 xpass:0 skip:0 error:0")


@needs_cc
def test_an_unrealisable_scenario_prints_skip_and_exits_4(tmp_path: Path) -> None:
    out = run_program(_build(tmp_path, "X24"))
    assert (out.letter, out.status) == ("S", 4)
    assert out.ktap[3].startswith("ok 1 P: dma_read(dio): what the device reads # SKIP "
                                  "gup:get-rw: a R/W FOLL_GET held across later steps")
    assert out.ktap[-1] == "# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:3 error:0"


@needs_cc
def test_a_race_loops_and_counts_bad_iterations(tmp_path: Path) -> None:
    out = run_program(_build(tmp_path, "S07"), iterations=200)
    if out.letter == "S":
        pytest.skip(f"io_uring not usable here: {out.detail}")
    assert (out.letter, out.status) == ("H", 0)
    assert "# race: 0/200 iterations reached a bad outcome (missed 0, wrong 0)" in out.ktap
    assert "# check 3 read: a 200" in out.ktap  # the child never sees the parent's b


@needs_cc
def test_conform_reports_a_disagreement_and_exits_1(capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    # E1 (before 17839856fd58) leaks through vmsplice; this kernel does not
    assert conform_main(["--scenarios", "CVE-2020-29374", "--policy", "E1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Kernel (given --policy E1) -> model policy E1"
    assert out[6] == "| CVE-2020-29374 | M | H | no | 0/1 |"


@needs_cc
def test_conform_agrees_with_e6_on_the_sequential_vmsplice_rows() -> None:
    rows = conform([SCENARIOS[n] for n in ("S01", "S03", "A5", "A6")], "E6")
    assert [(r.scenario, r.model, r.kernel.letter, r.agree) for r in rows] == [
        ("S01", "H", "H", "yes"), ("S03", "H", "H", "yes"), ("A5", "H", "H", "yes"),
        ("A6", "H", "H", "yes")]


@needs_cc
@needs_root
def test_swap_scenarios_run_with_a_temporary_swap_file() -> None:
    before = Path("/proc/swaps").read_text()
    rows = conform([SCENARIOS["X16"], SCENARIOS["CVE-2020-29374-swap"]], "E6")
    assert [(r.scenario, r.model, r.kernel.letter, r.agree) for r in rows] == [
        ("X16", "H", "H", "yes"), ("CVE-2020-29374-swap", "H", "H", "yes")]
    assert Path("/proc/swaps").read_text() == before  # swapped off again
    assert not [p for p in os.listdir("/tmp") if p.startswith("mcheck-swap-")]


@needs_root
def test_the_swap_file_is_removed_even_when_the_run_fails() -> None:
    if len(Path("/proc/swaps").read_text().splitlines()) > 1:
        pytest.skip("swap already active: swap_space() adds none")
    with pytest.raises(RuntimeError), swap_space(size_mb=16) as why:
        assert why == ""
        assert "mcheck-swap-" in Path("/proc/swaps").read_text()
        raise RuntimeError("boom")
    assert "mcheck-swap-" not in Path("/proc/swaps").read_text()
    assert not [p for p in os.listdir("/tmp") if p.startswith("mcheck-swap-")]


@needs_cc
def test_without_root_the_swap_scenarios_skip_saying_why(monkeypatch) -> None:
    if len(Path("/proc/swaps").read_text().splitlines()) > 1:
        pytest.skip("swap already active: nothing would skip")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    [row] = conform([SCENARIOS["X16"]], "E6")
    assert (row.model, row.kernel.letter, row.agree, row.kernel.status) == ("H", "S", "skip", 4)
    assert row.kernel.detail == (
        "no active swap in /proc/swaps (as root: mkswap and swapon a file) (no active swap and "
        "not root (a swap file needs swapon))")


# -- traces ---------------------------------------------------------------------------------

def test_a_scenario_trace_becomes_its_stress_program_with_the_interleaving() -> None:
    path = "traces/E3-S07-wrong_cow.json"
    data = json.loads((ROOT / path).read_text())
    s, policy, notes = from_trace(str(ROOT / path))
    assert (s.name, policy) == ("S07", "E3")
    assert notes[0] == f"From trace {ROOT / path}: wrong_cow under E3: {data['message']}"
    assert notes[2:] == [f"  {a[0]}: {a[1]}" for a in data["actions"]]
    text = generate(s, policy, None, notes)
    assert " * Generated by models/cow/reproduce.py; the catalogue expects W under E3.\n" in text
    assert all(f" * {line}\n" in text for line in notes)
    assert "#define DEFAULT_ITERATIONS 1000L\n" in text and "#define RACES 1\n" in text


def _trace(tmp_path: Path, **fields) -> str:
    data = {"format": "mcheck-trace", "version": 1, "mcheck": "0.1.0", "model": "cow",
            "model_path": "models/cow", "fingerprint": "0" * 32,
            "params": {"policy": "E6", "budget": "fork=1,pin=1,write=2"},
            "property": "wrong_cow", "kind": "invariant", "message": "m", "actions": [],
            "states": ["0" * 32]}
    data.update(fields)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_a_changed_model_or_foreign_trace_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _trace(tmp_path)  # an open-search trace whose model fingerprint does not match
    assert reproduce_main(["--trace", path, "-o", str(tmp_path / "x.c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reproduce: trace {path}: model changed since the trace was "
                          "written (fingerprint 00000000000000000000000000000000, now ")
    assert err.endswith("); re-run `mcheck check models/cow ... --export DIR` to regenerate "
                        "it\n") and err.count("\n") == 1
    path = _trace(tmp_path, params={"policy": "E6"})
    assert reproduce_main(["--trace", path, "-o", str(tmp_path / "x.c")]) == 2
    assert capsys.readouterr().err == (
        f"reproduce: trace {path} names no scenario and no budget (params ['policy']); "
        "export it again with `mcheck check models/cow --scenario NAME --export DIR`\n")
    path = _trace(tmp_path, params={"policy": "E6", "budget": "forks=1"})
    assert reproduce_main(["--trace", path, "-o", str(tmp_path / "x.c")]) == 2
    assert capsys.readouterr().err == (
        f"reproduce: trace {path}: its parameters do not build the open model: unknown budget "
        "kind 'forks'; use fork, pin, get, write, read, dma, unpin, unmap, mprotect, "
        "clear_refs, swapout, exit, migrate\n")
    path = _trace(tmp_path, model="toys")
    assert reproduce_main(["--trace", path, "-o", str(tmp_path / "x.c")]) == 2
    assert capsys.readouterr().err == (
        f"reproduce: trace {path} is of model 'toys', not cow; give a trace of `mcheck check "
        "models/cow --scenario NAME --export DIR` or `mcheck explore models/cow --budget ... "
        "--export DIR`\n")
    assert not (tmp_path / "x.c").exists()


# -- traces from open search ----------------------------------------------------------------

#: (policy, budget, extra flags, property exported) of the open-search traces tested here.
E1_CVE = ("E1", "fork=1,get=1,unmap=1,write=2", ("--gup-modes", "ro-slow,ro-fast"),
          "missed_cow")
E3_FAST = ("E3", "fork=1,pin=1,write=2", ("--gup-modes", "rw-fast", "--threads", "2"),
           "wrong_cow")
E4_WINDOW = ("E4", "fork=1,pin=1,write=2", ("--threads", "2"), "wrong_cow")


def _explore(tmp_path: Path, spec: tuple) -> str:
    """Export the first violation of an open search and return its trace file."""
    from mcheck.cli import main as mcheck_main

    policy, budget, flags, prop = spec
    out = tmp_path / f"traces-{policy}"
    assert mcheck_main(["explore", "models/cow", "--policy", policy, "--budget", budget,
                        *flags, "--export", str(out)]) == 1
    [path] = [p for p in out.iterdir() if json.loads(p.read_text())["property"] == prop]
    return str(path)


def test_the_e1_cve_trace_from_open_search_becomes_a_sequential_program(
        tmp_path: Path) -> None:
    path = _explore(tmp_path, E1_CVE)
    s, policy, notes = from_trace(path)
    assert (s.name, policy, s.procs, s.expect) == ("open-E1-missed-cow", "E1", ("P", "C1"),
                                                   {"E1": "M", "E6": "H"})
    text = generate(s, policy, None, notes)
    program = text[text.index(" *   1."):text.index(" * From open-search")]
    assert program == (" *   1. P: write(0, t1)\n *   2. P: fork(C1)\n"
                       " *   3. P: get(0, h0, rw=False, fast=False)\n *   4. P: munmap(0)\n"
                       " *   5. C1: write(0, t2)\n *   6. P: dma_read(h0)\n *\n")
    assert notes[0] == (f"From open-search trace {path}: missed_cow under E1: h0 (P's get) "
                        "reads t2, expected t1")
    assert notes[2:4] == [
        "11 steps, 5 operations, 0 preempted inside an operation, 0 racing windows (looped)",
        "The model on this program as a scenario: E1 M, E6 H"]
    assert notes[5:] == [
        "  1 P: do_anonymous_page -> f0", "  2 P: write t1: store f0",
        "  3 P: fork: dup_mmap: mmap_write_lock", "  4 P: fork: copy_present_pte: share",
        "  5 P: fork: share f0: wrprotect", "  6 P: fork: dup_mmap: mmap_write_unlock",
        "  7 P: get_user_pages: mmap_read_lock",
        "  8 P: get_user_pages: follow_page_pte f0 -> h0, mmap_read_unlock",
        "  9 P: munmap: zap_pte_range: f0", "  10* C1: do_wp_page(write) reuse f0",
        "  11 C1: write t2: store f0"]
    assert " * Generated by models/cow/reproduce.py; the model, checking it as a scenario, " \
           "gives M under E1.\n" in text
    assert "#define RACES 0\n" in text and "#define DEFAULT_ITERATIONS 1L\n" in text
    # the vmsplice pipe must hold P's t1: C1's t2 there is the missed COW of the CVE
    p = plan(s)
    assert [(c.desc, sorted(c.accept), sorted(c.hist), c.ro_get) for c in p.checks] == [
        ("P: dma_read(h0): what the device reads", [1], [1], True),
        ("C1: final view of page 0", [2], [1, 2], False)]
    assert p.skip == ""


def test_an_e3_fork_vs_gup_fast_trace_becomes_a_stress_loop(tmp_path: Path) -> None:
    path = _explore(tmp_path, E3_FAST)
    s, policy, notes = from_trace(path)
    assert (s.name, policy, s.expect) == ("open-E3-wrong-cow", "E3", {"E3": "W", "E6": "H"})
    text = generate(s, policy, None, notes)
    program = text[text.index(" *   1."):text.index(" * From open-search")]
    assert program == (" *   1. P: write(0, t1)\n"
                       " *   2. race(P: fork(C1), P.1: pin(0, h0, rw=True, fast=True))\n"
                       " *   3. P: write(0, t2)\n *   4. P.1: dma_read(h0)\n *\n")
    assert notes[2] == ("13 steps, 4 operations, 2 preempted inside an operation, 1 racing "
                        "window (looped)")
    assert [n for n in notes if "*" in n.split(":")[0]] == [
        "  5* P.1: pin_user_pages_fast: gup_fast: local_irq_save",
        "  9* P: fork: share f0: wrprotect",
        "  11* P.1: pin_user_pages_fast: gup_fast: done -> h0 on f0",
        "  12* P: do_wp_page(write) copy f0 -> f1"]
    assert "#define RACES 1\n" in text and "#define DEFAULT_ITERATIONS 1000L\n" in text


def test_a_thread_may_run_several_operations_inside_one_window(tmp_path: Path) -> None:
    # P's write faults the page in, then P.1 forks and pins before P's store: P.1's
    # two operations sit inside the one window of P's write
    path = _explore(tmp_path, E4_WINDOW)
    s, policy, notes = from_trace(path)
    assert (s.name, s.expect) == ("open-E4-wrong-cow", {"E4": "W", "E6": "H"})
    assert [[(s.threads[t][0], op.kind) for t, op in g] for g in steps_of(s)] == [
        [("P", "write"), ("P.1", "fork"), ("P.1", "gup")], [("P.1", "dma_read")]]
    text = generate(s, policy, None, notes)
    program = text[text.index(" *   1."):text.index(" * From open-search")]
    assert program == (" *   1. race(P: write(0, t1), P.1: fork(C1); pin(0, h0, rw=False, "
                       "fast=False))\n *   2. P.1: dma_read(h0)\n *\n")
    assert notes[2] == ("9 steps, 3 operations, 1 preempted inside an operation, 1 racing "
                        "window (looped)")
    # two threads meet at the barrier; the window finishes when its three operations have
    assert "static const int race_size[NSTEPS] = {2, 0, 0};\n" in text
    assert "static const int step_size[NSTEPS] = {3, 1, 1};\n" in text
    # the pin may come before or after P's store: the device reads t1 either way, since
    # P.1 forks before it pins; a zero page is a wrong COW
    [dma, final] = plan(s).checks
    assert (sorted(dma.accept), sorted(dma.hist), sorted(final.accept)) == ([1], [1], [1])


def _window_scenario() -> Scenario:
    """race(P: write(0, b), P.1: pin(0, h, rw=True); dma_read(h)) after P: write(0, a)."""
    w = Op("write", "P", (0, "a"))
    return Scenario("window", "a thread with two operations in a race", ("P",),
                    (("P", 0), ("P.1", 0)),
                    ((w, Op("write", "P", (0, "b"))),
                     (Op("gup", "P.1", (0, "h", True, True, False), ((0, 1),)),
                      Op("dma_read", "P.1", ("h",), ((0, 1),)))),
                    ("h",), ("a", "b"))


def test_a_window_is_read_back_from_the_after_constraints() -> None:
    s = _window_scenario()
    assert [[(t, op.kind) for t, op in g] for g in steps_of(s)] == [
        [(0, "write")], [(0, "write"), (1, "gup"), (1, "dma_read")]]
    # every serialisation keeping P.1's pin before its read: the device reads a or b
    [dma, final] = plan(s).checks
    assert (dma.desc, sorted(dma.accept), sorted(dma.hist)) == (
        "P.1: dma_read(h): what the device reads", [1, 2], [1, 2])
    assert (final.desc, sorted(final.accept)) == ("P: final view of page 0", [2])


@needs_cc
def test_a_window_with_two_operations_of_one_thread_runs(tmp_path: Path) -> None:
    text = generate(_window_scenario(), "E6", 200)
    assert " *   2. race(P: write(0, b), P.1: pin(0, h, rw=True, fast=False); " \
           "dma_read(h))\n" in text
    assert compile_program(text, str(tmp_path / "window")) == ""
    out = run_program(str(tmp_path / "window"))
    if out.letter == "S":
        pytest.skip(f"io_uring not usable here: {out.detail}")
    assert (out.letter, out.status, out.detail) == ("H", 0, "0/200")
    assert "# race: 0/200 iterations reached a bad outcome (missed 0, wrong 0)" in out.ktap


def test_open_search_trace_programs_are_the_same_under_any_hash_seed(tmp_path: Path) -> None:
    path = _explore(tmp_path, E3_FAST)
    code = ("import sys; from models.cow.reproduce import from_trace, generate; "
            f"s, p, n = from_trace({path!r}); sys.stdout.write(generate(s, p, None, n))")
    outs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("0", "1", "12345")}
    assert len(outs) == 1 and "#define RACES 1" in outs.pop()


@needs_cc
def test_the_open_search_cve_program_passes_and_the_race_loop_holds(tmp_path: Path) -> None:
    e1 = tmp_path / "e1.c"
    assert reproduce_main(["--trace", _explore(tmp_path, E1_CVE), "-o", str(e1)]) == 0
    assert compile_program(e1.read_text(), str(tmp_path / "e1")) == ""
    out = run_program(str(tmp_path / "e1"))
    assert (out.letter, out.status, out.detail) == ("H", 0, "0/1")
    assert out.ktap[2:5] == ("1..2", "ok 1 P: dma_read(h0): what the device reads",
                             "ok 2 C1: final view of page 0")
    e3 = tmp_path / "e3.c"
    assert reproduce_main(["--trace", _explore(tmp_path, E3_FAST), "--iterations", "200",
                           "-o", str(e3)]) == 0
    assert compile_program(e3.read_text(), str(tmp_path / "e3")) == ""
    out = run_program(str(tmp_path / "e3"))
    if out.letter == "S":
        pytest.skip(f"io_uring not usable here: {out.detail}")
    assert (out.letter, out.status, out.detail) == ("H", 0, "0/200")
    assert "# race: 0/200 iterations reached a bad outcome (missed 0, wrong 0)" in out.ktap
    assert "# check 1 read: t2 200" in out.ktap  # the pin sees P's t2: no wrong COW on 6.18


# -- conform through the mcheck command line ------------------------------------------------

@needs_cc
def test_mcheck_conform_prints_the_table_rows(capsys: pytest.CaptureFixture[str]) -> None:
    from mcheck.cli import main as mcheck_main

    status = mcheck_main(["conform", "models/cow", "--scenarios", "S01,CVE-2020-29374,X24,S07",
                          "--policy", "E6", "--iterations", "50"])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Kernel (given --policy E6) -> model policy E6"
    if "io_uring" in out[9]:
        pytest.skip(f"io_uring not usable here: {out[9]}")
    assert out[4:] == [
        "| scenario | model | kernel | agree | detail |", "|---|---|---|---|---|",
        "| S01 | H | H | yes | 0/1 |",
        "| CVE-2020-29374 | H | H | yes | 0/1 |",
        "| X24 | W | S | skip | gup:get-rw: a R/W FOLL_GET held across later steps needs an "
        "O_DIRECT read in flight; on 6.x O_DIRECT pins instead (FOLL_PIN via "
        "iov_iter_extract_pages, v6.5) and completes before the syscall returns |",
        "| S07 | H | H | yes | 0/50 |",
        "", "4 scenarios: 3 ran, 3 agree, 0 disagree, 1 skipped"]
    assert status == 0


@needs_cc
def test_a_trace_program_compiles(tmp_path: Path) -> None:
    out = tmp_path / "s07.c"
    assert reproduce_main(["--trace", str(ROOT / "traces/E3-S07-wrong_cow.json"),
                           "-o", str(out)]) == 0
    assert compile_program(out.read_text(), str(tmp_path / "s07")) == ""
