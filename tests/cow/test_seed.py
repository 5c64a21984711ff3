"""docs/seed-2021.md: the answer to the seed's challenge is regenerated and must not differ."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.cow import seed

DOC = Path(__file__).resolve().parents[2] / "docs" / "seed-2021.md"


def test_the_document_is_current() -> None:
    text = seed.render()
    assert DOC.read_text(encoding="utf-8") == text, \
        f"docs/seed-2021.md is stale: run `{seed.COMMAND}` and review the diff"


def test_every_design_of_the_exchange_is_judged_or_named_missing() -> None:
    have, missing = seed.designs()
    assert sorted([p.name for p in have] + missing, key=seed.DESIGNS.index) == \
        list(seed.DESIGNS)
    assert {p.name for p in have} >= {"linus-2021", "david-2021", "E6"}
    doc = DOC.read_text(encoding="utf-8")
    for name in missing:
        assert f"design {name}" in doc
    for p in have:
        assert f"\n| {p.name} | {p.kernels} | " in doc


def test_the_budgets_include_swap_and_a_second_thread() -> None:
    have, _lacking = seed.budgets()
    opts = [o for _l, _w, o in have]
    assert any("swapout=" in o["budget"] for o in opts)
    assert any(o.get("threads") == 2 for o in opts)


@pytest.mark.parametrize(("argv", "fragment"), [
    (["bogus"], "invalid choice: 'bogus'"),
    (["seed", "-o"], "expected one argument"),
    (["seed", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_input_is_a_value_error(argv, fragment) -> None:
    with pytest.raises(ValueError, match=fragment):
        seed.main(argv, "prog")


def test_help_exits_0(capsys) -> None:
    assert seed.main(["--help"], "prog") == 0
    assert "usage: prog" in capsys.readouterr().out
