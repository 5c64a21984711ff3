"""The symmetry proof: symbolic execution of the model's code, z3, and a signed cache.

One idea per module (docs/proof.md has the argument for soundness):

* :mod:`~mcheck.proof.context`: the :class:`ProofContext` a proof passes to its parts;
* :mod:`~mcheck.proof.terms`: symbolic terms and their z3 translation (the only module
  that imports z3, and only when it proves);
* :mod:`~mcheck.proof.domain`: the states a proof quantifies over (:class:`Vars`);
* :mod:`~mcheck.proof.explorer`: the path explorer;
* :mod:`~mcheck.proof.interrupts`: signals act at the proof's safe points;
* :mod:`~mcheck.proof.obligations`: obligations 1-5 and their runner;
* :mod:`~mcheck.proof.plan`: which permutations each component is checked under;
* :mod:`~mcheck.proof.canon`: obligation 6, the canonicaliser;
* :mod:`~mcheck.proof.certificates` and :mod:`~mcheck.proof.cache`: certificates, and
  the signed cache keyed by everything a proof can reach;
* :mod:`~mcheck.proof.switches`: which of a model's switches a proof read, so that a
  proof serves every model that agrees on them;
* :mod:`~mcheck.proof.prover`: the entry points, :func:`certify` and
  :func:`certify_canonicaliser`;
* :mod:`~mcheck.proof.footprint`: what each component reads and writes, for the
  partial-order reduction (docs/reduction.md).

The public names, for the engine and the tests, are importable from here.
"""

from mcheck.proof.cache import (
    CACHE_ENV,
    SECRET_ENV,
    VOLATILE,
    ProofInputs,
    cache_dir,
    load_entry,
    secret_path,
    store_entry,
)
from mcheck.proof.canon import canon_tasks
from mcheck.proof.certificates import (
    ENGINE_VERSION,
    Certificate,
    Refuted,
    Witness,
    is_cached,
    proof_inputs,
    proof_key,
)
from mcheck.proof.context import ProofContext, ProofUnknown
from mcheck.proof.domain import Vars
from mcheck.proof.explorer import Explorer
from mcheck.proof.obligations import Prover, Runner
from mcheck.proof.plan import component_plan
from mcheck.proof.prover import certify, certify_canonicaliser
from mcheck.proof.terms import Sym

__all__ = [
    "CACHE_ENV",
    "ENGINE_VERSION",
    "SECRET_ENV",
    "VOLATILE",
    "Certificate",
    "Explorer",
    "ProofContext",
    "ProofInputs",
    "ProofUnknown",
    "Prover",
    "Refuted",
    "Runner",
    "Sym",
    "Vars",
    "Witness",
    "cache_dir",
    "canon_tasks",
    "certify",
    "certify_canonicaliser",
    "component_plan",
    "is_cached",
    "load_entry",
    "proof_inputs",
    "proof_key",
    "secret_path",
    "store_entry",
]
