"""Centralized training: one model, mini-batches over the pooled training data.

This is the reference the federated runs are compared with. It uses a plain
:class:`torch.nn.Module` and ``torch.optim``; its batch order is the one a
single federated client with index 0 would draw in round ``epoch``, so FedAvg
with one client, one local epoch and SGD repeats it step for step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from hrc.config import TrainConfig
from hrc.models import build_model
from hrc.training.local import (
    ADAM_BETAS,
    ADAM_EPS,
    LocalSettings,
    batch_order,
    resolve_device,
)
from hrc.training.metrics import evaluate_logits, majority_baseline
from hrc.training.types import Federation, RunResult

logger = logging.getLogger(__name__)

Callback = Callable[[int, dict], None]


def pooled_training_data(federation: Federation) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate the clients' training data (one client: no copy)."""
    if len(federation.clients) == 1:
        client = federation.clients[0]
        return client.features, client.labels
    features = torch.cat([c.features for c in federation.clients])
    labels = torch.cat([c.labels for c in federation.clients])
    return features, labels


def evaluate_model(
    model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor, n_classes: int
) -> dict[str, float]:
    """Return held-out loss and scores of ``model`` in evaluation mode."""
    model.eval()
    with torch.no_grad():
        logits = model(features)
    return evaluate_logits(logits, labels, n_classes)


def train_centralized(
    federation: Federation,
    config: TrainConfig,
    on_epoch: Callback | None = None,
) -> RunResult:
    """Train one model on the pooled training data for ``config.n_epochs`` epochs.

    Parameters
    ----------
    federation : Federation
        Its clients are pooled; the test set is evaluated after every epoch.
    config : TrainConfig
        Model, optimizer, batch size, learning rate, epochs and seed.
    on_epoch : callable, optional
        Called as ``on_epoch(epoch, row)`` after every epoch with the history row.

    Returns
    -------
    RunResult
        Final held-out metrics, the per-epoch history and the weights.
    """
    settings = LocalSettings.from_config(config)
    device = resolve_device(config)
    features, labels = pooled_training_data(federation)
    features, labels = features.to(device), labels.to(device)
    test_features = federation.test_features.to(device)
    test_labels = federation.test_labels.to(device)
    started = time.perf_counter()

    # Model and optimizer from the run seed.
    torch.manual_seed(config.seed)
    model = build_model(
        config.model,
        federation.n_features,
        federation.n_classes,
        config.hidden,
        settings.dropout,
    ).to(device)
    # Adam's fused kernel, the one the federated engine's local steps run.
    if settings.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(),
            lr=settings.lr,
            betas=ADAM_BETAS,
            eps=ADAM_EPS,
            fused=True,
        )
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    baseline = majority_baseline(
        labels.cpu(), federation.test_labels, federation.n_classes
    )

    history = []
    for epoch in range(1, config.n_epochs + 1):
        # One pass over the shuffled pooled data.
        model.train()
        order = torch.from_numpy(batch_order(len(labels), config.seed, epoch, 0, 0))
        order = order.to(device)
        loss_sum, n_seen = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            rows = order[start : start + settings.batch_size]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(features[rows]), labels[rows])
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.item()) * len(rows)
            n_seen += len(rows)

        # Held-out figures after the epoch.
        row = {
            "round": epoch,
            **evaluate_model(model, test_features, test_labels, federation.n_classes),
        }
        row["train_loss"] = loss_sum / max(n_seen, 1)
        history.append(row)
        logger.debug("epoch %s: %s", epoch, row)
        if on_epoch is not None:
            on_epoch(epoch, row)

    # Final figures are the last epoch's.
    final = (
        dict(history[-1])
        if history
        else evaluate_model(model, test_features, test_labels, federation.n_classes)
    )
    final.pop("round", None)
    metrics = {
        **final,
        "majority_baseline": baseline,
        "n_train": int(len(labels)),
        "n_test": int(len(federation.test_labels)),
        "n_clients": 1,
        "rounds": config.n_epochs,
        "runtime_seconds": time.perf_counter() - started,
    }
    return RunResult(
        metrics=metrics,
        history=pd.DataFrame(history, columns=HISTORY_COLUMNS),
        client_metrics=pd.DataFrame(columns=CLIENT_COLUMNS),
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        info={
            "engine": "inprocess",
            "train_type": "centralized",
            "n_features": federation.n_features,
        },
    )


HISTORY_COLUMNS = [
    "round",
    "loss",
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "train_loss",
]
CLIENT_COLUMNS = [
    "round",
    "client",
    "n_samples",
    "train_loss",
    "train_accuracy",
    "global_loss",
    "global_accuracy",
]
