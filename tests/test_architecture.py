"""Rules of the engine package that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "mcheck"
SOURCES = sorted(p for p in ENGINE.rglob("*.py") if "__pycache__" not in p.parts)
PYTHON = sorted(p for d in ("mcheck", "models", "examples", "bench", "tests")
                for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    """``proof/terms.py`` for mcheck/proof/terms.py."""
    return path.relative_to(ENGINE).as_posix()


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_the_engine_sources_include_the_subpackages():
    names = {_name(p) for p in SOURCES}
    assert {"explore.py", "store.py", "proof/prover.py", "proof/terms.py",
            "proof/cache.py"} <= names


def test_heavy_dependencies_have_one_home_each():
    homes = {"tqdm": {"progress.py"}, "z3": {"proof/terms.py"}, "networkx": {"graph.py"}}
    users: dict[str, set[str]] = {name: set() for name in homes}
    for path in SOURCES:
        for name in set(_imports(path)):
            if name in homes:
                users[name].add(_name(path))
    assert users == homes


def test_engine_never_imports_models():
    for path in SOURCES:
        assert "models" not in set(_imports(path)), _name(path)


def test_engine_never_uses_builtin_hash():
    # hash() is salted per process for str and None, and gives -1 and -2 alike: the
    # fingerprint store keys states by a digest of a canonical encoding instead.
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "hash":
                raise AssertionError(f"{_name(path)}:{node.lineno} uses hash")


def test_engine_has_no_kernel_words():
    words = re.compile(r"\b(kernel|page|pages|pte|folio|gup|cow|mmap|munmap|frame|frames|"
                       r"pinned|madvise|anon)\b", re.I)
    for path in SOURCES:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            line = line.replace("kernel words", "")  # saying there are none is fine
            assert not words.search(line), f"{_name(path)}:{i}: {line.strip()}"


def _declared_all(tree: ast.Module) -> list[str] | None:
    """The string literals of the module-level ``__all__``, or None when there is none."""
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert isinstance(node.value, (ast.List, ast.Tuple)), "__all__ is not a literal"
            assert all(isinstance(e, ast.Constant) and isinstance(e.value, str)
                       for e in node.value.elts), "__all__ holds something other than names"
            return [e.value for e in node.value.elts]
    return None


def test_every_module_declares_all_and_each_name_in_it_exists():
    for path in SOURCES:
        if path.name == "__main__.py":
            continue
        names = _declared_all(ast.parse(path.read_text()))
        assert names, f"{_name(path)} has no __all__ (or an empty one)"
        assert len(names) == len(set(names)), f"{_name(path)}: a name twice in __all__"
        module = importlib.import_module("mcheck." + _name(path)[:-3].replace("/", ".")
                                         .removesuffix(".__init__"))
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, f"{_name(path)}: __all__ names {missing}, which it does not define"


# Imports of another module's private name (``from x import _y``), which the standards ban;
# these were there before the rule was checked.  The list must shrink, never grow: remove an
# entry when its import goes.
PRIVATE_IMPORTS_TO_REMOVE: frozenset[tuple[str, str, str]] = frozenset()


def test_no_module_imports_another_modules_private_names():
    found = set()
    for path in PYTHON:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        found.add((path.relative_to(ROOT).as_posix(), node.module, a.name))
    assert found == PRIVATE_IMPORTS_TO_REMOVE


# Module-level values the proof package may bind: immutable ones only (constants, frozen sets,
# tuples, strings, numbers, functions and classes).  Its state lives in a ProofContext passed
# explicitly (docs/proof.md); a list, dict, set or counter at module level would be shared by
# every proof in the process.
_MUTABLE_CALLS = {"list", "dict", "set", "bytearray", "count", "defaultdict", "deque",
                  "OrderedDict", "Counter", "ContextVar", "local"}


def _module_level_mutable(tree: ast.Module) -> list[str]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            value, targets = node.value, node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            value, targets = node.value, [node.target]
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if names == ["__all__"]:
            continue
        mutable = isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp,
                                     ast.SetComp))
        if isinstance(value, ast.Call):
            f = value.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else ""
            mutable = called in _MUTABLE_CALLS
        if mutable:
            found.append(f"{', '.join(names)} (line {node.lineno})")
    return found


def test_the_proof_package_has_no_module_level_mutable_state():
    proof = [p for p in SOURCES if p.parent.name == "proof"]
    assert len(proof) >= 10
    bad = {_name(p): _module_level_mutable(ast.parse(p.read_text())) for p in proof}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_symmetry_module_has_no_module_level_mutable_state():
    # mcheck.symmetry's code runs inside proofs (differs, the canonicaliser): a flag there
    # (the former PROVING) would be state shared by every proof and search in the process
    path = ENGINE / "symmetry.py"
    assert _module_level_mutable(ast.parse(path.read_text())) == []


def test_the_mutable_state_check_finds_what_it_looks_for():
    tree = ast.parse("_CUR: list = []\nX = itertools.count(1)\nY = (1, 2)\nZ = {}\n"
                     "__all__ = ['Y']\n")
    assert _module_level_mutable(tree) == ["_CUR (line 1)", "X (line 2)", "Z (line 4)"]
