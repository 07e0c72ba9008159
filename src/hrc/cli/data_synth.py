"""``hrc data synth``: write the offline synthetic GTEx v8 cohort."""

from __future__ import annotations

from pathlib import Path

import click

from hrc.config import DEFAULT_DATA_DIR
from hrc.data import synth
from hrc.errors import UsageError

PARENT = "data"


@click.command("synth")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder receiving v8_samples.parquet and v8_expressions.parquet.",
)
@click.option(
    "--samples",
    type=int,
    default=synth.DEFAULT_SAMPLES,
    show_default=True,
    help="Number of RNA-seq samples (17382 is the size of GTEx v8).",
)
@click.option(
    "--genes",
    type=int,
    default=synth.DEFAULT_GENES,
    show_default=True,
    help="Number of genes.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--gtex-files",
    is_flag=True,
    help="Also write the GCT matrix, sample attributes and subject phenotypes.",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def synth_command(
    out: Path, samples: int, genes: int, seed: int, gtex_files: bool, progress: bool
) -> None:
    """Generate a synthetic cohort shaped like GTEx v8 (no download needed)."""
    for option, value in (("--samples", samples), ("--genes", genes)):
        if value < 1:
            raise UsageError(f"{option}: got {value}; expected a whole number >= 1")
    written = synth.write_cohort(
        out, samples, genes, seed, gtex_files=gtex_files, progress=progress
    )
    for path in written:
        click.echo(str(path))


COMMAND = synth_command
