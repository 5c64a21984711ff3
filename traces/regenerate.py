"""Regenerate traces/: the minimal trace of each known bug class in its era.

    python traces/regenerate.py            # rewrite every file
    python traces/regenerate.py --check    # exit 1 and name the stale files

Each entry is written as ``<policy>-<scenario>-<property>.json`` (the trace:
shortest, then fewest preemptions), ``.txt`` (what ``mcheck show`` prints:
the kernel-style race diagram) and ``.svg`` (``mcheck show --svg``), and
listed in traces/README.md with its BFS and minimal preemption counts.
``tests/cow/test_traces_dir.py`` replays every file and fails when one no
longer reproduces or is stale.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: (policy, scenario, property, what it shows)
TRACES = [
    ("E1", "CVE-2020-29374", "missed_cow",
     "CVE-2020-29374: the child's vmsplice pipe sees the parent's write (mapcount reuse)"),
    ("E3t", "RDMA-fork", "wrong_cow",
     "the 5.9-rc4 RDMA regression: fork write-protects a pinned page, the parent's write"
     " copies it away from the device"),
    ("E3", "S07", "wrong_cow",
     "the fork vs GUP-fast race fixed by 57efa1fe5957 (write_protect_seq)"),
    ("E3", "S12a", "wrong_cow", "a pinned page left in the swap cache (io_uring + swap)"),
    ("E4", "X12b", "wrong_cow",
     "a pin racing reclaim's pinned check (feb889fb40fa window) leaves it in the swap cache"),
    ("E5", "X12b", "wrong_cow", "the same window in 5.18"),
    ("E5", "S09", "wrong_cow", "an R/O pin on a shared page goes stale after the owner's write"),
    ("E3", "X16", "unnecessary_cow",
     "unnecessary COW: the swap cache's reference makes page_count 2 (metric witness)"),
    ("E4", "X16", "unnecessary_cow", "the same in 5.11-5.17 (metric witness)"),
    ("E6", "X24", "wrong_cow",
     "O_DIRECT and fork (open(2)): a R/W FOLL_GET is no pin, so fork shares the page and"
     " the parent's write copies it away; still so in 6.2+"),
]

MODEL_PATH = "models/cow"


def stem(policy: str, scenario: str, prop: str) -> str:
    return f"{policy}-{scenario}-{prop}"


def _show(json_file: Path, *extra: str) -> str:
    from mcheck.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        status = main(["show", str(json_file), "--model", str(ROOT / MODEL_PATH), *extra])
    if status != 0:
        raise SystemExit(f"mcheck show {json_file} exited {status}")
    return buf.getvalue()


def expected_files() -> dict[str, str]:
    """File name -> content of every file traces/ should hold."""
    from mcheck import check
    from mcheck.cli import model_label
    from mcheck.explore import PropertyResult, Verdict
    from mcheck.minimize import explain, minimal_path
    from mcheck.render import count_preemptions
    from mcheck.svg import render_svg
    from mcheck.trace import Trace
    from models.cow import mcheck_models
    from models.cow.diagram import kernel_notes

    out: dict[str, str] = {}
    index = [
        "# Minimal traces of the known bug classes",
        "",
        "Written by `python traces/regenerate.py`; replayed by `tests/cow/test_traces_dir.py`.",
        "Each trace is a shortest counterexample (or metric witness) with the fewest",
        "preemptions among the shortest ones (`mcheck minimize`).  `.txt` is what",
        "`mcheck show FILE.json` prints, `.svg` what `mcheck show FILE.json --svg` draws.",
        "",
        "| trace | steps | preemptions (BFS) | preemptions (minimal) | what it shows |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    # the model path is recorded as given (relative to the repository), and so are the
    # digests of its files: read them from the repository's root
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(ROOT):
        for policy, scenario, prop, what in TRACES:
            [m] = mcheck_models({"policy": policy, "scenario": scenario})
            bfs = check(m, stop_at_first=False, deadlock=True).properties[prop].path
            mini = minimal_path(m, prop)
            assert mini is not None and len(mini.path) == len(bfs), (policy, scenario, prop)
            kind = m.properties()[[p.name for p in m.properties()].index(prop)].kind
            pr = PropertyResult(prop, kind, Verdict.VIOLATED, mini.path, 1,
                                explain(m, prop, mini.path))
            trace = Trace.from_path(m, mini.path, pr, MODEL_PATH)
            name = stem(policy, scenario, prop)
            out[f"{name}.json"] = trace.to_json()
            f = Path(tmp) / f"{name}.json"
            f.write_text(trace.to_json())
            out[f"{name}.txt"] = _show(f)
            # what `mcheck show --svg` draws, with the kernel-state lines of the text
            # diagram (no ghost values) once the model gives them as trace_notes()
            verdict = "witness" if trace.kind == "metric" else "VIOLATED"
            out[f"{name}.svg"] = render_svg(
                m, mini.path, title=f"{model_label(m)}: {prop} {verdict}: {trace.message}",
                mark=f"{prop} {verdict.lower()}", notes=partial(kernel_notes, m))
            index.append(f"| [{name}]({name}.txt) | {len(mini.path)} | "
                         f"{count_preemptions(m, bfs)} | {mini.preemptions} | {what} |")
    out["README.md"] = "\n".join(index) + "\n"
    return out


def current(name: str, text: str) -> bool:
    """Whether traces/``name`` holds ``text``.

    A trace's ``model_files`` digests are left out of the comparison: they say
    which model files a later change touched (for replay's error), so an edit
    of the model that keeps every trace replaying does not make them stale.
    """
    f = HERE / name
    if not f.is_file():
        return False
    have = f.read_text()
    if not name.endswith(".json"):
        return have == text
    try:
        a, b = json.loads(have), json.loads(text)
    except ValueError:
        return False
    a.pop("model_files", None)
    b.pop("model_files", None)
    return bool(a == b)


def main(argv: list[str]) -> int:
    want = expected_files()
    if "--check" in argv:
        stale = [n for n, text in want.items() if not current(n, text)]
        for n in stale:
            print(f"stale: traces/{n}")
        return 1 if stale else 0
    for name, text in want.items():
        (HERE / name).write_text(text)
    print(f"wrote {len(want)} files into traces/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
