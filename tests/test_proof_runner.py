"""The proof package's explicit context and its runner of forked workers (docs/proof.md)."""

from __future__ import annotations

import os

import pytest

from examples.allocator import Allocator
from examples.toys import Increments
from mcheck.proof import Explorer, ProofContext, Prover, Sym, Vars, certify


class _Special(Increments):
    """Process 2 is special: the orbit plan must still catch it (see test_symmetry)."""

    def step(self, state, action):
        s = super().step(state, action)
        if action[0] == 2 and state[3] == 3:
            s = (s[0] ^ 1,) + s[1:]
        return s


class _Dies(Increments):
    """A step that ends the process running it (only ever run in a forked proof worker)."""

    def step(self, state, action):
        if action[0] == 1:
            os._exit(3)
        return super().step(state, action)


def _figures(cert):
    return (cert.status, cert.reason, cert.witness.to_dict() if cert.witness else None,
            cert.obligations, cert.paths, cert.queries, cert.per_counts)


@pytest.mark.parametrize("model", [Increments(3), Allocator(3, 2)], ids=["increments", "alloc"])
def test_forked_workers_prove_what_one_process_proves_with_the_same_figures(model):
    one = certify(model, model.symmetry(), use_cache=False)
    two = certify(model, model.symmetry(), use_cache=False, workers=2)
    assert one.status == "proved"
    assert _figures(two) == _figures(one)


def test_forked_workers_refute_with_the_witness_of_one_process():
    m = _Special(3)
    one = certify(m, m.symmetry(), use_cache=False)
    two = certify(m, m.symmetry(), use_cache=False, workers=2)
    assert (one.status, one.witness.obligation, one.witness.permutation) == \
        ("refuted", "component (0,) commutes", "procs: [2, 0, 1]")
    assert two.witness.to_dict() == one.witness.to_dict() and two.reason == one.reason


def test_forked_workers_keep_unknown_unknown():
    m = Increments(3)
    one = certify(m, m.symmetry(), use_cache=False, max_paths=2)
    two = certify(m, m.symmetry(), use_cache=False, max_paths=2, workers=2)
    assert (one.status, one.reason) == (two.status, two.reason) == ("unknown",
                                                                    "more than 2 paths")


def test_a_worker_that_dies_makes_the_proof_unknown_not_a_hang_or_a_proof():
    m = _Dies(3)
    cert = certify(m, m.symmetry(), use_cache=False, workers=2)
    assert (cert.status, cert.reason) == ("unknown", "a proof worker ended without an answer")


def test_one_context_per_proof_and_no_explorer_left_running():
    m = Increments(3)
    prover = Prover(m, m.symmetry(), timeout_ms=20_000, max_paths=200_000, deadline=None,
                    progress=None)
    assert prover.vars.proof is prover.proof and prover.explorer.proof is prover.proof
    prover.run()
    assert prover.obligations == 10 and prover.proof.explorers == []


def test_terms_belong_to_the_context_of_their_variables():
    a, b = Vars("a"), Vars("b", ProofContext())
    x, y = a.int(0, 3), b.int(0, 3)
    assert a.proof is not b.proof
    assert type(x + 1) is Sym and (x + 1).owner() is a.proof and (y < 2).owner() is b.proof
    with pytest.raises(RuntimeError, match="outside a symbolic exploration"):
        bool(x == 1)  # no explorer runs a path of a's proof


def test_a_term_forks_the_explorer_of_its_own_proof():
    vs = Vars("s")
    x = vs.int(0, 2)
    ex = Explorer(vs)
    assert sorted(info.result for info in ex.run(lambda: int(x) * 10)) == [0, 10, 20]
    assert vs.proof.explorers == []


def test_running_pops_its_explorer_when_the_code_raises():
    ctx = ProofContext()
    with pytest.raises(ValueError), ctx.running("explorer"):
        assert ctx.explorer() == "explorer"
        raise ValueError
    assert ctx.explorers == []


def test_differs_is_the_plain_comparison_on_plain_values():
    from mcheck.symmetry import differs

    cases = [((1, 2), (1, 2)), ((1, 2), (1, 3)), ((1, (2, 3)), (1, (2, 3))),
             ((1, (2, 3)), (1, (2, 4))), ((1,), (1, 2)), ((1, 1.0), (1, 1)), ([1], [1]),
             ("a", "b"), (None, None), (3, 3)]
    assert [differs(a, b) for a, b in cases] == [a != b for a, b in cases]
    assert [differs(a, b) for a, b in cases] == [False, True, False, True, True, False, False,
                                                 True, False, False]


def test_differs_never_branches_on_a_term_and_says_changed_unless_the_same_object():
    from mcheck.symmetry import differs

    vs = Vars("s")
    x, y = vs.int(0, 2), vs.int(0, 2)
    ex = Explorer(vs)

    def fn():
        return (differs((x, 1), (x, 1)), differs((1, x), (1, y)), differs((1, (x,)), (1, (y,))),
                differs(x, y), differs((0, x), (1, x)))

    paths = [info.result for info in ex.run(fn)]
    assert paths == [(False, True, True, True, True)]  # one path: nothing was asked
    # a term used outside differs still branches
    assert sorted(info.result for info in ex.run(lambda: bool(x == y))) == [False, True]
