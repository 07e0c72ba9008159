"""Logging set-up for the command line.

Library modules call ``logging.getLogger(__name__)`` and log with lazy ``%s``
arguments; only the CLI configures handlers, through :func:`configure`.
"""

from __future__ import annotations

import logging

from rich.logging import RichHandler


def configure(verbosity: int = 0) -> None:
    """Send HRC's log records to stderr through rich.

    Parameters
    ----------
    verbosity : int
        0 for INFO, 1 or more for DEBUG, -1 for WARNING only.
    """
    level = logging.INFO
    if verbosity > 0:
        level = logging.DEBUG
    elif verbosity < 0:
        level = logging.WARNING
    handler = RichHandler(show_path=False, show_time=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("hrc")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
