"""``hrc network nodes``: the nodes connected to a running network."""

from __future__ import annotations

import json
from pathlib import Path

import click

PARENT = "network"


@click.command("nodes")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data") / "nodes_workspace",
    show_default=True,
    help="Workspace of the network.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def COMMAND(workspace: Path, as_json: bool) -> None:  # noqa: N802
    """List the nodes connected to the network."""
    from hrc.engines.nvflare import network

    nodes = network.connected_nodes(workspace)
    if as_json:
        click.echo(json.dumps([{"node": name} for name in nodes]))
    else:
        click.echo("\n".join(nodes) if nodes else "no node connected")
