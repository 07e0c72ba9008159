"""What travels between the HRC controller (network) and executors (nodes).

Kept free of FLARE imports so the audit test and the driver can use it.

Down (network to node), in a FLARE ``FLModel``:
    ``params``: the global model, ``{parameter name: float32 array}``;
    ``meta``: ``round``, ``client_ids`` (node name to federation index),
    ``proximal_mu``.
Up (node to network):
    ``params``: the trained model, same names and shapes;
    ``metrics``: the scalars of :data:`CLIENT_METRICS` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

TRAIN_TASK = "train"
CATALOG_TASK = "catalog"

# Scalars a node reports after a round (nothing per sample).
CLIENT_METRICS = (
    "n_samples",
    "n_steps",
    "train_loss",
    "train_accuracy",
)

# Local-training options a node needs from the run configuration.
LOCAL_OPTIONS = (
    "model",
    "hidden",
    "dropout",
    "batch_size",
    "lr",
    "optimizer",
    "local_epochs",
    "seed",
)

# Files the controller writes into its run folder (read back by the driver).
RESULT_DIR = "hrc_result"
STATUS_FILE = "status.json"
PROGRESS_FILE = "progress.jsonl"


def params_to_arrays(names: list[str], params: list[torch.Tensor]) -> dict:
    """Name each tensor and convert it to a float32 numpy array."""
    return {
        name: tensor.detach().cpu().numpy().astype(np.float32, copy=False)
        for name, tensor in zip(names, params, strict=True)
    }


def arrays_to_params(names: list[str], arrays: Mapping) -> list[torch.Tensor]:
    """Return the tensors of ``arrays`` in the order of ``names``."""
    return [
        torch.from_numpy(np.array(arrays[name], dtype=np.float32)) for name in names
    ]


def round_file(server_round: int) -> str:
    """Name of the global model saved after ``server_round``."""
    return f"global_round_{server_round:04d}.npz"
