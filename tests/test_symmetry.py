"""Symmetry reduction: the proof, its refusals with witnesses, the canonicaliser, cache, CLI.

Every proof here runs in a fresh cache directory (the ``fresh_cache`` fixture),
so nothing is answered from an earlier run.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import mcheck.proof as smt
import mcheck.symmetry
from examples.allocator import Allocator
from examples.toys import Increments
from mcheck import Verdict, check
from mcheck.cli import main
from mcheck.errors import UsageError
from mcheck.proof import canon_tasks, certify, certify_canonicaliser, proof_inputs
from mcheck.symmetry import Canonicaliser, IndexSet, Perm, SetPerm, prepare, self_check
from mcheck.trace import Trace, replay

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MCHECK_PROOF_SECRET", str(tmp_path / "secret"))
    return tmp_path / "cache"


def _random_perm(decl, rng):
    parts = {}
    for s in decl.sets:
        table = list(range(s.size))
        ms = list(s.members)
        img = ms[:]
        rng.shuffle(img)
        for a, b in zip(ms, img, strict=True):
            table[a] = b
        parts[s.name] = SetPerm(table)
    return Perm(parts, {s.name: s.size for s in decl.sets})


def _reachable(model, limit=100_000):
    seen = set(model.initial_states())
    frontier = list(seen)
    while frontier and len(seen) < limit:
        nxt = []
        for s in frontier:
            for _a, t in model.successors(s):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    return sorted(seen)


# -- the bar: Increments(4) ------------------------------------------------------------------


def test_increments_4_reduces_to_rumurs_46265_states_once_proved():
    m = Increments(4)
    decl = m.symmetry()
    cert = certify(m, decl)
    assert cert.status == "proved", cert.summary()
    r = check(m, canonical=Canonicaliser(decl))
    assert (r.states, r.verdict, r.exhausted) == (46_265, Verdict.HOLDS, True)
    assert r.depth == 43  # BFS depth is an orbit invariant


@pytest.mark.parametrize("procs, reduced", [(2, 519), (3, 5_844)])
def test_increments_self_check(procs, reduced):
    m = Increments(procs)
    rep = self_check(m, m.symmetry())
    assert rep["ok"], rep["problems"]
    assert rep["reduced_states"] == rep["canonical_forms"] == reduced


# -- the canonicaliser ----------------------------------------------------------------------


@pytest.mark.parametrize("model", [Increments(3), Allocator(3, 2), Allocator(4, 3, leak=True)],
                         ids=["increments3", "allocator", "allocator-leak"])
def test_canonical_form_is_the_same_for_every_member_of_an_orbit(model):
    decl = model.symmetry()
    canon = Canonicaliser(decl)
    rng = random.Random(7)
    for s in _reachable(model, 3_000):
        rep, perm = canon.with_perm(s)
        assert rep == decl.permute_state(s, perm)  # a member of the orbit of s
        for _ in range(3):
            t = decl.permute_state(s, _random_perm(decl, rng))
            assert canon(t) == rep


def test_setperm_refuses_a_table_that_is_not_a_permutation():
    with pytest.raises(ValueError, match="not a permutation"):
        SetPerm([0, 0, 1])


# -- the canonicaliser's proof (obligation 6) ----------------------------------------------------

#: a set's ``complete`` as the canonicaliser sees it: never, always, a predicate of the signature
COMPLETE = {"none": False, "all": True, "some": lambda sig: sig == (-1, 0, 0)}


@pytest.mark.parametrize("kind", sorted(COMPLETE))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_the_canonicaliser_is_proved_for_sets_of_1_to_5_members(n, kind):
    cert = certify_canonicaliser([IndexSet("procs", tuple(range(n)), n, complete=COMPLETE[kind])])
    assert cert.status == "proved", cert.summary()
    assert cert.obligations == 1


def test_the_canonicaliser_proof_explores_one_path_per_weak_ordering():
    # Pinned: 4 members have 75 weak orderings of their signatures; a complete set never
    # asks about equal signatures (fewer paths), a predicate doubles a path per tied group.
    paths = {kind: certify_canonicaliser([IndexSet("procs", (0, 1, 2, 3), 4,
                                                   complete=COMPLETE[kind])]).paths
             for kind in COMPLETE}
    assert paths == {"none": 75, "all": 57, "some": 138}
    # members that are not 0..n-1 (one process's lanes among all threads): the same proof
    lanes = IndexSet("lanes", (2, 3, 4), 6, complete=COMPLETE["some"])
    cert = certify_canonicaliser([lanes])
    assert cert.status == "proved" and cert.paths == 20


def _refused_by_obligation_6(cert, part):
    assert cert.status == "refuted", cert.summary()
    w = cert.witness
    assert w.obligation.startswith("canonicaliser: procs (3 of 3 indices")
    assert w.detail.startswith(f"signatures {list(w.state)}")
    assert f": {part} " in w.detail
    assert len(w.state) == 3 and all(0 <= v < 3 for v in w.state)
    return w


def test_a_canonicaliser_that_drops_a_candidate_is_refused(monkeypatch):
    real = mcheck.symmetry.candidate_tables

    def drop_last(sg, members, size, complete):
        out = real(sg, members, size, complete)
        return out[:-1] if len(out) > 1 else out

    monkeypatch.setattr(mcheck.symmetry, "candidate_tables", drop_last)
    cert = certify_canonicaliser([IndexSet("procs", (0, 1, 2), 3)])
    w = _refused_by_obligation_6(cert, "(ii)")
    assert len(set(w.state)) < 3  # a tie: where there is more than one candidate
    assert w.permutation == "-"


def test_a_canonicaliser_that_sorts_descending_for_3_members_is_refused(monkeypatch):
    real = mcheck.symmetry.candidate_tables

    def descending(sg, members, size, complete):
        out = real(sg, members, size, complete)
        return [t[::-1] for t in out] if len(members) == 3 else out

    monkeypatch.setattr(mcheck.symmetry, "candidate_tables", descending)
    m = Increments(3)
    cert = certify(m, m.symmetry(), use_cache=False)  # the whole proof: obligation 6 refuses
    w = _refused_by_obligation_6(cert, "(i)")
    assert cert.reason == w.obligation == "canonicaliser: procs (3 of 3 indices, complete)"
    assert "greater signature" in w.detail or "reorders members" in w.detail
    assert certify(Increments(2), Increments(2).symmetry(), use_cache=False).ok  # 2 members


def test_equivariance_is_compared_across_paths_and_a_difference_is_refused():
    # (iii) for a set that is not complete: the permuted signatures are another path's;
    # given (i) and (ii) it cannot fail, so the difference is planted after the exploration
    [(name, fn, ex)] = canon_tasks([IndexSet("procs", (0, 1, 2), 3)], timeout_ms=20_000,
                                   max_paths=1_000, deadline=None)
    ex.fresh_solver()
    assert sum(ex.refute(info, info.result[0]) is None for info in ex.run(fn)) == 13
    assert fn.finish() is None
    key = ((0, 1, 2), ())  # every signature different, sorted already: one table, the identity
    fn.found[key] = (((1, 0, 2),),) + fn.found[key][1:]
    perm, state, _action, detail = fn.finish()
    assert perm in ("procs: swap 0 1", "procs: cycle 0 1 2")
    assert sorted(state) == [0, 1, 2] and "(iii) the permuted signatures [0, 1, 2]" in detail


def test_a_fast_path_that_misses_a_tie_is_refused(monkeypatch):
    real = mcheck.symmetry._order
    monkeypatch.setattr(mcheck.symmetry, "_order", lambda sg, ident, complete:
                        (real(sg, ident, complete)[0], False))
    cert = certify_canonicaliser([IndexSet("procs", (0, 1, 2), 3, complete=COMPLETE["some"])])
    w = _refused_by_obligation_6(cert, "(iv)")
    assert "(complete for the signature values" in w.detail


def test_a_canonicaliser_that_does_more_than_compare_signatures_is_unknown(monkeypatch):
    real = mcheck.symmetry.candidate_tables

    def peeks(sg, members, size, complete):
        if sg[0] == 1:  # a signature against a constant: not an order question
            pass
        return real(sg, members, size, complete)

    monkeypatch.setattr(mcheck.symmetry, "candidate_tables", peeks)
    cert = certify_canonicaliser([IndexSet("procs", (0, 1, 2), 3)])
    assert cert.status == "unknown" and not cert.ok
    assert "did more with signatures than compare" in cert.reason


def test_the_canonicaliser_is_part_of_every_proof_and_of_its_cache_key():
    m = Allocator(3, 2)
    cert = certify(m, m.symmetry())
    assert "canonicaliser: cells (3 of 3 indices, complete for some signatures)" in \
        cert.per_obligation
    assert cert.per_counts["canonicaliser: cells (3 of 3 indices, complete for some "
                           "signatures)"][0] == 20
    assert str(Path(mcheck.symmetry.__file__).resolve()) in proof_inputs(m, m.symmetry()).files


# -- the allocator: a proof, a reduction, and the broken allocator --------------------------------


def test_allocator_proved_and_reduced_with_the_same_verdicts():
    m = Allocator(3, 2)
    assert certify(m, m.symmetry()).status == "proved"
    rep = self_check(m, m.symmetry())
    assert rep["ok"], rep["problems"]
    assert (rep["full_states"], rep["reduced_states"]) == (88, 21)


def test_lowest_free_allocator_is_refused_with_its_witness():
    m = Allocator(3, 2, lowest_free=True)
    cert = certify(m, m.symmetry())
    assert cert.status == "refuted"
    w = cert.witness
    assert w.obligation.startswith("component (")
    assert w.permutation in ("cells: swap 0 1", "cells: cycle 0 1 2")
    assert w.action[1] == "borrow"
    cells, procs = w.state
    # two renamed cells are free, and the borrow takes the lowest one in both states
    assert sum(o == -1 for o, _m in cells) >= 2
    assert "is not enabled in the permuted state" in w.detail
    with pytest.raises(UsageError, match="not proved"):
        prepare(m, "on")
    canon, info = prepare(m, "auto")
    assert canon is None and info["status"] == "refuted" and info["witness"]


def _variant(make):
    class Variant(Increments):
        def symmetry(self):
            return make(super().symmetry())
    return Variant(3)


def test_a_signature_that_names_an_index_is_refused():
    def bad(decl):
        sig = decl.signatures
        decl.signatures = lambda s: {"procs": [x + (i == 0,) for i, x in
                                               enumerate(sig(s)["procs"])]}
        return decl
    cert = certify(m := _variant(bad), m.symmetry())
    assert cert.status == "refuted" and cert.reason.startswith("signatures invariant")


def test_a_permutation_that_is_not_a_group_action_is_refused():
    def bad(decl):
        ps = decl.permute_state
        decl.permute_state = lambda s, p: (ps(s, p)[0], s[1]) + ps(s, p)[2:]
        return decl
    cert = certify(m := _variant(bad), m.symmetry())
    assert cert.status == "refuted" and cert.reason == "permute_state is a group action"


def test_a_false_completeness_claim_is_refused():
    def bad(decl):
        s0 = decl.sets[0]
        decl.sets = (type(s0)(s0.name, s0.members, s0.size, complete=True),)
        decl.signatures = lambda s: {"procs": [(pc,) for pc in s[1::2]]}  # r is left out
        return decl
    cert = certify(m := _variant(bad), m.symmetry())
    assert cert.status == "refuted" and "equal signatures" in cert.reason


def test_an_asymmetric_step_is_refused():
    class Bad(Increments):
        def step(self, state, action):
            s = super().step(state, action)
            if action[0] == 0 and state[1] == 3:  # process 0 is special
                s = (s[0] ^ 1,) + s[1:]
            return s
    cert = certify(m := Bad(3), m.symmetry())
    assert cert.status == "refuted"
    assert cert.witness.action == (0,) and cert.witness.state[1] == 3


def test_an_asymmetric_step_of_a_component_proven_through_its_orbit_is_refused():
    # The processes' components form one orbit, so the prover checks (0,) only, under the
    # stabiliser's generators and one element taking (0,) to each other member: a step that
    # is special in process 2 must still be caught, through the element that maps 0 to 2.
    from mcheck.proof import component_plan
    from mcheck.symmetry import generators

    m = Increments(3)
    d = m.symmetry()
    plan = component_plan(d, list(d.components), generators(d.sets))
    assert {c: [n for n, _ in v] for c, v in plan.items()} == {
        (0,): ["procs: [0, 2, 1]", "procs: swap 0 1", "procs: [2, 0, 1]"]}

    class Bad(Increments):
        def step(self, state, action):
            s = super().step(state, action)
            if action[0] == 2 and state[3] == 3:  # process 2 is special
                s = (s[0] ^ 1,) + s[1:]
            return s
    cert = certify(m := Bad(3), m.symmetry())
    assert cert.status == "refuted"
    assert cert.witness.obligation == "component (0,) commutes"
    assert cert.witness.permutation == "procs: [2, 0, 1]"


def test_unknown_is_never_a_proof_and_is_not_cached(fresh_cache):
    m = Increments(3)
    cert = certify(m, m.symmetry(), max_paths=2)
    assert cert.status == "unknown" and not cert.ok
    assert not list(fresh_cache.glob("*.json"))
    assert certify(m, m.symmetry()).status == "proved"


def test_proofs_are_cached_under_their_fingerprint(fresh_cache):
    m = Allocator(3, 2)
    first = certify(m, m.symmetry())
    assert not first.cached
    [f] = fresh_cache.glob("symmetry-*.json")
    assert json.loads(f.read_text())["payload"]["status"] == "proved"
    again = certify(m, m.symmetry())
    assert again.cached and again.status == "proved"
    other = Allocator(4, 2)  # another configuration: another proof
    assert not certify(other, other.symmetry()).cached


def test_reduced_traces_are_real_paths_that_replay_on_the_unreduced_model():
    m = Allocator(3, 2, leak=True)
    r = check(m, canonical=Canonicaliser(m.symmetry()))
    full = check(m)
    p = r.properties["marks_are_owned"]
    assert p.verdict is Verdict.VIOLATED
    assert len(p.path) == len(full.properties["marks_are_owned"].path)
    trace = Trace.from_path(m, p.path, p, "examples/allocator.py")
    res = replay(Allocator(3, 2, leak=True), trace)
    assert res.reproduced, res.message


def test_the_prover_does_not_import_z3_until_it_proves():
    code = ("import sys, mcheck.proof, mcheck.symmetry, examples.toys; "
            "print('z3' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the command line -------------------------------------------------------------------------


def test_cli_symmetry_on_reduces_and_says_so(capsys):
    assert main(["check", "examples/allocator.py", "--symmetry", "on", "-q"]) == 0
    out = capsys.readouterr().out
    assert "symmetry cells (3): proved" in out and "(21 states" in out


def test_cli_symmetry_on_refuses_the_lowest_free_allocator(capsys):
    assert main(["check", "examples/allocator.py", "--lowest-free", "--symmetry", "on",
                 "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("permutation: cells: " in line for line in err)
    assert any("action: (0, 'borrow', " in line or "action: (1, 'borrow', " in line
               for line in err)
    assert any("  state: (((" in line for line in err)
    assert err[-1].startswith("mcheck: the declared symmetry of 'allocator' is not proved")


def test_the_refusal_is_the_same_under_any_hash_seed(tmp_path):
    runs = []
    for seed in ("0", "12345"):
        env = {"PYTHONHASHSEED": seed, "MCHECK_CACHE_DIR": str(tmp_path / seed),
               "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-m", "mcheck", "check", "examples/allocator.py",
                              "--lowest-free", "--cells", "4", "--symmetry", "on", "-q"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        assert out.returncode == 2
        runs.append(out.stderr.replace(str(tmp_path / seed), "CACHE"))
    assert runs[0] == runs[1]
    assert "obligation: component (0,) commutes" in runs[0]


def test_cli_symmetry_auto_falls_back_to_the_full_search(capsys):
    assert main(["check", "examples/allocator.py", "--lowest-free", "--symmetry", "auto",
                 "-q", "--json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    [mod] = doc["models"]
    assert mod["states"] == 36 and mod["symmetry"]["status"] == "refuted"
    assert "running the full search" in cap.err


def test_cli_symmetry_on_needs_a_declaration(capsys):
    assert main(["check", "examples/toys.py", "--toy", "ladder", "--symmetry", "on",
                 "-q"]) == 2
    assert "declares no symmetry" in capsys.readouterr().err
    assert main(["check", "examples/toys.py", "--toy", "ladder", "--symmetry", "auto",
                 "-q"]) == 1


# -- a proof cache that cannot go stale (issue 10, item 3) -------------------------------------

_TOY = '''"""Two interchangeable processes whose step is a helper's, in a sibling module."""
import rules

from mcheck import Model, invariant
from mcheck.symmetry import IndexSet, Symmetry


class Toy(Model):
    name = "toy"

    def initial_states(self):
        return [(0, 0)]

    def actions(self, s):
        return [(i,) for i in range(2) if s[i] < 2]

    def step(self, s, a):
        i = a[0]
        out = list(s)
        out[i] = rules.advance(i, s[i], s[1 - i])
        return tuple(out)

    def properties(self):
        return [invariant("at_most_2", lambda s: s[0] <= 2 and s[1] <= 2)]

    def symmetry(self):
        def permute_state(s, p):
            return p["procs"].reorder(s)

        def permute_action(a, p):
            return (p["procs"](a[0]),)

        return Symmetry(
            sets=[IndexSet("procs", (0, 1), 2, complete=True)],
            permute_state=permute_state, permute_action=permute_action,
            signatures=lambda s: {"procs": [(x,) for x in s]},
            domain=lambda v, key=None: [(v.int(0, 3), v.int(0, 3))],
            components=[(0,), (1,)],
            successors_of=lambda s, c: [(c, self.step(s, c))] if s[c[0]] < 2 else [],
            permute_key=permute_action)


def mcheck_models(options):
    return [Toy()]
'''

#: process SPECIAL jumps from 1 to 3 while the other is at 0: only from a state that is not its
#: orbit's representative, so a reduced search under a stale proof misses it
_RULES = '''import os

SPECIAL = {special}


def advance(i, pc, other):
    if i == SPECIAL and pc == 1 and other == 0:
        return 3
    return pc + 1
'''


def _toy(tmp_path, special="-1", layout="module"):
    """``module``: toy.py and its sibling rules.py; ``package``: the package toy/ whose
    __init__.py imports toy/lib/rules.py (a module below the package's top level)."""
    if layout == "module":
        (tmp_path / "toy.py").write_text(_TOY)
        rules = tmp_path / "rules.py"
    else:
        (tmp_path / "toy" / "lib").mkdir(parents=True)
        (tmp_path / "toy" / "__init__.py").write_text(
            _TOY.replace("import rules\n", "from .lib import rules\n"))
        (tmp_path / "toy" / "lib" / "__init__.py").write_text("")
        rules = tmp_path / "toy" / "lib" / "rules.py"
    rules.write_text(_RULES.format(special=special))
    return rules


def _run_toy(tmp_path, *flags, extra_env=None, target="toy.py"):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
           "MCHECK_CACHE_DIR": str(tmp_path / "cache"),
           "MCHECK_PROOF_SECRET": str(tmp_path / "secret"), **(extra_env or {})}
    out = subprocess.run([sys.executable, "-m", "mcheck", "check", target, "-q", *flags],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return out.returncode, out.stdout, out.stderr


_PROVED_FRESH = ("toy: symmetry procs (2): proved in ", "7 obligations, 13 paths, 5 z3 queries")
_HOLDS_REDUCED = "toy: HOLDS  (6 states, 8 transitions, depth 4, exhausted"
_REFUSED = ["toy: symmetry: the proof failed: component (0,) commutes",
            "toy:   obligation: component (0,) commutes",
            "toy:   permutation: procs: swap 0 1",
            "toy:   action: (0,)",
            "toy:   detail: component (0,): the image of the next state differs from the next "
            "state of the permuted state",
            "toy:   state: (1, 0)",
            "toy: symmetry: running the full search"]
_VIOLATED_FULL = "toy: VIOLATED  (4 states, 3 transitions, depth 1, stopped at the first violation"


@pytest.mark.parametrize("layout, target", [("module", "toy.py"), ("package", "toy")])
def test_a_changed_helper_module_is_not_answered_from_a_stale_proof(tmp_path, layout, target):
    rules = _toy(tmp_path, layout=layout)
    code, out, err = _run_toy(tmp_path, "--symmetry", "auto", target=target)
    assert code == 0 and out.startswith(_PROVED_FRESH[0]) and _PROVED_FRESH[1] in out
    assert _HOLDS_REDUCED in out
    code, out, _err = _run_toy(tmp_path, "--symmetry", "auto", target=target)
    assert code == 0 and "proved from cache" in out  # nothing changed: the cache answers
    rules.write_text(_RULES.format(special="0"))  # only the helper's module changes
    code, out, err = _run_toy(tmp_path, "--symmetry", "auto", target=target)
    assert code == 1 and "from cache" not in out and _VIOLATED_FULL in out
    assert err.splitlines()[1:] == _REFUSED
    assert _run_toy(tmp_path, target=target)[0] == 1  # the unreduced search agrees


def test_a_module_level_value_read_by_a_helper_is_part_of_the_key(tmp_path):
    # rules.py is the same file in both runs; only the value SPECIAL gets at import differs
    _toy(tmp_path, special='int(os.environ.get("TOY_SPECIAL", "-1"))')
    code, out, _err = _run_toy(tmp_path, "--symmetry", "auto")
    assert code == 0 and _PROVED_FRESH[0] in out and _HOLDS_REDUCED in out
    code, out, err = _run_toy(tmp_path, "--symmetry", "on", extra_env={"TOY_SPECIAL": "0"})
    assert code == 2 and "from cache" not in out
    assert err.splitlines()[-1].startswith("mcheck: the declared symmetry of 'toy' is not "
                                           "proved (refuted: component (0,) commutes)")


def _allocator_entry(fresh_cache, **kw):
    m = Allocator(3, 2, **kw)
    first = certify(m, m.symmetry())
    assert not first.cached and first.cache_note.startswith("cached in ")
    [f] = fresh_cache.glob("symmetry-*.json")
    return m, f, json.loads(f.read_text())


def test_a_hand_edited_cache_entry_is_not_trusted(fresh_cache):
    m, f, doc = _allocator_entry(fresh_cache, lowest_free=True)
    assert doc["payload"]["status"] == "refuted"
    doc["payload"].update(status="proved", reason="", witness=None)  # "it holds, trust me"
    f.write_text(json.dumps(doc))
    assert not smt.is_cached(m, m.symmetry())
    again = certify(m, m.symmetry())
    assert (again.status, again.cached) == ("refuted", False)
    canon, info = prepare(m, "auto")
    assert canon is None and info["status"] == "refuted" and info["cached"] is True


def test_an_entry_signed_by_another_installation_is_not_trusted(fresh_cache, tmp_path,
                                                               monkeypatch):
    m, f, _doc = _allocator_entry(fresh_cache)
    assert certify(m, m.symmetry()).cached
    monkeypatch.setenv("MCHECK_PROOF_SECRET", str(tmp_path / "another-secret"))
    (tmp_path / "another-secret").write_text("ab" * 32)
    assert not smt.is_cached(m, m.symmetry())
    assert not certify(m, m.symmetry()).cached


def test_an_entry_moved_under_another_key_is_not_trusted(fresh_cache):
    m, f, doc = _allocator_entry(fresh_cache, lowest_free=True)
    other = Allocator(3, 2)
    key = smt.proof_key(other, other.symmetry())
    (fresh_cache / f"symmetry-{key}.json").write_text(f.read_text())  # refuted, for another
    assert not smt.is_cached(other, other.symmetry())
    assert certify(other, other.symmetry()).status == "proved"


def test_a_value_captured_by_a_closure_is_part_of_the_key():
    # the same code and the same bounds, two closures: only the captured value differs
    def model_with(jump):
        class Variant(Increments):
            def symmetry(self):
                d = super().symmetry()
                d.successors_of = lambda s, a: [(a, self.step(s, a) if jump < 0 else s)]
                return d
        return Variant(3)

    def key(m):
        return smt.proof_key(m, m.symmetry())
    assert key(model_with(-1)) == key(model_with(-1))
    assert key(model_with(-1)) != key(model_with(0))
    m = model_with(0)
    assert certify(m, m.symmetry()).status == "proved"  # a step that does nothing commutes
    n = model_with(-1)
    assert not certify(n, n.symmetry()).cached


def test_a_tiny_budget_gives_unknown_in_time_never_a_proof(fresh_cache):
    m = Increments(4)
    cert = certify(m, m.symmetry(), budget=0.001)
    assert (cert.status, cert.reason, cert.ok) == ("unknown", "the proof ran out of time", False)
    assert cert.elapsed < 1.0
    assert not list(fresh_cache.glob("*.json"))
    canon, info = prepare(m, "auto", budget=0.001)
    assert canon is None and info["status"] == "unknown"
    assert info["proof"].startswith("unknown in ") and "ran out of time" in info["proof"]
    with pytest.raises(UsageError, match=r"is not proved \(unknown: the proof ran out of time\)"):
        prepare(m, "on", budget=0.001)


class _Interrupted:
    """A z3 solver as z3 leaves it after catching Ctrl-C in check()."""

    def set(self, *args):
        pass

    def check(self):
        import z3

        return z3.unknown

    def reason_unknown(self):
        return "interrupted from keyboard"


def test_ctrl_c_caught_by_z3_is_raised_again_not_turned_into_unknown():
    ex = smt.Explorer(smt.Vars("s"))
    with pytest.raises(KeyboardInterrupt):
        ex._solve(_Interrupted())


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_a_proof_stops_the_run(tmp_path, workers):
    # a COW proof of several seconds; Ctrl-C (SIGINT to the process group, as a terminal
    # sends it) 2.5 s in must end the run at once: no unreduced search, no traceback
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0",
           "MCHECK_CACHE_DIR": str(tmp_path / "cache"),
           "MCHECK_PROOF_SECRET": str(tmp_path / "secret")}
    p = subprocess.Popen([sys.executable, "-m", "mcheck", "check", "models/cow", "--policy",
                          "E6", "--scenario", "S07", "--symmetry", "auto", "-q", "--workers",
                          workers], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    # wait for the proof to start (a loaded machine may take seconds to get there), then
    # let it run a little
    assert p.stderr is not None and p.stdout is not None
    ready, _w, _x = select.select([p.stderr], [], [], 60)
    assert ready, "the proof did not start within 60 s"
    first = p.stderr.readline()
    time.sleep(1.0)
    os.killpg(p.pid, signal.SIGINT)
    t0 = time.monotonic()
    p.wait(timeout=60)  # the output is a few lines: the pipes cannot fill
    out, rest = p.stdout.read(), p.stderr.read()  # the buffered reader holds what is left
    assert p.returncode == 130, (out, first + rest)
    assert time.monotonic() - t0 < 5
    [last] = rest.splitlines()
    assert first.startswith("cow policy=E6 scenario=S07: symmetry: proving that frames (3)")
    assert last.startswith("mcheck: interrupted")
    assert out == ""


def test_ctrl_c_while_z3_solves_raises_keyboard_interrupt():
    import z3

    ex = smt.Explorer(smt.Vars("s"), timeout_ms=60_000)
    ex._ensure()
    x, y = z3.BitVec("x", 64, ex.ctx), z3.BitVec("y", 64, ex.ctx)
    # factor a 63-bit prime: z3 works on this for far longer than the test waits
    hard = z3.And(x * y == 9223372036854775783, z3.UGT(x, 1), z3.UGT(y, 1),
                  z3.ULT(x, 1 << 32), z3.ULT(y, 1 << 32))
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            ex._check([hard])
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 5


def test_a_module_the_proof_imports_while_it_runs_is_checked_on_every_hit(tmp_path):
    # advance() imports lazyrules only when it first runs, so no walk before the proof can
    # reach it; the entry records the file, and a changed lazyrules.py is a fresh proof.
    # advance() also fills a module-level memo: the proof is a function of what the key
    # digested before it ran, so that does not stop the entry from being used.
    _toy(tmp_path)
    (tmp_path / "lazyrules.py").write_text("SPECIAL = -1\n")
    with (tmp_path / "rules.py").open("a") as f:
        f.write("\n\n_SEEN = []\n_plain = advance\n\n\ndef advance(i, pc, other):\n"
                "    from lazyrules import SPECIAL\n"
                "    _SEEN.append(i)\n"
                "    if i == SPECIAL and pc == 1 and other == 0:\n        return 3\n"
                "    return _plain(i, pc, other)\n")
    code, out, _err = _run_toy(tmp_path, "--symmetry", "auto")
    assert code == 0 and _PROVED_FRESH[0] in out and _HOLDS_REDUCED in out
    [entry] = (tmp_path / "cache").glob("*.json")
    files = json.loads(entry.read_text())["payload"]["files"]
    assert str((tmp_path / "lazyrules.py").resolve()) in files
    code, out, _err = _run_toy(tmp_path, "--symmetry", "auto")
    assert code == 0 and "proved from cache" in out
    (tmp_path / "lazyrules.py").write_text("SPECIAL = 0\n")
    code, out, err = _run_toy(tmp_path, "--symmetry", "auto")
    assert code == 1 and "from cache" not in out and _VIOLATED_FULL in out
    assert err.splitlines()[1:] == _REFUSED


def test_a_declared_memo_is_keyed_by_name_and_any_other_field_by_value():
    class Memo(Increments):
        __proof_volatile__ = ("seen",)

        def __init__(self):
            super().__init__(3)
            self.seen = []

    m = Memo()
    d = m.symmetry()
    before = proof_inputs(m, d).digest
    m.seen.append((1, 2))  # a memo: the key stays
    assert proof_inputs(m, d).digest == before
    m.procs_note = "x"  # any other field: another key
    assert proof_inputs(m, d).digest != before
