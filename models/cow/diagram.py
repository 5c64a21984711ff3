"""COW traces as race diagrams in the kernel's style (kernel-conventions.md §3.2).

The shape of the diagrams in 57efa1fe5957 and 414e2fb8ce5a: plain ASCII,
spaces only, at most 75 columns, one lane per CPU (here: per thread), time
flowing down, one event per row in its lane, the syscall or operation a
thread runs as a header with the kernel functions it goes through nested two
spaces under it, state changes as ``// ...`` comments, and a final
``// <verdict>`` line at the left margin naming the bug class and the
oracle that fired.

Events are the model's action labels (the kernel function and the decision
it took) without their operation prefix; comments are the model's
``annotate()`` lines without the oracle's ghost values (``L``: what a
process would read if memory were private), which are not kernel state.
When the lanes do not fit in 75 columns (three or more threads with long
events), the diagram switches to the include/linux/rmap.h style: labelled
steps per actor, (P1) ... (Pn), and an ``interleaving:`` line.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from .vm import ALIVE, UNBORN

if TYPE_CHECKING:
    from mcheck import Path

    from .model import CowBase

__all__ = ["WIDTH", "render"]

WIDTH = 75
_MARGIN = 2
_GAP = 2
_CLASS = {
    "missed_cow": "missed COW",
    "wrong_cow": "wrong COW",
    "unnecessary_cow": "unnecessary COW",
    "model_error": "model error",
    "deadlock": "deadlock",
}


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\t", " ")


def _page(v: int) -> str:
    return chr(ord("A") + v) if v < 26 else f"page{v}"


def _header(m: CowBase, state: tuple, op: tuple) -> str:
    """The operation a thread starts, as a userspace- or kernel-level call."""
    from .model import OP_NAMES

    kind, args = OP_NAMES[op[0]], op[1:]
    if kind == "write":
        return f"*{_page(args[0])} = {m.token_name(args[1])}"
    if kind == "read":
        return f"x = *{_page(args[0])}"
    if kind == "fork":
        return f"fork() -> {m.proc_names[args[0]]}"
    if kind == "gup":
        v, k, pin, rw, fast = args
        name = ("pin_user_pages" if pin else "get_user_pages") + ("_fast" if fast else "")
        flags = "FOLL_WRITE" if rw else "R/O"
        return f"{m.handle_names[k]} = {name}({_page(v)}, {flags})"
    if kind == "unpin":
        pinned = state[3][args[0]][4]
        return f"{'unpin_user_page' if pinned else 'put_page'}({m.handle_names[args[0]]})"
    if kind == "dma_write":
        return f"device writes {m.token_name(args[1])} via {m.handle_names[args[0]]}"
    if kind == "dma_read":
        return f"device reads via {m.handle_names[args[0]]}"
    if kind == "munmap":
        return f"munmap({_page(args[0])})"
    if kind == "exit":
        return "exit()"
    if kind == "mprotect":
        return f"mprotect({_page(args[0])}, {'RW' if args[1] else 'R'})"
    if kind == "clear_refs":
        return f"clear_refs({_page(args[0])})  (soft-dirty)"
    if kind == "swapout":
        return f"MADV_PAGEOUT({m.proc_names[args[0]]}:{_page(args[1])})"
    return kind  # pragma: no cover - every kind is named above


def _event(label: str) -> str:
    """The kernel function and decision of a step: the label without its operation prefix."""
    _head, sep, rest = label.partition(": ")
    return rest if sep else label


def _comments(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        obj, sep, rest = line.partition(": ")
        if not sep:
            out.append(f"// {line}")
            continue
        items = rest.split(", ")
        keep = [x for x in items
                if not (x[:1] == "L" and x[1:2].isdigit())
                and not (x == "swapcache -" and "allocated" in items)]
        if keep:
            out.append(f"// {obj}: {', '.join(keep)}")
    return out


def _rows(m: CowBase, path: Path) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """Per step: (thread, step index, [(indent level, text), ...])."""
    from .model import LRU

    out = []
    busy: dict[str, bool] = {}
    scripted = getattr(m, "programs", None) is not None
    for i, a in enumerate(path.actions):
        s, t = path.states[i], path.states[i + 1]
        name = a[0]
        lines: list[tuple[int, str]] = []
        notes = _comments(m.annotate(s, a, t))
        if name == LRU:
            lines.append((0, f"{a[1]}()"))
            lines.extend((2, c) for c in notes)
            out.append((name, i + 1, lines))
            continue
        ti = m.thread_names.index(name)
        op = m.current_op(s, ti)
        if op is None:
            op = a[2][0]
        if not busy.get(name):
            lines.append((0, _header(m, s, op)))
        lines.append((2, _event(a[1])))
        lines.extend((4, c) for c in notes)
        before, after = s[4][ti], t[4][ti]
        if scripted:  # a finished operation moves the program counter
            busy[name] = before[0] == after[0]
        else:  # open search: a finished operation leaves the thread idle
            busy[name] = bool(after[5])
        out.append((name, i + 1, lines))
    return out


def _wrap(text: str, width: int, indent: int) -> list[str]:
    pad = " " * indent
    cont = pad + ("   " if text.startswith("//") else "  ")
    return textwrap.wrap(_ascii(text), width=width, initial_indent=pad,
                         subsequent_indent=cont, break_long_words=True,
                         break_on_hyphens=False) or [pad]


def _lanes(m: CowBase, rows: list) -> list[str]:
    order = [n for n in m.threads() if any(r[0] == n for r in rows)]
    return order + [r[0] for r in rows if r[0] not in order]


def _initial(m: CowBase, state: tuple) -> str:
    procs = state[2]
    parts = []
    for p, pr in enumerate(procs):
        st = pr[0]
        what = "alive" if st == ALIVE else ("not forked yet" if st == UNBORN else "exited")
        parts.append(f"{m.proc_names[p]} {what}")
    pages = ", ".join(_page(v) for v in range(m.cfg.pages))
    parts.append(f"{pages} unmapped" if all(pte[0] == 0 for pr in procs for pte in pr[1])
                 else f"pages {pages}")
    parts.append(f"{m.cfg.frames} free frames, {m.cfg.slots} swap slot"
                 f"{'s' if m.cfg.slots != 1 else ''}")
    return "{ " + "; ".join(parts) + " }"


def _title(m: CowBase, path: Path, n_pre: int) -> list[str]:
    pol = m.policy
    scen = getattr(m, "scenario", None)
    what = f"{scen.name}: {scen.title}" if scen is not None else "open search"
    n = len(path.actions)
    tail = (f"policy {pol.name} ({pol.kernels}): {n} step{'s' if n != 1 else ''}, "
            f"{n_pre} preemption{'s' if n_pre != 1 else ''}")
    return [x for text in (what, tail)
            for x in textwrap.wrap(_ascii(text), WIDTH - _MARGIN, initial_indent=" " * _MARGIN,
                                   subsequent_indent=" " * _MARGIN, break_on_hyphens=False)]


def _verdict(prop: str, message: str) -> list[str]:
    cls = _CLASS.get(prop, prop)
    kind = "metric" if prop == "unnecessary_cow" else "oracle"
    text = f"// {cls} ({kind} {prop})" + (f": {message}" if message else "")
    return textwrap.wrap(_ascii(text), WIDTH - _MARGIN, initial_indent=" " * _MARGIN,
                         subsequent_indent=" " * _MARGIN + "//   ", break_on_hyphens=False)


def _columns(rows: list, lanes: list[str]) -> list[str] | None:
    """The lane layout, or None when the lanes do not fit in WIDTH columns."""
    avail = WIDTH - _MARGIN - _GAP * (len(lanes) - 1)
    need = {lane: len(lane) for lane in lanes}
    for name, _i, lines in rows:
        for level, text in lines:
            if not text.startswith("//"):
                need[name] = max(need[name], level + len(text))
    if len(lanes) > 2 and sum(need.values()) > avail:
        return None
    if len(lanes) <= 2:
        width = {lane: avail // len(lanes) for lane in lanes}
    else:  # share what is left over in proportion, for the comments
        spare = avail - sum(need.values())
        width = {lane: need[lane] + spare // len(lanes) for lane in lanes}
    col = {}
    x = _MARGIN
    for lane in lanes:
        col[lane] = x
        x += width[lane] + _GAP
    out = []
    line = ""
    under = ""
    for lane in lanes:
        line = line.ljust(col[lane]) + lane
        under = under.ljust(col[lane]) + "-" * len(lane)
    out += [line.rstrip(), under.rstrip()]
    for name, _i, lines in rows:
        c, w = col[name], width[name]
        for level, text in lines:
            # a row holds one lane only: comments may run on to the right margin
            room = WIDTH - c if text.startswith("//") else w
            for piece in _wrap(text, room, level):
                out.append((" " * c + piece).rstrip())
    return out


def _listing(rows: list, lanes: list[str]) -> list[str]:
    """The rmap.h style: numbered steps per actor, then the interleaving."""
    tags: dict[str, str] = {}
    used: set[str] = set()
    for k, lane in enumerate(lanes):
        tag = lane.split(".")[-1][:1].upper() or "T"
        if tag in used:
            tag = f"T{k}"
        used.add(tag)
        tags[lane] = tag
    count = {lane: 0 for lane in lanes}
    label: dict[int, str] = {}
    for name, i, _lines in rows:
        count[name] += 1
        label[i] = f"{tags[name]}{count[name]}"
    out = []
    for lane in lanes:
        out.append(" " * _MARGIN + f"{lane}:")
        for name, i, lines in rows:
            if name != lane:
                continue
            tag = f"({label[i]}) "
            first = True
            for level, text in lines:
                for j, piece in enumerate(_wrap(text, WIDTH - _MARGIN - 1 - len(tag), level)):
                    lead = tag if first and j == 0 else " " * len(tag)
                    out.append((" " * (_MARGIN + 1) + lead + piece).rstrip())
                first = False
        out.append("")
    inter = "interleaving: " + " ".join(label[i] for _n, i, _l in rows)
    out.extend(textwrap.wrap(inter, WIDTH - _MARGIN, initial_indent=" " * _MARGIN,
                             subsequent_indent=" " * (_MARGIN + len("interleaving: "))))
    return out


def render(m: CowBase, path: Path, prop: str, message: str) -> str:
    """The race diagram of ``path``, a counterexample (or witness) of ``prop``."""
    from mcheck.render import count_preemptions

    rows = _rows(m, path)
    lanes = _lanes(m, rows)
    out = _title(m, path, count_preemptions(m, path))
    out.append(" " * _MARGIN + _initial(m, path.states[0]))
    out.append("")
    body = _columns(rows, lanes)
    out.extend(body if body is not None else _listing(rows, lanes))
    out.append("")
    out.extend(_verdict(prop, message))
    return "\n".join(line.rstrip() for line in out) + "\n"

