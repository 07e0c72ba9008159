"""``hrc node start``: run a hospital node until Ctrl-C."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

PARENT = "node"


@click.command("start")
@click.option("--name", required=True, help="Node name as provisioned, e.g. h1.")
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data") / "nodes_workspace",
    show_default=True,
    help="Workspace of the network (holds this node's startup kit).",
)
@click.option(
    "--node_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The node's private folder with its dataset registry "
    "[default: <workspace>/nodes/<name>].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the node as JSON.")
def COMMAND(  # noqa: N802
    name: str, workspace: Path, node_dir: Path | None, as_json: bool
) -> None:
    """Start node NAME, connect it to the network and keep it running."""
    from hrc.engines.nvflare import network
    from hrc.nodes.processes import ProcessGroup

    with ProcessGroup("node") as group:
        process = network.start_node(group, workspace, name, node_dir)
        if as_json:
            click.echo(json.dumps({"node": name, "pid": process.pid}))
        else:
            click.echo(f"node {name} started (pid {process.pid}); Ctrl-C stops")
        while process.alive():
            time.sleep(0.5)
