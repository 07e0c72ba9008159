"""``hrc network start``: run the network (FL server) until Ctrl-C."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

PARENT = "network"


@click.command("start")
@click.option("--grid_address", default="127.0.0.1", show_default=True)
@click.option("--grid_port", default=5000, show_default=True, type=int)
@click.option(
    "--no_of_clients", default=2, show_default=True, type=int,
    help="Nodes h1..hN to provision startup kits for.",
)  # fmt: skip
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data") / "nodes_workspace",
    show_default=True,
    help="Folder of the startup kits and the network's state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the endpoint as JSON.")
def COMMAND(  # noqa: N802
    grid_address: str,
    grid_port: int,
    no_of_clients: int,
    workspace: Path,
    as_json: bool,
) -> None:
    """Start the network on GRID_ADDRESS:GRID_PORT and keep it running."""
    from hrc.engines.nvflare import network
    from hrc.engines.nvflare.workspace import node_names
    from hrc.nodes.processes import ProcessGroup

    nodes = node_names(no_of_clients)
    with ProcessGroup("network") as group:
        kits = network.start_network(group, workspace, grid_address, grid_port, nodes)
        summary = {
            "address": kits.host,
            "port": kits.port,
            "workspace": str(kits.root),
            "nodes": nodes,
            "pid": group.get("network").pid,
        }
        if as_json:
            click.echo(json.dumps(summary))
        else:
            click.echo(
                f"network on {kits.host}:{kits.port}; start nodes with "
                f"'hrc node start --workspace {kits.root} --name h1'; Ctrl-C stops"
            )
        while group.get("network").alive():
            time.sleep(0.5)
