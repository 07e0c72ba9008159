"""``python src/initializer.py`` and ``hrc train``: outputs and exact error text."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hrc import strategies
from hrc.cli import cli
from hrc.config import TrainConfig
from hrc.data.dataset import write_prepared
from hrc.data.synth import generate_cohort
from hrc.training.runner import prepare_federation

INITIALIZER = Path(__file__).resolve().parents[1] / "src" / "initializer.py"


@pytest.fixture(scope="module")
def initializer():
    """The initializer script loaded as a module, for CliRunner."""
    spec = importlib.util.spec_from_file_location("hrc_initializer", INITIALIZER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A 600-sample, 100-gene cohort; returns the data options for the CLI."""
    data = generate_cohort(n_samples=600, n_genes=100, seed=0)
    folder = tmp_path_factory.mktemp("cohort")
    samples, expressions = write_prepared(
        folder, data.samples, data.expression, data.gene_ids, data.gene_symbols
    )
    return ["--samples_path", str(samples), "--expressions_path", str(expressions)]


def _invoke(initializer, args):
    return CliRunner().invoke(initializer, args)


def test_initializer_script_writes_metrics_files(cohort, tmp_path):
    command = [sys.executable, str(INITIALIZER), *cohort]
    command += ["--n_genes", "30", "--n_epochs", "2", "--hidden", "8", "--no-progress"]
    command += ["--train_type", "decentralized", "--no_of_clients", "2"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Data preprocessing..." in done.stdout
    assert "Training in a federated fashion..." in done.stdout
    assert "Round 2/2: " in done.stdout
    assert "Overall runtime: " in done.stdout
    metrics = json.loads(
        (tmp_path / "data" / "metrics" / "decentralized_metrics.json").read_text()
    )
    assert set(metrics) >= {
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
    }
    assert metrics["n_clients"] == 2
    assert (tmp_path / "data" / "metrics" / "decentralized_history.csv").is_file()
    assert (tmp_path / "data" / "metrics" / "decentralized_clients.csv").is_file()
    assert (tmp_path / "data" / "models" / "decentralized_model.pt").is_file()
    assert (tmp_path / "data" / "models" / "decentralized_config.json").is_file()


def test_hrc_train_is_registered():
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0
    assert "--no_of_clients" in result.output


def test_unknown_split_type_lists_the_choices(initializer):
    result = _invoke(initializer, ["--split_type", "random"])
    assert result.exit_code == 2
    assert (
        "Error: Invalid value for '--split_type': 'random' is not one of 'iid', "
        "'balanced', 'unbalanced', 'non_iid', 'site'." in result.stderr
    )


def test_unknown_strategy_lists_the_choices(initializer):
    result = _invoke(initializer, ["--strategy", "fedsgd"])
    choices = ", ".join(f"'{name}'" for name in strategies.available())
    assert result.exit_code == 2
    assert (
        f"Error: Invalid value for '--strategy': 'fedsgd' is not one of {choices}."
        in result.stderr
    )


def test_unknown_label_lists_the_choices(initializer):
    result = _invoke(initializer, ["--label", "height"])
    assert result.exit_code == 2
    assert (
        "Error: Invalid value for '--label': 'height' is not one of 'age', "
        "'tissue', 'sex', 'death'." in result.stderr
    )


def test_no_cuda_takes_yes_no_true_false(initializer):
    result = _invoke(initializer, ["--no_cuda", "maybe"])
    assert result.exit_code == 2
    assert (
        "Error: Invalid value for '--no_cuda': 'maybe' is not one of yes, no, "
        "true, false." in result.stderr
    )


def test_more_clients_than_training_donors(initializer, cohort, tmp_path):
    samples_path, expressions_path = Path(cohort[1]), Path(cohort[3])
    _, info = prepare_federation(
        TrainConfig(samples_path=samples_path, expressions_path=expressions_path)
    )
    n_donors = info["n_donors_train"]
    args = [*cohort, "--train_type", "decentralized", "--no_of_clients", "500"]
    result = _invoke(initializer, [*args, "--metrics_path", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --no_of_clients: 500 exceeds the {n_donors} training donors; a "
        "donor is never split across clients, so lower --no_of_clients or raise "
        "--split_size\n"
    )
    assert not list(tmp_path.iterdir())


def test_split_size_outside_the_unit_interval(initializer, cohort):
    result = _invoke(initializer, [*cohort, "--split_size", "1.5"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --split_size: 1.5 is outside (0, 1); give the training fraction "
        "of donors, e.g. 0.8\n"
    )


def test_label_with_a_single_class(initializer, tmp_path):
    data = generate_cohort(n_samples=200, n_genes=20, seed=1)
    data.samples["Sex"] = "male"
    samples, expressions = write_prepared(
        tmp_path, data.samples, data.expression, data.gene_ids
    )
    args = ["--samples_path", str(samples), "--expressions_path", str(expressions)]
    result = _invoke(initializer, [*args, "--label", "sex"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --label: 'sex' has a single class ('male') in the data; need at "
        "least 2\n"
    )


def test_split_leaving_a_client_without_enough_samples(initializer, cohort):
    args = [*cohort, "--train_type", "decentralized", "--split_type", "non_iid"]
    result = _invoke(initializer, [*args, "--alpha", "0.01", "--no_of_clients", "20"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --alpha: 0.01 left a client with fewer than 10 samples in 11 "
        "draws; raise --alpha or lower --no_of_clients\n"
    )


def test_missing_data_file_names_the_option(initializer, cohort, tmp_path):
    missing = tmp_path / "absent.parquet"
    outputs = ["--metrics_path", str(tmp_path / "metrics")]
    outputs += ["--model_save_path", str(tmp_path / "models")]
    result = _invoke(initializer, [cohort[0], str(missing), *cohort[2:], *outputs])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: --samples_path: file not found: {missing}; give the prepared "
        "pair made by 'hrc data synth' or 'hrc data import-gtex'"
    )
    assert not (tmp_path / "metrics").exists()
    assert not (tmp_path / "models").exists()
