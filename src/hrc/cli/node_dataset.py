"""``hrc node dataset add|list|remove``: the data owner's dataset registry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from hrc.cli._base import HRCGroup

PARENT = "node"

node_dir_option = click.option(
    "--node_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("HRC_NODE_HOME", "hrc_node"),
    show_default="$HRC_NODE_HOME or ./hrc_node",
    help="The node's private folder holding its dataset registry.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _registry(node_dir: Path):
    from hrc.nodes.registry import DatasetRegistry

    return DatasetRegistry(node_dir)


def _show(entries: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        shape = " x ".join(str(n) for n in entry["shape"])
        tags = " ".join(entry["tags"])
        click.echo(f"{entry['name']}\t{tags}\t{shape}\t{entry['description']}")


@click.group("dataset", cls=HRCGroup)
def COMMAND() -> None:  # noqa: N802 - the name the CLI registry looks for
    """Register, list and remove this node's datasets (paths stay private)."""


@COMMAND.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Dataset name, unique on this node.")
@click.option(
    "--tags",
    multiple=True,
    required=True,
    help="Tags, e.g. --tags '#X #gtex_v8 #dataset' (repeatable).",
)
@click.option("--description", default="", help="Free text shown to searchers.")
@node_dir_option
@json_option
def add(
    path: Path, name: str, tags: tuple, description: str, node_dir: Path, as_json: bool
) -> None:
    """Register the data at PATH (.npz shard, prepared-pair folder, table)."""
    entry = _registry(node_dir).add(name, path, tags, description)
    _show([entry], as_json)


@COMMAND.command("list")
@click.option("--tags", multiple=True, help="Only datasets carrying all these tags.")
@node_dir_option
@json_option
def list_(tags: tuple, node_dir: Path, as_json: bool) -> None:
    """List this node's datasets: name, tags, shape, description."""
    from hrc.nodes.tags import parse_tags

    wanted = parse_tags(tags) if tags else ()
    _show(_registry(node_dir).public_entries(wanted), as_json)


@COMMAND.command("remove")
@click.argument("name")
@node_dir_option
@json_option
def remove(name: str, node_dir: Path, as_json: bool) -> None:
    """Unregister the dataset NAME (its files are left in place)."""
    _show([_registry(node_dir).remove(name)], as_json)
