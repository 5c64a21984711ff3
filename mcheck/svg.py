"""A trace as an SVG picture: one lane per thread, one box per step, time downwards.

The picture carries what the text renderer (:mod:`mcheck.render`) shows:
each step's action in its thread's lane with the model's explanation lines
under it, preempting steps marked, a title and a footer.  The last step, the
one at which the property fails (or the metric event happens), is drawn in
red and labelled (``mark``).  A model that keeps internal fields in its
:meth:`Model.annotate` lines (an oracle's ghost values, say) can give the
picture the lines people should see with a ``trace_notes(state, action,
next_state)`` method, or a caller can pass ``notes``.  It is written by
hand (plain SVG 1.1, monospace text, no script, no external resources), so
it needs no drawing library and the same path always gives the same bytes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from mcheck.explore import Path
from mcheck.model import Model
from mcheck.render import Step, steps

__all__ = ["render_svg"]

_FONT = 12          # px
_CHAR = 7.3         # px per character of a 12 px monospace font (a safe upper estimate)
_LINE = 16          # px per text line
_PAD = 6            # px inside a box
_GAP = 8            # px between boxes, vertically
_LANE_GAP = 24      # px between lanes
_MARGIN = 16
_STEP_COL = 44      # px for the step numbers
_MAX_CHARS = 46     # a lane is at most this many characters wide; longer text wraps


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _wrap(text: str, width: int, indent: str = "") -> list[str]:
    return textwrap.wrap(_ascii(text), width=width, initial_indent=indent,
                         subsequent_indent=indent + "  ", break_long_words=True,
                         break_on_hyphens=False) or [""]


def _px(x: float) -> str:
    return str(int(round(x)))


Notes = Callable[[Any, Any, Any], Sequence[str] | None]


def render_svg(model: Model, path: Path, *, title: str | None = None,
               footer: str | None = None, mark: str | None = "violated here",
               notes: Notes | None = None) -> str:
    """The SVG document of ``path`` of ``model``.

    ``mark`` labels the last step (None: no mark).  ``notes(state, action,
    next_state)`` gives a step's explanation lines (None: the model's
    ``trace_notes`` if it has one, else the lines of :func:`mcheck.render.steps`).
    """
    rows = steps(model, path)
    notes = notes if notes is not None else getattr(model, "trace_notes", None)
    if notes is not None:
        rows = [Step(r.index, r.thread, r.action,
                     tuple(_ascii(str(x)) for x in notes(path.states[i], path.actions[i],
                                                         path.states[i + 1]) or ()),
                     r.preemption)
                for i, r in enumerate(rows)]
    order = [str(t) for t in model.threads()]
    lanes = [t for t in order if any(r.thread == t for r in rows)]
    for r in rows:
        if r.thread not in lanes:
            lanes.append(r.thread)
    chars = {lane: len(lane) for lane in lanes}
    for r in rows:
        chars[r.thread] = max(chars[r.thread], len(r.action),
                              *(len(x) + 2 for x in r.lines))
    chars = {k: min(v, _MAX_CHARS) for k, v in chars.items()}
    lane_w = {k: v * _CHAR + 2 * _PAD for k, v in chars.items()}
    x0 = {}
    x = _MARGIN + _STEP_COL
    for lane in lanes:
        x0[lane] = x
        x += lane_w[lane] + _LANE_GAP
    room = (len(mark) + 4) * _CHAR if mark is not None and rows else 0  # for the mark
    width = max(x - _LANE_GAP + _MARGIN + room, 360)
    text_chars = int((width - 2 * _MARGIN) / _CHAR)
    out: list[str] = []
    y = _MARGIN
    head = []
    for line in _wrap(title, text_chars) if title else []:
        y += _LINE
        head.append(f'<text x="{_MARGIN}" y="{_px(y)}" font-weight="bold">{escape(line)}'
                    "</text>")
    n_pre = sum(r.preemption for r in rows)
    y += _LINE
    head.append(f'<text x="{_MARGIN}" y="{_px(y)}" fill="#555">{len(rows)} step'
                f"{'s' if len(rows) != 1 else ''}, {len(lanes)} thread"
                f"{'s' if len(lanes) != 1 else ''}, {n_pre} preemption"
                f"{'s' if n_pre != 1 else ''}{' (red)' if n_pre else ''}</text>")
    y += _GAP + 4
    lane_top = y
    for lane in lanes:
        out.append(f'<rect x="{_px(x0[lane])}" y="{_px(y)}" width="{_px(lane_w[lane])}" '
                   f'height="{_LINE + _PAD}" fill="#e8eef7" stroke="#5a7bb0"/>')
        out.append(f'<text x="{_px(x0[lane] + _PAD)}" y="{_px(y + _LINE)}" '
                   f'font-weight="bold">{escape(_ascii(lane))}</text>')
    y += _LINE + _PAD + _GAP
    boxes = []
    for r in rows:
        lane = r.thread
        w = chars[lane]
        text = _wrap(r.action, w)
        below = [x for line in r.lines for x in _wrap(line, w, "  ")]
        h = (len(text) + len(below)) * _LINE + _PAD
        last = mark is not None and r.index == len(rows)
        stroke = "#c0392b" if r.preemption or last else "#888"
        thick = (" stroke-width=" + quoteattr("3" if last else "2")
                 if r.preemption or last else "")
        boxes.append(f'<rect x="{_px(x0[lane])}" y="{_px(y)}" width="{_px(lane_w[lane])}" '
                     f'height="{_px(h)}" fill="{"#fdecea" if last else "#fff"}" '
                     f'stroke="{stroke}"{thick}/>')
        if last:
            boxes.append(f'<text x="{_px(x0[lane] + lane_w[lane] + 6)}" y="{_px(y + _LINE)}" '
                         f'fill="#c0392b" font-weight="bold">&lt;- {escape(_ascii(mark))}</text>')
        label = f"{r.index}{'*' if r.preemption else ''}"
        colour = ' fill="#c0392b"' if r.preemption else ""
        boxes.append(f'<text x="{_MARGIN + _STEP_COL - 8}" y="{_px(y + _LINE)}" '
                     f'text-anchor="end"{colour}>{escape(label)}</text>')
        ty = y
        for line in text:
            ty += _LINE
            boxes.append(f'<text x="{_px(x0[lane] + _PAD)}" y="{_px(ty)}">{escape(line)}'
                         "</text>")
        for line in below:
            ty += _LINE
            boxes.append(f'<text x="{_px(x0[lane] + _PAD)}" y="{_px(ty)}" fill="#555">'
                         f"{escape(line)}</text>")
        y += h + _GAP
    lifelines = [f'<line x1="{_px(x0[lane] + lane_w[lane] / 2)}" y1="{_px(lane_top)}" '
                 f'x2="{_px(x0[lane] + lane_w[lane] / 2)}" y2="{_px(y)}" stroke="#bbb" '
                 'stroke-dasharray="4 4"/>' for lane in lanes]
    tail = []
    for line in _wrap(footer, text_chars) if footer else []:
        y += _LINE
        tail.append(f'<text x="{_MARGIN}" y="{_px(y)}" font-weight="bold" fill="#c0392b">'
                    f"{escape(line)}</text>")
    height = y + _MARGIN
    doc = [f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" xml:space="preserve" '
           f'width="{_px(width)}" '
           f'height="{_px(height)}" viewBox="0 0 {_px(width)} {_px(height)}" '
           f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" '
           f'font-size="{_FONT}">',
           f'<rect width="{_px(width)}" height="{_px(height)}" fill="#fafafa"/>']
    doc += head + lifelines + out + boxes + tail
    doc.append("</svg>")
    return "\n".join(doc) + "\n"
