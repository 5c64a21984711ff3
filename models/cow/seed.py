"""``python -m models.cow.seed``: the designs of the December 2021 exchange, judged.

Linus's challenge in the seed (../../../shared/design/seed-lkml-2021-12-18.txt)
asks how a design solves (1) missed COW and (3) wrong COW and whether it avoids
(2) unnecessary COW.  This module answers it mechanically: each design that
the model names (``DESIGNS``; one the model lacks is listed as missing) is
checked over the whole scenario catalogue and over a fixed set of small
open-search budgets (``BUDGETS``; a budget whose kinds the model lacks is
left out and named), and ``render()`` writes the table, one paragraph and
one minimal race diagram (shortest, then fewest preemptions) per finding,
and what each design needs that the others do not.  Nothing is cached and
nothing is timed, so the text is the same on every run.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType as _Frozen
from typing import Any

from mcheck import Verdict, check
from mcheck.minimize import explain, minimal_path
from mcheck.result import Path

from .catalogue import CATALOGUE
from .model import CowModel
from .open import BUDGET_KINDS, OpenCowModel, parse_budget
from .policy import POLICIES, SWITCHES, Policy
from .reproduce import CommandParser, HelpShown

__all__ = ["BUDGETS", "CLASSES", "COMMAND", "DESIGNS", "Finding", "judge", "main", "render"]

#: The designs, in the order of the exchange, then what shipped.
DESIGNS = ("linus-2021", "david-2021", "precise-2021", "E6")

#: Linus's numbering: (property, label).
CLASSES = (("missed_cow", "(1) missed COW"), ("unnecessary_cow", "(2) unnecessary COW"),
           ("wrong_cow", "(3) wrong COW"))

#: Open-search budgets: (label, what it exercises, the model's options).
BUDGETS: tuple[tuple[str, str, Mapping[str, Any]], ...] = (
    ("vmsplice", "fork, a R/O get (vmsplice), munmap, two writes",
     _Frozen({"budget": "fork=1,get=1,unmap=1,write=2", "gup_modes": "ro-slow,ro-fast"})),
    ("pin+fork", "fork, a pin of any mode, two writes",
     _Frozen({"budget": "fork=1,pin=1,write=2"})),
    ("second thread", "fork against a GUP-fast R/W pin from a second thread of P",
     _Frozen({"budget": "fork=1,pin=1,write=2", "gup_modes": "rw-fast", "threads": 2})),
    ("swap", "a pin racing reclaim, a read and two writes",
     _Frozen({"budget": "pin=1,swapout=1,write=2,read=1"})),
    ("swap+fork", "swap-out, fork, a R/O get, munmap, two writes",
     _Frozen({"budget": "fork=1,get=1,swapout=1,unmap=1,write=2", "gup_modes": "ro-slow"})),
    ("migration", "migration racing a pin, a read and two writes",
     _Frozen({"budget": "migrate=1,pin=1,write=2,read=1"})),
)

#: The steps that decide between reusing and copying a page.
_DECIDERS = ("do_wp_page", "do_swap_page", "copy_present_pte", "page_try_dup_anon_rmap",
             "do_huge_pmd_wp_page", "hugetlb_wp")

COMMAND = "mcheck report models/cow seed -o docs/seed-2021.md"

#: What each design adds, in words (the switches follow from the policies).
_NEEDS = _Frozen({
    "linus-2021": "GUP breaks COW before it pins, so every pinned page is exclusive by "
                  "page_count; fork copies maybe-pinned pages and takes write_protect_seq "
                  "against GUP-fast; reclaim keeps pinned pages out of the swap cache "
                  "(feb889fb40fa). No bit anywhere: exclusivity is inferred from counts.",
    "david-2021": "the mapcount as the test of sharing: GUP unshares (FAULT_FLAG_UNSHARE) "
                  "before a R/O get or pin of a page mapped more than once; the rest is "
                  "5.16 (page_count reuse, early copy at fork, write_protect_seq).",
    "precise-2021": "an inactive count per page (page tables that reference it through a "
                    "swap or migration entry), read atomically with the mapcount; reuse, "
                    "swap-in and GUP unsharing decide on active + inactive, and GUP-fast "
                    "backs off where slow GUP would unshare.",
    "E6": "a page flag, PageAnonExclusive (6c287605fd56), and a bit in the page table, "
          "SWP_EXCLUSIVE (1493a1913e34), so exclusivity survives swap-out; unshare for R/O "
          "pins of pages that are not exclusive (a7f226604170).",
})

_QUOTE = ("It would be *really* easy if we could just hide this \"don't COW this page\" in "
          "the page table. Truly trivial. We don't, because of portability across different "
          "architectures ;(")
_CHALLENGE = ("So to challenge you, please explain exactly how mapcount works to solve (1) "
              "and (3), and how it incidentally guarantees that (2) doesn't happen.")


@dataclass(frozen=True)
class Finding:
    """One class of bug under one design: where it occurs and its minimal trace."""

    design: str
    prop: str
    scenarios: tuple[str, ...]
    budgets: tuple[str, ...]
    #: the unnecessary_cow metric summed over the catalogue (copy transitions)
    copies: int
    source: str
    model: Any
    path: Path
    preemptions: int


def designs() -> tuple[list[Policy], list[str]]:
    """The designs the model names, and the names it lacks."""
    have = [POLICIES[n] for n in DESIGNS if n in POLICIES]
    return have, [n for n in DESIGNS if n not in POLICIES]


def budgets() -> tuple[list[tuple[str, str, Mapping[str, Any]]], list[str]]:
    """The budgets whose kinds the model has, and the labels of the others."""
    have, lacking = [], []
    for label, what, opts in BUDGETS:
        kinds = [part.partition("=")[0] for part in opts["budget"].split(",")]
        (have if all(k in BUDGET_KINDS for k in kinds) else lacking).append(
            (label, what, opts))
    return have, [b[0] for b in lacking]


def _open_model(pol: Policy, opts: Mapping[str, Any]) -> OpenCowModel:
    sizes = {k: opts[k] for k in ("threads",) if k in opts}
    return OpenCowModel(pol, parse_budget(opts["budget"]), **sizes,
                        gup_modes=opts.get("gup_modes", "rw-slow,rw-fast,ro-slow,ro-fast"))


def judge(pol: Policy) -> tuple[list[Finding], dict[str, int]]:
    """Every finding of ``pol``, in the order of CLASSES, and each budget's state count."""
    sources: list[tuple[str, bool, Any]] = [(s.name, True, CowModel(s, pol)) for s in CATALOGUE]
    open_budgets, _ = budgets()
    sources += [(label, False, _open_model(pol, opts)) for label, _w, opts in open_budgets]
    hits: dict[str, list[tuple[int, int, str, bool, Any, int]]] = {p: [] for p, _ in CLASSES}
    states: dict[str, int] = {}
    for order, (name, scripted, m) in enumerate(sources):
        r = check(m, stop_at_first=False)
        if not r.exhausted:  # pragma: no cover - no bound is given
            raise RuntimeError(f"{pol.name} {name}: the search was cut ({r.stopped_by})")
        if r.properties["model_error"].verdict is Verdict.VIOLATED:
            raise RuntimeError(f"{pol.name} {name}: model_error: "
                               f"{r.properties['model_error'].message}")
        if not scripted:
            states[name] = r.states
        for prop, _label in CLASSES:
            pr = r.properties[prop]
            if pr.verdict is Verdict.VIOLATED or pr.count:
                assert pr.path is not None
                hits[prop].append((len(pr.path), order, name, scripted, m, pr.count))
    out = []
    for prop, _label in CLASSES:
        found = hits[prop]
        if not found:
            continue
        _n, _o, name, _s, m, _c = min(found, key=lambda h: (h[0], h[1]))
        mini = minimal_path(m, prop)
        assert mini is not None
        out.append(Finding(
            pol.name, prop, tuple(h[2] for h in found if h[3]),
            tuple(h[2] for h in found if not h[3]),
            sum(h[5] for h in found if h[3]), name, m, mini.path, mini.preemptions))
    return out, states


def _needs(pol: Policy, others: list[Policy]) -> str:
    """The switch values of ``pol`` that no other design has."""
    own = []
    for name in SWITCHES:
        value = pol.switches()[name]
        if all(o.switches()[name] != value for o in others):
            own.append(f"`{name}={value}`")
    return ", ".join(own) if own else "none"


def _decision(f: Finding) -> str:
    """The fault that decided, in the trace's words: its last reuse-or-copy step."""
    for a in reversed(f.path.actions):
        if str(a[1]).startswith(_DECIDERS):
            return f"the decision is {a[0]}'s `{a[1]}`"
    return "no fault decided"  # pragma: no cover - every finding ends in a fault's decision


def _cell(fs: list[Finding], prop: str) -> str:
    f = next((f for f in fs if f.prop == prop), None)
    if f is None:
        return "no"
    where = [*f.scenarios, *(f"open: {b}" for b in f.budgets)]
    extra = f"; {f.copies} copies in the catalogue" if prop == "unnecessary_cow" else ""
    return f"**yes** ({len(where)}: {', '.join(where)}{extra})"


def render() -> str:
    """The text of docs/seed-2021.md."""
    pols, missing = designs()
    open_budgets, lacking = budgets()
    judged = [(p, *judge(p)) for p in pols]
    w: list[str] = [
        "# The December 2021 exchange, judged by the model",
        "",
        f"Generated by `{COMMAND}`; `tests/cow/test_seed.py` regenerates it and fails on",
        "any difference. Linus's challenge (seed-lkml-2021-12-18.txt):",
        "",
        f"> {_CHALLENGE}",
        "",
        "(1) = missed COW, (2) = unnecessary COW, (3) = wrong COW. Each design is checked",
        f"over the {len(CATALOGUE)} scenarios of the catalogue (`mcheck list models/cow`) and "
        "over these",
        "open-search budgets, every search to the end (`mcheck explore models/cow --policy P "
        "...`):",
        "",
        "| budget | what | options | " + " | ".join(f"{p.name} states" for p in pols) + " |",
        "| --- | --- | --- | " + " | ".join("---:" for _ in pols) + " |",
    ]
    for label, what, opts in open_budgets:
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in opts.items())
        w.append(f"| {label} | {what} | `{flags}` | "
                 + " | ".join(str(st[label]) for _p, _f, st in judged) + " |")
    w.append("")
    if missing or lacking:
        w.append("Not in the model yet: "
                 + "; ".join([*(f"design {n}" for n in missing),
                              *(f"budget {n}" for n in lacking)]) + ".")
        w.append("")
    w += ["## The answer", "",
          "| design | kernels | " + " | ".join(label for _p, label in CLASSES) + " |",
          "| --- | --- | --- | --- | --- |"]
    for p, fs, _st in judged:
        w.append(f"| {p.name} | {p.kernels} | "
                 + " | ".join(_cell(fs, prop) for prop, _l in CLASSES) + " |")
    w += ["", "A count of unnecessary copies is the number of do_wp_page copy transitions "
          "whose old page", "only the faulting process could observe, summed over the "
          "scenarios' state spaces.", ""]
    labels = dict(CLASSES)
    for p, fs, _st in judged:
        for f in fs:
            w += [f"## {p.name}: {labels[f.prop]}", ""]
            where = ", ".join([*f.scenarios, *(f"open search `{b}`" for b in f.budgets)])
            trace_of = (f"scenario {f.source}" if f.source in f.scenarios
                        else f"open search `{f.source}`")
            w.append(f"Found in {where}. The shortest trace ({len(f.path)} steps, "
                     f"{f.preemptions} preemption{'s' if f.preemptions != 1 else ''}) comes "
                     f"from {trace_of}; {_decision(f)}:")
            w += ["", "```", f.model.render_trace(f.path, f.prop,
                                                   explain(f.model, f.prop, f.path),
                                                   cpus=True, state=False).rstrip(), "```",
                  ""]
    w += ["## What each design needs that the others do not", ""]
    for p, _fs, _st in judged:
        others = [o for o in pols if o is not p]
        w.append(f"* **{p.name}**: {_NEEDS.get(p.name, p.summary)} Switches no other design "
                 f"has: {_needs(p, others)}.")
    w += ["", "E6's SWP_EXCLUSIVE is the page-table bit the seed wishes for:", "",
          f"> {_QUOTE}", ""]
    return "\n".join(w)


def main(argv: list[str], prog: str) -> int:
    """``[seed] [-o FILE]``: write the report (default: stdout); bad input raises ValueError."""
    ap = CommandParser(prog=prog, description="Write a report of the COW model: `seed` "
                       "judges the designs of the December 2021 exchange (docs/seed-2021.md).")
    ap.add_argument("report", nargs="?", default="seed", choices=("seed",),
                    help="the report to write (default: seed)")
    ap.add_argument("-o", "--output", default="-", help="the file to write ('-': stdout)")
    try:
        args = ap.parse_args(argv)
    except HelpShown:
        return 0
    text = render()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    _prog = "python -m models.cow.seed"
    try:
        sys.exit(main(sys.argv[1:], _prog))
    except ValueError as e:
        print(f"mcheck: {_prog}: {e}; see `{_prog} --help`", file=sys.stderr)
        sys.exit(2)
