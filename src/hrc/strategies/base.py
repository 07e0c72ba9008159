"""The one interface every federated strategy implements.

The round loop lives once, in :mod:`hrc.training.federated`; a strategy only
decides

1. which clients train in a round (:meth:`Strategy.configure_fit`),
2. what each selected client must add to its local objective
   (:meth:`Strategy.configure_local`: a proximal weight, a gradient
   correction), and
3. how the clients' replies become the next global model
   (:meth:`Strategy.aggregate_fit`).

Parameters are exchanged as a list of tensors in ``model.parameters()`` order.
Client replies arrive *stacked*: every tensor of :class:`ClientUpdate` carries a
leading client dimension, so many clients can be trained and aggregated in one
batched computation instead of one Python loop per client.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from hrc.errors import UsageError

logger = logging.getLogger(__name__)

Params = list[torch.Tensor]


@dataclass
class LocalConfig:
    """What the selected clients add to plain local training in one round.

    Attributes
    ----------
    proximal_mu : float
        Weight of the FedProx term ``mu / 2 * ||w - w_global||^2``; 0 for none.
    gradient_correction : list of torch.Tensor or None
        Stacked ``(n_selected, *shape)`` tensors added to every local gradient
        (SCAFFOLD's ``c - c_i``); ``None`` for none.
    """

    proximal_mu: float = 0.0
    gradient_correction: Params | None = None


@dataclass
class ClientUpdate:
    """The replies of the clients selected in one round, stacked.

    Attributes
    ----------
    client_ids : numpy.ndarray
        ``(n_selected,)`` indices of the clients, in the order of the stack.
    params : list of torch.Tensor
        ``(n_selected, *shape)`` model parameters after local training.
    n_samples : torch.Tensor
        ``(n_selected,)`` number of training samples of each client (float).
    n_steps : torch.Tensor
        ``(n_selected,)`` local optimizer steps each client took (float).
    train_loss : torch.Tensor
        ``(n_selected,)`` mean local training loss of the last local epoch.
    train_accuracy : torch.Tensor
        ``(n_selected,)`` local training accuracy of the last local epoch.
    """

    client_ids: np.ndarray
    params: Params
    n_samples: torch.Tensor
    n_steps: torch.Tensor
    train_loss: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    train_accuracy: torch.Tensor = field(default_factory=lambda: torch.empty(0))


class Strategy(ABC):
    """Base class of federated strategies.

    Parameters
    ----------
    fraction_fit : float
        Fraction of clients sampled in each round, in ``(0, 1]``.
    min_clients : int
        Minimum number of clients sampled in each round.

    Attributes
    ----------
    name : str
        Name used on the command line (``--strategy NAME``).
    sequential : bool
        True when the selected clients train one after another, each starting
        from the previous client's model (Cyclic), instead of all starting from
        the global model.
    """

    name: ClassVar[str] = ""
    sequential: ClassVar[bool] = False

    def __init__(self, fraction_fit: float = 1.0, min_clients: int = 1) -> None:
        if not 0.0 < fraction_fit <= 1.0:
            raise UsageError(
                f"--fraction_fit: {fraction_fit} is outside (0, 1]; "
                "use 1.0 to train every client in every round"
            )
        if min_clients < 1:
            raise UsageError(f"--min_clients: {min_clients} must be at least 1")
        self.fraction_fit = fraction_fit
        self.min_clients = min_clients
        self.n_clients = 0

    def initialize(self, global_params: Params, n_clients: int) -> None:
        """Prepare the strategy's state before round 1.

        Parameters
        ----------
        global_params : list of torch.Tensor
            Initial global model.
        n_clients : int
            Number of clients in the federation.
        """
        self.n_clients = n_clients

    def configure_fit(self, server_round: int, rng: np.random.Generator) -> np.ndarray:
        """Choose the clients that train in ``server_round``.

        The default samples ``max(min_clients, ceil(fraction_fit * n))``
        clients without replacement and returns them sorted.
        """
        wanted = int(np.ceil(self.fraction_fit * self.n_clients))
        n_selected = max(self.min_clients, wanted)
        n_selected = min(n_selected, self.n_clients)
        if n_selected == self.n_clients:
            return np.arange(self.n_clients)
        return np.sort(rng.choice(self.n_clients, size=n_selected, replace=False))

    def configure_local(
        self, server_round: int, client_ids: np.ndarray, global_params: Params
    ) -> LocalConfig:
        """Return the additions to the selected clients' local objective."""
        return LocalConfig()

    @abstractmethod
    def aggregate_fit(
        self, server_round: int, global_params: Params, update: ClientUpdate
    ) -> Params:
        """Combine the clients' replies into the next global model.

        Parameters
        ----------
        server_round : int
            1-based round number.
        global_params : list of torch.Tensor
            The global model the clients started from.
        update : ClientUpdate
            The stacked replies.

        Returns
        -------
        list of torch.Tensor
            The new global model (new tensors; inputs are not modified).
        """


def weighted_average(stacked: Params, weights: torch.Tensor) -> Params:
    """Average stacked tensors over their first dimension with ``weights``.

    Parameters
    ----------
    stacked : list of torch.Tensor
        ``(n, *shape)`` tensors.
    weights : torch.Tensor
        ``(n,)`` non-negative weights, not all zero.

    Returns
    -------
    list of torch.Tensor
        ``sum_i w_i x_i / sum_i w_i`` for each tensor.
    """
    share = weights.to(stacked[0].dtype) / weights.sum()
    return [torch.tensordot(share, tensor, dims=1) for tensor in stacked]
