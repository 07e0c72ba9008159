"""``hrc train``: centralized or federated training from the command line.

The same options and output as ``python src/initializer.py``; both call
:func:`run_training`.
"""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from hrc.cli._train_options import config_from_options, train_options
from hrc.config import TrainConfig
from hrc.training.runner import run

_FIGURES = ("accuracy", "balanced_accuracy", "macro_f1", "loss", "majority_baseline")


def _round_line(config: TrainConfig, server_round: int, row: dict) -> str:
    """One 2020-style line per epoch or round."""
    unit = "Epoch" if config.train_type == "centralized" else "Round"
    return (
        f"{unit} {server_round}/{config.n_epochs}: train loss {row['train_loss']:.4f}"
        f" | test loss {row['loss']:.4f} accuracy {row['accuracy']:.4f}"
        f" balanced accuracy {row['balanced_accuracy']:.4f}"
        f" macro-F1 {row['macro_f1']:.4f}"
    )


def run_training(config: TrainConfig) -> dict:
    """Run ``config`` with stage lines, a progress bar and a final summary.

    Returns
    -------
    dict
        The final metrics.
    """
    started = time.perf_counter()
    console = Console(highlight=False, soft_wrap=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not config.progress,
    )
    task = progress.add_task("training", total=config.n_epochs)

    def on_stage(message: str) -> None:
        console.print(message)
        if message.startswith("Training"):
            progress.start()
        elif message.startswith("Saving"):
            progress.stop()

    def on_round(server_round: int, row: dict) -> None:
        console.print(_round_line(config, server_round, row))
        progress.update(task, completed=server_round)

    try:
        result = run(config, on_round=on_round, on_stage=on_stage)
    finally:
        progress.stop()

    # Final figures beside the majority-class baseline.
    metrics = result.metrics
    console.print(
        "Held-out: "
        + ", ".join(f"{k} {metrics[k]:.4f}" for k in _FIGURES if k in metrics)
    )
    for path in result.info.get("outputs", []):
        console.print(f"Wrote {path}")
    console.print(f"Overall runtime: {time.perf_counter() - started:.1f} s")
    return metrics


@click.command("train")
@train_options
def COMMAND(**options) -> None:  # noqa: N802 - registered by name
    """Train a classifier, centralized or federated, on the prepared pair."""
    run_training(config_from_options(**options))
