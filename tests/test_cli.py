"""The mcheck command, run as a subprocess the way people and CI run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOYS = str(ROOT / "examples" / "toys.py")


def run(*args, env=None, cwd=None):
    full_env = {**os.environ, **(env or {})}
    full_env.pop("MCHECK_DEBUG", None) if "MCHECK_DEBUG" not in (env or {}) else None
    return subprocess.run([sys.executable, "-m", "mcheck", *map(str, args)],
                          capture_output=True, text=True, env=full_env, cwd=cwd, timeout=60)


def assert_usage_error(proc, *fragments):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mcheck: ")
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


# -- exit statuses -------------------------------------------------------------------


def test_version():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.strip() == "mcheck 0.1.0"


def test_holds_exits_0():
    p = run("check", TOYS, "--toy", "increments", "--procs", "2")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("increments toy=increments procs=2: HOLDS  (1012 states, "
                               "2024 transitions, depth 31, exhausted")


def test_violated_exits_1_and_prints_the_trace():
    p = run("check", TOYS, "--toy", "lost-update")
    assert p.returncode == 1
    assert "final_x_is_2       VIOLATED      invariant: x = 1 at the end (4 steps)" in p.stdout
    assert "x_never_decreases  UNDETERMINED  stopped at the first violation" in p.stdout
    assert "4 steps, 2 threads, 2 preemptions" in p.stdout
    assert "step  T0" in p.stdout


def test_undetermined_exits_3_naming_the_bound():
    p = run("check", TOYS, "--toy", "increments", "--procs", "3", "--max-states", "500")
    assert p.returncode == 3
    assert "UNDETERMINED" in p.stdout and "--max-states 500 reached" in p.stdout
    p = run("check", TOYS, "--toy", "ladder", "--max-depth", "5")
    assert p.returncode == 3
    assert "quiet_at_the_top  UNDETERMINED  --max-depth 5 reached after 11 states, depth 5" \
        in p.stdout
    p = run("check", TOYS, "--toy", "increments", "--procs", "4", "--timeout", "0.001")
    assert p.returncode == 3 and "--timeout 0.001s reached" in p.stdout
    p = run("check", TOYS, "--toy", "increments", "--procs", "4", "--max-memory", "1")
    assert p.returncode == 3 and "--max-memory 1 MB reached" in p.stdout


def test_deadlock_flag():
    assert run("check", TOYS, "--toy", "philosophers").returncode == 0
    p = run("check", TOYS, "--toy", "philosophers", "--deadlock")
    assert p.returncode == 1
    assert "deadlock: no enabled action in a non-final state (3 steps)" in p.stdout


def test_several_models_print_one_verdict_each_and_exit_with_the_worst():
    p = run("check", TOYS)
    assert p.returncode == 1
    verdicts = [x for x in p.stdout.splitlines() if x and not x.startswith(" ")
                and ": " in x and "toy=" in x and "(" in x and "states" in x]
    assert [v.split(":")[0] for v in verdicts] == [
        "increments toy=increments procs=2", "lost-update toy=lost-update",
        "philosophers toy=philosophers procs=3", "ladder toy=ladder height=5"]
    p = run("check", TOYS, "--property", "neighbours_never_both_eat")
    assert p.returncode == 0 and "skipped" in p.stdout
    doc = json.loads(run("check", TOYS, "--property", "neighbours_never_both_eat",
                         "--json").stdout)
    assert [("skipped" in m, m["model"]) for m in doc["models"]] == [
        (True, "increments"), (True, "lost-update"), (False, "philosophers"), (True, "ladder")]


def test_all_collects_every_violation():
    p = run("check", TOYS, "--toy", "lost-update", "--all", "--json")
    doc = json.loads(p.stdout)
    props = {x["name"]: x for x in doc["models"][0]["properties"]}
    assert props["final_x_is_2"]["verdict"] == "violated"
    assert props["x_never_decreases"]["verdict"] == "holds"
    assert props["stores"]["count"] == 8 and props["stores"]["verdict"] == "holds"


def test_dfs_flag():
    p = run("check", TOYS, "--toy", "lost-update", "--dfs", "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["strategy"] == "dfs"


# -- usage errors: exit 2, one line, no traceback -------------------------------------


@pytest.mark.parametrize("args, fragments", [
    (["check", TOYS, "--bogus"], ["unknown flag '--bogus'"]),
    (["check", TOYS, "--toy", "ladder", "stray"], ["unknown argument 'stray'"]),
    (["check", str(ROOT / "no-such-model.py")], ["no model at", "give the path"]),
    (["check"], ["no model given"]),
    (["check", TOYS, "--max-states", "0"], ["--max-states", "above zero"]),
    (["check", TOYS, "--max-depth", "-1"], ["--max-depth", "above zero"]),
    (["check", TOYS, "--timeout", "0"], ["--timeout", "above zero"]),
    (["check", TOYS, "--max-memory", "-1"], ["--max-memory", "above zero"]),
    (["check", TOYS, "--max-states", "many"], ["--max-states", "a whole number expected"]),
    (["check", TOYS, "--property", "nope"], ["has a property 'nope'", "choose from"]),
    (["check", TOYS, "--toy", "ladder", "--property", "nope"],
     ["has no property 'nope'", "quiet_at_the_top"]),
    (["check", TOYS, "--toy", "increments", "--procs", "0"], ["--procs must be"]),
    (["check", TOYS, "--toy", "nope"], ["invalid choice"]),
    (["bogus"], ["invalid choice"]),
    ([], ["no command given"]),
    (["replay"], ["required"]),
    (["replay", "x.json", "--bogus"], ["unknown flag '--bogus'"]),
    (["check", str(ROOT / "mcheck" / "errors.py")], ["is not a model module"]),
])
def test_usage_errors(args, fragments):
    assert_usage_error(run(*args), *fragments)


def test_help_lists_exit_codes_and_model_flags():
    p = run("check", "--help")
    assert p.returncode == 0 and "exit status:" in p.stdout and "3  undetermined" in p.stdout
    p = run("check", TOYS, "--help")
    assert p.returncode == 0 and "--procs N" in p.stdout and "--max-states N" in p.stdout
    p = run("--help")
    assert p.returncode == 0 and "exit status:" in p.stdout


def _model_file(tmp_path, body, name="m.py"):
    f = tmp_path / name
    f.write_text(textwrap.dedent("""\
        from mcheck import Model, invariant

        class Counter(Model):
            name = "counter"
            version = VERSION
            def params(self):
                return {}
            def initial_states(self):
                return [(0,)]
            def actions(self, s):
                return [("inc",)] if s[0] < 3 else []
            def step(self, s, a):
                return STEP
            def properties(self):
                return [invariant("below_3", lambda s: s[0] < 3)]

        def mcheck_models(options):
            return [Counter()]
        """).replace("VERSION", body.get("version", '"1"')).replace(
            "STEP", body.get("step", "(s[0] + 1,)")))
    return f


def test_an_exception_in_the_model_is_a_model_bug(tmp_path):
    f = _model_file(tmp_path, {"step": "(1 // (1 - s[0]) + s[0],)"})
    p = run("check", f)
    assert_usage_error(p, "model 'counter' raised ZeroDivisionError", "bug in the model")
    p = run("check", f, env={"MCHECK_DEBUG": "1"})
    assert p.returncode == 2 and "Traceback" in p.stderr and "ZeroDivisionError" in p.stderr


# -- export, replay, show --------------------------------------------------------------


def _export(tmp_path, *args):
    out = tmp_path / "traces"
    p = run("check", TOYS, *args, "--export", out)
    files = sorted(out.glob("*.json"))
    return p, files


def test_export_names_and_replay(tmp_path):
    p, files = _export(tmp_path, "--toy", "lost-update", "--all")
    assert p.returncode == 1
    assert [f.name for f in files] == ["lost-update--toy-lost-update--final_x_is_2.json",
                                       "lost-update--toy-lost-update--stores.json"]
    for f in files:
        assert f"exported {f.stem.split('--')[-1]}: {f}" in p.stdout
    r = run("replay", files[0])
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("lost-update toy=lost-update: final_x_is_2 VIOLATED again after "
                        "4 steps: x = 1 at the end\n")
    r = run("replay", files[1])
    assert r.returncode == 0 and "stores event again after 2 steps" in r.stdout


def test_show_renders_lanes(tmp_path):
    _, files = _export(tmp_path, "--toy", "philosophers", "--deadlock")
    [deadlock] = [f for f in files if "deadlock" in f.name]
    p = run("show", deadlock)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == ("philosophers toy=philosophers procs=3: deadlock VIOLATED: "
                        "no enabled action in a non-final state")
    assert lines[1] == "3 steps, 3 threads, 2 preemptions (marked *)"
    header = next(x for x in lines if x.startswith("step"))
    assert header.split() == ["step", "ph0", "ph1", "ph2"]
    p = run("show", deadlock, "--json")
    doc = json.loads(p.stdout)
    assert doc["preemptions"] == 2 and [s["thread"] for s in doc["steps"]] == [
        "ph0", "ph1", "ph2"]


def test_replay_refuses_a_changed_model(tmp_path):
    f = _model_file(tmp_path, {})
    out = tmp_path / "t"
    assert run("check", f, "--export", out).returncode == 1
    [trace] = out.glob("*.json")
    assert run("replay", trace).returncode == 0
    _model_file(tmp_path, {"version": '"2"'})
    assert_usage_error(run("replay", trace), "model changed since the trace was written",
                       "--export")


def test_replay_names_the_step_where_an_unversioned_change_shows(tmp_path):
    f = _model_file(tmp_path, {})
    out = tmp_path / "t"
    run("check", f, "--export", out)
    [trace] = out.glob("*.json")
    _model_file(tmp_path, {"step": "(s[0] + 1 if s[0] < 2 else 3,)"})  # same as before
    assert run("replay", trace).returncode == 0
    _model_file(tmp_path, {"step": "(s[0] + 1 if s[0] < 1 else s[0] + 2,)"})
    assert_usage_error(run("replay", trace), "step 2", "the state differs")


def test_replay_refuses_bad_trace_files(tmp_path):
    _, files = _export(tmp_path, "--toy", "lost-update")
    good = json.loads(files[0].read_text())
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "mcheck-trace", ')
    assert_usage_error(run("replay", corrupt), "is not valid JSON")
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({k: v for k, v in good.items() if k != "actions"}))
    assert_usage_error(run("replay", missing), "has no field 'actions'")
    disabled = tmp_path / "disabled.json"
    disabled.write_text(json.dumps({**good, "actions": [[0], [7], [0], [1]]}))
    assert_usage_error(run("replay", disabled), "step 2: action [7] is not enabled")
    fp = tmp_path / "fp.json"
    fp.write_text(json.dumps({**good, "fingerprint": "0" * 32}))
    assert_usage_error(run("replay", fp), "model changed since the trace was written")
    assert_usage_error(run("replay", tmp_path / "nope.json"), "no trace file at")
    assert_usage_error(run("show", corrupt), "is not valid JSON")


def test_replay_with_a_moved_model(tmp_path):
    f = _model_file(tmp_path, {})
    out = tmp_path / "t"
    run("check", "m.py", "--export", out, cwd=tmp_path)
    [trace] = out.glob("*.json")
    assert json.loads(trace.read_text())["model_path"] == "m.py"
    assert_usage_error(run("replay", trace, cwd=ROOT), "is not there", "--model")
    assert run("replay", trace, "--model", f, cwd=ROOT).returncode == 0


# -- determinism ---------------------------------------------------------------------


def _strip_elapsed(value):
    if isinstance(value, dict):
        return {k: _strip_elapsed(v) for k, v in value.items() if k != "elapsed"}
    if isinstance(value, list):
        return [_strip_elapsed(v) for v in value]
    return value


def test_json_output_is_the_same_under_any_hash_seed():
    outputs = []
    for seed in ("0", "1", "random"):
        p = run("check", TOYS, "--all", "--deadlock", "--json", env={"PYTHONHASHSEED": seed})
        assert p.returncode == 1, p.stderr
        outputs.append(p.stdout)
    # Byte-identical once the elapsed times are blanked out.
    import re
    blank = [re.sub(r'"elapsed": [0-9.e-]+', '"elapsed": 0', o) for o in outputs]
    assert blank[0] == blank[1] == blank[2]
    docs = [_strip_elapsed(json.loads(o)) for o in outputs]
    assert docs[0] == docs[1] == docs[2]
    assert [m["model"] for m in docs[0]["models"]] == [
        "increments", "lost-update", "philosophers", "ladder"]


# -- vacuous inputs, interrupts and unexpected errors (issue 10, items 5 and 6) ------------

READ_ONLY = '''
MINE = scenario("ronly", "reads only", [read("P", 0), fork("P", "C"), read("C", 0)],
                procs=("P", "C"))
'''


def test_a_holds_that_compared_nothing_warns(tmp_path):
    f = tmp_path / "ronly.py"
    f.write_text(READ_ONLY)
    p = run("check", ROOT / "models" / "cow", "--scenario", f"{f}:MINE", "-q")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith(f"cow policy=E6 scenario={f}:MINE: HOLDS  (7 states, "
                               "6 transitions, depth 6, exhausted, ")
    assert lines[5:] == [
        "  warning: missed_cow holds vacuously: its check tested nothing in any of the 7 "
        "reachable states",
        "  warning: wrong_cow holds vacuously: its check tested nothing in any of the 7 "
        "reachable states",
    ]
    doc = json.loads(run("check", ROOT / "models" / "cow", "--scenario", f"{f}:MINE",
                         "--json").stdout)
    assert doc["models"][0]["warnings"] == [line[len("  warning: "):] for line in lines[5:]]


def test_a_holds_that_compared_something_does_not_warn():
    p = run("check", ROOT / "models" / "cow", "--scenario", "S01", "-q")
    assert p.returncode == 0 and "warning" not in p.stdout
    assert "warnings" not in json.loads(run("check", ROOT / "models" / "cow", "--scenario",
                                            "S01", "--json").stdout)["models"][0]


def test_a_one_state_holds_warns():
    p = run("explore", ROOT / "models" / "cow", "--budget", "read=1", "-q")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith(
        "cow policy=E6 budget=read=1 procs=2 threads=1 pages=1 frames=3 slots=1: HOLDS  "
        "(1 states, 0 transitions, depth 0, exhausted, ")
    assert p.stdout.splitlines()[5:] == [
        "  warning: the search reached 1 state and took no transition: every property was "
        "checked on the initial state alone",
        "  warning: missed_cow holds vacuously: its check tested nothing in any of the 1 "
        "reachable states",
        "  warning: wrong_cow holds vacuously: its check tested nothing in any of the 1 "
        "reachable states",
    ]


INTERRUPTED = ("mcheck: interrupted by Ctrl-C (SIGINT): the search stopped early and the report "
               "is what it found so far; give --timeout or --max-states to bound a long "
               "search\n")


def test_ctrl_c_in_the_search_prints_what_was_found_and_exits_130(capsys):
    from mcheck.cli import main

    f = ROOT / "tests" / "bad_inputs" / "models" / "keyboard_interrupt.py"
    assert main(["check", str(f)]) == 130
    out, err = capsys.readouterr()
    assert out.startswith("bad: UNDETERMINED  (3 states, 2 transitions, depth 2, stopped by "
                          "interrupt, ")
    assert out.splitlines()[1].startswith("  small  UNDETERMINED  stopped by interrupt after "
                                          "3 states, depth 2, ")
    assert err == INTERRUPTED
    assert main(["check", str(f), "--json"]) == 130
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert (doc["status"], doc["interrupted"]) == (130, True)
    assert [(m["verdict"], m["stopped_by"], m["states"]) for m in doc["models"]] == [
        ("undetermined", "interrupt", 3)]
    assert err == INTERRUPTED


SIGTERM_MODEL = '''
import os
import signal

from mcheck import Model, invariant


class M(Model):
    name = "term"

    def initial_states(self):
        return [0]

    def actions(self, s):
        return [("T", 1)] if s < 9 else []

    def step(self, s, a):
        if s == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return s + 1

    def properties(self):
        return [invariant("small", lambda s: s < 10)]


def mcheck_models(options):
    return [M()]
'''


def test_sigterm_in_the_search_prints_what_was_found_and_exits_143(tmp_path, capsys):
    import signal

    from mcheck.cli import main

    f = tmp_path / "term.py"
    f.write_text(SIGTERM_MODEL)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["check", str(f)]) == 143
    assert signal.getsignal(signal.SIGTERM) is before  # main puts the handler back
    out, err = capsys.readouterr()
    assert out.startswith("term: UNDETERMINED  (5 states, 4 transitions, depth 4, stopped by "
                          "interrupt, ")
    assert err == ("mcheck: interrupted by SIGTERM: the search stopped early and the report is "
                   "what it found so far; give --timeout or --max-states to bound a long "
                   "search\n")


@pytest.mark.parametrize("sig,status,name", [("SIGTERM", 143, "SIGTERM"),
                                             ("SIGINT", 130, "Ctrl-C (SIGINT)")])
def test_a_signal_to_a_two_worker_run_stops_it_with_one_line(sig, status, name):
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if k != "MCHECK_DEBUG"}
    p = subprocess.Popen([sys.executable, "-m", "mcheck", "check", TOYS, "--toy", "increments",
                          "--procs", "5", "--workers", "2", "-q"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    children = Path(f"/proc/{p.pid}/task/{p.pid}/children")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and p.poll() is None:  # wait for the workers
        if not children.exists() or children.read_text().strip():
            break
        time.sleep(0.05)
    time.sleep(1)
    p.send_signal(getattr(signal, sig))
    out, err = p.communicate(timeout=60)
    assert p.returncode == status, (out, err)
    assert err == (f"mcheck: interrupted by {name}: the search stopped early and the report "
                   "is what it found so far; give --timeout or --max-states to bound a long "
                   "search\n")
    assert out.startswith("increments toy=increments procs=5: UNDETERMINED  (")
    assert ", stopped by interrupt, " in out.splitlines()[0]


def test_an_unexpected_exception_is_one_line_and_exit_2(monkeypatch, capsys):
    import mcheck.cli as cli

    def broken(args, extras):
        raise TypeError("an mcheck bug")

    monkeypatch.setattr(cli.check, "check_command", broken)
    monkeypatch.delenv("MCHECK_DEBUG", raising=False)
    assert cli.main(["check", TOYS]) == 2
    out, err = capsys.readouterr()
    assert err == ("mcheck: internal error: TypeError: an mcheck bug; this is a bug in mcheck, "
                   "please report it with the command line (MCHECK_DEBUG=1 shows the "
                   "traceback)\n")
    monkeypatch.setenv("MCHECK_DEBUG", "1")
    assert cli.main(["check", TOYS]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("MCHECK_DEBUG=1 shows the traceback)\n")


def test_sys_exit_in_user_code_reached_from_anywhere_is_exit_2(monkeypatch, capsys):
    import mcheck.cli as cli

    def exits(args, extras):
        raise SystemExit(0)

    monkeypatch.setattr(cli.check, "check_command", exits)
    monkeypatch.delenv("MCHECK_DEBUG", raising=False)
    assert cli.main(["check", TOYS]) == 2
    assert capsys.readouterr().err == (
        "mcheck: code loaded by the command (a model, policy or scenario file) called "
        "sys.exit(0); it must not exit: raise an exception instead\n")


def test_replay_of_a_model_that_exits_is_not_reproduced():
    p = run("replay", ROOT / "tests" / "bad_inputs" / "traces" / "model_exits.json", cwd=ROOT)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == ("mcheck: model 'tests/bad_inputs/models/exit_at_import.py' called "
                        "sys.exit(0) while being imported; a model module must not exit: raise "
                        "an exception instead\n")


# -- summary line, open-search help, progress interval -----------------------------------


def test_several_models_end_with_one_summary_line():
    p = run("check", TOYS, "-q")
    assert p.returncode == 1
    assert p.stdout.splitlines()[-2:] == [
        "", "summary: 4 models: 2 held, 2 violated, 0 undetermined; 12 metric events in 2 "
        "models (at least: a search was cut short); --all shows every violated property of "
        "each model"]
    a = run("check", TOYS, "--all", "-q")
    assert a.stdout.splitlines()[-1] == ("summary: 4 models: 2 held, 2 violated, 0 "
                                         "undetermined; 14 metric events in 2 models")
    one = run("check", TOYS, "--toy", "ladder", "-q")
    assert "summary:" not in one.stdout  # one model: its verdict line says it all
    cut = run("check", TOYS, "--max-states", "5", "-q")
    assert cut.stdout.splitlines()[-1] == ("summary: 4 models: 0 held, 0 violated, 4 "
                                           "undetermined; 2 metric events in 2 models (at "
                                           "least: a search was cut short)")


def test_explore_help_says_a_race_within_one_process_needs_two_threads():
    p = run("explore", "--help")
    assert p.returncode == 0
    assert ("A race between two threads of one process is only found when the\nmodel runs two "
            "threads per process") in p.stdout
    cow = run("explore", str(ROOT / "models" / "cow"), "--help")
    flat = " ".join(cow.stdout.split())
    assert ("A race between two threads of one process, such as fork against GUP-fast "
            "(fork_seqcount), needs --threads 2: with 1, `--budget fork=1,pin=1,write=2` HOLDS "
            "for E6 with fork_seqcount=False") in flat


@pytest.mark.parametrize("value", ["0", "-3", "soon", "inf"])
def test_a_bad_progress_interval_is_refused(value):
    p = run("check", TOYS, "--toy", "ladder", env={"MCHECK_PROGRESS_INTERVAL": value})
    assert_usage_error(p, f"MCHECK_PROGRESS_INTERVAL={value!r} is not a number of seconds "
                          "above zero; set it to a number of seconds, e.g. 30, or unset it")


def test_export_names_keep_the_property_name_when_shortened():
    from mcheck import Model
    from mcheck.cli import trace_file_name

    class Long(Model):
        name = "long"

        def params(self):
            return {"policy": "/some/very/long/path/" * 6 + "mine.py:MINE", "x": 1}

        def initial_states(self):
            return [0]

        def actions(self, s):
            return []

        def step(self, s, a):
            return s

    name = trace_file_name(Long(), "wrong_cow")
    assert len(name) <= 125 and name.startswith("long--policy-_some_very_long")
    assert name.rsplit("--", 2)[1] == "wrong_cow" and name.endswith(".json")
    assert name != trace_file_name(Long(), "missed_cow")
