"""COW traces as race diagrams in the kernel's style (../../docs/race-diagrams.md).

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

from mcheck.render import wrap_phrases

from .vm import ALIVE, NONE, UNBORN

if TYPE_CHECKING:
    from mcheck import Path

    from .model import CowBase

__all__ = ["WIDTH", "kernel_notes", "render", "wrap"]

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
    if kind == "migrate":
        return f"move_pages({m.proc_names[args[0]]}:{_page(args[1])})"
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


def _why(m: CowBase, state: tuple, ti: int, event: str) -> str:
    """Why a decision step went the way it did, from the state it started in; "" if no decision.

    Fork: copy_present_pte() shares or copies (70e806e4e645: only when the parent has
    pinned and page_count >= GUP_PIN_COUNTING_BIAS); page_try_dup_anon_rmap() (E6)
    copies only an exclusive maybe-pinned page.  Write fault: do_wp_page() reuses by
    mapcount (E1/E2), by page_count (E3t-E5) or by PageAnonExclusive (E6).  The values
    are those the step saw on entry; the E5 test drains the LRU pagevec first, so its
    page_count is the one before the drain.
    """
    pol = m.policy
    frames, procs = state[0], state[2]
    p = m.thread_proc[ti]
    hp = procs[p][6]
    bias = m.cfg.bias
    if event.startswith(("copy_present_pte: share", "copy_present_page: maybe pinned",
                         "page_try_dup_anon_rmap")):
        v = (state[4][ti][1] - 1) // 2
        pte = procs[p][1][v]
        ref, _mapc, _lru, _sc, ae = frames[pte[1]][:5]
        pinned_by_count = ref >= bias
        if event.startswith("page_try_dup_anon_rmap"):
            if not ae:
                return "(not PageAnonExclusive)"
        elif not pol.fork_early_copy:
            return "(no early copy before 5.9)"
        if pol.fork_needs_has_pinned and not hp:
            return "(has_pinned == 0)"
        if not pinned_by_count:
            return f"(page_count {ref} < bias {bias})"
        return f"(page_count {ref} >= bias {bias})"
    if event.startswith("do_wp_page("):
        words = event.split()
        f = int(words[2][1:]) if len(words) > 2 and words[2][1:].isdigit() else None
        if f is None:
            return ""
        ref, mapc, _lru, sc, ae = frames[f][:5]
        rule = pol.wp_reuse
        if callable(rule):
            return f"({getattr(rule, '__name__', 'wp_reuse')}() decided)"
        if rule == "anon_exclusive" and ae:
            return "(PageAnonExclusive)"
        lead = "not PageAnonExclusive, " if rule == "anon_exclusive" else ""
        if rule == "mapcount":
            swc = state[1][sc][0] if sc != NONE else 0
            return f"(mapcount {mapc} + swapcount {swc})" if swc else f"(mapcount {mapc})"
        if rule == "page_count":
            return f"(page_count {ref}, mapcount {mapc})"
        return f"({lead}page_count {ref} before the drain)"
    return ""


def kernel_notes(m: CowBase, state: tuple, action: tuple, next_state: tuple) -> list[str]:
    """What a step changed in kernel state, for pictures (``mcheck.svg``'s ``notes``).

    The model's ``annotate()`` lines without the oracle's ghost values (``L0``),
    as the text diagram shows them, without its ``//``.
    """
    return [c[3:] for c in _comments(m.annotate(state, action, next_state))]


def _rows(m: CowBase, path: Path, state_lines: bool = True
          ) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """Per step: (thread, step index, [(indent level, text), ...])."""
    from .model import LRU

    out = []
    busy: dict[str, bool] = {}
    scripted = getattr(m, "programs", None) is not None
    for i, a in enumerate(path.actions):
        s, t = path.states[i], path.states[i + 1]
        name = a[0]
        lines: list[tuple[int, str]] = []
        notes = _comments(m.annotate(s, a, t)) if state_lines else []
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
        event = _event(a[1])
        why = _why(m, s, ti, event)
        lines.append((2, f"{event} {why}" if why else event))
        lines.extend((4, c) for c in notes)
        before, after = s[4][ti], t[4][ti]
        if scripted:  # a finished operation moves the program counter
            busy[name] = before[0] == after[0]
        else:  # open search: a finished operation leaves the thread idle
            busy[name] = bool(after[5])
        out.append((name, i + 1, lines))
    return out


def wrap(text: str, width: int, indent: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken between phrases where possible.

    A phrase (``not pinned``, ``ref 2->3``) moves to the next line whole; only a phrase
    longer than a line is broken between its words (and a word longer than a line
    inside it).
    """
    pad = " " * indent
    cont = pad + ("   " if text.startswith("//") else "  ")
    return wrap_phrases(_ascii(text), width, pad, cont)


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


def _columns(rows: list, lanes: list[str], cpus: bool = False) -> list[str] | None:
    """The lane layout, or None when the lanes do not fit in WIDTH columns.

    With ``cpus`` the lanes are headed ``CPU 0``, ``CPU 1``, ... with the thread
    names under them, as the race comments of kernel commits are.
    """
    avail = WIDTH - _MARGIN - _GAP * (len(lanes) - 1)
    need = {lane: max(len(lane), len(f"CPU {k}") if cpus else 0)
            for k, lane in enumerate(lanes)}
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
    cpu = ""
    line = ""
    under = ""
    for k, lane in enumerate(lanes):
        cpu = cpu.ljust(col[lane]) + f"CPU {k}"
        line = line.ljust(col[lane]) + lane
        under = under.ljust(col[lane]) + "-" * max(len(lane), len(f"CPU {k}") if cpus else 0)
    out += ([cpu.rstrip()] if cpus else []) + [line.rstrip(), under.rstrip()]
    for name, _i, lines in rows:
        c, w = col[name], width[name]
        for level, text in lines:
            # a row holds one lane only: comments may run on to the right margin
            room = WIDTH - c if text.startswith("//") else w
            for piece in wrap(text, room, level):
                out.append((" " * c + piece).rstrip())
    return out


def _listing(rows: list, lanes: list[str], cpus: bool = False) -> list[str]:
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
        head = f"CPU {lanes.index(lane)} ({lane})" if cpus else lane
        out.append(" " * _MARGIN + f"{head}:")
        for name, i, lines in rows:
            if name != lane:
                continue
            tag = f"({label[i]}) "
            first = True
            for level, text in lines:
                for j, piece in enumerate(wrap(text, WIDTH - _MARGIN - 1 - len(tag), level)):
                    lead = tag if first and j == 0 else " " * len(tag)
                    out.append((" " * (_MARGIN + 1) + lead + piece).rstrip())
                first = False
        out.append("")
    inter = "interleaving: " + " ".join(label[i] for _n, i, _l in rows)
    out.extend(textwrap.wrap(inter, WIDTH - _MARGIN, initial_indent=" " * _MARGIN,
                             subsequent_indent=" " * (_MARGIN + len("interleaving: "))))
    return out


def render(m: CowBase, path: Path, prop: str, message: str, *, cpus: bool = False,
           state: bool = True) -> str:
    """The race diagram of ``path``, a counterexample (or witness) of ``prop``.

    ``cpus`` heads the lanes ``CPU 0``, ``CPU 1``, ... with the thread names under
    them; ``state=False`` leaves out the ``//`` lines of what each step changed (the
    verdict line stays).
    """
    from mcheck.render import count_preemptions

    rows = _rows(m, path, state)
    lanes = _lanes(m, rows)
    out = _title(m, path, count_preemptions(m, path))
    out.append(" " * _MARGIN + _initial(m, path.states[0]))
    out.append("")
    body = _columns(rows, lanes, cpus)
    out.extend(body if body is not None else _listing(rows, lanes, cpus))
    out.append("")
    out.extend(_verdict(prop, message))
    return "\n".join(line.rstrip() for line in out) + "\n"

