"""Shared Click plumbing: error translation, verbosity, common option types."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hrc import log
from hrc.errors import HRCError

logger = logging.getLogger(__name__)


def report_error(error: HRCError) -> None:
    """Print ``error`` as one line on stderr and exit with its code."""
    click.echo(f"Error: {error}", err=True)
    sys.exit(error.exit_code)


class HRCGroup(click.Group):
    """A Click group that turns :class:`~hrc.errors.HRCError` into one line.

    Usage errors exit with code 2, data and engine errors with code 1; no
    traceback is shown. ``KeyboardInterrupt`` exits with code 130.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HRCError as error:
            report_error(error)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


def handle_errors(func: Callable) -> Callable:
    """Decorate a standalone Click command so HRC errors become one line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HRCError as error:
            report_error(error)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    verbose, quiet = (value, 0) if param.name == "verbose" else (0, value)
    if value:
        log.configure(verbose - quiet)
    return value


def verbosity_option(func: Callable) -> Callable:
    """Add ``-v/--verbose`` and ``-q/--quiet`` and configure logging."""
    log.configure(0)
    func = click.option(
        "-q",
        "--quiet",
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="Only print warnings and errors.",
    )(func)
    return click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="Print debug messages.",
    )(func)


def node_data_options(func: Callable) -> Callable:
    """Add the required ``--samples_path`` / ``--expressions_path`` pair of a
    hospital's own prepared data (commands run by a data owner)."""
    func = click.option(
        "--expressions_path",
        type=click.Path(path_type=Path),
        required=True,
        help="This hospital's prepared expression table (parquet).",
    )(func)
    return click.option(
        "--samples_path",
        type=click.Path(path_type=Path),
        required=True,
        help="This hospital's prepared samples table (parquet).",
    )(func)
