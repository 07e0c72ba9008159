"""``hrc data prepare``: the data stage of the DVC pipeline."""

from __future__ import annotations

from pathlib import Path

import click

from hrc.pipeline import load_params, prepare_data

PARENT = "data"


@click.command("prepare")
@click.option(
    "--params",
    "params_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("params.yaml"),
    show_default=True,
    help="Parameters file of the DVC pipeline.",
)
@click.option(
    "--section",
    default="data",
    show_default=True,
    help="Section of the parameters file that describes the data.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder that receives v8_samples.parquet and v8_expressions.parquet.",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def prepare(params_path: Path, section: str, out_dir: Path, progress: bool) -> None:
    """Build the prepared pair as a params.yaml section says.

    With `source: synthetic` it writes the offline synthetic cohort; with
    `source: gtex` it imports the real GTEx files the section names. The DVC
    stage prepare_data runs this command.
    """
    options = load_params(params_path, section)
    samples_path, expressions_path = prepare_data(
        options,
        out_dir,
        base_dir=params_path.parent,
        section=section,
        progress=progress,
    )
    click.echo(f"Wrote {samples_path} and {expressions_path}")


COMMAND = prepare
