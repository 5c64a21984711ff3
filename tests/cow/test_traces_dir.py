"""traces/: every reviewed counterexample replays, is minimal, and its renderings are current."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from mcheck import check
from mcheck.minimize import minimal_path
from mcheck.render import count_preemptions
from mcheck.trace import load, replay
from models.cow import mcheck_models

TRACES = Path(__file__).resolve().parents[2] / "traces"
FILES = sorted(TRACES.glob("*.json"))


def _regenerate():
    spec = importlib.util.spec_from_file_location("_traces_regenerate", TRACES / "regenerate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_known_bug_classes_are_all_there():
    names = {f.stem for f in FILES}
    assert names == {
        "E1-CVE-2020-29374-missed_cow", "E3t-RDMA-fork-wrong_cow", "E3-S07-wrong_cow",
        "E3-S12a-wrong_cow", "E4-X12b-wrong_cow", "E5-X12b-wrong_cow", "E5-S09-wrong_cow",
        "E3-X16-unnecessary_cow", "E4-X16-unnecessary_cow", "E6-X24-wrong_cow",
    }
    for f in FILES:
        assert f.with_suffix(".txt").is_file() and f.with_suffix(".svg").is_file()


@pytest.mark.parametrize("file", FILES, ids=[f.stem for f in FILES])
def test_trace_reproduces_and_is_minimal(file):
    trace = load(file)
    [m] = mcheck_models(dict(trace.params))
    res = replay(m, trace)
    assert res.reproduced, f"{file.name} no longer reproduces: {res.message}"
    bfs = check(m, stop_at_first=False, deadlock=True).properties[trace.property].path
    assert len(res.path) == len(bfs)
    mini = minimal_path(m, trace.property)
    assert count_preemptions(m, res.path) == mini.preemptions <= count_preemptions(m, bfs)


def test_renderings_and_index_are_current():
    regen = _regenerate()
    stale = [name for name, text in regen.expected_files().items()
             if not regen.current(name, text)]
    assert stale == [], "stale files in traces/: run `python traces/regenerate.py`"


def test_the_readme_shows_the_current_s07_diagram():
    readme = (TRACES.parent / "README.md").read_text()
    assert (TRACES / "E3-S07-wrong_cow.txt").read_text() in readme
