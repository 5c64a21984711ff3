"""Load models by path, the way SPIN and TLC load spec files.

A *model module* is a ``.py`` file, or a directory with an ``__init__.py``
(loaded as a package, so its relative imports work).  It defines

``mcheck_models(options: dict) -> list[Model]``
    The models to check for the given options.  ``options`` maps the
    ``dest`` of each flag the module added (see below) to its value; keys may
    be missing, so read them with ``options.get``.  Raise ``ValueError`` with
    one line for options that make no sense.

``mcheck_arguments(parser: argparse.ArgumentParser)`` (optional)
    Add the module's own flags to ``parser``.

Contract: for every model ``m`` returned, ``mcheck_models(dict(m.params()))``
returns a one-element list whose model has the same ``fingerprint()``.  That
is how a trace, which records the parameters, rebuilds its model.

Modules are imported under a unique private name (``_mcheck_model_<n>_<stem>``)
and are never installed: a model directory called ``models`` is never
importable as ``models``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from mcheck.errors import ModelError, UsageError
from mcheck.model import Model

__all__ = ["add_arguments", "build_models", "load_module", "model_from_params"]

_PATH_FIX = "give the path of a model file (.py) or of a model package directory"


def _private_name(path: Path) -> str:
    """``_mcheck_model_<n>_<stem>``, with the first ``n`` no loaded module has taken."""
    stem = "".join(c if c.isalnum() else "_" for c in path.stem) or "model"
    n = 1
    while f"_mcheck_model_{n}_{stem}" in sys.modules:
        n += 1
    return f"_mcheck_model_{n}_{stem}"


def _exit_call(e: SystemExit) -> str:
    return "sys.exit()" if e.code is None else f"sys.exit({e.code!r})"


def load_module(path: str | os.PathLike[str]) -> ModuleType:
    """Import the model module at ``path`` under a fresh private name.

    Raises
    ------
    UsageError
        When the path is missing, is not a ``.py`` file or a package
        directory, fails to import, or defines no ``mcheck_models``.
    """
    given = str(path)
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no model at '{given}'", _PATH_FIX)
    if p.is_dir():
        init = p / "__init__.py"
        if not init.is_file():
            raise UsageError(f"'{given}' is a directory without __init__.py",
                             f"{_PATH_FIX} (add __init__.py to make it a package)")
        name = _private_name(p.resolve())
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(p.resolve())])
    else:
        if p.suffix != ".py":
            raise UsageError(f"'{given}' is not a Python file", _PATH_FIX)
        name = _private_name(p.resolve())
        spec = importlib.util.spec_from_file_location(name, p.resolve())
    if spec is None or spec.loader is None:  # pragma: no cover - defensive
        raise UsageError(f"cannot import '{given}'", _PATH_FIX)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and relative imports look it up
    try:
        spec.loader.exec_module(module)
    except SystemExit as e:
        sys.modules.pop(name, None)
        raise UsageError(f"model '{given}' called {_exit_call(e)} while being imported",
                         "a model module must not exit: raise an exception instead") from e
    except Exception as e:
        sys.modules.pop(name, None)
        if os.environ.get("MCHECK_DEBUG"):
            import traceback

            traceback.print_exc()
        where = ""
        if isinstance(e, SyntaxError) and e.lineno is not None:
            where = f" at {Path(e.filename or given).name}:{e.lineno}"
        raise UsageError(
            f"cannot import model '{given}': {type(e).__name__}{where}: {e}",
            "fix the model module (MCHECK_DEBUG=1 shows the traceback)") from e
    if not callable(getattr(module, "mcheck_models", None)):
        sys.modules.pop(name, None)
        raise UsageError(f"'{given}' is not a model module: it defines no mcheck_models()",
                         "define mcheck_models(options) -> list[Model] in it")
    return module


def add_arguments(module: ModuleType, parser: argparse.ArgumentParser) -> None:
    """Let the module add its own flags to ``parser`` (if it defines ``mcheck_arguments``)."""
    hook = getattr(module, "mcheck_arguments", None)
    if hook is None:
        return
    try:
        hook(parser)
    except SystemExit as e:
        raise ModelError(f"model module {module.__file__} called {_exit_call(e)} in "
                         "mcheck_arguments", "a model module must not exit: raise an "
                         "exception instead") from e
    except Exception as e:
        raise ModelError(
            f"model module {module.__file__} failed in mcheck_arguments: "
            f"{type(e).__name__}: {e}",
            "fix the model module (MCHECK_DEBUG=1 shows the traceback)") from e


def build_models(module: ModuleType, options: Mapping[str, Any], given: str) -> list[Model]:
    """Call ``mcheck_models(options)`` and check that it returned a list of models."""
    try:
        models = module.mcheck_models(dict(options))
    except ValueError as e:
        raise UsageError(f"{given}: {e}",
                         f"see `mcheck check {given} --help` for the model's flags") from e
    except UsageError:
        raise
    except SystemExit as e:
        raise ModelError(f"model module '{given}' called {_exit_call(e)} in mcheck_models",
                         "a model module must not exit: raise ValueError for bad options"
                         ) from e
    except Exception as e:
        raise _models_bug(given, e) from e
    returned = type(models).__name__
    if isinstance(models, Model):
        models = [models]
    try:
        models = list(models)
    except TypeError:
        models = None
    except ValueError as e:  # a generator refusing the options as it goes
        raise UsageError(f"{given}: {e}",
                         f"see `mcheck check {given} --help` for the model's flags") from e
    except SystemExit as e:
        raise ModelError(f"model module '{given}' called {_exit_call(e)} while listing its "
                         "models", "a model module must not exit: raise an exception "
                         "instead") from e
    except Exception as e:
        raise _models_bug(given, e) from e
    if not models:
        raise UsageError(f"mcheck_models() in '{given}' returned "
                         f"{'an empty ' + returned if models == [] else returned} "
                         "instead of a non-empty list of Model instances",
                         "return a list of mcheck.Model objects")
    for i, m in enumerate(models, start=1):
        if not isinstance(m, Model):
            what = f"the class {m.__name__}" if isinstance(m, type) else type(m).__name__
            raise UsageError(f"mcheck_models() in '{given}' returned {what} as model {i}, "
                             "not a Model instance", "return a list of mcheck.Model objects "
                             "(instances, e.g. [MyModel()])")
    for m in models:
        _check_params(m, given)
    return models


def _models_bug(given: str, e: BaseException) -> ModelError:
    return ModelError(
        f"model module '{given}' raised {type(e).__name__} in mcheck_models: {e}",
        "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)")


def _check_params(m: Model, given: str) -> None:
    """``m.params()`` must be a mapping of strings to JSON values (traces record it)."""
    fix = "make params() return {name: int, str, bool, list or dict} (it rebuilds the model)"
    try:
        params = m.params()
    except Exception as e:
        raise ModelError(f"model '{m.name}' from '{given}' raised {type(e).__name__} in "
                         f"params(): {e}", "this is a bug in the model (MCHECK_DEBUG=1 "
                         "shows the traceback)") from e
    if not isinstance(params, Mapping):
        raise UsageError(f"params() of model '{m.name}' from '{given}' returned "
                         f"{type(params).__name__}, not a dict", fix)
    for k, v in params.items():
        if not isinstance(k, str):
            raise UsageError(f"params() of model '{m.name}' from '{given}' has the key {k!r}, "
                             "not a string", fix)
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as e:
            raise UsageError(f"params() of model '{m.name}' from '{given}' holds "
                             f"{k}={_short(v)}, not a JSON value ({e})", fix) from e


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # a user's __repr__ may raise
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def model_from_params(given: str, params: Mapping[str, Any]) -> Model:
    """Rebuild the one model with parameters ``params`` from the module at ``given``."""
    module = load_module(given)
    models = build_models(module, params, given)
    if len(models) != 1:
        raise UsageError(
            f"mcheck_models() in '{given}' returned {len(models)} models for the recorded "
            f"parameters {dict(params)!r}, expected one",
            "make mcheck_models(dict(m.params())) rebuild exactly m")
    return models[0]
