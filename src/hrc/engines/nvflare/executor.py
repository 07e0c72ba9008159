"""The node's side of an HRC job: local training on the node's own data.

:class:`HRCExecutor` runs inside a node's FLARE job process. It finds the
node's data through the node's dataset registry (folder given by the
``HRC_NODE_HOME`` variable) by the job's tags, and trains with
:func:`hrc.training.local.local_train`, the same code as the in-process
engine. It replies with the trained parameters and the scalars of
:data:`protocol.CLIENT_METRICS`; no sample, label or path leaves the node.
"""

from __future__ import annotations

import os
from pathlib import Path

from nvflare.apis.executor import Executor
from nvflare.apis.fl_constant import ReturnCode
from nvflare.apis.fl_context import FLContext
from nvflare.apis.shareable import Shareable, make_reply
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel
from nvflare.app_common.utils.fl_model_utils import FLModelUtils

from hrc.config import TrainConfig
from hrc.engines.nvflare import protocol
from hrc.errors import HRCError
from hrc.nodes.registry import NODE_HOME_ENV, DatasetRegistry
from hrc.strategies.base import LocalConfig
from hrc.training.types import ClientData


class HRCExecutor(Executor):
    """Train the global model on the node's datasets selected by ``tags``.

    Parameters
    ----------
    tags : list of str
        A dataset is used when its tags include all of these.
    local_options : dict
        The run's local-training options (:data:`protocol.LOCAL_OPTIONS`).
    param_names : list of str
        Parameter names in ``model.parameters()`` order.
    """

    def __init__(self, tags: list, local_options: dict, param_names: list) -> None:
        super().__init__()
        self.tags = list(tags)
        self.local_options = dict(local_options)
        self.param_names = list(param_names)
        self._data: ClientData | None = None

    def execute(
        self,
        task_name: str,
        shareable: Shareable,
        fl_ctx: FLContext,
        abort_signal: Signal,
    ) -> Shareable:
        """Run one round of local training (``train``) and reply."""
        if task_name != protocol.TRAIN_TASK:
            return make_reply(ReturnCode.TASK_UNKNOWN)
        node = fl_ctx.get_identity_name()
        try:
            data = self._load(node)
        except HRCError as error:
            # Tell the network why, in one line; no data goes with it.
            self.log_error(fl_ctx, f"node {node}: {error}")
            failure = FLModel(params={}, meta={"error": f"node {node}: {error}"})
            return FLModelUtils.to_shareable(failure)
        incoming = FLModelUtils.from_shareable(shareable)
        reply = train_round(incoming, data, node, self.local_options, self.param_names)
        return FLModelUtils.to_shareable(reply)

    def _load(self, node: str) -> ClientData:
        """Read (once) the node's datasets that carry every job tag."""
        if self._data is None:
            registry = DatasetRegistry(_node_home())
            features, labels = registry.load_training_data(self.tags)
            self._data = ClientData(node, features, labels)
        return self._data


def train_round(
    incoming: FLModel,
    data: ClientData,
    node: str,
    local_options: dict,
    param_names: list[str],
) -> FLModel:
    """Train the global model on ``data`` and build the reply.

    Parameters
    ----------
    incoming : FLModel
        Global model, round number and round settings from the network.
    data : ClientData
        The node's training data.
    node : str
        Node name (looked up in ``incoming.meta["client_ids"]``).
    local_options : dict
        Local-training options of the run.
    param_names : list of str
        Parameter names in ``model.parameters()`` order.

    Returns
    -------
    FLModel
        Trained parameters and the scalars of :data:`protocol.CLIENT_METRICS`.
    """
    from hrc.training.local import local_train

    config = TrainConfig(**_as_config(local_options))
    server_round = int(incoming.current_round)
    client_id = int(incoming.meta["client_ids"][node])
    params = protocol.arrays_to_params(param_names, incoming.params)

    # Local training: the in-process engine's code for one client.
    local = LocalConfig(proximal_mu=float(incoming.meta.get("proximal_mu", 0.0)))
    trained, n_steps, train_loss, train_accuracy = local_train(
        params, data, config, server_round, client_id, local
    )
    metrics = {
        "n_samples": float(data.n_samples),
        "n_steps": float(n_steps),
        "train_loss": float(train_loss),
        "train_accuracy": float(train_accuracy),
    }
    return FLModel(
        params=protocol.params_to_arrays(param_names, trained),
        metrics=metrics,
        current_round=server_round,
    )


def _as_config(options: dict) -> dict:
    """Turn JSON values back into the types of :class:`TrainConfig`."""
    out = dict(options)
    if "hidden" in out:
        out["hidden"] = tuple(out["hidden"])
    return out


def _node_home() -> Path:
    home = os.environ.get(NODE_HOME_ENV)
    if not home:
        raise HRCError(
            f"{NODE_HOME_ENV} is not set; start the node with 'hrc node start'"
        )
    return Path(home)


class CatalogExecutor(Executor):
    """Answer the network's catalogue request with dataset metadata only."""

    def execute(
        self,
        task_name: str,
        shareable: Shareable,
        fl_ctx: FLContext,
        abort_signal: Signal,
    ) -> Shareable:
        """Reply with names, tags, descriptions and shapes of the datasets."""
        if task_name != protocol.CATALOG_TASK:
            return make_reply(ReturnCode.TASK_UNKNOWN)
        node = fl_ctx.get_identity_name()
        try:
            entries = DatasetRegistry(_node_home()).public_entries()
        except HRCError as error:
            self.log_error(fl_ctx, f"node {node}: {error}")
            entries = []
        for entry in entries:
            entry["node"] = node
        return FLModelUtils.to_shareable(FLModel(params={}, meta={"datasets": entries}))
