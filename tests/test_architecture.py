"""Rules of the engine package that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parent.parent / "mcheck"
SOURCES = sorted(ENGINE.glob("*.py"))


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_heavy_dependencies_have_one_home_each():
    homes = {"tqdm": {"progress.py"}, "z3": {"smt.py"}, "networkx": {"graph.py"}}
    for path in SOURCES:
        for name in set(_imports(path)):
            if name in homes:
                assert path.name in homes[name], f"{path.name} imports {name}"


def test_engine_never_imports_models():
    for path in SOURCES:
        assert "models" not in set(_imports(path)), path.name


def test_engine_never_uses_builtin_hash():
    # hash() is salted per process for str and None, and gives -1 and -2 alike: the
    # fingerprint store keys states by a digest of a canonical encoding instead.
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "hash":
                raise AssertionError(f"{path.name}:{node.lineno} uses hash")


def test_engine_has_no_kernel_words():
    words = re.compile(r"\b(kernel|page|pages|pte|folio|gup|cow|mmap|munmap|frame|frames|"
                       r"pinned|madvise|anon)\b", re.I)
    for path in SOURCES:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            line = line.replace("kernel words", "")  # saying there are none is fine
            assert not words.search(line), f"{path.name}:{i}: {line.strip()}"


def test_every_module_has_all():
    for path in SOURCES:
        if path.name in ("__main__.py",):
            continue
        assert "__all__" in path.read_text(), path.name
