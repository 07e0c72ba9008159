"""``hrc data import-gtex``: GTEx v8 files -> the prepared parquet pair."""

from __future__ import annotations

from pathlib import Path

import click

from hrc.data.gtex import import_gtex

PARENT = "data"


@click.command("import-gtex")
@click.option(
    "--expression",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="GCT 1.2 matrix, plain or .gz (e.g. GTEx v8 gene_tpm.gct.gz).",
)
@click.option(
    "--subjects",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt.",
)
@click.option(
    "--samples",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Sample attributes (SampleAttributesDS.txt) or portal sample CSV, "
    "for tissue and site.",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for v8_samples.parquet and v8_expressions.parquet.",
)
@click.option(
    "--genes",
    type=int,
    default=None,
    help="Keep the N genes of highest variance of log2(x+1). Default: all.",
)
@click.option(
    "--custom_gene_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV with an 'ids' column of Ensembl ids to keep.",
)
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
def import_gtex_command(
    expression: Path,
    subjects: Path,
    samples: Path | None,
    out_dir: Path,
    genes: int | None,
    custom_gene_path: Path | None,
    progress: bool,
) -> None:
    """Convert GTEx v8 files into the prepared pair that training reads."""
    samples_path, expressions_path = import_gtex(
        expression,
        subjects,
        samples=samples,
        out_dir=out_dir,
        genes=genes,
        custom_gene_path=custom_gene_path,
        progress=progress,
    )
    click.echo(f"samples:     {samples_path}")
    click.echo(f"expressions: {expressions_path}")


COMMAND = import_gtex_command
