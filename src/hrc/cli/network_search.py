"""``hrc network search TAG...``: datasets on connected nodes, by tags."""

from __future__ import annotations

import json
from pathlib import Path

import click

PARENT = "network"


@click.command("search")
@click.argument("tags", nargs=-1, required=True)
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data") / "nodes_workspace",
    show_default=True,
    help="Workspace of the network.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def COMMAND(tags: tuple, workspace: Path, as_json: bool) -> None:  # noqa: N802
    """Find datasets whose tags include every TAG (metadata only)."""
    from hrc.engines.nvflare import network
    from hrc.nodes.tags import parse_tags

    found = network.search(workspace, parse_tags(tags, option="TAG"))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for entry in found:
        shape = " x ".join(str(n) for n in entry["shape"])
        click.echo(
            f"{entry['node']}\t{entry['name']}\t{' '.join(entry['tags'])}\t{shape}"
            f"\t{entry['description']}"
        )
    if not found:
        click.echo("no dataset matches")
