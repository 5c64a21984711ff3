"""The ``mcheck`` command, split by concept.

* :mod:`mcheck.cli.common`: exit statuses, the one-line-error parser, flag values,
  model labels and trace file names;
* :mod:`mcheck.cli.check`: ``check`` and ``explore``;
* :mod:`mcheck.cli.traces`: ``replay`` and ``show``;
* :mod:`mcheck.cli.matrix`: ``compare`` and ``minimize``;
* :mod:`mcheck.cli.hooks`: ``list``, ``reproduce`` and ``conform``, which a model module
  brings itself;
* :mod:`mcheck.cli.main`: the parser, signal handling and :func:`main`.

This module re-exports what code and tests use: ``from mcheck.cli import main``.
"""

from __future__ import annotations

from mcheck.cli.common import (
    EXIT_HOLDS,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_UNDETERMINED,
    EXIT_USAGE,
    EXIT_VIOLATED,
    model_label,
    trace_file_name,
)
from mcheck.cli.main import main
from mcheck.cli.traces import load_for_trace, replay_trace

__all__ = [
    "EXIT_HOLDS",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_UNDETERMINED",
    "EXIT_USAGE",
    "EXIT_VIOLATED",
    "load_for_trace",
    "main",
    "model_label",
    "replay_trace",
    "trace_file_name",
]
