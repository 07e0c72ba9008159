"""Server-side adaptive optimization shared by FedAdagrad, FedAdam and FedYogi.

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan, "Adaptive
Federated Optimization", ICLR 2021 (Algorithm 2). The server treats the change
of the averaged client model as a pseudo-gradient and feeds it to an adaptive
optimizer; the three variants differ only in how the second moment ``v`` is
updated, which is the one hook a subclass overrides.
"""

from __future__ import annotations

import logging
from abc import abstractmethod

import torch

from hrc.errors import UsageError
from hrc.strategies.base import ClientUpdate, Params, Strategy, weighted_average

logger = logging.getLogger(__name__)


class AdaptiveStrategy(Strategy):
    """FedOpt with an adaptive server optimizer (Reddi et al., ICLR 2021).

    Each round, with ``x`` the global model and ``delta`` the sample-weighted
    mean of the client models minus ``x``::

        m = beta1 * m + (1 - beta1) * delta
        v = second_moment(v, delta)          # the variant's rule
        x = x + eta * m / (sqrt(v) + tau)

    ``m`` starts at zero and ``v`` at ``tau ** 2``, the paper's choice
    ``v_{-1} >= tau^2``; there is no bias correction, as in Algorithm 2.
    Flower starts ``v`` at zero instead; the difference fades after a round.

    Parameters
    ----------
    eta : float
        Server learning rate, > 0.
    beta1 : float
        First-moment (momentum) decay, in ``[0, 1)``.
    beta2 : float
        Second-moment decay, in ``[0, 1)`` (unused by FedAdagrad).
    tau : float
        Adaptivity: added to ``sqrt(v)``; > 0.
    fraction_fit, min_clients
        Client sampling, see :class:`~hrc.strategies.base.Strategy`.
    """

    def __init__(
        self,
        eta: float = 1e-2,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-3,
        fraction_fit: float = 1.0,
        min_clients: int = 1,
    ) -> None:
        super().__init__(fraction_fit=fraction_fit, min_clients=min_clients)
        if not eta > 0:
            raise UsageError(f"--eta: {eta} must be > 0 (server learning rate)")
        for option, value in (("--beta1", beta1), ("--beta2", beta2)):
            if not 0.0 <= value < 1.0:
                raise UsageError(f"{option}: {value} is outside [0, 1)")
        if not tau > 0:
            raise UsageError(f"--tau: {tau} must be > 0; try 1e-3")
        self.eta = eta
        self.beta1 = beta1
        self.beta2 = beta2
        self.tau = tau
        self.m: Params | None = None
        self.v: Params | None = None

    def initialize(self, global_params: Params, n_clients: int) -> None:
        """Reset the moments: ``m = 0``, ``v = tau ** 2``."""
        super().initialize(global_params, n_clients)
        self.m = [torch.zeros_like(p) for p in global_params]
        self.v = [torch.full_like(p, self.tau**2) for p in global_params]

    @abstractmethod
    def second_moment(self, v: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Return the next second moment from the current ``v`` and ``delta``."""

    def aggregate_fit(
        self, server_round: int, global_params: Params, update: ClientUpdate
    ) -> Params:
        """Take one adaptive server step along the clients' pseudo-gradient."""
        # Lazily set up the moments when the engine skipped initialize()
        if self.m is None or self.v is None:
            self.initialize(global_params, max(self.n_clients, len(update.client_ids)))

        # Pseudo-gradient: weighted mean of client models minus the global model
        averaged = weighted_average(update.params, update.n_samples)
        deltas = [avg - x for avg, x in zip(averaged, global_params, strict=True)]

        # Update the moments, then step
        self.m = [
            self.beta1 * m + (1 - self.beta1) * d
            for m, d in zip(self.m, deltas, strict=True)
        ]
        self.v = [self.second_moment(v, d) for v, d in zip(self.v, deltas, strict=True)]
        return [
            x + self.eta * m / (torch.sqrt(v) + self.tau)
            for x, m, v in zip(global_params, self.m, self.v, strict=True)
        ]
