"""Federated Averaging."""

from __future__ import annotations

from hrc.strategies.base import ClientUpdate, Params, Strategy, weighted_average


class FedAvg(Strategy):
    """Federated Averaging: the sample-weighted mean of the clients' models.

    McMahan, Moore, Ramage, Hampson and Agüera y Arcas, "Communication-Efficient
    Learning of Deep Networks from Decentralized Data", AISTATS 2017.
    """

    name = "fedavg"

    def aggregate_fit(
        self, server_round: int, global_params: Params, update: ClientUpdate
    ) -> Params:
        """Return ``sum_k n_k w_k / sum_k n_k`` over the selected clients."""
        return weighted_average(update.params, update.n_samples)
