"""One symmetry proof shared by the models that agree on every switch it read (docs/proof.md,
"Sharing a proof across switch boards").

The toy is Increments with a switch board: ``special`` breaks the symmetry when set (process 1
flips the counter), ``unused`` is never read by the proof, ``board_ref`` only names the board.
Every test runs in a fresh cache directory.
"""

from __future__ import annotations

import json

import pytest

from examples.toys import Increments
from mcheck.proof import certify, is_cached


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MCHECK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MCHECK_PROOF_SECRET", str(tmp_path / "secret"))
    return tmp_path / "cache"


class Board:
    """A switch board whose model keeps its name in ``board_ref``."""

    __proof_switch_board__ = ("board_ref",)

    def __init__(self, special: bool = False, unused: int = 0) -> None:
        self.special = special
        self.unused = unused

    def everything(self) -> tuple:
        return (self.special, self.unused)


class Switched(Increments):
    """``peek`` reads the board or its label another way: "switches" (a method), "dict" (the
    board's ``__dict__``), "label" (the label, through the attribute), "label-dict" (the label
    through the model's ``__dict__``: a label "bad" then breaks the symmetry)."""

    def __init__(self, board: Board, board_ref: str, peek: str = "") -> None:
        super().__init__(3)
        self.board = board
        self.board_ref = board_ref
        self.peek = peek

    def step(self, state, action):
        s = super().step(state, action)
        broken = self.board.special
        if self.peek == "switches":
            broken = self.board.everything()[0]
        elif self.peek == "dict":
            broken = vars(self.board)["special"]
        elif self.peek == "label":
            broken = broken or self.board_ref == "bad"
        elif self.peek == "label-dict":
            broken = broken or self.__dict__["board_ref"] == "bad"
        if broken and action[0] == 1 and state[0] == 3:
            s = (s[0] ^ 1,) + s[1:]
        return s


def _certify(board: Board, ref: str, peek: str = "", **kw):
    m = Switched(board, ref, peek)
    return certify(m, m.symmetry(), **kw)


def test_boards_that_differ_only_in_a_switch_the_proof_never_read_share_one_proof():
    first = _certify(Board(unused=0), "A")
    assert (first.status, first.cached) == ("proved", False)
    assert "for every model that agrees on the 1 switches the proof read" in first.cache_note
    m = Switched(Board(unused=1), "B")
    assert is_cached(m, m.symmetry())
    second = certify(m, m.symmetry())
    assert (second.status, second.cached) == ("proved", True)  # measured: a cache hit
    assert "shared: agrees on the 1 switches the proof read" in second.cache_note
    assert (second.obligations, second.paths) == (first.obligations, first.paths)


def test_a_switch_the_proof_read_that_differs_is_a_fresh_proof_and_refutations_are_shared():
    assert _certify(Board(special=False), "A").status == "proved"
    broken = _certify(Board(special=True), "B")
    assert (broken.status, broken.cached) == ("refuted", False)
    again = _certify(Board(special=True, unused=7), "C")
    assert (again.status, again.cached) == ("refuted", True)
    assert again.witness is not None and again.witness.to_dict() == broken.witness.to_dict()


@pytest.mark.parametrize("peek", ["switches", "dict"])
def test_a_read_of_the_whole_board_keeps_the_proof_to_its_full_key(peek, fresh_cache):
    first = _certify(Board(), "A", peek)
    assert first.status == "proved" and "for every model" not in first.cache_note
    assert len(list(fresh_cache.glob("symmetry-*.json"))) == 1  # the full key's entry only
    second = _certify(Board(unused=1), "B", peek)
    assert (second.status, second.cached) == ("proved", False)
    assert _certify(Board(), "A", peek).cached  # the same board: its full key


def test_a_label_the_proof_read_is_part_of_the_entry():
    assert _certify(Board(), "A", "label").status == "proved"
    assert not _certify(Board(), "B", "label").cached  # B: another label, read
    assert _certify(Board(unused=3), "A", "label").cached
    bad = _certify(Board(), "bad", "label")
    assert (bad.status, bad.cached) == ("refuted", False)


def test_a_label_used_through_the_models_dict_is_proved_again_without_sharing(fresh_cache):
    ok = _certify(Board(), "A", "label-dict")
    assert ok.status == "proved" and "for every model" not in ok.cache_note
    bad = _certify(Board(), "bad", "label-dict")  # the plain code breaks the symmetry
    assert (bad.status, bad.cached) == ("refuted", False)


def test_the_board_and_the_model_are_left_as_they_were():
    board = Board()
    m = Switched(board, "A")
    assert certify(m, m.symmetry()).status == "proved"
    assert "__getattribute__" not in vars(Board) and "__getattribute__" not in vars(Switched)
    assert vars(m)["board_ref"] == "A" and m.board is board


def test_forked_workers_record_their_reads_too():
    first = _certify(Board(), "A", workers=2)
    assert first.status == "proved" and "agrees on the 1 switches" in first.cache_note
    assert _certify(Board(unused=1), "B").cached


@pytest.mark.parametrize("edit", ["reads", "status", "mac"])
def test_an_edited_shared_entry_is_refused(edit, fresh_cache):
    assert _certify(Board(), "A").status == "proved"
    [shared] = [p for p in fresh_cache.glob("symmetry-*-*.json")]
    d = json.loads(shared.read_text())
    if edit == "reads":
        d["payload"]["reads"] = {}  # would match every board
    elif edit == "status":
        d["payload"]["status"] = "refuted"
    else:
        d["mac"] = "0" * 64
    shared.write_text(json.dumps(d))
    again = _certify(Board(unused=1), "B")
    assert (again.status, again.cached) == ("proved", False)
