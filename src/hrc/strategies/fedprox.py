"""FedProx: FedAvg with a proximal term in every client's local objective."""

from __future__ import annotations

import logging

import numpy as np

from hrc.errors import UsageError
from hrc.strategies.base import LocalConfig, Params
from hrc.strategies.fedavg import FedAvg

logger = logging.getLogger(__name__)


class FedProx(FedAvg):
    """Federated optimisation with a proximal term.

    Each client minimises its loss plus ``mu / 2 * ||w - w_global||^2``, which
    keeps local models near the global one when client data differ; the
    aggregate is FedAvg's sample-weighted mean.

    Li, Sahu, Zaheer, Sanjabi, Talwalkar and Smith, "Federated Optimization in
    Heterogeneous Networks", MLSys 2020.

    Parameters
    ----------
    mu : float
        Proximal weight, at least 0. With 0 FedProx is FedAvg (a warning says
        so).
    fraction_fit, min_clients
        As in :class:`~hrc.strategies.base.Strategy`.
    """

    name = "fedprox"

    def __init__(
        self, mu: float = 0.01, fraction_fit: float = 1.0, min_clients: int = 1
    ) -> None:
        super().__init__(fraction_fit=fraction_fit, min_clients=min_clients)
        if mu < 0:
            raise UsageError(f"--mu: {mu} is negative; give a proximal weight >= 0")
        if mu == 0:
            logger.warning("--mu is 0: FedProx then trains exactly like FedAvg")
        self.mu = float(mu)

    def configure_local(
        self, server_round: int, client_ids: np.ndarray, global_params: Params
    ) -> LocalConfig:
        """Ask every selected client to add the proximal term with weight ``mu``."""
        return LocalConfig(proximal_mu=self.mu)
