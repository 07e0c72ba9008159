"""``hrc node shard``: a hospital's training shard, preprocessed by the plan."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hrc.cli._base import node_data_options

PARENT = "node"


@click.command("shard")
@node_data_options
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="preprocessor.json of 'hrc deploy plan'.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The shard to write (.npz); register it with 'hrc node dataset add'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def COMMAND(  # noqa: N802 - the name the CLI registry looks for
    samples_path: Path,
    expressions_path: Path,
    plan_path: Path,
    out: Path,
    as_json: bool,
) -> None:
    """Turn this hospital's prepared pair into the training shard of the plan
    (genes, scaling and classes fitted on every hospital's summary).
    """
    from hrc.deploy.plan import write_node_shard

    shard = write_node_shard(samples_path, expressions_path, plan_path, out)
    if as_json:
        click.echo(json.dumps(shard))
        return
    click.echo(
        f"Shard of {shard['n_samples']} samples x {shard['n_features']} features "
        f"in {shard['shard']} ({shard['n_dropped']} samples dropped)."
    )
