"""The symmetry proof's support: the cache of certificates (:mod:`mcheck.proof.cache`).

The prover itself is :mod:`mcheck.smt` (the only engine module that imports
z3); this package holds what is not the solver: which inputs a proof
depends on, and the signed entries that keep a proved verdict from being
reused once any of them changed.
"""

from mcheck.proof.cache import (
    CACHE_ENV,
    SECRET_ENV,
    ProofInputs,
    cache_dir,
    load_entry,
    proof_inputs,
    secret_path,
    store_entry,
)

__all__ = [
    "CACHE_ENV",
    "SECRET_ENV",
    "ProofInputs",
    "cache_dir",
    "load_entry",
    "proof_inputs",
    "secret_path",
    "store_entry",
]
