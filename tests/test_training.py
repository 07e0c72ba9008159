"""Metrics, centralized training, and the runner's outputs on a tiny cohort."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score

from hrc.config import TrainConfig
from hrc.data.dataset import write_prepared
from hrc.data.synth import generate_cohort
from hrc.training.centralized import train_centralized
from hrc.training.federated import train_federated
from hrc.training.metrics import classification_scores, majority_baseline
from hrc.training.runner import prepare_federation, run
from hrc.training.types import ClientData, Federation


@pytest.fixture(scope="module")
def cohort_paths(tmp_path_factory):
    """A 600-sample, 100-gene synthetic cohort written as the prepared pair."""
    cohort = generate_cohort(n_samples=600, n_genes=100, seed=0)
    folder = tmp_path_factory.mktemp("cohort")
    return write_prepared(
        folder, cohort.samples, cohort.expression, cohort.gene_ids, cohort.gene_symbols
    )


# Metrics worked out by hand.


def test_scores_of_a_small_confusion_matrix():
    # true 0 0 1 1 2 / predicted 0 1 1 1 0: 3 of 5 right; recalls 1/2, 2/2, 0/1;
    # F1: class 0 2*1/(2+2) = 0.5, class 1 2*2/(2+3) = 0.8, class 2 0.
    y_true, y_pred = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    scores = classification_scores(y_true, y_pred, n_classes=4)
    assert scores["accuracy"] == pytest.approx(0.6)
    assert scores["balanced_accuracy"] == pytest.approx(0.5)
    assert scores["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert scores["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y_true, y_pred)
    )
    assert scores["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )


def test_majority_baseline_uses_the_training_majority():
    # Training majority is class 1; the test labels hold it 3 times in 4.
    assert majority_baseline(np.array([0, 1, 1, 2]), np.array([1, 0, 1, 1]), 3) == 0.75


# Centralized training against one-client FedAvg.


def _one_client(n=70, n_features=10, n_classes=3) -> Federation:
    generator = torch.Generator().manual_seed(7)
    client = ClientData(
        "h1",
        torch.randn(n, n_features, generator=generator),
        torch.randint(0, n_classes, (n,), generator=generator),
    )
    test = torch.randn(20, n_features, generator=generator)
    test_labels = torch.randint(0, n_classes, (20,), generator=generator)
    return Federation([client], test, test_labels, ["a", "b", "c"])


def test_fedavg_one_client_sgd_repeats_centralized_training():
    federation = _one_client()
    config = TrainConfig(
        hidden=(12, 6),
        dropout=0.0,
        optimizer="sgd",
        lr=0.05,
        batch_size=16,
        n_epochs=3,
        local_epochs=1,
        seed=11,
        train_type="decentralized",
    )
    pooled = train_centralized(federation, config)
    federated = train_federated(federation, config)
    for key, weights in pooled.state_dict.items():
        torch.testing.assert_close(
            federated.state_dict[key], weights, rtol=0, atol=1e-6
        )
    assert pooled.history["loss"].tolist() == pytest.approx(
        federated.history["loss"].tolist(), abs=1e-6
    )


def test_hand_written_adam_matches_torch_adam_over_one_epoch():
    # One round resets Adam, like one centralized epoch from a fresh optimizer.
    federation = _one_client()
    config = TrainConfig(
        hidden=(12, 6), dropout=0.0, lr=0.01, batch_size=16, n_epochs=1
    )
    pooled = train_centralized(federation, config)
    federated = train_federated(federation, config)
    for key, weights in pooled.state_dict.items():
        torch.testing.assert_close(
            federated.state_dict[key], weights, rtol=0, atol=1e-6
        )


# The runner end to end.


def _run_config(cohort_paths, tmp_path, **overrides) -> TrainConfig:
    samples_path, expressions_path = cohort_paths
    options = dict(
        samples_path=samples_path,
        expressions_path=expressions_path,
        n_genes=40,
        hidden=(16,),
        n_epochs=2,
        label="tissue",
        metrics_path=tmp_path / "metrics",
        model_save_path=tmp_path / "models",
        progress=False,
    )
    options.update(overrides)
    return TrainConfig(**options)


def test_centralized_run_writes_metrics_history_model_and_config(
    cohort_paths, tmp_path
):
    config = _run_config(cohort_paths, tmp_path)
    run(config)
    metrics = json.loads(
        (tmp_path / "metrics" / "centralized_metrics.json").read_text()
    )
    for key in (
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "loss",
        "majority_baseline",
        "n_train",
        "n_test",
        "n_clients",
        "rounds",
        "runtime_seconds",
    ):
        assert key in metrics
    assert metrics["n_train"] + metrics["n_test"] == 600
    assert metrics["rounds"] == 2
    history = pd.read_csv(tmp_path / "metrics" / "centralized_history.csv")
    assert history["round"].tolist() == [1, 2]
    record = json.loads((tmp_path / "models" / "centralized_config.json").read_text())
    assert record["config"]["label"] == "tissue"
    assert len(record["data_sha256"]["samples"]) == 64
    assert len(record["preprocessor"]["selected_gene_ids"]) == 40
    state = torch.load(tmp_path / "models" / "centralized_model.pt")
    assert state["layers.0.weight"].shape == (16, 40)  # 40 genes in, 16 hidden
    # No temporary file is left behind.
    assert not list(tmp_path.rglob("*.part"))


def test_federated_run_writes_per_client_figures(cohort_paths, tmp_path):
    config = _run_config(
        cohort_paths,
        tmp_path,
        train_type="decentralized",
        no_of_clients=3,
        metrics_file_name="fed",
    )
    run(config)
    clients = pd.read_csv(tmp_path / "metrics" / "fed_clients.csv")
    assert sorted(clients["client"].unique()) == ["h1", "h2", "h3"]
    assert len(clients) == 3 * 2
    assert (tmp_path / "metrics" / "fed.json").is_file()
    assert (tmp_path / "metrics" / "fed_history.csv").is_file()


def test_federated_preprocessor_is_fitted_from_client_summaries(cohort_paths, tmp_path):
    pooled, pooled_info = prepare_federation(_run_config(cohort_paths, tmp_path))
    federated, federated_info = prepare_federation(
        _run_config(cohort_paths, tmp_path, train_type="decentralized", no_of_clients=4)
    )
    # Same training donors, so the summed summaries give the pooled fit.
    assert federated.n_train == pooled.n_train
    assert len(federated_info["client_lines"]) == 4
    assert federated_info["client_lines"][0].startswith("client_h1: ")
    np.testing.assert_allclose(
        federated_info["preprocessor"]["mean"],
        pooled_info["preprocessor"]["mean"],
        atol=1e-6,
    )
