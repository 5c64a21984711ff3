"""The bad-input corpus: every case is refused with exit 2 and one line, never a traceback.

Each case runs ``mcheck.cli.main(argv)`` in this process and asserts exit
status 2, exactly one line on stderr (``mcheck: <cause>; <fix>``) holding the
given fragment, no traceback anywhere, and no hang (each case has a few
seconds).  A few run through a real ``python -m mcheck`` to check what a shell
sees.  Files are under ``tests/bad_inputs/``; inputs derived from a valid
trace or baseline (and the ones too big to keep) are made once per module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "bad_inputs"
TOYS = str(ROOT / "examples" / "toys.py")
COUNTERS = str(ROOT / "examples" / "counters.py")
COW = str(ROOT / "models" / "cow")
S01 = ("--scenario", "S01")


def bad(*parts: str) -> str:
    return str(BAD.joinpath(*parts))


def model(name: str) -> str:
    return bad("models", name + ".py")


def policy(name: str) -> str:
    return bad("policies", name + ".py") + ":MINE"


def scen(name: str) -> str:
    return bad("scenarios", name + ".py") + ":MINE"


def trace(name: str) -> str:
    return bad("traces", name + ".json")


def baseline(name: str) -> str:
    return bad("baselines", name + ".json")


# (id, argv, fragment of the one stderr line).  "{made}" is the directory of the
# inputs made per module (see the fixture below).
FLAGS = [
    ("no-command", [], "no command given"),
    ("unknown-command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    ("check-no-model", ["check"], "no model given"),
    ("explore-no-model", ["explore"], "no model given"),
    ("max-states-0", ["check", TOYS, "--max-states", "0"], "must be above zero, got '0'"),
    ("max-states-negative", ["check", TOYS, "--max-states", "-5"], "must be above zero"),
    ("max-states-word", ["check", TOYS, "--max-states", "many"],
     "a whole number expected, got 'many'"),
    ("max-states-float", ["check", TOYS, "--max-states", "2.5"], "a whole number expected"),
    ("max-depth-0", ["check", TOYS, "--max-depth", "0"], "--max-depth: must be above zero"),
    ("timeout-0", ["check", TOYS, "--timeout", "0"], "--timeout: must be above zero"),
    ("timeout-nan", ["check", TOYS, "--timeout", "nan"], "finite number above zero"),
    ("timeout-inf", ["check", TOYS, "--timeout", "inf"], "finite number above zero"),
    ("max-memory-inf", ["check", TOYS, "--max-memory", "inf"],
     "--max-memory: must be a finite number above zero, got 'inf'"),
    ("max-memory-1e400", ["check", TOYS, "--max-memory", "1e400"], "finite number"),
    ("max-memory-negative", ["check", TOYS, "--max-memory", "-1"], "must be above zero"),
    ("workers-0", ["check", TOYS, "--workers", "0"], "--workers: must be above zero"),
    ("workers-huge", ["check", TOYS, "--workers", "99999999999999999999"],
     "more worker processes than this machine can start usefully; give at most"),
    ("max-memory-tiny", ["check", TOYS, "--max-memory", "1e-300"],
     "--max-memory 1e-300 MB is less than a byte; give megabytes"),
    ("store-bogus", ["check", TOYS, "--store", "bogus"], "invalid choice: 'bogus'"),
    ("symmetry-maybe", ["check", TOYS, "--symmetry", "maybe"], "invalid choice: 'maybe'"),
    ("dfs-fingerprint", ["check", TOYS, "--dfs", "--store", "fingerprint"],
     "--dfs works with the exact store and one worker only"),
    ("workers-exact", ["check", TOYS, "--workers", "2", "--store", "exact"],
     "worker processes need the fingerprint store"),
    ("property-unknown", ["check", TOYS, "--toy", "ladder", "--property", "nosuch"],
     "has no property 'nosuch'"),
    ("unknown-flag", ["check", TOYS, "--frobnicate"], "unknown flag '--frobnicate'"),
    ("extra-argument", ["check", TOYS, "extra"], "unknown argument 'extra'"),
    ("toy-unknown", ["check", TOYS, "--toy", "nosuch"], "invalid choice: 'nosuch'"),
    ("toy-procs-0", ["check", TOYS, "--toy", "increments", "--procs", "0"],
     "--procs must be a whole number above zero, got 0"),
    ("toy-height-negative", ["check", TOYS, "--toy", "ladder", "--height", "-1"],
     "--height must be a whole number above zero, got -1"),
    ("toy-procs-word", ["check", TOYS, "--procs", "two"], "invalid int value: 'two'"),
    ("toy-flag-not-applicable", ["check", TOYS, "--toy", "lost-update", "--procs", "2"],
     "--procs does not apply to the lost-update toy"),
    ("counters-threads-0", ["check", COUNTERS, "--threads", "0"],
     "--threads must be a whole number above zero, got 0"),
    ("counters-variant", ["check", COUNTERS, "--variant", "lockfree"], "unknown variant"),
    ("explore-no-open-search", ["explore", TOYS], "has no open search (it takes no --budget)"),
    ("explore-budget-for-toys", ["explore", TOYS, "--budget", "x=1"],
     "unknown flag '--budget' for model"),
    ("explore-no-budget", ["explore", COW], "explore needs a budget"),
    ("cow-frames-0", ["explore", COW, "--budget", "write=1", "--frames", "0"],
     "--frames 0 is impossible: give at least 1"),
    ("cow-procs-0", ["explore", COW, "--budget", "write=1", "--procs", "0"],
     "--procs 0 is impossible"),
    ("cow-pages-0", ["explore", COW, "--budget", "write=1", "--pages", "0"],
     "--pages 0 is impossible"),
    ("cow-threads-0", ["explore", COW, "--budget", "write=1", "--threads", "0"],
     "--threads 0 is impossible"),
    ("cow-slots-negative", ["explore", COW, "--budget", "write=1", "--slots", "-1"],
     "--slots -1 is impossible: give at least 0"),
    ("cow-bias-0", ["check", COW, *S01, "--bias", "0"],
     "--bias 0 is impossible: give at least 2"),
    ("cow-bias-1", ["explore", COW, "--budget", "write=1", "--bias", "1"],
     "--bias 1 is impossible"),
    ("cow-open-flag-without-budget", ["check", COW, *S01, "--frames", "2"],
     "--frames only applies to open search"),
    ("cow-budget-and-scenario", ["explore", COW, "--budget", "write=1", *S01],
     "--budget and --scenario exclude each other"),
    ("cow-budget-zero", ["explore", COW, "--budget", "write=0"], "empty budget"),
    ("cow-budget-kind", ["explore", COW, "--budget", "nosuch=1"], "unknown budget kind 'nosuch'"),
    ("cow-budget-syntax", ["explore", COW, "--budget", "write"], "budget item 'write'"),
    ("cow-gup-modes", ["explore", COW, "--budget", "pin=1", "--gup-modes", "bogus"],
     "unknown GUP mode 'bogus'"),
    ("cow-gup-modes-empty", ["explore", COW, "--budget", "pin=1", "--gup-modes", ""],
     "empty --gup-modes"),
    ("cow-pin-modes-empty", ["explore", COW, "--budget", "pin=1", "--pin-modes", ""],
     "empty --pin-modes"),
    ("cow-get-modes-bogus", ["explore", COW, "--budget", "get=1", "--get-modes", "rw"],
     "--get-modes"),
    ("cow-get-modes-scenario", ["check", COW, *S01, "--get-modes", "ro-fast"],
     "--get-modes only applies to open search"),
    ("compare-bias-0", ["compare", COW, "--bias", "0"], "--bias 0 is impossible"),
    ("cow-policy-unknown", ["check", COW, "--policy", "E9"], "unknown policy 'E9'"),
    ("cow-scenario-unknown", ["check", COW, "--scenario", "S99"], "S99"),
    ("cow-scenario-empty", ["check", COW, "--scenario", " "], "--scenario is empty"),
    ("graph-several-models", ["check", COW, "--graph", "{made}/g.dot"],
     "--graph needs one model, the module gave"),
    ("replay-no-trace", ["replay"], "the following arguments are required: TRACE.json"),
    ("replay-unknown-flag", ["replay", trace("model_missing"), "--frob"], "unknown flag '--frob'"),
    ("show-unknown-flag", ["show", trace("model_missing"), "--lanez"], "unknown flag '--lanez'"),
    ("compare-no-model", ["compare"], "no model given"),
    ("compare-update-without-baseline", ["compare", COUNTERS, "--update-baseline"],
     "--update-baseline needs --baseline FILE"),
    ("compare-threads-0", ["compare", COUNTERS, "--threads", "0,1"],
     "--threads takes thread counts above zero"),
    ("minimize-max-states-0", ["minimize", trace("model_missing"), "--max-states", "0"],
     "must be above zero"),
]

MODELS = [
    ("model-missing", ["check", bad("models", "nosuch.py")], "no model at"),
    ("model-not-python", ["check", bad("models", "not_python.txt")], "is not a Python file"),
    ("model-dir-no-init", ["check", bad("models", "not_a_package")],
     "is a directory without __init__.py"),
    ("model-syntax-error", ["check", "{made}/syntax_error.py"],
     "SyntaxError at syntax_error.py:1: expected ':'"),
    ("model-import-error", ["check", model("import_error")],
     "ModuleNotFoundError: No module named 'no_such_module_of_mcheck'"),
    ("model-raises-at-import", ["check", model("raises_at_import")],
     "RuntimeError: broken at import"),
    ("model-exit-at-import", ["check", model("exit_at_import")],
     "called sys.exit(0) while being imported; a model module must not exit"),
    ("model-exit-3-at-import", ["check", model("exit_3_at_import")], "called sys.exit(3)"),
    ("model-exit-replay", ["replay", trace("model_missing"), "--model", model("exit_at_import")],
     "called sys.exit(0) while being imported"),
    ("model-no-mcheck-models", ["check", model("no_mcheck_models")],
     "is not a model module: it defines no mcheck_models()"),
    ("model-mcheck-models-not-callable", ["check", model("models_not_callable")],
     "defines no mcheck_models()"),
    ("model-returns-empty", ["check", model("returns_empty")], "returned an empty list"),
    ("model-returns-none", ["check", model("returns_none")], "returned NoneType instead"),
    ("model-returns-ints", ["check", model("returns_ints")],
     "returned int as model 1, not a Model instance"),
    ("model-returns-class", ["check", model("returns_class")], "returned the class M as model 1"),
    ("model-generator-raises", ["check", model("generator_raises")],
     "raised RuntimeError in mcheck_models: no more models"),
    ("model-generator-exits", ["check", model("generator_exits")],
     "called sys.exit(0) while listing its models"),
    ("model-refuses-options", ["check", model("models_raise_value")], "--size must be even"),
    ("model-mcheck-models-bug", ["check", model("models_raise_type")],
     "raised KeyError in mcheck_models: 'missing'; this is a bug in the model"),
    ("model-mcheck-models-exits", ["check", model("models_exit")], "called sys.exit('bye')"),
    ("model-arguments-raise", ["check", model("arguments_raise")],
     "failed in mcheck_arguments: TypeError"),
    ("model-arguments-exit", ["check", model("arguments_exit")],
     "called sys.exit(0) in mcheck_arguments"),
    ("model-arguments-clash", ["check", model("arguments_clash")],
     "conflicting option string: --x"),
    ("model-params-set-json", ["check", model("params_set"), "--json"],
     "holds sizes={1, 2}, not a JSON value"),
    ("model-params-int-key", ["check", model("params_int_key")], "has the key 1, not a string"),
    ("model-params-list", ["check", model("params_list")], "returned list, not a dict"),
    ("model-params-raise", ["check", model("params_raise")], "raised KeyError in params()"),
    ("model-params-nan", ["check", model("params_nan")], "holds ratio=nan, not a JSON value"),
    ("model-state-object", ["check", model("state_object")],
     "holds a object, not an int, string or tuple"),
    ("model-state-list", ["check", model("state_list")], "holds a list, not an int"),
    ("model-state-float", ["check", model("state_float")], "holds a float, not an int"),
    ("model-no-initial-state", ["check", model("no_initial_state")], "has no initial state"),
    ("model-initial-states-raise", ["check", model("initial_states_raise")],
     "raised ZeroDivisionError: division by zero (in initial_states() of bad)"),
    ("model-initial-states-exit", ["check", model("initial_states_exit")],
     "called sys.exit(1) (in initial_states() of bad)"),
    ("model-step-raises", ["check", model("step_raises")],
     "raised ZeroDivisionError: step at 2 (while checking bad)"),
    ("model-step-exits", ["check", model("step_exits")],
     "called sys.exit(0) (while checking bad); a model must not exit"),
    ("model-step-exits-dfs", ["check", model("step_exits"), "--dfs"], "called sys.exit(0)"),
    ("model-step-raises-workers", ["check", model("step_raises"), "--workers", "2"],
     "raised ZeroDivisionError: step at 2 (while checking bad)"),
    ("model-step-exits-workers", ["check", model("step_exits"), "--workers", "2"],
     "called sys.exit(0) (while checking bad); a model must not exit"),
    ("model-step-recurses", ["check", model("step_recurses")], "raised RecursionError"),
    ("model-actions-none", ["check", model("actions_raise")], "raised TypeError"),
    ("model-properties-raise", ["check", model("properties_raise")],
     "raised AttributeError: no properties yet"),
    ("model-invariant-raises", ["check", model("invariant_raises")],
     "raised TypeError: 'int' object is not subscriptable"),
    ("model-explain-raises", ["check", model("explain_raises")],
     "raised AttributeError: 'int' object has no attribute 'upper'"),
    ("model-describe-raises", ["check", model("describe_raises")],
     "raised LookupError: no description (while reporting on bad)"),
    ("model-render-exits", ["check", model("render_exits")],
     "called sys.exit(0) (while reporting on bad)"),
    ("model-successor-object", ["check", model("successor_object")], "model 'bad' raised"),
]

POLICIES = [
    ("policy-missing", ["check", COW, *S01, "--policy", bad("policies", "nosuch.py:X")],
     "not found; give an existing path.py:NAME"),
    ("policy-no-name", ["check", COW, *S01, "--policy", bad("policies", "good.py:")],
     "write path.py:NAME"),
    ("policy-name-missing", ["check", COW, *S01, "--policy", bad("policies", "good.py:OTHER")],
     "defines no 'OTHER'"),
    ("policy-exits", ["check", COW, *S01, "--policy", policy("exits")],
     "called sys.exit(0) while loading; a policy file must not exit"),
    ("policy-syntax-error", ["check", COW, *S01, "--policy", "{made}/syntax_policy.py:MINE"],
     "failed to load: SyntaxError"),
    ("policy-raises", ["check", COW, *S01, "--policy", policy("raises")],
     "failed to load: RuntimeError: policy file broken"),
    ("policy-unknown-switch", ["check", COW, *S01, "--policy", policy("unknown_switch")],
     "unknown policy switch 'wp_reus'"),
    ("policy-bad-value", ["check", COW, *S01, "--policy", policy("bad_value")],
     "mprotect_upgrade = 'sometimes' is not one of"),
    ("policy-not-a-policy", ["check", COW, *S01, "--policy", policy("not_a_policy")],
     "is a int, not a Policy"),
    ("policy-unknown-base", ["check", COW, *S01, "--policy", policy("unknown_base")],
     "unknown policy 'E9'"),
    ("policy-decision-raises", ["check", COW, *S01, "--policy", policy("decision_raises")],
     "raised AttributeError: 'Frame' object has no attribute 'no_such_field'"),
    ("policy-decision-exits", ["check", COW, *S01, "--policy", policy("decision_exits")],
     "called sys.exit(0) (while checking cow"),
]

SCENARIOS = [
    ("scenario-empty-program", ["check", COW, "--scenario", scen("empty_program")],
     "the program is empty; give at least one operation"),
    ("scenario-zero-frames", ["check", COW, "--scenario", scen("zero_frames")],
     "scenario mine: frames=0; give a whole number of at least 1"),
    ("scenario-zero-frames-by-hand", ["check", COW, "--scenario", scen("direct_zero_frames")],
     "frames=0"),
    ("scenario-zero-pages", ["check", COW, "--scenario", scen("zero_pages")], "pages=0"),
    ("scenario-negative-slots", ["check", COW, "--scenario", scen("negative_slots")],
     "slots=-1; give a whole number of at least 0"),
    ("scenario-page-minus-one", ["check", COW, "--scenario", scen("page_minus_one")],
     "P runs write(-1, a) with page index -1; pages=1 allows 0..0"),
    ("scenario-page-out-of-range", ["check", COW, "--scenario", scen("page_out_of_range")],
     "P runs read(1) with page index 1"),
    ("scenario-page-not-int", ["check", COW, "--scenario", scen("page_not_int")],
     "with page index '0'"),
    ("scenario-handle-before-pin", ["check", COW, "--scenario", scen("handle_before_pin")],
     "dma_read(buf) uses handle 'buf' before a pin() or get() made it"),
    ("scenario-handle-never-pinned", ["check", COW, "--scenario", scen("handle_never_pinned")],
     "unpin(buf) uses handle 'buf' before"),
    ("scenario-handle-same-race", ["check", COW, "--scenario", scen("handle_in_same_race")],
     "dma_write(buf, b) uses handle 'buf' before"),
    ("scenario-child-before-fork", ["check", COW, "--scenario", scen("child_before_fork")],
     "C runs read(0) before fork() created process C"),
    ("scenario-fork-unknown", ["check", COW, "--scenario", scen("fork_unknown_child")],
     "fork() of 'X', which is not in procs"),
    ("scenario-fork-twice", ["check", COW, "--scenario", scen("fork_twice")],
     "forks C a second time"),
    ("scenario-fork-itself", ["check", COW, "--scenario", scen("fork_itself")],
     "P forks into its own process P"),
    ("scenario-thread-of-no-process", ["check", COW, "--scenario", scen("thread_of_no_process")],
     "thread 'Q' belongs to no process"),
    ("scenario-expect-letter", ["check", COW, "--scenario", scen("bad_expect_letter")],
     "verdict 'X' is not H, M, W or U"),
    ("scenario-expect-count", ["check", COW, "--scenario", scen("bad_expect_count")],
     "expect needs 7 verdicts"),
    ("scenario-empty-race", ["check", COW, "--scenario", scen("empty_race")],
     "race() with no operation"),
    ("scenario-step-not-op", ["check", COW, "--scenario", scen("step_not_op")],
     "step 'fork' is not an operation"),
    ("scenario-exits", ["check", COW, "--scenario", scen("exits")],
     "called sys.exit(0) while loading; a scenario file must not exit"),
    ("scenario-not-a-scenario", ["check", COW, "--scenario", scen("not_a_scenario")],
     "is a Policy, not a Scenario"),
    ("scenario-name-missing", ["check", COW, "--scenario", scen("no_such_name")],
     "defines no 'MINE'"),
    ("scenario-swapout-unknown", ["check", COW, "--scenario", scen("swapout_unknown_process")],
     "swapout(X, 0) names process 'X'"),
    ("scenario-duplicate-procs", ["check", COW, "--scenario", scen("duplicate_procs")],
     "name each process once"),
]

TRACES = [
    ("trace-missing", ["replay", bad("traces", "nosuch.json")], "no trace file at"),
    ("trace-directory", ["replay", bad("traces")], "cannot read trace"),
    ("trace-not-json", ["replay", trace("not_json")], "is not valid JSON"),
    ("trace-empty", ["replay", trace("empty")], "is not valid JSON"),
    ("trace-array", ["show", trace("array")], "its JSON is a list, not an object"),
    ("trace-wrong-format", ["replay", trace("wrong_format")], "is not an mcheck trace"),
    ("trace-version-7", ["replay", trace("version_7")], "has trace format version 7"),
    ("trace-no-actions", ["replay", trace("no_actions")], "has no field 'actions'"),
    ("trace-actions-not-list", ["replay", trace("actions_not_list")],
     "field 'actions' must be a list"),
    ("trace-state-count", ["replay", trace("state_count")], "has 4 actions but 3 state digests"),
    ("trace-action-float", ["replay", trace("action_float")], "action 1 ([0.5]) is not built"),
    ("trace-action-object", ["replay", trace("action_object")], "action 1"),
    ("trace-bad-kind", ["replay", trace("bad_kind")], "field 'kind' is 'liveness'"),
    ("trace-params-not-object", ["replay", trace("params_not_object")],
     "field 'params' must be an object"),
    ("trace-not-utf8", ["replay", trace("not_utf8")], "cannot read trace"),
    ("trace-huge-number", ["replay", trace("huge_number")],
     "cannot be decoded: Exceeds the limit (4300 digits)"),
    ("trace-nan-version", ["replay", trace("nan")], "trace format version nan"),
    ("trace-metric-no-action", ["replay", trace("metric_no_action")],
     "a metric trace needs at least one action"),
    ("trace-model-missing", ["replay", trace("model_missing")],
     "the trace's model 'no/such/model.py' is not there; pass --model PATH"),
    ("trace-model-exits", ["show", trace("model_missing"), "--model", model("exit_at_import")],
     "called sys.exit(0) while being imported"),
    ("trace-deeply-nested", ["replay", "{made}/deep.json"], "nests its JSON too deeply"),
    ("trace-deep-action", ["replay", "{made}/deep_action.json"], "nests its JSON too deeply"),
    ("trace-fingerprint", ["replay", "{made}/fingerprint.json"], "model changed since the trace"),
    ("trace-not-enabled", ["replay", "{made}/not_enabled.json"],
     "step 4: action [5] is not enabled"),
    ("trace-digest", ["show", "{made}/digest.json"],
     "step 2 (T1): the state differs from the recorded one"),
    ("trace-initial-state", ["replay", "{made}/initial.json"],
     "step 0: no initial state of the model matches"),
    ("trace-params-unknown-toy", ["replay", "{made}/params.json"], "unknown toy 'nosuch'"),
    ("trace-property-gone", ["replay", "{made}/property.json"],
     "the model has no property 'final_x_is_3'"),
    ("trace-kind-changed", ["replay", "{made}/kind.json"],
     "property 'final_x_is_2' is a invariant now, the trace says transition"),
    ("trace-minimize-corrupt", ["minimize", trace("not_json")], "is not valid JSON"),
]

BASELINES = [
    ("baseline-missing", ["compare", COUNTERS, "--baseline", baseline("nosuch"), "-q"],
     "no baseline file"),
    ("baseline-directory", ["compare", COUNTERS, "--baseline", bad("baselines"), "-q"],
     "is a directory"),
    ("baseline-not-json", ["compare", COUNTERS, "--baseline", baseline("not_json"), "-q"],
     "baseline"),
    ("baseline-empty", ["compare", COUNTERS, "--baseline", baseline("empty"), "-q"], "baseline"),
    ("baseline-array", ["compare", COUNTERS, "--baseline", baseline("array"), "-q"], "baseline"),
    ("baseline-version-7", ["compare", COUNTERS, "--baseline", baseline("version_7"), "-q"],
     "version 7"),
    ("baseline-wrong-format", ["compare", COUNTERS, "--baseline", baseline("wrong_format"),
                               "-q"], "baseline"),
    ("baseline-huge-number", ["compare", COUNTERS, "--baseline", baseline("huge_number"), "-q"],
     "baseline"),
    ("baseline-deeply-nested", ["compare", COUNTERS, "--baseline", "{made}/deep_base.json",
                                "-q"], "baseline"),
    ("baseline-other-model", ["compare", COUNTERS, "--baseline", "{made}/other_model.json",
                              "-q"], "baseline"),
    ("baseline-duplicate-cell", ["compare", COUNTERS, "--baseline", "{made}/duplicate.json",
                                 "-q"], "baseline"),
    ("baseline-letter-rank", ["compare", COUNTERS, "--baseline", "{made}/letter_rank.json",
                              "-q"], "baseline"),
    ("baseline-malformed-cell", ["compare", COUNTERS, "--baseline", "{made}/malformed.json",
                                 "-q"], "baseline"),
]

OUTPUTS = [
    ("export-into-a-file", ["check", TOYS, "--toy", "lost-update", "--export", "{made}/afile"],
     "cannot create export directory"),
    ("export-under-a-file", ["check", TOYS, "--toy", "lost-update", "--export",
                             "{made}/afile/sub"], "cannot create export directory"),
    ("graph-missing-dir", ["check", TOYS, "--toy", "ladder", "--graph", "{made}/no/dir/g.dot"],
     "cannot write"),
    ("graph-bad-extension", ["check", TOYS, "--toy", "ladder", "--graph", "{made}/g.png"],
     "name it .graphml, .gexf or .dot"),
    ("svg-missing-dir", ["show", "{made}/good.json", "--svg", "{made}/no/dir/t.svg"],
     "cannot write"),
    ("svg-into-directory", ["show", "{made}/good.json", "--svg", "{made}"], "cannot write"),
    ("compare-output-missing-dir", ["compare", COUNTERS, "--output", "{made}/no/dir/m.json",
                                    "-q"], "cannot write"),
    ("minimize-output-missing-dir", ["minimize", "{made}/good.json", "-o",
                                     "{made}/no/dir/t.json"], "cannot write"),
]

# The flags of the partitioned search (issue 12): --mpi, --checkpoint*, --resume, --store.
DISTRIBUTED = [
    ("mpi-workers", ["check", TOYS, "--mpi", "--workers", "2"],
     "--mpi does not combine with --workers 2; drop --workers"),
    ("mpi-dfs", ["check", TOYS, "--mpi", "--dfs"], "--mpi does not combine with --dfs"),
    ("mpi-store-exact", ["check", TOYS, "--mpi", "--store", "exact"],
     "the MPI search needs the fingerprint store (or --store compact); drop --store exact"),
    ("mpi-estimate", ["check", TOYS, "--mpi", "--estimate"],
     "--estimate does not combine with --mpi"),
    ("checkpoint-dfs", ["check", TOYS, "--toy", "ladder", "--checkpoint", "{made}/ck", "--dfs"],
     "--checkpoint does not combine with --dfs"),
    ("checkpoint-every-0", ["check", TOYS, "--toy", "ladder", "--checkpoint", "{made}/ck",
                            "--checkpoint-every", "0"], "--checkpoint-every: must be above zero"),
    ("checkpoint-every-word", ["check", TOYS, "--toy", "ladder", "--checkpoint", "{made}/ck",
                               "--checkpoint-every", "often"],
     "a number of seconds expected, got 'often'"),
    ("checkpoint-every-alone", ["check", TOYS, "--checkpoint-every", "5"],
     "--checkpoint-every needs --checkpoint DIR"),
    ("checkpoint-a-file", ["check", TOYS, "--toy", "ladder", "--checkpoint", TOYS],
     "is a file, not a directory"),
    ("checkpoint-several-models", ["check", COW, "--checkpoint", "{made}/ck"],
     "--checkpoint needs one model, the module gave"),
    ("checkpoint-store-exact", ["check", TOYS, "--toy", "ladder", "--checkpoint", "{made}/ck",
                                "--store", "exact"],
     "a checkpointed search needs the fingerprint store (or --store compact)"),
    ("resume-missing", ["check", TOYS, "--toy", "ladder", "--resume", "{made}/no-such-checkpoint"],
     "--resume: no checkpoint directory"),
    ("resume-dfs", ["check", TOYS, "--toy", "ladder", "--resume", "{made}", "--dfs"],
     "--resume does not combine with --dfs"),
    ("compact-dfs", ["check", TOYS, "--dfs", "--store", "compact"],
     "--dfs works with the exact store and one worker only"),
]

CASES = FLAGS + DISTRIBUTED + MODELS + POLICIES + SCENARIOS + TRACES + BASELINES + OUTPUTS


def test_the_corpus_is_large_and_its_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(set(ids)) == len(ids)
    assert len(CASES) >= 100, len(CASES)


class _Hang(BaseException):
    """A case ran past its time: mcheck hung (a BaseException: mcheck catches Exception)."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    def fire(signum, frame):
        raise _Hang(f"no answer after {seconds}s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _write(path: Path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """Inputs derived from a valid trace and a valid baseline, and the ones too big to keep."""
    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "syntax_error.py").write_text("def mcheck_models(options)\n    return []\n")
    (d / "syntax_policy.py").write_text('MINE = get_policy("E6").replace(name="mine"\n')
    (d / "afile").write_text("a file, not a directory\n")
    (d / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    assert main(["check", TOYS, "--toy", "lost-update", "-q", "--export", str(d / "ex")]) == 1
    [good] = [p for p in (d / "ex").iterdir() if p.name.endswith("final_x_is_2.json")]
    t = json.loads(good.read_text())
    _write(d / "good.json", t)
    (d / "deep_action.json").write_text(json.dumps({**t, "actions": "A"}).replace(
        '"A"', "[[0], [0], [0], " + "[" * 5000 + "0" + "]" * 5000 + "]"))
    _write(d / "fingerprint.json", {**t, "fingerprint": "0" * 32})
    _write(d / "not_enabled.json", {**t, "actions": t["actions"][:3] + [[5]]})
    _write(d / "digest.json", {**t, "states": t["states"][:2] + ["0" * 32] + t["states"][3:]})
    _write(d / "initial.json", {**t, "states": ["0" * 32] + t["states"][1:]})
    _write(d / "params.json", {**t, "params": {"toy": "nosuch"}})
    _write(d / "property.json", {**t, "property": "final_x_is_3"})
    _write(d / "kind.json", {**t, "kind": "transition"})
    base = d / "base.json"
    assert main(["compare", COUNTERS, "--baseline", str(base), "--update-baseline", "-q"]) == 0
    b = json.loads(base.read_text())
    (d / "deep_base.json").write_text('{"format": "mcheck-matrix", "version": 1, "cells": '
                                      + "[" * 100_000 + "]" * 100_000 + "}")
    _write(d / "other_model.json", {**b, "name": "allocator", "model_path": "examples/allocator.py",
                                    "rows": ["x"], "columns": ["y"],
                                    "cells": [{**b["cells"][0], "row": "x", "column": "y"}]})
    _write(d / "duplicate.json", {**b, "cells": b["cells"] + b["cells"][:1]})
    cell = {**b["cells"][0], "letter": "F"}
    _write(d / "letter_rank.json", {**b, "cells": [cell] + b["cells"][1:]})
    _write(d / "malformed.json", {**b, "cells": [{"row": "atomic"}] + b["cells"][1:]})
    return d


@pytest.mark.parametrize("argv,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, made, capsys, monkeypatch):
    monkeypatch.delenv("MCHECK_DEBUG", raising=False)
    argv = [a.replace("{made}", str(made)) for a in argv]
    with _deadline(8.0):
        status = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 2, (status, out[-500:], err)
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("mcheck: ") and "; " in line, line  # "mcheck: <cause>; <fix>"
    assert fragment in line, line
    assert "Traceback" not in err and "Traceback" not in out


# -- the same through a real process: what a shell sees -----------------------------------


def _mcheck(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MCHECK_DEBUG"}
    return subprocess.run([sys.executable, "-m", "mcheck", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=60)


@pytest.mark.parametrize("args,fragment", [
    (("check", model("exit_at_import")), "called sys.exit(0) while being imported"),
    (("check", TOYS, "--max-memory", "inf"), "--max-memory: must be a finite number"),
    (("check", model("params_set"), "--json"), "not a JSON value"),
    (("check", model("generator_raises")), "raised RuntimeError in mcheck_models"),
    (("replay", trace("huge_number")), "cannot be decoded"),
    (("check", COW, "--scenario", scen("page_minus_one")), "with page index -1"),
    (("replay", trace("model_exits")), "called sys.exit(0) while being imported"),
    (("check", model("step_raises"), "--workers", "2"), "raised ZeroDivisionError: step at 2"),
], ids=["exit-at-import", "max-memory-inf", "params-set-json", "generator-raises",
        "huge-number", "page-minus-one", "replay-exit-not-reproduced", "worker-raises"])
def test_in_a_real_process_no_traceback(args, fragment):
    p = _mcheck(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.count("\n") == 1 and fragment in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""


def test_stdout_on_a_full_device_is_one_line_and_exit_2():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open("/dev/full", "w") as full:
        p = _mcheck("check", TOYS, "--toy", "increments", "--procs", "2", stdout=full)
    assert p.returncode == 2
    assert p.stderr == ("mcheck: cannot write the output: No space left on device; free space "
                        "on the device or send the output elsewhere\n")
