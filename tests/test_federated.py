"""The in-process federated engine: aggregation, batched == one by one, rounds."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hrc import strategies
from hrc.config import TrainConfig
from hrc.errors import UsageError
from hrc.strategies.base import ClientUpdate, LocalConfig
from hrc.training import local as local_module
from hrc.training.federated import initial_params, train_federated
from hrc.training.local import LocalSettings, local_train, train_clients
from hrc.training.types import ClientData, Federation

SIZES = (50, 7, 130)  # unequal on purpose: 4, 1 and 9 batches of 16


def _federation(sizes=SIZES, n_features=12, n_classes=3, seed=0) -> Federation:
    generator = torch.Generator().manual_seed(seed)
    clients = [
        ClientData(
            f"h{k + 1}",
            torch.randn(n, n_features, generator=generator),
            torch.randint(0, n_classes, (n,), generator=generator),
        )
        for k, n in enumerate(sizes)
    ]
    test_features = torch.randn(40, n_features, generator=generator)
    test_labels = torch.randint(0, n_classes, (40,), generator=generator)
    classes = [f"c{k}" for k in range(n_classes)]
    return Federation(clients, test_features, test_labels, classes)


def _pool(federation: Federation):
    features = torch.cat([c.features for c in federation.clients])
    labels = torch.cat([c.labels for c in federation.clients])
    offsets = np.cumsum([0] + [c.n_samples for c in federation.clients])
    rows = [torch.arange(offsets[k], offsets[k + 1]) for k in range(len(offsets) - 1)]
    return features, labels, rows


def _config(**overrides) -> TrainConfig:
    options = dict(
        hidden=(16, 8),
        dropout=0.3,
        batch_size=16,
        lr=0.01,
        local_epochs=2,
        seed=3,
        train_type="decentralized",
    )
    options.update(overrides)
    return TrainConfig(**options)


def _update(params_per_client, n_samples) -> ClientUpdate:
    stacked = [torch.stack(ps) for ps in zip(*params_per_client, strict=True)]
    return ClientUpdate(
        client_ids=np.arange(len(n_samples)),
        params=stacked,
        n_samples=torch.tensor(n_samples, dtype=torch.float32),
        n_steps=torch.ones(len(n_samples)),
    )


# Aggregation against numbers worked out by hand.


def test_fedavg_and_fedprox_aggregate_the_sample_weighted_mean():
    # (1 * [1, 2] + 3 * [3, 6]) / 4 = [2.5, 5.0]; (1 * 10 + 3 * 2) / 4 = 4.0
    update = _update(
        [
            [torch.tensor([1.0, 2.0]), torch.tensor(10.0)],
            [torch.tensor([3.0, 6.0]), torch.tensor(2.0)],
        ],
        [1, 3],
    )
    for name in ("fedavg", "fedprox"):
        aggregate = strategies.create(name, mu=0.1).aggregate_fit(1, [], update)
        torch.testing.assert_close(aggregate[0], torch.tensor([2.5, 5.0]))
        torch.testing.assert_close(aggregate[1], torch.tensor(4.0))


def test_cyclic_keeps_the_last_visited_model():
    update = _update([[torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 6.0])]], [1, 3])
    aggregate = strategies.create("cyclic").aggregate_fit(1, [], update)
    torch.testing.assert_close(aggregate[0], torch.tensor([3.0, 6.0]))


def test_fedprox_asks_for_its_proximal_weight():
    strategy = strategies.create("fedprox", mu=0.25)
    assert strategy.configure_local(1, np.arange(2), []).proximal_mu == 0.25


def test_fedprox_with_mu_zero_warns(caplog):
    # The CLI's log set-up stops "hrc" records at its own handler; listen there.
    hrc_logger = logging.getLogger("hrc")
    hrc_logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="hrc"):
            strategies.create("fedprox", mu=0.0)
    finally:
        hrc_logger.removeHandler(caplog.handler)
    assert "--mu is 0: FedProx then trains exactly like FedAvg" in caplog.text


# The batched engine against clients trained one by one.


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_batched_clients_equal_clients_trained_alone(optimizer):
    federation = _federation()
    config = _config(optimizer=optimizer)
    start = initial_params(federation, config)
    features, labels, rows = _pool(federation)
    update = train_clients(
        start,
        features,
        labels,
        rows,
        np.arange(3),
        LocalSettings.from_config(config),
        config.seed,
        4,
    )
    for k, client in enumerate(federation.clients):
        params, n_steps, loss, accuracy = local_train(start, client, config, 4, k)
        for alone, batched in zip(params, update.params, strict=True):
            torch.testing.assert_close(alone, batched[k], rtol=0, atol=1e-5)
        assert n_steps == int(update.n_steps[k])
        assert loss == pytest.approx(float(update.train_loss[k]), abs=1e-5)
        assert accuracy == pytest.approx(float(update.train_accuracy[k]), abs=1e-6)
    # ceil(n / 16) batches per epoch, two local epochs: the short client stops early.
    assert update.n_steps.tolist() == [8.0, 2.0, 18.0]


def test_chunked_batches_equal_one_chunk(monkeypatch):
    federation = _federation()
    config = _config()
    start = initial_params(federation, config)
    features, labels, rows = _pool(federation)
    settings = LocalSettings.from_config(config)
    whole = train_clients(start, features, labels, rows, np.arange(3), settings, 3, 1)
    monkeypatch.setattr(local_module, "MAX_CHUNK_ELEMENTS", 1)
    chunked = train_clients(start, features, labels, rows, np.arange(3), settings, 3, 1)
    for a, b in zip(whole.params, chunked.params, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)


def test_proximal_term_and_gradient_correction_match_single_client_training():
    federation = _federation()
    config = _config()
    start = initial_params(federation, config)
    features, labels, rows = _pool(federation)
    generator = torch.Generator().manual_seed(5)
    correction = [0.1 * torch.randn(3, *p.shape, generator=generator) for p in start]
    local = LocalConfig(proximal_mu=0.5, gradient_correction=correction)
    update = train_clients(
        start,
        features,
        labels,
        rows,
        np.arange(3),
        LocalSettings.from_config(config),
        config.seed,
        2,
        local,
    )
    plain = train_clients(
        start,
        features,
        labels,
        rows,
        np.arange(3),
        LocalSettings.from_config(config),
        config.seed,
        2,
    )
    for k, client in enumerate(federation.clients):
        alone_local = LocalConfig(0.5, [c[k] for c in correction])
        params, *_ = local_train(start, client, config, 2, k, alone_local)
        for alone, batched in zip(params, update.params, strict=True):
            torch.testing.assert_close(alone, batched[k], rtol=0, atol=1e-5)
    # The additions change the result.
    assert not torch.allclose(update.params[0], plain.params[0])


def test_cyclic_round_visits_clients_in_turn():
    federation = _federation()
    config = _config(strategy="cyclic", n_epochs=1)
    result = train_federated(federation, config)
    current = initial_params(federation, config)
    for k, client in enumerate(federation.clients):
        current, *_ = local_train(current, client, config, 1, k)
    final = list(result.state_dict.values())
    for expected, got in zip(current, final, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_fedavg_round_is_the_weighted_mean_of_local_training():
    federation = _federation()
    config = _config(n_epochs=1)
    result = train_federated(federation, config)
    start = initial_params(federation, config)
    trained = [
        local_train(start, client, config, 1, k)[0]
        for k, client in enumerate(federation.clients)
    ]
    weights = torch.tensor(SIZES, dtype=torch.float32) / sum(SIZES)
    for j, got in enumerate(result.state_dict.values()):
        expected = sum(
            w * params[j] for w, params in zip(weights, trained, strict=True)
        )
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_federated_run_reports_history_and_per_client_figures():
    federation = _federation()
    result = train_federated(federation, _config(n_epochs=3))
    assert result.history["round"].tolist() == [1, 2, 3]
    assert len(result.client_metrics) == 3 * 3
    assert result.client_metrics["n_samples"].tolist()[:3] == list(SIZES)
    assert result.metrics["n_train"] == sum(SIZES)
    assert result.metrics["n_clients"] == 3
    assert result.metrics["rounds"] == 3
    assert result.client_metrics[["train_loss", "global_accuracy"]].notna().all().all()


def test_partial_participation_leaves_other_clients_blank():
    federation = _federation()
    config = _config(n_epochs=2, fraction_fit=0.3, min_clients=1)
    result = train_federated(federation, config)
    trained = result.client_metrics["train_loss"].notna()
    assert trained.sum() == 2  # ceil(0.3 * 3) = 1 client in each of 2 rounds


def test_client_eval_last_leaves_earlier_rounds_blank():
    federation = _federation()
    every = train_federated(federation, _config(n_epochs=2)).client_metrics
    last = train_federated(federation, _config(n_epochs=2), client_eval="last")
    last = last.client_metrics
    columns = ["global_loss", "global_accuracy"]
    assert last.loc[last["round"] == 1, columns].isna().all().all()
    # Round 2 is the same run, so its figures equal those of the every-round run.
    np.testing.assert_allclose(
        last.loc[last["round"] == 2, columns].to_numpy(),
        every.loc[every["round"] == 2, columns].to_numpy(),
    )
    with pytest.raises(UsageError) as error:
        train_federated(federation, _config(n_epochs=1), client_eval="never")
    assert str(error.value) == (
        "--client_eval: unknown value 'never'; accepted: every, last"
    )
