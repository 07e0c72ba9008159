"""FedAdam: federated averaging with an Adam server optimizer."""

from __future__ import annotations

import torch

from hrc.strategies._adaptive import AdaptiveStrategy


class FedAdam(AdaptiveStrategy):
    """Adaptive federated optimization with Adam on the server.

    Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan,
    "Adaptive Federated Optimization", ICLR 2021. The second moment is an
    exponential average of the squared pseudo-gradients,
    ``v = beta2 * v + (1 - beta2) * delta ** 2``.

    Parameters
    ----------
    eta, beta1, beta2, tau, fraction_fit, min_clients
        See :class:`~hrc.strategies._adaptive.AdaptiveStrategy`.
    """

    name = "fedadam"

    def second_moment(self, v: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Return ``beta2 * v + (1 - beta2) * delta ** 2``."""
        return self.beta2 * v + (1 - self.beta2) * delta * delta
