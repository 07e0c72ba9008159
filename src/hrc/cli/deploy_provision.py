"""``hrc deploy provision``: certificates and startup kits for a deployment."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hrc.deploy.provision import DEFAULT_OUTPUT, DEFAULT_PORT, provision

PARENT = "deploy"


@click.command("provision")
@click.option(
    "--network",
    "host",
    required=True,
    help="Address (DNS name or IP) the nodes use to reach the network.",
)
@click.option(
    "--port",
    type=int,
    default=DEFAULT_PORT,
    show_default=True,
    help="Port of the network (FL and admin traffic).",
)
@click.option(
    "--node",
    "nodes",
    multiple=True,
    help="Name of a hospital node; repeat for each node (e.g. --node h1 --node h2).",
)
@click.option(
    "--nodes",
    "n_nodes",
    type=int,
    default=None,
    help="Number of nodes, named h1..hN (instead of --node).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Folder for the kits; never commit it (it gets its own .gitignore).",
)
@click.option("--force", is_flag=True, help="Replace an existing --output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the kits as JSON.")
def COMMAND(
    host: str,
    port: int,
    nodes: tuple[str, ...],
    n_nodes: int | None,
    output: Path,
    force: bool,
    as_json: bool,
) -> None:
    """Make per-site certificates and startup kits (mutual TLS) for a network
    and its hospital nodes, by FLARE's provisioning.

    Give each site its own kit folder: 'server' to the network's machine, one
    node folder to each hospital, the admin kit to whoever submits jobs.
    """
    # Node names: explicit, or h1..hN.
    if nodes and n_nodes is not None:
        raise click.UsageError("give either --node (repeated) or --nodes N, not both")
    if n_nodes is not None:
        if n_nodes < 1:
            raise click.BadParameter(
                f"{n_nodes} must be at least 1", param_hint="--nodes"
            )
        nodes = tuple(f"h{index}" for index in range(1, n_nodes + 1))
    if not nodes:
        nodes = ("h1", "h2")

    deployment = provision(output, list(nodes), host, port, force=force)
    if as_json:
        click.echo(json.dumps({"root": str(deployment.root), **deployment.to_dict()}))
        return
    click.echo(f"Kits in {deployment.root} (keep them out of version control):")
    click.echo(f"  network  {deployment.network}  (listens on port {port})")
    for kit in deployment.nodes.values():
        click.echo(f"  node     {kit}  (dials {host}:{port})")
    click.echo(f"  admin    {deployment.admin}")
