"""``mcheck list MODEL_PATH`` (the model's mcheck_list hook), did-you-mean, path.py alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.cow import POLICIES, SCENARIOS, resolve_policy, resolve_scenario, switch_values

ROOT = Path(__file__).resolve().parent.parent
COW = str(ROOT / "models" / "cow")
TOYS = str(ROOT / "examples" / "toys.py")


def run(*args):
    env = {k: v for k, v in os.environ.items() if k != "MCHECK_DEBUG"}
    return subprocess.run([sys.executable, "-m", "mcheck", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=60)


def test_list_prints_policies_scenarios_switches_and_budget_kinds():
    p = run("list", COW)
    assert (p.returncode, p.stderr) == (0, "")
    lines = p.stdout.splitlines()
    assert lines[0] == "policies (--policy NAME, a version, or path.py[:NAME]):"
    assert lines[1] == ("  E1                       4.9-5.7           mapcount(+swapcount) "
                        "reuse in do_wp_page and do_swap_page; fork shares every page")
    assert lines[1 + list(POLICIES).index("E4-no-seqcount")] == (
        "  E4-no-seqcount           broken control    E4 without write_protect_seq: the "
        "57efa1fe5957 race comes back")
    # Every named policy, then the versions, then every scenario with its title.
    assert [x.split()[0] for x in lines[1:1 + len(POLICIES)]] == list(POLICIES)
    assert lines[1 + len(POLICIES)].startswith("versions (--policy VERSION): 4.9, 4.14, 4.19, "
                                               "5.4, 5.7 = E1; 5.8 = E2; ")
    start = lines.index("scenarios (--scenario NAME, or path.py[:NAME]; without it every one "
                        "runs):")
    scen = lines[start + 1:start + 1 + len(SCENARIOS)]
    assert [x.split()[0] for x in scen] == list(SCENARIOS)
    assert "  S07                  GUP-fast R/W pin racing fork: fork sees no pin, then " \
           "write-protects" in scen
    start = lines.index("switches (get_policy(NAME).replace(SWITCH=VALUE, ...) in a policy "
                        "file):")
    assert lines[start + 1] == ("  wp_reuse                mapcount | page_count | "
                                "page_count_drain | anon_exclusive | precise | a function")
    assert "  gup_fast_ro             follow | fallback | fallback_pin | back_off_unshare" \
        in lines
    assert "  fork_seqcount           True | False" in lines
    assert lines[-3:] == [
        "budget kinds (mcheck explore models/cow --budget KIND=N,...): fork, pin, get, write, "
        "read, dma, unpin, unmap, mprotect, clear_refs, swapout, exit, migrate",
        "GUP modes (--gup-modes, --pin-modes, --get-modes): rw-slow,rw-fast,ro-slow,ro-fast",
        "a race between two threads of one process (fork against GUP-fast) needs --threads 2"]


def test_every_switch_has_its_values():
    values = switch_values()
    assert list(values) == [
        "wp_reuse", "swapin_reuse", "gup_unshare", "gup_fast_ro", "fork_early_copy",
        "fork_needs_has_pinned", "fork_try_dup", "fork_seqcount", "reclaim_skip_pinned",
        "unmap_try_share", "swp_exclusive", "mprotect_upgrade", "clear_refs_skip_pinned",
        "anon_exclusive", "gup_sets_has_pinned", "reuse_sets_ae"]
    for pol in POLICIES.values():  # every named policy takes listed values only
        for name, allowed in values.items():
            assert str(getattr(pol, name)) in allowed, (pol.name, name)


def test_list_refuses_arguments_and_models_without_the_hook():
    p = run("list", COW, "E6")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"mcheck: {COW}: unknown argument 'E6': `mcheck list models/cow` "
                        f"takes none; see `mcheck list {COW} --help`\n")
    p = run("list", TOYS)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith(f"mcheck: the model module '{TOYS}' has no `mcheck_list`; ")
    assert len(p.stderr.splitlines()) == 1
    p = run("list")
    assert p.returncode == 2 and "the following arguments are required: MODEL_PATH" in p.stderr
    h = run("list", COW, "--help")
    assert h.returncode == 0 and h.stdout.startswith(f"usage: mcheck list {COW} [-h]")


@pytest.mark.parametrize("ref, meant", [("e6", "E6"), ("e4-No-Seqcount", "E4-no-seqcount"),
                                        ("E66", "E6")])
def test_an_unknown_policy_gets_a_did_you_mean(ref, meant):
    with pytest.raises(ValueError) as e:
        resolve_policy(ref)
    assert str(e.value).startswith(f"unknown policy {ref!r} (did you mean {meant!r}?); use one "
                                   "of E1, E2, ")


def test_a_far_off_name_gets_no_guess():
    with pytest.raises(ValueError) as e:
        resolve_policy("nothing-like-it")
    assert str(e.value).startswith("unknown policy 'nothing-like-it'; use one of E1, ")


def test_an_unknown_scenario_gets_a_did_you_mean_on_the_command_line():
    with pytest.raises(ValueError) as e:
        resolve_scenario("s07")
    assert str(e.value).startswith("unknown scenario 's07' (did you mean 'S07'?); use one of ")
    p = run("check", COW, "--scenario", "rdma-FORK")
    assert p.returncode == 2 and p.stdout == "" and len(p.stderr.splitlines()) == 1
    assert p.stderr.startswith(f"mcheck: {COW}: unknown scenario 'rdma-FORK' (did you mean "
                               "'RDMA-fork'?); use one of S01, ")


def test_a_policy_file_without_a_name_takes_its_only_policy(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text('BASE = get_policy("E6")\n'
                    'MINE = BASE.replace(name="mine", fork_seqcount=False)\n')
    pol = resolve_policy(str(mine))
    assert (pol.name, pol.fork_seqcount) == ("mine", False)  # BASE is the catalogue's E6
    two = tmp_path / "two.py"
    two.write_text('A = get_policy("E6").replace(name="a")\n'
                   'B = get_policy("E4").replace(name="b")\n')
    with pytest.raises(ValueError) as e:
        resolve_policy(str(two))
    assert str(e.value) == (f"policy file {two} defines 2 (A, B) Policy objects of its own; "
                            f"name one: {two}:NAME")
    assert resolve_policy(f"{two}:B").name == "b"
    none = tmp_path / "none.py"
    none.write_text("X = 1\n")
    p = run("check", COW, "--policy", none, "--scenario", "S01")
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"mcheck: {COW}: policy file {none} defines none Policy objects of its "
                        f"own; name one: {none}:NAME; see `mcheck check {COW} --help` for the "
                        "model's flags\n")


def test_the_policy_file_alone_runs_and_finds_the_seqcount_race_with_two_threads(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text('MINE = get_policy("E6").replace(name="mine", fork_seqcount=False)\n')
    one = run("explore", COW, "--policy", mine, "--budget", "fork=1,pin=1,write=2", "-q")
    assert one.returncode == 0, one.stdout + one.stderr  # one thread: the race cannot happen
    two = run("explore", COW, "--policy", mine, "--budget", "fork=1,pin=1,write=1",
              "--threads", "2", "-q")
    assert two.returncode == 1, two.stdout + two.stderr
    assert " VIOLATED  (4506 states, " in two.stdout.splitlines()[0]
