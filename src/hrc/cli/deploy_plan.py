"""``hrc deploy plan``: the shared preprocessor and the job, from summaries."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hrc.cli._train_options import config_from_options, train_options

PARENT = "deploy"

# Options that belong to a local run, not to a job across hospitals.
_LOCAL_ONLY = {
    "--samples_path", "--expressions_path", "--dataset_size", "--train_type",
    "--split_type", "--split_size", "--no_of_clients", "--alpha", "--no_cuda",
    "--client_eval", "--engine", "--swarm", "--node_start_port",
    "--grid_address", "--grid_port", "--workspace", "--resume", "--metrics_path",
    "--model_save_path", "--metrics_file_name", "--progress/--no-progress",
}  # fmt: skip


@click.command("plan")
@click.option(
    "--summary",
    "summaries",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    required=True,
    help="A hospital's 'hrc node summarize' file, named after its node "
    "(h1.json); repeat for each.",
)
@train_options(exclude=_LOCAL_ONLY)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Plan folder: preprocessor.json for the hospitals, job/ to submit.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def COMMAND(  # noqa: N802 - the name the CLI registry looks for
    summaries: tuple[Path, ...], out: Path, as_json: bool, **options
) -> None:
    """Fit the shared preprocessor on the hospitals' summaries and write the
    training job, without seeing any sample.
    """
    from hrc.deploy.plan import write_plan

    config = config_from_options(train_type="decentralized", **options)
    preprocessor_path, job_dir = write_plan(summaries, config, out)
    if as_json:
        click.echo(
            json.dumps({"preprocessor": str(preprocessor_path), "job": str(job_dir)})
        )
        return
    click.echo(f"Give each hospital {preprocessor_path} ('hrc node shard --plan').")
    click.echo(f"Submit {job_dir} ('hrc deploy submit --job').")
