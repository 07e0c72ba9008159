"""Cyclic (sequential) training: the model visits the clients one after another."""

from __future__ import annotations

from hrc.strategies.base import ClientUpdate, Params, Strategy


class Cyclic(Strategy):
    """Cyclic weight transfer: each round the model travels through the clients.

    The selected clients train one after another, each starting from the
    previous client's weights, and the last client's model becomes the global
    model. This is how the 2020 HRC prototype trained across hospitals.

    Chang, Balachandar, Lam, Yi, Brown, Beers, Rosen, Rubin and
    Kalpathy-Cramer, "Distributed deep learning networks among institutions
    for medical imaging", JAMIA 25(8), 2018.
    """

    name = "cyclic"
    sequential = True

    def aggregate_fit(
        self, server_round: int, global_params: Params, update: ClientUpdate
    ) -> Params:
        """Return the model of the last client visited in the round."""
        return [tensor[-1].clone() for tensor in update.params]
