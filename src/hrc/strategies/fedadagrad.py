"""FedAdagrad: federated averaging with an Adagrad server optimizer."""

from __future__ import annotations

import torch

from hrc.strategies._adaptive import AdaptiveStrategy


class FedAdagrad(AdaptiveStrategy):
    """Adaptive federated optimization with Adagrad on the server.

    Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan,
    "Adaptive Federated Optimization", ICLR 2021. The second moment sums the
    squared pseudo-gradients, ``v = v + delta ** 2``, so the server step shrinks
    along coordinates that moved a lot; ``beta2`` is not used.

    Parameters
    ----------
    eta, beta1, beta2, tau, fraction_fit, min_clients
        See :class:`~hrc.strategies._adaptive.AdaptiveStrategy`.
    """

    name = "fedadagrad"

    def second_moment(self, v: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Return ``v + delta ** 2``."""
        return v + delta * delta
