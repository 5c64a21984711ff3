"""The symmetry prover under its former name: :mod:`mcheck.proof.prover`.

Kept so that ``import mcheck.smt`` and ``from mcheck.smt import certify``
go on working; new code imports :mod:`mcheck.proof`.  Importing it does not
import z3.
"""

from mcheck.proof.prover import (
    CACHE_ENV,
    Certificate,
    Explorer,
    ProofUnknown,
    Sym,
    Vars,
    Witness,
    cache_dir,
    certify,
    certify_canonicaliser,
    is_cached,
    proof_inputs,
    proof_key,
)

__all__ = [
    "CACHE_ENV",
    "Certificate",
    "Explorer",
    "ProofUnknown",
    "Sym",
    "Vars",
    "Witness",
    "cache_dir",
    "certify",
    "certify_canonicaliser",
    "is_cached",
    "proof_inputs",
    "proof_key",
]
