"""The symmetry proof: the prover and the cache of its certificates.

* :mod:`mcheck.proof.prover`: symbolic execution of the model's own code and
  z3, the obligations a declared symmetry must meet (the only engine module
  that imports z3, and only when it proves);
* :mod:`mcheck.proof.cache`: what a proof depends on (everything reachable
  from the model and its declaration) and the signed entries that keep a
  verdict from being reused once any of it changed.

The public names of both are importable from here.
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
from mcheck.proof.prover import (
    Certificate,
    Explorer,
    ProofUnknown,
    Sym,
    Vars,
    Witness,
    certify,
    certify_canonicaliser,
    is_cached,
    proof_inputs,
    proof_key,
)

__all__ = [
    "CACHE_ENV",
    "SECRET_ENV",
    "VOLATILE",
    "Certificate",
    "Explorer",
    "ProofInputs",
    "ProofUnknown",
    "Sym",
    "Vars",
    "Witness",
    "cache_dir",
    "certify",
    "certify_canonicaliser",
    "is_cached",
    "load_entry",
    "proof_inputs",
    "proof_key",
    "secret_path",
    "store_entry",
]
