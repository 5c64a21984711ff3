"""The model interface: what a model supplies to the engine.

A model is a transition system over immutable states built from ints,
bools, strings and tuples.  It supplies

* its initial states,
* the enabled actions of a state, in a fixed order (each action names the
  thread that takes it, so traces can be drawn per thread and preemptions
  counted),
* a step function from a state and an enabled action to the next state,
* named properties of three kinds: state invariants, transition properties
  and metrics.

The interface is deliberately small (stateright's ``Model`` is the
example).  A model may override :meth:`Model.successors` with a fused
version of :meth:`Model.actions` and :meth:`Model.step` for speed; the
engine only ever calls ``successors`` in the search loop, and ``actions``
and ``step`` when it replays a trace.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Action",
    "Kind",
    "Model",
    "Property",
    "State",
    "invariant",
    "metric",
    "transition",
]

State = Hashable
"""A state: an immutable value built from ints, bools, strings and tuples."""

Action = Hashable
"""An action: an immutable, JSON-representable value (ints, strings, tuples)."""


class Kind(enum.Enum):
    """The three kinds of property."""

    INVARIANT = "invariant"
    """Checked on every reachable state; a violation is a counterexample."""
    TRANSITION = "transition"
    """Checked on every transition (state, action, next state)."""
    METRIC = "metric"
    """A counted event on transitions, with a shortest witness; never a failure."""


@dataclass(frozen=True)
class Property:
    """A named property of a model.

    Parameters
    ----------
    name:
        Unique among the model's properties; used in traces and reports.
    kind:
        :class:`Kind`.
    check:
        For an invariant, ``check(state) -> bool`` is True when the state is
        good.  For a transition property, ``check(state, action, next) ->
        bool`` is True when the transition is good.  For a metric,
        ``check(state, action, next) -> bool`` is True when the counted event
        happens on that transition.
    description:
        One line for people.
    explain:
        Optional: called with the same arguments as ``check`` on a violation
        (or a metric event), returns one line saying what went wrong.
    exercised:
        Optional vacuity hook, called with the same arguments as ``check``:
        True when the check really tested something there (e.g. a view was
        compared with its expected value).  A property that holds but is
        exercised in no reachable state (invariant) or transition holds
        vacuously; ``mcheck check`` then prints a warning.  None: the
        property does not say (no warning is possible).
    """

    name: str
    kind: Kind
    check: Callable[..., bool] = field(compare=False)
    description: str = ""
    explain: Callable[..., str] | None = field(default=None, compare=False)
    exercised: Callable[..., bool] | None = field(default=None, compare=False)


def invariant(
    name: str, check: Callable[[Any], bool], description: str = "",
    explain: Callable[[Any], str] | None = None,
    exercised: Callable[[Any], bool] | None = None,
) -> Property:
    """A state invariant: ``check(state)`` must be True in every reachable state.

    ``exercised(state)``, when given, is True where the check tested something
    (see :class:`Property`).
    """
    return Property(name, Kind.INVARIANT, check, description, explain, exercised)


def transition(
    name: str, check: Callable[[Any, Any, Any], bool], description: str = "",
    explain: Callable[[Any, Any, Any], str] | None = None,
    exercised: Callable[[Any, Any, Any], bool] | None = None,
) -> Property:
    """A transition property: ``check(state, action, next)`` must be True on every transition.

    ``exercised(state, action, next)``, when given, is True where the check
    tested something (see :class:`Property`).
    """
    return Property(name, Kind.TRANSITION, check, description, explain, exercised)


def metric(
    name: str, check: Callable[[Any, Any, Any], bool], description: str = "",
    explain: Callable[[Any, Any, Any], str] | None = None,
) -> Property:
    """A metric: count the transitions where ``check(state, action, next)`` is True."""
    return Property(name, Kind.METRIC, check, description, explain)


class Model:
    """Base class of models.  Subclasses implement the four abstract methods.

    Class attributes
    ----------------
    name:
        Short name of the model, recorded in traces.
    version:
        Bump it when the model's semantics change in a way the initial states
        do not show; it is part of :meth:`fingerprint`, so stale traces are
        refused on replay.
    """

    name: str = "model"
    version: str = "1"

    # -- what every model supplies -------------------------------------------------

    def initial_states(self) -> Sequence[State]:
        """The initial states, in a fixed order."""
        raise NotImplementedError

    def actions(self, state: State) -> Iterable[Action]:
        """The actions enabled in ``state``, in a fixed order."""
        raise NotImplementedError

    def step(self, state: State, action: Action) -> State:
        """The state reached by taking the enabled ``action`` in ``state``."""
        raise NotImplementedError

    def properties(self) -> Sequence[Property]:
        """The named properties, in a fixed order."""
        return ()

    # -- optional hooks, with defaults ---------------------------------------------

    def successors(self, state: State) -> Iterator[tuple[Action, State]]:
        """``(action, next_state)`` for each enabled action, in order.

        The engine calls only this in the search loop; override it with a
        fused loop when ``actions`` + ``step`` cost too much.  It must agree
        with ``actions`` and ``step`` (replay uses those).
        """
        step = self.step
        for a in self.actions(state):
            yield a, step(state, a)

    def thread(self, action: Action) -> str:
        """The name of the thread that takes ``action`` (default: its first field)."""
        if isinstance(action, tuple) and action:
            return str(action[0])
        return str(action)

    def threads(self) -> Sequence[str]:
        """Thread names in display order (default: discovered from traces)."""
        return ()

    def is_final(self, state: State) -> bool:
        """True when ``state`` may legitimately have no successor.

        Used only when deadlock detection is switched on: a state with no
        enabled action that is not final is a deadlock.
        """
        return False

    def params(self) -> Mapping[str, Any]:
        """JSON-representable parameters that rebuild this model (see the loader)."""
        return {}

    def format_action(self, action: Action) -> str:
        """One line naming ``action`` for people."""
        return repr(action)

    def describe(self, state: State) -> Mapping[str, Any]:
        """A flat ``field -> value`` view of ``state`` used to print what changed."""
        if isinstance(state, tuple):
            return {f"[{i}]": v for i, v in enumerate(state)}
        return {"state": state}

    def fingerprint(self) -> str:
        """A digest of the model that is stable across processes.

        Covers the name, version, parameters, initial states and property
        names.  Traces record it; replay refuses a trace whose model changed.
        """
        from mcheck.fingerprint import digest

        return digest((
            "mcheck-model", self.name, self.version,
            sorted((str(k), _jsonish(v)) for k, v in self.params().items()),
            tuple(self.initial_states()),
            tuple((p.name, p.kind.value) for p in self.properties()),
        ))

    def annotate(self, state: State, action: Action, next_state: State) -> list[str] | None:
        """Lines explaining a step for people, or None to print the changed fields.

        The renderer shows these lines under the action in its thread's lane,
        in place of the generic ``field: old -> new`` lines computed from
        :meth:`describe`.
        """
        return None

    def schedule_choice(self, action: Action) -> Any:
        """The part of ``action`` the search chose, beyond which thread moves.

        When a thread schedule taken from one model is replayed under another
        (:mod:`mcheck.diff`), each step runs the same thread and, among that
        thread's enabled actions, prefers the one with an equal choice (e.g.
        the same allocation).  Default: None (the thread's first action).
        """
        return None

    def render_trace(self, path: Any, prop: str, message: str) -> str | None:
        """A model's own drawing of ``path``, a counterexample of ``prop``, or None.

        ``path`` is a :class:`mcheck.explore.Path`, ``message`` the
        property's explanation.  ``mcheck check`` and ``mcheck show`` print
        this text in place of the generic lanes when it is not None.
        """
        return None


def _jsonish(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _jsonish(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_jsonish(v) for v in value)
    return value
