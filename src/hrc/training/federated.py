"""The in-process federated engine: the round loop, written once.

Each round the strategy picks clients (``configure_fit``) and says what they
add to their local objective (``configure_local``); the selected clients train
from the global model for ``--local_epochs`` epochs, all together on stacked
weights (:func:`hrc.training.local.train_clients`), or one after another when
the strategy is sequential (Cyclic); then the strategy turns the replies into
the next global model (``aggregate_fit``). After every round the global model
is evaluated on the held-out donors and on each client's own data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from hrc import strategies
from hrc.config import TrainConfig
from hrc.errors import choice_error
from hrc.models import Params, build_model, get_params, set_params
from hrc.strategies.base import ClientUpdate, LocalConfig, Strategy
from hrc.training.centralized import (
    CLIENT_COLUMNS,
    HISTORY_COLUMNS,
    evaluate_model,
    pooled_training_data,
)
from hrc.training.local import LocalSettings, resolve_device, train_clients
from hrc.training.metrics import majority_baseline
from hrc.training.types import Federation, RunResult

logger = logging.getLogger(__name__)

Callback = Callable[[int, dict], None]

# When the global model is evaluated on every client's own training rows.
CLIENT_EVAL = ("every", "last")


def strategy_options(config: TrainConfig) -> dict:
    """Return the strategy options of ``config`` as keyword arguments.

    Every engine builds its strategy from these, so the in-process run and a
    run on nodes aggregate with the same settings.
    """
    return {
        "mu": config.mu,
        "fraction_fit": config.fraction_fit,
        "min_clients": config.min_clients,
        "eta": config.eta,
        "beta1": config.beta1,
        "beta2": config.beta2,
        "tau": config.tau,
        "lr": config.lr,
        "optimizer": config.optimizer,
        "seed": config.seed,
    }


def make_strategy(config: TrainConfig) -> Strategy:
    """Build the strategy named by ``config.strategy`` with the run's options."""
    return strategies.create(config.strategy, **strategy_options(config))


def initial_params(federation: Federation, config: TrainConfig) -> Params:
    """Return the initial global model, drawn from ``config.seed``."""
    torch.manual_seed(config.seed)
    model = build_model(
        config.model,
        federation.n_features,
        federation.n_classes,
        config.hidden,
        config.dropout,
    )
    return get_params(model)


def train_federated(
    federation: Federation,
    config: TrainConfig,
    strategy: Strategy | None = None,
    on_round: Callback | None = None,
    client_eval: str | None = None,
) -> RunResult:
    """Run ``config.n_epochs`` federated rounds in this process.

    Parameters
    ----------
    federation : Federation
        One :class:`ClientData` per hospital and the held-out test set.
    config : TrainConfig
        Strategy, local training and round options.
    strategy : Strategy, optional
        A ready strategy; built from ``config`` when omitted.
    on_round : callable, optional
        Called as ``on_round(round, row)`` after every round with the history
        row.
    client_eval : {"every", "last"}, optional
        Rounds after which the global model is evaluated on each client's
        own training rows (``global_loss``, ``global_accuracy`` of the
        per-client figures; blank in the other rounds). The evaluation is a
        forward pass over every training sample, about a third of the cost
        of one epoch of training.

    Returns
    -------
    RunResult
        Final held-out metrics, the per-round history, the per-client metrics
        of every round and the final global weights.
    """
    settings = LocalSettings.from_config(config)
    if client_eval is None:
        client_eval = config.client_eval
    if client_eval not in CLIENT_EVAL:
        raise choice_error("--client_eval", client_eval, CLIENT_EVAL)
    strategy = strategy or make_strategy(config)
    n_clients = len(federation.clients)
    started = time.perf_counter()

    # One pooled tensor on the device; each client is a range of its rows.
    device = resolve_device(config)
    pool_features, pool_labels = pooled_training_data(federation)
    pool_features, pool_labels = pool_features.to(device), pool_labels.to(device)
    test_features = federation.test_features.to(device)
    test_labels = federation.test_labels.to(device)
    sizes = [client.n_samples for client in federation.clients]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    client_rows = [torch.arange(offsets[i], offsets[i + 1]) for i in range(n_clients)]
    owner = torch.repeat_interleave(torch.arange(n_clients), torch.tensor(sizes))
    owner = owner.to(device)

    # Global model and strategy state before round 1.
    model = build_model(
        config.model,
        federation.n_features,
        federation.n_classes,
        config.hidden,
        settings.dropout,
    ).to(device)
    global_params = [p.to(device) for p in initial_params(federation, config)]
    set_params(model, global_params)
    strategy.initialize(global_params, n_clients)
    rng = np.random.default_rng(config.seed)
    baseline = majority_baseline(
        pool_labels.cpu(), federation.test_labels, federation.n_classes
    )

    history, client_frames = [], []
    for server_round in range(1, config.n_epochs + 1):
        # Selection, local objective, local training, aggregation.
        selected = np.asarray(strategy.configure_fit(server_round, rng))
        local = strategy.configure_local(server_round, selected, global_params)
        train = _train_sequential if strategy.sequential else train_clients
        update = train(
            global_params,
            pool_features,
            pool_labels,
            [client_rows[int(c)] for c in selected],
            selected,
            settings,
            config.seed,
            server_round,
            local,
        )
        global_params = strategy.aggregate_fit(server_round, global_params, update)
        set_params(model, global_params)

        # Held-out figures and per-client figures of the new global model.
        row = {
            "round": server_round,
            **evaluate_model(model, test_features, test_labels, federation.n_classes),
        }
        row["train_loss"] = float(
            (update.train_loss * update.n_samples).sum() / update.n_samples.sum()
        )
        history.append(row)
        client_frames.append(
            _client_rows(
                model,
                federation,
                pool_features,
                pool_labels,
                owner,
                update,
                server_round,
                client_eval == "every" or server_round == config.n_epochs,
            )
        )
        logger.debug("round %s: %s", server_round, row)
        if on_round is not None:
            on_round(server_round, row)

    # Final figures are the last round's.
    final = {k: v for k, v in history[-1].items() if k != "round"} if history else {}
    metrics = {
        **final,
        "majority_baseline": baseline,
        "n_train": int(len(pool_labels)),
        "n_test": int(len(federation.test_labels)),
        "n_clients": n_clients,
        "rounds": config.n_epochs,
        "runtime_seconds": time.perf_counter() - started,
    }
    clients = pd.concat(client_frames, ignore_index=True) if client_frames else None
    return RunResult(
        metrics=metrics,
        history=pd.DataFrame(history, columns=HISTORY_COLUMNS),
        client_metrics=clients
        if clients is not None
        else pd.DataFrame(columns=CLIENT_COLUMNS),
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        info={
            "engine": "inprocess",
            "train_type": "decentralized",
            "strategy": strategy.name,
            "n_features": federation.n_features,
        },
    )


def _train_sequential(
    start_params: Params,
    pool_features: torch.Tensor,
    pool_labels: torch.Tensor,
    client_rows: list[torch.Tensor],
    client_ids: np.ndarray,
    settings: LocalSettings,
    seed: int,
    server_round: int,
    local: LocalConfig | None = None,
) -> ClientUpdate:
    """Train the selected clients one after another, each from the previous model.

    Returns the replies stacked in visiting order, as :func:`train_clients` does.
    """
    local = local or LocalConfig()
    current = [p.detach().clone() for p in start_params]
    replies = []
    for position, client in enumerate(client_ids):
        correction = None
        if local.gradient_correction is not None:
            correction = [c[position : position + 1] for c in local.gradient_correction]
        reply = train_clients(
            current,
            pool_features,
            pool_labels,
            [client_rows[position]],
            np.array([client]),
            settings,
            seed,
            server_round,
            LocalConfig(local.proximal_mu, correction),
        )
        current = [p[0] for p in reply.params]
        replies.append(reply)

    # Stack the single-client replies in visiting order.
    return ClientUpdate(
        client_ids=np.asarray(client_ids),
        params=[torch.cat([r.params[j] for r in replies]) for j in range(len(current))],
        n_samples=torch.cat([r.n_samples for r in replies]),
        n_steps=torch.cat([r.n_steps for r in replies]),
        train_loss=torch.cat([r.train_loss for r in replies]),
        train_accuracy=torch.cat([r.train_accuracy for r in replies]),
    )


def _client_rows(
    model: torch.nn.Module,
    federation: Federation,
    pool_features: torch.Tensor,
    pool_labels: torch.Tensor,
    owner: torch.Tensor,
    update: ClientUpdate,
    server_round: int,
    evaluate: bool = True,
) -> pd.DataFrame:
    """Per-client figures of one round: local training, and the global model.

    The global model's figures on each client's rows come from one forward
    pass over the pooled training rows; blank when ``evaluate`` is false.
    """
    n_clients = len(federation.clients)
    global_loss = np.full(n_clients, np.nan)
    global_accuracy = np.full(n_clients, np.nan)
    if evaluate:
        model.eval()
        with torch.inference_mode():
            logits = model(pool_features)
            losses = F.cross_entropy(logits, pool_labels, reduction="none")
            hits = (logits.argmax(dim=1) == pool_labels).double()
            counts = torch.bincount(owner, minlength=n_clients).double().clamp(min=1)
            zeros = torch.zeros(n_clients, dtype=torch.float64, device=owner.device)
            global_loss = (zeros.index_add(0, owner, losses.double()) / counts).cpu()
            global_accuracy = (zeros.index_add(0, owner, hits) / counts).cpu()
            global_loss, global_accuracy = global_loss.numpy(), global_accuracy.numpy()

    # Local figures exist only for the clients selected this round.
    train_loss = np.full(n_clients, np.nan)
    train_accuracy = np.full(n_clients, np.nan)
    selected = np.asarray(update.client_ids, dtype=np.int64)
    train_loss[selected] = update.train_loss.cpu().numpy()
    train_accuracy[selected] = update.train_accuracy.cpu().numpy()
    return pd.DataFrame(
        {
            "round": server_round,
            "client": [client.name for client in federation.clients],
            "n_samples": [client.n_samples for client in federation.clients],
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "global_loss": global_loss,
            "global_accuracy": global_accuracy,
        },
        columns=CLIENT_COLUMNS,
    )
