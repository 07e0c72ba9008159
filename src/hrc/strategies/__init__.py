"""Federated strategies, one module each, behind :class:`~hrc.strategies.base.Strategy`.

:func:`available` lists them by their command-line name and
:func:`create` builds one. Every module of this package that defines a
:class:`Strategy` subclass with a ``name`` is found automatically.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from hrc.errors import choice_error
from hrc.strategies.base import ClientUpdate, LocalConfig, Params, Strategy

__all__ = ["ClientUpdate", "LocalConfig", "Params", "Strategy", "available", "create"]


def _discover() -> dict[str, type[Strategy]]:
    found: dict[str, type[Strategy]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Strategy) and obj.name and not inspect.isabstract(obj):
                found[obj.name] = obj
    return dict(sorted(found.items()))


_REGISTRY = _discover()


def available() -> list[str]:
    """Return the command-line names of every strategy."""
    return list(_REGISTRY)


def create(name: str, **options: Any) -> Strategy:
    """Build the strategy called ``name``.

    Parameters
    ----------
    name : str
        Command-line name, e.g. ``"fedavg"``.
    **options
        Keyword arguments; those the strategy's constructor does not take are
        ignored, so one option set can serve every strategy.

    Raises
    ------
    UsageError
        If ``name`` is not a known strategy.
    """
    if name not in _REGISTRY:
        raise choice_error("--strategy", name, available())
    cls = _REGISTRY[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    for base in cls.__mro__[1:]:
        if base is object:
            break
        accepted |= set(inspect.signature(base.__init__).parameters) - {"self"}
    return cls(**{k: v for k, v in options.items() if k in accepted})
