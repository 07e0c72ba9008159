"""``hrc node summarize``: a hospital's aggregates for the shared preprocessor."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hrc.cli._base import node_data_options
from hrc.data.schema import LABELS
from hrc.preprocess import COVARIATES

PARENT = "node"


@click.command("summarize")
@node_data_options
@click.option(
    "--label", type=click.Choice(list(LABELS)), required=True, help="What to predict."
)
@click.option(
    "--covariates",
    type=click.Choice(list(COVARIATES)),
    multiple=True,
    help="Covariate whose category counts are recorded; repeat for each.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Summary file, named after this node (e.g. h1.json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
def COMMAND(  # noqa: N802 - the name the CLI registry looks for
    samples_path: Path,
    expressions_path: Path,
    label: str,
    covariates: tuple[str, ...],
    out: Path,
    as_json: bool,
) -> None:
    """Summarise this hospital's samples for 'hrc deploy plan': per-gene
    counts, sums and sums of squares of log2(TPM+1) and class counts. No
    sample id and no value of a single sample is written.
    """
    from hrc.deploy.plan import summarize_node, write_summary

    summary = summarize_node(samples_path, expressions_path, label, covariates)
    path = write_summary(summary, out)
    shown = {
        "summary": str(path),
        "n_samples": summary["n_samples"],
        "n_genes": len(summary["gene_ids"]),
        "class_counts": summary["class_counts"],
    }
    if as_json:
        click.echo(json.dumps(shown))
        return
    counts = ", ".join(f"{k} {v}" for k, v in summary["class_counts"].items())
    click.echo(
        f"Summary of {shown['n_samples']} samples and {shown['n_genes']} genes "
        f"in {path} (classes: {counts}); send it to the researcher."
    )
