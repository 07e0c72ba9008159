"""``hrc compare``: pooled vs federated strategies vs local-only, over seeds.

The command only parses options; :mod:`hrc.report` trains and writes
``comparison.md``, ``comparison.json``, ``rounds.png`` and ``clients.png``.
"""

from __future__ import annotations

from pathlib import Path

import click

from hrc import report
from hrc.cli._train_options import config_from_options, train_options

# Training options that make no sense for a comparison: it picks the train
# type, strategies and seeds itself, runs in this process and writes to --out.
_NOT_FOR_COMPARE = {
    "--train_type",
    "--strategy",
    "--seed",
    "--engine",
    "--swarm",
    "--tags",
    "--node_start_port",
    "--grid_address",
    "--grid_port",
    "--workspace",
    "--resume",
    "--metrics_path",
    "--model_save_path",
    "--metrics_file_name",
    "--no_cuda",
    "--progress/--no-progress",
}


# The data, split, model and strategy options shared with ``hrc train``.
compare_options = train_options(exclude=_NOT_FOR_COMPARE)


@click.command("compare")
@click.option(
    "--strategies",
    "strategy_list",
    default="fedavg,fedprox,fedadam",
    show_default=True,
    help="Comma-separated federated strategies to compare.",
)
@click.option(
    "--seeds",
    "n_seeds",
    type=int,
    default=5,
    show_default=True,
    help="Number of seeds: 0, 1, ..., N-1.",
)
@click.option("--seed_list", default=None, help="Explicit seeds, e.g. 3,7,11.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/metrics/comparison"),
    show_default=True,
    help="Folder of the comparison files.",
)
@click.option(
    "--from_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Re-draw the report of an earlier comparison instead of training.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
@compare_options
def COMMAND(  # noqa: N802 - registered by name
    strategy_list: str,
    n_seeds: int,
    seed_list: str | None,
    out_dir: Path,
    from_dir: Path | None,
    progress: bool,
    **options,
) -> None:
    """Compare pooled, federated and local-only training on the same splits."""
    if from_dir is not None:
        records, config = report.load_comparison(from_dir)
    else:
        names = report.parse_strategies(strategy_list)
        seeds = report.parse_seeds(n_seeds, seed_list)
        train_config = config_from_options(train_type="decentralized", **options)
        records = report.run_comparison(train_config, names, seeds, progress=progress)
        config = train_config.to_dict()

    # Files, then the table on stdout
    paths = report.write_report(records, out_dir, config)
    click.echo(report.markdown_table(report.summarize(records)), nl=False)
    for path in paths.values():
        click.echo(f"Wrote {path}")
