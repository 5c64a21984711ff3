"""Loading model modules by path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from mcheck.errors import ModelError, UsageError
from mcheck.loader import build_models, load_module, model_from_params

ROOT = Path(__file__).resolve().parent.parent
TOYS = str(ROOT / "examples" / "toys.py")


def test_toys_module_contract():
    """mcheck_models(dict(m.params())) rebuilds m, for every model the module gives."""
    module = load_module(TOYS)
    for options in ({}, {"toy": "increments", "procs": 3}, {"toy": "ladder", "height": 2}):
        for m in build_models(module, options, TOYS):
            again = build_models(module, dict(m.params()), TOYS)
            assert len(again) == 1 and again[0].fingerprint() == m.fingerprint()


def test_every_load_is_a_fresh_private_module():
    a = load_module(TOYS)
    b = load_module(TOYS)
    assert a is not b and a.__name__ != b.__name__
    assert a.__name__.startswith("_mcheck_model_")


def test_package_directory_with_relative_imports(tmp_path):
    pkg = tmp_path / "models"  # the name must not matter, nor be importable as `models`
    pkg.mkdir()
    (pkg / "toy.py").write_text(textwrap.dedent("""\
        from mcheck import Model

        class One(Model):
            name = "one"
            def __init__(self, n):
                self.n = n
            def params(self):
                return {"n": self.n}
            def initial_states(self):
                return [(0,)]
            def actions(self, s):
                return [("t",)] if s[0] < self.n else []
            def step(self, s, a):
                return (s[0] + 1,)
        """))
    (pkg / "__init__.py").write_text(textwrap.dedent("""\
        from .toy import One

        def mcheck_arguments(parser):
            parser.add_argument("--n", type=int, default=3)

        def mcheck_models(options):
            return [One(options.get("n") or 3)]
        """))
    m = model_from_params(str(pkg), {"n": 4})
    assert m.name == "one" and m.params() == {"n": 4}
    assert type(m).__module__.startswith("_mcheck_model_")
    for name, mod in sys.modules.items():  # nothing loaded from pkg under the name `models`
        if name == "models" or name.startswith("models."):
            assert not str(getattr(mod, "__file__", "") or "").startswith(str(pkg)), name


def _file(name, text):
    def make(d):
        (d / name).write_text(text)
        return d / name
    return make


def _dir(d):
    (d / "plain").mkdir()
    return d / "plain"


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing.py", "no model at"),
    (_file("x.txt", ""), "is not a Python file"),
    (_dir, "directory without __init__.py"),
    (_file("e.py", "x = 1\n"), "is not a model module"),
    (_file("i.py", "import no_such_module_here\n"), "cannot import model .*ModuleNotFoundError"),
    (_file("s.py", "def f(:\n"), "cannot import model .*SyntaxError at s.py:1"),
])
def test_load_errors_are_one_line_usage_errors(tmp_path, make, match):
    with pytest.raises(UsageError, match=match) as e:
        load_module(make(tmp_path))
    assert "\n" not in str(e.value) and str(e.value).startswith("mcheck: ")
    assert "; " in str(e.value)  # cause; fix


def test_value_error_in_mcheck_models_is_a_usage_error():
    module = load_module(TOYS)
    with pytest.raises(UsageError, match="--procs must be a whole number above zero"):
        build_models(module, {"toy": "increments", "procs": 0}, TOYS)


def test_other_exception_in_mcheck_models_is_a_model_error(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("def mcheck_models(options):\n    return 1 / 0\n")
    with pytest.raises(ModelError, match="ZeroDivisionError"):
        build_models(load_module(f), {}, str(f))


def test_mcheck_models_must_return_models(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("def mcheck_models(options):\n    return [1]\n")
    with pytest.raises(UsageError) as e:
        build_models(load_module(f), {}, str(f))
    assert str(e.value) == (f"mcheck: mcheck_models() in '{f}' returned int as model 1, not a "
                            "Model instance; return a list of mcheck.Model objects (instances, "
                            "e.g. [MyModel()])")
    f.write_text("def mcheck_models(options):\n    return []\n")
    with pytest.raises(UsageError) as e:
        build_models(load_module(f), {}, str(f))
    assert str(e.value) == (f"mcheck: mcheck_models() in '{f}' returned an empty list instead "
                            "of a non-empty list of Model instances; return a list of "
                            "mcheck.Model objects")


def test_a_generator_of_models_that_raises_is_a_model_error(tmp_path):
    f = tmp_path / "gen.py"
    f.write_text("from mcheck import Model\n\n\nclass M(Model):\n    pass\n\n\n"
                 "def mcheck_models(options):\n    yield M()\n    raise OSError('gone')\n")
    with pytest.raises(ModelError) as e:
        build_models(load_module(f), {}, str(f))
    assert str(e.value) == (f"mcheck: model module '{f}' raised OSError in mcheck_models: gone; "
                            "this is a bug in the model (MCHECK_DEBUG=1 shows the traceback)")


def test_params_must_be_json(tmp_path):
    f = tmp_path / "p.py"
    f.write_text("from mcheck import Model\n\n\nclass M(Model):\n    name = 'm'\n\n"
                 "    def params(self):\n        return {'n': (1, {2})}\n\n\n"
                 "def mcheck_models(options):\n    return [M()]\n")
    with pytest.raises(UsageError) as e:
        build_models(load_module(f), {}, str(f))
    assert str(e.value) == (f"mcheck: params() of model 'm' from '{f}' holds n=(1, {{2}}), not a "
                            "JSON value (Object of type set is not JSON serializable); make "
                            "params() return {name: int, str, bool, list or dict} (it rebuilds "
                            "the model)")


def test_sys_exit_while_importing_is_a_usage_error(tmp_path):
    f = tmp_path / "ex.py"
    f.write_text("raise SystemExit\n")
    with pytest.raises(UsageError) as e:
        load_module(f)
    assert str(e.value) == (f"mcheck: model '{f}' called sys.exit() while being imported; a "
                            "model module must not exit: raise an exception instead")


def test_private_names_are_the_first_free_ones(tmp_path):
    import sys

    f = tmp_path / "m.py"
    f.write_text("def mcheck_models(options):\n    return []\n")
    first, second = load_module(f), load_module(f)
    assert first.__name__ != second.__name__
    assert first.__name__.startswith("_mcheck_model_") and first.__name__.endswith("_m")
    assert sys.modules[first.__name__] is first and sys.modules[second.__name__] is second


def test_model_from_params_needs_exactly_one_model():
    with pytest.raises(UsageError, match="returned 4 models"):
        model_from_params(TOYS, {})
