"""A trace for people: one lane per thread, one row per step, only what changed.

Each step is printed in its thread's lane as ``model.format_action(action)``,
followed, indented in the same lane, by the model's :meth:`Model.annotate`
lines for the step or, when it returns None, by the fields of
:meth:`Model.describe` that changed (``field: old -> new``).  A step that
preempts a thread which could still have moved is marked ``*`` and counted
in the header (CHESS: the traces with the fewest preemptions are the
readable ones).  The output is plain ASCII with spaces only and does not
depend on the terminal.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcheck.errors import UsageError
from mcheck.explore import Path
from mcheck.model import Model

__all__ = ["Step", "count_preemptions", "own_diagram", "render", "steps", "wrap_phrases"]

WIDTH = 100
_STEP_COL = 6
_GAP = 2
_MIN_LANE = 10  # a lane is never narrower, so very many threads may exceed the width


@dataclass(frozen=True)
class Step:
    """One step of a path as the renderer sees it."""

    index: int
    thread: str
    action: str
    lines: tuple[str, ...]
    preemption: bool


def _ascii(text: str) -> str:
    text = text.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _fmt(value: Any) -> str:
    return _ascii(value if isinstance(value, str) else repr(value))


def _diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    out = []
    missing = object()
    for k in list(before) + [k for k in after if k not in before]:
        old = before.get(k, missing)
        new = after.get(k, missing)
        if old is missing:
            out.append(f"{_ascii(str(k))}: (none) -> {_fmt(new)}")
        elif new is missing:
            out.append(f"{_ascii(str(k))}: {_fmt(old)} -> (none)")
        elif old != new:
            out.append(f"{_ascii(str(k))}: {_fmt(old)} -> {_fmt(new)}")
    return out


def _preempted(model: Model, path: Path, i: int) -> bool:
    """Whether step ``i`` (0-based) switches away from a thread that could still move."""
    if i == 0:
        return False
    thread = model.thread
    prev = thread(path.actions[i - 1])
    if thread(path.actions[i]) == prev:
        return False
    return any(thread(a) == prev for a in model.actions(path.states[i]))


def count_preemptions(model: Model, path: Path) -> int:
    """Switches away from a thread that still had an enabled action at that point."""
    return sum(_preempted(model, path, i) for i in range(len(path.actions)))


def steps(model: Model, path: Path) -> list[Step]:
    """The steps of ``path`` with their thread, action text and explanation lines."""
    out = []
    describe = model.describe
    before = describe(path.states[0])
    for i, a in enumerate(path.actions):
        s, t = path.states[i], path.states[i + 1]
        after = describe(t)
        notes = model.annotate(s, a, t)
        lines = [_ascii(str(x)) for x in notes] if notes is not None else _diff(before, after)
        out.append(Step(i + 1, _ascii(str(model.thread(a))), _ascii(str(model.format_action(a))),
                        tuple(lines), _preempted(model, path, i)))
        before = after
    return out


def _lanes(model: Model, found: Sequence[str]) -> list[str]:
    order = [_ascii(str(t)) for t in model.threads()]
    used = set(found)
    lanes = [t for t in order if t in used]
    for t in found:
        if t not in lanes:
            lanes.append(t)
    return lanes


def wrap_phrases(text: str, width: int, indent: str = "", cont: str | None = None
                 ) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken between phrases where possible.

    A phrase ends after a ``:``, ``,`` or ``;`` or before a ``(`` at a space
    (``T0.pc:``, ``0 -> 1,``); it moves to the next line whole.  Only a phrase
    longer than a line is broken between words, and a word longer than a line
    inside it.  The first line starts with ``indent``, the others with ``cont``
    (default: ``indent`` and two spaces).
    """
    cont = indent + "  " if cont is None else cont
    lines: list[str] = []
    cur = indent
    for phrase in re.split(r"(?<=[:,;]) | (?=\()", text):
        empty = cur.strip() == ""
        joined = cur + ("" if empty else " ") + phrase
        if len(joined) <= width:
            cur = joined
            continue
        if not empty:
            lines.append(cur)
            cur = cont
        if len(cur) + len(phrase) <= width:
            cur += phrase
            continue
        pieces = textwrap.wrap(phrase, width=width, initial_indent=cur, subsequent_indent=cont,
                               break_long_words=True, break_on_hyphens=False) or [cur]
        lines.extend(pieces[:-1])
        cur = pieces[-1]
    lines.append(cur)
    return lines


def own_diagram(model: Model, path: Path, prop: str, message: str, *, cpus: bool = False,
                state: bool = True) -> str | None:
    """The model's own drawing of ``path`` (:meth:`Model.render_trace`), or None.

    ``cpus`` and ``state=False`` (``mcheck show --cpus --no-state``) are passed
    to ``render_trace`` as keyword arguments only when asked for; a model whose
    ``render_trace`` does not take them is refused with a one-line error rather
    than drawn without them (a model that draws nothing returns None, and the
    generic lanes of :func:`render` take the options).
    """
    options: dict[str, bool] = {}
    if cpus:
        options["cpus"] = True
    if not state:
        options["state"] = False
    plain = model.render_trace(path, prop, message)
    if not options or plain is None:  # no options, or no own drawing: the lanes take them
        return plain
    params = inspect.signature(model.render_trace).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        missing = [k for k in options if k not in params]
        if missing:
            flags = ", ".join("--cpus" if k == "cpus" else "--no-state" for k in missing)
            raise UsageError(f"model '{model.name}' draws its own diagram, and its "
                             f"render_trace() takes no {', '.join(missing)} (for {flags})",
                             "add --lanes for the generic lanes, or give the model's "
                             "render_trace() the keyword arguments cpus and state")
    return model.render_trace(path, prop, message, **options)


def render(model: Model, path: Path, *, title: str | None = None,
           footer: str | None = None, width: int = WIDTH, cpus: bool = False,
           state: bool = True) -> str:
    """Render ``path`` of ``model`` as plain text, one lane per thread.

    Parameters
    ----------
    title:
        A first line (e.g. which property is violated and why).
    footer:
        A last line.
    width:
        The width to fit the lanes in; cells that do not fit are wrapped.
    cpus:
        Head the lanes ``CPU 0``, ``CPU 1``, ... with the thread names under them.
    state:
        False leaves out each step's explanation lines (what it changed).
    """
    rows = steps(model, path)
    if not state:
        rows = [Step(r.index, r.thread, r.action, (), r.preemption) for r in rows]
    lanes = _lanes(model, [r.thread for r in rows])
    n_pre = sum(r.preemption for r in rows)
    out: list[str] = []
    if title:
        out.extend(wrap_phrases(_ascii(title), width))
    out.append(f"{len(rows)} step{'s' if len(rows) != 1 else ''}, {len(lanes)} "
               f"thread{'s' if len(lanes) != 1 else ''}, {n_pre} "
               f"preemption{'s' if n_pre != 1 else ''}"
               + (" (marked *)" if n_pre else ""))
    init = model.describe(path.states[0])
    out.extend(wrap_phrases("initial: " + ", ".join(f"{_ascii(str(k))}={_fmt(v)}"
                                             for k, v in init.items()), width))
    if rows:
        avail = width - _STEP_COL - _GAP * (len(lanes) - 1)
        cap = max(_MIN_LANE, avail // max(1, len(lanes)))
        need = {lane: max(len(lane), len(f"CPU {k}") if cpus else 0)
                for k, lane in enumerate(lanes)}
        for r in rows:
            w = max([len(r.action)] + [len(x) + 2 for x in r.lines])
            need[r.thread] = max(need[r.thread], w)
        widths = [min(cap, need[lane]) for lane in lanes]
        col = {lane: i for i, lane in enumerate(lanes)}

        def line(step: str, cells: dict[int, str]) -> str:
            parts = [step.ljust(_STEP_COL)]
            for i, w in enumerate(widths):
                parts.append(cells.get(i, "").ljust(w))
                if i < len(widths) - 1:
                    parts.append(" " * _GAP)
            return "".join(parts).rstrip()

        out.append("")
        if cpus:
            out.append(line("", {i: f"CPU {i}"[:widths[i]] for i in range(len(lanes))}))
        out.append(line("step", {i: lane[:widths[i]] for i, lane in enumerate(lanes)}))
        out.append(line("----", {i: "-" * w for i, w in enumerate(widths)}))
        for r in rows:
            c = col[r.thread]
            w = widths[c]
            cell = wrap_phrases(r.action, w)
            for x in r.lines:
                cell.extend(wrap_phrases(x, w, "  "))
            label = f"{r.index:>4}{'*' if r.preemption else ''}"
            for j, text in enumerate(cell):
                out.append(line(label if j == 0 else "", {c: text}))
    if footer:
        out.append("")
        out.extend(wrap_phrases(_ascii(footer), width))
    return "\n".join(out) + "\n"
