"""Distinguishing traces: one thread schedule, two models, side by side.

Two models that differ in one decision (two variants of one system) can
disagree on a property.  The distinguishing trace takes a counterexample of
the model that violates it (the minimal one: shortest, fewest preemptions)
and replays its *thread schedule* under the other model: at each step the
same thread moves, taking the action with the same
:meth:`~mcheck.model.Model.schedule_choice` when it has several.  When that
thread has no enabled action in the other model, the other model skips the
step.  Both columns are real steps of their own model, so the first row
where the two disagree is where the variants part ways.  When the schedule
runs out before the other model's threads are done (a thread it blocked
never ran), :func:`run_on` lets the other model go on to the end, keeping
to the thread that moved last while it can, so the table also shows what
the other model does instead.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mcheck.explore import Path
from mcheck.model import Model

__all__ = ["DiffStep", "Schedule", "replay_schedule", "render_side_by_side", "run_on",
           "schedule_of", "side_by_side"]


@dataclass(frozen=True)
class DiffStep:
    """One row: the thread that moves and what each model does (None: it cannot move)."""

    index: int
    thread: str
    left: str | None
    right: str | None
    extra: bool = False
    """True for a step past the end of the schedule (only one model moves)."""

    @property
    def differs(self) -> bool:
        return not self.extra and self.left != self.right


@dataclass(frozen=True)
class Schedule:
    """A path of a model replayed as far as the schedule allows.

    ``path`` holds the steps actually taken; ``taken[i]`` says whether the
    ``i``-th entry of the schedule could be taken (its thread was enabled).
    """

    path: Path
    taken: tuple[bool, ...]


def schedule_of(model: Model, path: Path) -> list[tuple[str, Any]]:
    """The thread schedule of ``path``: (thread, choice) per step."""
    return [(str(model.thread(a)), model.schedule_choice(a)) for a in path.actions]


def replay_schedule(model: Model, schedule: Sequence[tuple[str, Any]],
                    initial: Any | None = None) -> Schedule:
    """Run ``schedule`` on ``model`` from ``initial`` (default: its first initial state)."""
    s = model.initial_states()[0] if initial is None else initial
    states = [s]
    actions = []
    taken = []
    thread = model.thread
    choice = model.schedule_choice
    for th, ch in schedule:
        mine = [(a, t) for a, t in model.successors(s) if str(thread(a)) == th]
        if not mine:
            taken.append(False)
            continue
        a, t = next(((a, t) for a, t in mine if choice(a) == ch), mine[0])
        actions.append(a)
        states.append(t)
        taken.append(True)
        s = t
    return Schedule(Path(tuple(states), tuple(actions)), tuple(taken))


def run_on(model: Model, run: Schedule, limit: int) -> Schedule:
    """``run`` continued to a final or stuck state, at most ``limit`` more steps.

    Each step keeps to the thread that moved last while it is enabled, else
    takes the first enabled action in the model's order.
    """
    states = list(run.path.states)
    actions = list(run.path.actions)
    thread = model.thread
    last = thread(actions[-1]) if actions else None
    for _ in range(limit):
        s = states[-1]
        if model.is_final(s):
            break
        succ = list(model.successors(s))
        if not succ:
            break
        a, t = next(((a, t) for a, t in succ if thread(a) == last), succ[0])
        actions.append(a)
        states.append(t)
        last = thread(a)
    extra = len(actions) - len(run.path.actions)
    return Schedule(Path(tuple(states), tuple(actions)), run.taken + (True,) * extra)


def side_by_side(left: Model, left_run: Schedule, right: Model, right_run: Schedule,
                 threads: Sequence[str]) -> list[DiffStep]:
    """Rows pairing the two runs of one schedule (``threads``: its thread per step).

    Entries of ``taken`` beyond ``threads`` (from :func:`run_on`) become
    extra rows of the model that has them.
    """
    rows = []
    li = ri = 0
    for i, th in enumerate(threads):
        lt = rt = None
        if left_run.taken[i]:
            lt = left.format_action(left_run.path.actions[li])
            li += 1
        if right_run.taken[i]:
            rt = right.format_action(right_run.path.actions[ri])
            ri += 1
        rows.append(DiffStep(i + 1, th, lt, rt))
    n = len(threads)
    for model, run, at, side in ((left, left_run, li, "left"), (right, right_run, ri, "right")):
        for a in run.path.actions[at:]:
            text = model.format_action(a)
            n += 1
            rows.append(DiffStep(n, str(model.thread(a)), text if side == "left" else None,
                                 text if side == "right" else None, extra=True))
    return rows


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def render_side_by_side(rows: Sequence[DiffStep], left_name: str, right_name: str, *,
                        width: int = 100, missing: str = "(cannot move)") -> str:
    """The rows as a plain-text table.

    ``>`` marks the first row where the two differ, ``!`` later ones, ``+``
    a step past the end of the schedule.
    """
    th_w = max([len("thread")] + [len(r.thread) for r in rows])
    col = max(16, (width - 6 - th_w - 4) // 2)
    head = f"{'step':<6}{'thread':<{th_w}}  {_ascii(left_name)[:col]:<{col}}  " \
           f"{_ascii(right_name)[:col]}"
    out = [head.rstrip(), f"{'----':<6}{'-' * th_w}  {'-' * col}  {'-' * col}"]
    first = next((r.index for r in rows if r.differs), None)
    for r in rows:
        mark = ">" if r.index == first else ("!" if r.differs else ("+" if r.extra else " "))
        gone = "" if r.extra else missing
        lcell = textwrap.wrap(_ascii(r.left if r.left is not None else gone), col,
                              subsequent_indent="  ") or [""]
        rcell = textwrap.wrap(_ascii(r.right if r.right is not None else gone), col,
                              subsequent_indent="  ") or [""]
        for j in range(max(len(lcell), len(rcell))):
            label = f"{r.index:>4}{mark} " if j == 0 else " " * 6
            name = r.thread if j == 0 else ""
            lt = lcell[j] if j < len(lcell) else ""
            rt = rcell[j] if j < len(rcell) else ""
            out.append(f"{label}{_ascii(name):<{th_w}}  {lt:<{col}}  {rt}".rstrip())
    return "\n".join(out) + "\n"
