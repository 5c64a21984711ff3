"""Checks as test assertions, for pytest and CI: ``assert_holds``, ``assert_violates``.

::

    from mcheck.testing import assert_holds, assert_violates

    def test_counter():
        assert_holds("examples/counters.py", variant="atomic", threads=3)
        trace = assert_violates("examples/counters.py", variant="racy", threads=2,
                                prop="all_counted")

The keyword arguments are the model's own flags (those ``mcheck check
MODEL_PATH --help`` lists), named as Python names (``--spurious-trylock`` is
``spurious_trylock``); README.md shows them for the models it ships.  A flag
not given takes its command-line default.  An unknown flag, or a value the
model refuses, raises :class:`mcheck.errors.UsageError` (one line naming
the cause and the fix), never an AssertionError: a test of a typo must not
read as a verdict.

A failed assertion is an :class:`AssertionError` whose message carries the
verdict and the race diagram of the counterexample.  A search stopped by a
bound (``max_states``, ``timeout``) never passes ``assert_holds``: it fails
as UNDETERMINED, naming the bound.

:func:`matrix_cases` parametrises a test over a model's matrix (rows x
columns, as ``mcheck compare`` runs it); each :class:`Case` checks that its
cell has the letter the model expects (with no expectation: that it is no
failure)::

    @pytest.mark.parametrize("case", matrix_cases("examples/counters.py", threads="1,2"))
    def test_cell(case):
        case.check()

The same as a pytest plugin: with ``pytest_plugins = ["mcheck.testing"]`` in
``conftest.py``, a test that takes the fixture ``mcheck_case`` runs once per
cell of the matrix its marker names::

    @pytest.mark.mcheck_matrix("examples/counters.py", threads="1,2")
    def test_cell(mcheck_case):
        mcheck_case.check()
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mcheck.errors import ModelError, UsageError
from mcheck.explore import Bounds, PropertyResult, Result, Verdict, check
from mcheck.model import Model

__all__ = ["Case", "assert_holds", "assert_violates", "matrix_cases", "pytest_configure",
           "pytest_generate_tests"]


class _Parser(argparse.ArgumentParser):
    """A parser that raises instead of exiting (its flags are only read for defaults)."""

    def error(self, message: str) -> Any:
        raise UsageError(message)


def _label(model: Model) -> str:
    params = " ".join(f"{k}={v}" for k, v in model.params().items())
    return f"{model.name} {params}" if params else model.name


def _options(model_path: str, hook: str, given: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The module at ``model_path`` and its options: the defaults of the flags that ``hook``
    (``mcheck_arguments`` or ``mcheck_matrix_arguments``) adds, updated with ``given``."""
    from mcheck.loader import load_module

    module = load_module(model_path)
    parser = _Parser(prog=f"mcheck {model_path}", add_help=False)
    add = getattr(module, hook, None)
    if callable(add):
        try:
            add(parser)
        except Exception as e:
            raise ModelError(f"model module '{model_path}' failed in {hook}: "
                             f"{type(e).__name__}: {e}", "fix the model module") from e
    try:
        options = vars(parser.parse_known_args([])[0])
    except UsageError as e:
        raise UsageError(f"model '{model_path}': {e.cause}", "fix the model module") from e
    for key, value in given.items():
        if key not in options:
            near = difflib.get_close_matches(key, list(options), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            known = ", ".join(sorted(options)) or "none"
            raise UsageError(f"model '{model_path}' has no flag {key!r}",
                             f"{hint}give one of its flags as a keyword: {known}")
        options[key] = value
    return module, options


def _models(model_path: str, options: Mapping[str, Any]) -> list[Model]:
    from mcheck.loader import build_models

    module, opts = _options(model_path, "mcheck_arguments", options)
    return build_models(module, opts, model_path)


def _diagram(model: Model, p: PropertyResult) -> str:
    from mcheck.render import render

    assert p.path is not None
    own = model.render_trace(p.path, p.name, p.message)
    if own is not None:
        return own.rstrip("\n")
    msg = f": {p.message}" if p.message else ""
    return render(model, p.path, title=f"{_label(model)}: {p.name} VIOLATED{msg}").rstrip("\n")


def _run(model: Model, bounds: Bounds, deadlock: bool, props: list[str] | None,
         model_path: str) -> Result:
    try:
        return check(model, bounds=bounds, deadlock=deadlock, properties=props)
    except UsageError:
        raise
    except ValueError as e:
        raise UsageError(f"{_label(model)}: {e}", "name a property of the model") from e
    except Exception as e:
        raise ModelError(f"model '{model_path}' raised {type(e).__name__}: {e} (while "
                         "checking)", "this is a bug in the model") from e


def _undetermined(model: Model, result: Result) -> str:
    from mcheck.report import stop_reason

    return (f"{_label(model)}: UNDETERMINED ({stop_reason(result)} after {result.states} "
            "states): the search did not finish, so nothing is proved; raise the bound")


def assert_holds(model_path: str, *, deadlock: bool = False, max_states: int | None = None,
                 timeout: float | None = None, **options: Any) -> list[Result]:
    """Check every model that ``options`` select and fail unless each one HOLDS.

    ``options`` are the model's flags (``variant="racy"``, ``threads=2``);
    ``deadlock`` checks for deadlocks too; ``max_states`` and ``timeout``
    bound each search (a bound reached fails the assertion: UNDETERMINED).
    Returns the results.  Raises AssertionError with the first violation's
    message and race diagram.
    """
    bounds = Bounds(max_states=max_states, timeout=timeout)
    out = []
    for model in _models(model_path, options):
        result = _run(model, bounds, deadlock, None, model_path)
        bad = result.violations
        if bad:
            p = bad[0]
            msg = f": {p.message}" if p.message else ""
            diagram = _diagram(model, p) if p.path is not None else ""
            raise AssertionError(f"{_label(model)}: {p.name} VIOLATED{msg}\n\n{diagram}")
        if result.verdict is not Verdict.HOLDS:
            raise AssertionError(_undetermined(model, result))
        out.append(result)
    return out


def assert_violates(model_path: str, *, prop: str | None = None, deadlock: bool = False,
                    max_states: int | None = None, timeout: float | None = None,
                    **options: Any) -> Any:
    """Fail unless a model that ``options`` select violates ``prop`` (any property if None).

    Returns the shortest counterexample as a :class:`mcheck.trace.Trace` (it
    saves with ``.save(file)``; ``mcheck replay`` and ``mcheck show`` read
    it).  Raises AssertionError when every model holds, naming how far each
    search went; a search that a bound stopped fails as UNDETERMINED.
    """
    from mcheck.trace import Trace

    bounds = Bounds(max_states=max_states, timeout=timeout)
    props = None if prop is None else [prop]
    held = []
    for model in _models(model_path, options):
        result = _run(model, bounds, deadlock, props, model_path)
        for p in result.violations:
            if p.path is not None and (prop is None or p.name == prop):
                return Trace.from_path(model, p.path, p, model_path)
        if result.verdict is not Verdict.HOLDS:
            raise AssertionError(_undetermined(model, result))
        held.append(f"{_label(model)} ({result.states} states)")
    what = prop if prop is not None else "every property"
    raise AssertionError(f"{what} HOLDS, expected a violation: " + "; ".join(held))


@dataclass(frozen=True)
class Case:
    """One cell of a model's matrix, as a test case: ``case.check()`` asserts it.

    ``expected`` is the letter the model expects for the cell (None: no
    expectation).  Built by :func:`matrix_cases`.
    """

    row: str
    column: str
    expected: str | None
    matrix: Any = field(repr=False, compare=False)
    bounds: Bounds = field(default_factory=Bounds, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The test id: ``ROW-COLUMN``."""
        return f"{self.row}-{self.column}"

    def check(self) -> Any:
        """Run the cell; fail unless it is as expected (with no expectation: no failure).

        An expected failure (a known bug reproduced) passes.  Returns the
        :class:`mcheck.matrix.Cell`.  The failure message carries the cell's
        verdict and, for a violation, the race diagram.
        """
        from mcheck.matrix import run_matrix
        from mcheck.matrix_format import cell_diagram, outcome

        mr = run_matrix(self.matrix, rows=[self.row], columns=[self.column],
                        bounds=self.bounds, keep=True)
        cell = mr.cells[(self.row, self.column)]
        kind = outcome(cell)
        if kind in ("pass", "xfail"):
            return cell
        where = f"{self.row} / {self.column}"
        if kind == "skip":
            res = mr.results[(self.row, self.column)]
            from mcheck.report import stop_reason

            raise AssertionError(f"{where}: UNDETERMINED ({stop_reason(res)} after "
                                 f"{res.states} states): nothing is proved; raise the bound")
        exp = f"expected {cell.expected}" if cell.expected is not None else \
            "expected no failure"
        msg = f": {cell.message}" if cell.message else ""
        drawing = cell_diagram(mr, self.row, self.column)
        raise AssertionError(f"{where}: {cell.letter} {cell.verdict} ({exp}){msg}"
                             + (f"\n\n{drawing}" if drawing else ""))


def matrix_cases(model_path: str, *, max_states: int | None = None,
                 timeout: float | None = None, **options: Any) -> list[Any]:
    """The cells of the matrix of ``model_path`` as ``pytest.param(Case, id="ROW-COLUMN")``.

    ``options`` are the matrix flags (those ``mcheck compare MODEL_PATH --help`` lists,
    e.g. ``threads="1,2"``); use with ``@pytest.mark.parametrize("case", ...)``
    and call ``case.check()`` in the test.  Cells that do not apply are left out.
    """
    import pytest

    from mcheck.matrix import Matrix

    module, opts = _options(model_path, "mcheck_matrix_arguments", options)
    hook = getattr(module, "mcheck_matrix", None)
    if not callable(hook):
        raise UsageError(f"model '{model_path}' has no matrix: it defines no mcheck_matrix()",
                         "define mcheck_matrix(options) -> mcheck.matrix.Matrix in it")
    try:
        matrix = hook(opts)
    except ValueError as e:
        raise UsageError(f"{model_path}: {e}", f"see `mcheck compare {model_path} --help`") from e
    if not isinstance(matrix, Matrix):
        raise UsageError(f"mcheck_matrix() in '{model_path}' returned "
                         f"{type(matrix).__name__}, not a Matrix", "return an mcheck Matrix")
    bounds = Bounds(max_states=max_states, timeout=timeout)
    out = []
    for r in matrix.rows:
        for c in matrix.columns:
            case = Case(r, c, matrix.expect(r, c), matrix, bounds)
            out.append(pytest.param(case, id=case.id))
    return out


def pytest_configure(config: Any) -> None:
    """pytest plugin hook: declare the ``mcheck_matrix`` marker."""
    config.addinivalue_line(
        "markers", "mcheck_matrix(model_path, **matrix_flags): run a test that takes "
                   "mcheck_case once per cell of the model's matrix (mcheck.testing)")


def pytest_generate_tests(metafunc: Any) -> None:
    """pytest plugin hook: parametrise ``mcheck_case`` over the marker's matrix."""
    if "mcheck_case" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("mcheck_matrix")
    if marker is None or not marker.args:
        raise UsageError(f"{metafunc.definition.nodeid} takes mcheck_case but names no "
                         "matrix", 'mark it @pytest.mark.mcheck_matrix("MODEL_PATH", '
                         "**matrix_flags)")
    params = matrix_cases(*marker.args, **marker.kwargs)
    metafunc.parametrize("mcheck_case", [p.values[0] for p in params],
                         ids=[p.id for p in params])
