"""The differential test's long profile: thousands of random models against the reference.

Usage::

    python bench/bench_differential.py                      # 3000 graphs, 1000 process models,
                                                            # 100 with workers, 100 proofs,
                                                            # 1000 reduced
    python bench/bench_differential.py --scale 0.1 --seed 7

Runs the generators and checks of tests/test_differential.py with random
(not derandomized) hypothesis data from ``--seed``, so each seed sees other
models than CI does, and prints how many models each part ran, how many
searches it compared and how long it took.  A discrepancy stops the run with
hypothesis's shrunk model and a non-zero exit status.

Not a timing benchmark: nothing here compares times.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mcheck.proof import certify  # noqa: E402
from mcheck.symmetry import Canonicaliser  # noqa: E402
from tests.test_differential import (  # noqa: E402
    COMBOS,
    SYMMETRIC_KINDS,
    GraphModel,
    ProcModel,
    differential,
    differential_reduced,
    graph_specs,
    proc_specs,
)
from tests.test_reduce import RuleModel, reduced_agrees  # noqa: E402

PARTS = {"graphs": 3000, "processes": 1000, "workers": 100, "symmetry": 100,
         "reduction": 1000}


def _graphs(tally: dict[str, int], spec: Any) -> None:
    tally["searches"] += differential(GraphModel(spec))


def _processes(tally: dict[str, int], spec: Any) -> None:
    tally["searches"] += differential(ProcModel(spec))


def _workers(tally: dict[str, int], spec: Any, data: Any) -> None:
    def pick(configs: list[Any]) -> list[Any]:
        return [data.draw(st.sampled_from([c for c in configs if kind in c[0]]))
                for kind in ("unbounded", "max_states", "max_depth")]

    combo = data.draw(st.sampled_from(COMBOS))
    tally["searches"] += differential(GraphModel(spec), workers=(2, 3), combos=[combo],
                                      pick=pick)


def _symmetry(tally: dict[str, int], spec: Any) -> None:
    model = ProcModel(spec)
    decl = model.symmetry()
    cert = certify(model, decl, use_cache=False, budget=60.0)
    symmetric = all(r[4] is None for r in spec.rules) and \
        all(k in SYMMETRIC_KINDS for k, _, _ in spec.props)
    if symmetric and cert.status != "proved":
        raise AssertionError(f"a symmetric model was not proved: {cert.summary()}")
    tally["proved"] += cert.ok
    if cert.ok:
        tally["searches"] += differential_reduced(model, Canonicaliser(decl))


def _reduction(tally: dict[str, int], spec: Any) -> None:
    """Partial-order reduction, one component per process and rule and one per process."""
    tally["searches"] += reduced_agrees(RuleModel(spec)) + reduced_agrees(ProcModel(spec))


def run(name: str, body: Callable[..., None], strategies: list[Any], examples: int,
        rng_seed: int) -> dict[str, Any]:
    tally = {"models": 0, "searches": 0, "proved": 0}

    def once(case: tuple[Any, ...]) -> None:
        body(tally, *case)
        tally["models"] += 1  # a model counts once its checks all ran

    test = given(st.tuples(*strategies))(once)
    test = settings(max_examples=examples, derandomize=False, deadline=None, database=None,
                    print_blob=True, suppress_health_check=[HealthCheck.too_slow,
                                                            HealthCheck.data_too_large])(test)
    t0 = time.monotonic()
    seed(rng_seed)(test)()
    tally["seconds"] = round(time.monotonic() - t0, 1)
    return tally


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every part's model count (default 1)")
    args = ap.parse_args()
    if not args.scale > 0:
        print("bench_differential: --scale must be above zero; give e.g. --scale 0.1",
              file=sys.stderr)
        return 2
    plan = [
        ("graphs", _graphs, [graph_specs()]),
        ("processes", _processes, [proc_specs()]),
        ("workers", _workers, [graph_specs(), st.data()]),
        ("symmetry", _symmetry, [proc_specs(final_proc0=False)]),
        ("reduction", _reduction, [proc_specs()]),
    ]
    total = 0
    for name, body, strategies in plan:
        n = max(1, round(PARTS[name] * args.scale))
        tally = run(name, body, strategies, n, args.seed)
        total += tally["models"]
        extra = f", {tally['proved']} proved" if name == "symmetry" else ""
        print(f"{name:10} {tally['models']:6} models{extra}, {tally['searches']:7} searches "
              f"compared, {tally['seconds']:7.1f}s", flush=True)
    print(f"total      {total:6} random models, seed {args.seed}: every mode agreed with the "
          f"reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
