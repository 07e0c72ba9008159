"""Data passed between the data layer, the trainers and the engines.

A trainer (centralized, in-process federated, or a node engine) receives the
already split and preprocessed data as a :class:`Federation` and returns a
:class:`RunResult`; the runner writes the outputs from it. Engines that run
real node processes (NVFLARE, Docker) take the same objects, so everything
above them is shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch


@dataclass
class ClientData:
    """One hospital's training data, preprocessed.

    Attributes
    ----------
    name : str
        Client (node) name: ``"h1"``, ``"h2"``, ...
    features : torch.Tensor
        ``(n_samples, n_features)`` float32.
    labels : torch.Tensor
        ``(n_samples,)`` int64 class indices.
    """

    name: str
    features: torch.Tensor
    labels: torch.Tensor

    @property
    def n_samples(self) -> int:
        """Number of training samples held by the client."""
        return int(self.labels.shape[0])


@dataclass
class Federation:
    """Everything a trainer needs: clients, the held-out test set, the classes.

    For centralized training ``clients`` holds a single client with the pooled
    training data.

    Attributes
    ----------
    clients : list of ClientData
        Training data per client.
    test_features : torch.Tensor
        ``(n_test, n_features)`` float32, held-out donors.
    test_labels : torch.Tensor
        ``(n_test,)`` int64.
    classes : list of str
        Class names; label ``k`` is ``classes[k]``.
    feature_names : list of str
        Names of the feature columns (gene ids, then covariates).
    """

    clients: list[ClientData]
    test_features: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]
    feature_names: list[str] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.test_features.shape[1])

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        """Training samples over all clients."""
        return sum(client.n_samples for client in self.clients)


@dataclass
class RunResult:
    """What a trainer returns.

    Attributes
    ----------
    metrics : dict
        Final held-out figures: ``accuracy``, ``balanced_accuracy``,
        ``macro_f1``, ``loss``, ``majority_baseline`` and more.
    history : pandas.DataFrame
        One row per epoch (centralized) or round (federated): ``round``,
        held-out ``loss``, ``accuracy``, ``balanced_accuracy``, ``macro_f1``,
        and ``train_loss``.
    client_metrics : pandas.DataFrame
        One row per client and round (federated runs): ``round``, ``client``,
        ``n_samples``, ``train_loss``, ``train_accuracy``, and the global
        model's ``global_loss`` / ``global_accuracy`` on the client's own data.
    state_dict : dict
        Final model weights (``model.state_dict()``).
    info : dict
        Anything else worth recording (engine, timings, lost nodes, ...).
    """

    metrics: dict[str, Any]
    history: pd.DataFrame
    client_metrics: pd.DataFrame
    state_dict: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)
