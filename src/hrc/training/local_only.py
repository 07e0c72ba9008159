"""Local-only baseline: every hospital trains alone on its own data.

This is the lower reference of a federated comparison: what each hospital gets
without sharing anything. Each client trains the same model from the same
initial weights, with the same batch size, learning rate and seed, for
``n_epochs * local_epochs`` epochs (the number of passes it makes over its data
in a federated run), and is then evaluated on the held-out donors. As in
FLamby (du Terrail et al., "FLamby: Datasets and Benchmarks for Cross-Silo
Federated Learning in Realistic Healthcare Settings", NeurIPS 2022 Datasets
and Benchmarks), the mean over hospitals and the best hospital are reported.

All hospitals train together in one call of the batched engine
(:func:`hrc.training.local.train_clients`), with no aggregation in between.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from hrc.config import TrainConfig
from hrc.models import build_model, get_params, stacked_forward
from hrc.training.local import LocalSettings, train_clients
from hrc.training.metrics import evaluate_logits, majority_baseline
from hrc.training.types import Federation

logger = logging.getLogger(__name__)

SCORES = ("accuracy", "balanced_accuracy", "macro_f1")


@dataclass
class LocalOnlyResult:
    """Held-out figures of every hospital's own model.

    Attributes
    ----------
    per_client : pandas.DataFrame
        One row per client: ``client``, ``n_samples``, held-out ``loss``,
        ``accuracy``, ``balanced_accuracy``, ``macro_f1``, and the
        ``majority_baseline`` of the client's own training labels.
    mean : dict
        Mean of each figure over the clients.
    best : dict
        The figures of the client with the highest held-out accuracy, and its
        ``client`` name. Chosen on the test set, so an optimistic bound.
    params : list of torch.Tensor
        ``(n_clients, *shape)`` trained weights, stacked.
    info : dict
        Epochs, runtime in seconds.
    """

    per_client: pd.DataFrame
    mean: dict[str, float]
    best: dict[str, Any]
    params: list[torch.Tensor] = field(repr=False, default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def train_local_only(federation: Federation, config: TrainConfig) -> LocalOnlyResult:
    """Train one model per client on its own data and test each on held-out donors.

    Parameters
    ----------
    federation : Federation
        Clients and the held-out test set.
    config : TrainConfig
        Model, optimizer, batch size, learning rate and seed;
        ``n_epochs * local_epochs`` epochs of local training.

    Returns
    -------
    LocalOnlyResult
        Per-client figures, their mean and the best client.
    """
    started = time.perf_counter()
    epochs = config.n_epochs * config.local_epochs
    settings = dataclasses.replace(
        LocalSettings.from_config(config), local_epochs=epochs
    )

    # Same initial weights as the other runs of this seed
    torch.manual_seed(config.seed)
    model = build_model(
        config.model,
        federation.n_features,
        federation.n_classes,
        config.hidden,
        settings.dropout,
    )
    start = get_params(model)

    # Pool the clients' rows once; each client trains on its own slice
    features = torch.cat([c.features for c in federation.clients])
    labels = torch.cat([c.labels for c in federation.clients])
    bounds = np.cumsum([0] + [c.n_samples for c in federation.clients])
    rows = [
        torch.arange(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    client_ids = np.arange(len(federation.clients))
    logger.info("local-only: %s clients, %s epochs each", len(client_ids), epochs)
    update = train_clients(
        start, features, labels, rows, client_ids, settings, config.seed, 1
    )

    # Each hospital's model on the held-out donors
    records = []
    for index, client in enumerate(federation.clients):
        own = [p[index : index + 1] for p in update.params]
        with torch.no_grad():
            logits = stacked_forward(own, federation.test_features.unsqueeze(0))[0]
        scores = evaluate_logits(logits, federation.test_labels, federation.n_classes)
        baseline = majority_baseline(
            client.labels, federation.test_labels, federation.n_classes
        )
        records.append(
            {
                "client": client.name,
                "n_samples": client.n_samples,
                **scores,
                "majority_baseline": baseline,
            }
        )
    per_client = pd.DataFrame(records)
    return _summarize(per_client, update.params, epochs, time.perf_counter() - started)


def _summarize(
    per_client: pd.DataFrame, params: list[torch.Tensor], epochs: int, seconds: float
) -> LocalOnlyResult:
    """Return the mean over clients and the best client by held-out accuracy."""
    figures = [*SCORES, "loss", "majority_baseline"]
    mean = {name: float(per_client[name].mean()) for name in figures}
    top = per_client.loc[per_client["accuracy"].idxmax()]
    best = {
        "client": str(top["client"]),
        **{name: float(top[name]) for name in figures},
    }
    logger.info(
        "local-only: mean accuracy %.4f, best %.4f (%s)",
        mean["accuracy"],
        best["accuracy"],
        best["client"],
    )
    return LocalOnlyResult(
        per_client=per_client,
        mean=mean,
        best=best,
        params=params,
        info={"epochs": epochs, "runtime_seconds": seconds},
    )
