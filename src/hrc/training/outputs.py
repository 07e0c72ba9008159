"""Files a training run leaves behind, each written atomically.

``<metrics_path>/<stem>.json``
    flat JSON of the final held-out figures.
``<metrics_path>/<prefix>_history.csv``
    one row per epoch or round, for ``dvc plots``.
``<metrics_path>/<prefix>_clients.csv``
    one row per client and round (federated runs).
``<model_save_path>/<train_type>_model.pt``
    the final ``state_dict``.
``<model_save_path>/<train_type>_config.json``
    every option, the package version, the data files' SHA-256, the fitted
    preprocessor and the classes, so the run can be reproduced.

``<prefix>`` is ``metrics_file_name`` when given, else the train type.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from hrc import __version__
from hrc.config import TrainConfig
from hrc.io import atomic_path, write_json_atomic
from hrc.training.types import RunResult

logger = logging.getLogger(__name__)

FIGURES = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "loss",
    "majority_baseline",
    "n_train",
    "n_test",
    "n_clients",
    "rounds",
    "runtime_seconds",
)


def output_paths(config: TrainConfig) -> dict[str, Path]:
    """Return the path of every output file of a run."""
    metrics_dir, model_dir = Path(config.metrics_path), Path(config.model_save_path)
    prefix = config.metrics_file_name or config.train_type
    return {
        "metrics": metrics_dir / f"{config.metrics_stem}.json",
        "history": metrics_dir / f"{prefix}_history.csv",
        "clients": metrics_dir / f"{prefix}_clients.csv",
        "model": model_dir / f"{config.train_type}_model.pt",
        "config": model_dir / f"{config.train_type}_config.json",
    }


def run_record(config: TrainConfig, result: RunResult) -> dict[str, Any]:
    """Return the reproducibility record written beside the model."""
    info = result.info
    return {
        "hrc_version": __version__,
        "torch_version": torch.__version__,
        "seed": config.seed,
        "config": config.to_dict(),
        "data_sha256": info.get("data_sha256", {}),
        "classes": info.get("classes", []),
        "feature_names": info.get("preprocessor", {}).get("feature_names", []),
        "preprocessor": info.get("preprocessor", {}),
        "engine": info.get("engine", config.engine),
        "metrics": _flat_metrics(result.metrics),
    }


def write_outputs(config: TrainConfig, result: RunResult) -> list[Path]:
    """Write metrics, history, per-client figures, model and configuration.

    Every file goes through a temporary name, so an interrupted run leaves
    either the previous file or the new one, never half of one. The metrics
    JSON is written last: when it is there, the rest of the run is too.

    Returns
    -------
    list of Path
        The files written.
    """
    paths = output_paths(config)
    written = []

    # Model and its reproducibility record.
    with atomic_path(paths["model"]) as tmp:
        torch.save(result.state_dict, tmp)
    written.append(paths["model"])
    written.append(write_json_atomic(paths["config"], run_record(config, result)))

    # Histories as CSV for dvc plots.
    for key, frame in (("history", result.history), ("clients", result.client_metrics)):
        if frame is None or (key == "clients" and frame.empty):
            continue
        with atomic_path(paths[key]) as tmp:
            frame.to_csv(tmp, index=False)
        written.append(paths[key])

    # Final figures last.
    written.append(write_json_atomic(paths["metrics"], _flat_metrics(result.metrics)))
    logger.info("metrics written to %s", paths["metrics"])
    return written


def _flat_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Keep the JSON-ready scalars of ``metrics``, the standard figures first."""
    ordered = {k: metrics[k] for k in FIGURES if k in metrics}
    for key, value in metrics.items():
        if key not in ordered and isinstance(value, (int, float, str, bool)):
            ordered[key] = value
    return {k: (float(v) if hasattr(v, "item") else v) for k, v in ordered.items()}
