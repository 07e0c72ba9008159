"""The ``hrc`` command group.

Every module of this package that defines ``COMMAND`` (a Click command or
group) is registered automatically: at the top level, or under the group named
by the module's ``PARENT`` (``"data"``, ``"node"``, ``"network"``,
``"deploy"``). Commands stay thin: they check options, call library code and
print.
"""

from __future__ import annotations

import importlib
import pkgutil

import click

from hrc import __version__
from hrc.cli._base import HRCGroup, verbosity_option


@click.group(cls=HRCGroup)
@click.version_option(__version__, prog_name="hrc")
@verbosity_option
def cli() -> None:
    """Healthcare-Researcher-Connector: centralized and federated learning on
    gene-expression data (GTEx v8 as the worked example)."""


@cli.group(cls=HRCGroup)
def data() -> None:
    """Import GTEx files or generate the offline synthetic cohort."""


@cli.group(cls=HRCGroup)
def node() -> None:
    """Hospital node: register datasets and start the node process."""


@cli.group(cls=HRCGroup)
def network() -> None:
    """Network (coordinator): start it, list nodes, search datasets by tag."""


@cli.group(cls=HRCGroup)
def deploy() -> None:
    """Deployment: provision certificates and startup kits."""


_GROUPS = {"data": data, "node": node, "network": network, "deploy": deploy}


def _register_commands() -> None:
    """Attach ``COMMAND`` of every module in this package to its parent group."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if command is None:
            continue
        parent = _GROUPS.get(getattr(module, "PARENT", ""), cli)
        parent.add_command(command)


_register_commands()


def main() -> None:
    """Entry point of the ``hrc`` console script."""
    cli(prog_name="hrc")
