"""FedYogi: federated averaging with a Yogi server optimizer."""

from __future__ import annotations

import torch

from hrc.strategies._adaptive import AdaptiveStrategy


class FedYogi(AdaptiveStrategy):
    """Adaptive federated optimization with Yogi on the server.

    Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar and McMahan,
    "Adaptive Federated Optimization", ICLR 2021; Yogi itself is from Zaheer,
    Reddi, Sachan, Kale and Kumar, "Adaptive Methods for Nonconvex
    Optimization", NeurIPS 2018. The second moment moves towards
    ``delta ** 2`` by a fixed amount, ``v = v - (1 - beta2) * delta ** 2 *
    sign(v - delta ** 2)``, so it cannot collapse as fast as Adam's.

    Parameters
    ----------
    eta, beta1, beta2, tau, fraction_fit, min_clients
        See :class:`~hrc.strategies._adaptive.AdaptiveStrategy`.
    """

    name = "fedyogi"

    def second_moment(self, v: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """Return ``v - (1 - beta2) * delta ** 2 * sign(v - delta ** 2)``."""
        squared = delta * delta
        return v - (1 - self.beta2) * squared * torch.sign(v - squared)
