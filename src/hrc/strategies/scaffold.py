"""SCAFFOLD: federated averaging with control variates against client drift."""

from __future__ import annotations

import logging

import numpy as np
import torch

from hrc.errors import UsageError
from hrc.strategies.base import ClientUpdate, LocalConfig, Params, Strategy

logger = logging.getLogger(__name__)


class Scaffold(Strategy):
    """Stochastic controlled averaging (option II control variates).

    Karimireddy, Kale, Mohri, Reddi, Stich and Suresh, "SCAFFOLD: Stochastic
    Controlled Averaging for Federated Learning", ICML 2020 (Algorithm 1).

    The server keeps a control variate ``c`` and one ``c_i`` per client, all
    starting at zero. A selected client adds ``c - c_i`` to every local
    gradient. After ``K_i`` local steps of size ``lr`` from ``x`` to ``y_i``::

        c_i+ = c_i - c + (x - y_i) / (K_i * lr)
        x    = x + global_lr * mean_i(y_i - x)
        c    = c + |S| / N * mean_i(c_i+ - c_i)

    The means are unweighted, as in the paper.

    Parameters
    ----------
    lr : float
        Local learning rate of the clients, > 0 (``--lr``).
    global_lr : float
        Server step size ``eta_g``, > 0; 1 moves to the clients' mean.
    optimizer : str
        Local optimizer (``--optimizer``). The control variates assume plain
        SGD steps; with ``"adam"`` they are only a heuristic and a warning is
        logged.
    fraction_fit, min_clients
        Client sampling, see :class:`~hrc.strategies.base.Strategy`.
    """

    name = "scaffold"

    def __init__(
        self,
        lr: float = 1e-3,
        global_lr: float = 1.0,
        optimizer: str = "sgd",
        fraction_fit: float = 1.0,
        min_clients: int = 1,
    ) -> None:
        super().__init__(fraction_fit=fraction_fit, min_clients=min_clients)
        if not lr > 0:
            raise UsageError(f"--lr: {lr} must be > 0")
        if not global_lr > 0:
            raise UsageError(f"global_lr: {global_lr} must be > 0; 1 is the default")
        if optimizer != "sgd":
            logger.warning(
                "scaffold: control variates assume SGD local steps, got "
                "--optimizer %s; use --optimizer sgd for the paper's method",
                optimizer,
            )
        self.lr = lr
        self.global_lr = global_lr
        self.server_control: Params | None = None
        self.client_controls: Params | None = None

    def initialize(self, global_params: Params, n_clients: int) -> None:
        """Set ``c`` and every ``c_i`` to zero."""
        super().initialize(global_params, n_clients)
        self.server_control = [torch.zeros_like(p) for p in global_params]
        self.client_controls = [
            torch.zeros((n_clients, *p.shape), dtype=p.dtype) for p in global_params
        ]

    def _ensure_state(self, global_params: Params) -> None:
        """Create zero control variates if the engine skipped initialize()."""
        if self.server_control is None or self.client_controls is None:
            self.initialize(global_params, self.n_clients)

    def configure_local(
        self, server_round: int, client_ids: np.ndarray, global_params: Params
    ) -> LocalConfig:
        """Return the correction ``c - c_i`` for each selected client, stacked."""
        self._ensure_state(global_params)
        index = torch.as_tensor(np.asarray(client_ids), dtype=torch.long)
        correction = [
            c.unsqueeze(0) - c_clients[index]
            for c, c_clients in zip(
                self.server_control, self.client_controls, strict=True
            )
        ]
        return LocalConfig(gradient_correction=correction)

    def aggregate_fit(
        self, server_round: int, global_params: Params, update: ClientUpdate
    ) -> Params:
        """Move the global model and the control variates (option II)."""
        self._ensure_state(global_params)
        index = torch.as_tensor(np.asarray(update.client_ids), dtype=torch.long)
        share = len(index) / self.n_clients
        # K_i = 0 means y_i = x; clamping avoids 0/0 and gives c_i+ = c_i - c
        steps = update.n_steps.to(torch.float64).clamp(min=1.0)

        new_params = []
        for p, (x, y) in enumerate(zip(global_params, update.params, strict=True)):
            c, c_clients = self.server_control[p], self.client_controls[p]
            scale = (steps * self.lr).reshape(-1, *([1] * x.dim())).to(x.dtype)

            # New client control variates from the distance travelled
            old = c_clients[index]
            new = old - c.unsqueeze(0) + (x.unsqueeze(0) - y) / scale
            c_clients[index] = new

            # Server model and control variate: plain means over the selected
            new_params.append(x + self.global_lr * (y - x.unsqueeze(0)).mean(dim=0))
            self.server_control[p] = c + share * (new - old).mean(dim=0)
        return new_params
