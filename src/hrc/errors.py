"""Exception hierarchy shared by the library and the command line.

Library code raises these; the CLI turns them into one line on stderr and an
exit code (2 for a usage error, 1 for a data error), without a traceback.
"""

from __future__ import annotations


class HRCError(Exception):
    """Base class of every error HRC reports to a user."""

    exit_code = 1


class UsageError(HRCError, ValueError):
    """An option or argument has a value that is not accepted.

    The message names the option, the bad value and the accepted values.
    """

    exit_code = 2


class DataError(HRCError):
    """An input file is missing, malformed, or holds data that cannot be used."""

    exit_code = 1


class EngineError(HRCError):
    """A federated runtime (nodes, network, containers) failed."""

    exit_code = 1


def choice_error(option: str, value: object, accepted: list[str] | tuple) -> UsageError:
    """Build the standard error for a value outside a fixed set of choices.

    Parameters
    ----------
    option : str
        Name of the option as the user typed it, e.g. ``"--split_type"``.
    value : object
        The rejected value.
    accepted : sequence of str
        The accepted values.

    Returns
    -------
    UsageError
        The error, ready to raise.
    """
    choices = ", ".join(str(a) for a in accepted)
    return UsageError(f"{option}: unknown value {value!r}; accepted: {choices}")
