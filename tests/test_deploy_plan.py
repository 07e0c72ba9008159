"""Across hospitals from the command line: summaries -> plan -> shards.

Two hospitals hold the two client partitions that ``prepare_federation``
deals for a local federated run. Each summarises its own prepared pair, the
researcher plans from the summaries alone, and each hospital writes its shard
from the plan: the shards must hold the features and labels of the local run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hrc.cli import cli
from hrc.config import TrainConfig
from hrc.data.dataset import write_prepared
from hrc.data.synth import generate_cohort
from hrc.nodes.registry import read_shard
from hrc.preprocess import encode_labels
from hrc.splits import cap_dataset, partition, train_test_split_by_donor
from hrc.training.runner import prepare_federation

N_GENES = 60
SUMMARY_KEYS = {
    "format", "label", "covariates", "expression_threshold", "n_samples",
    "class_counts", "categories", "gene_ids", "expressed", "total", "total_sq",
}  # fmt: skip


def _invoke(*arguments: str):
    return CliRunner().invoke(cli, [str(a) for a in arguments])


@pytest.fixture(scope="module")
def hospitals(tmp_path_factory):
    """The whole cohort, and each client partition of a local run on disk."""
    root = tmp_path_factory.mktemp("hospitals")
    cohort = generate_cohort(n_samples=240, n_genes=N_GENES, seed=3)
    write_prepared(root / "all", cohort.samples, cohort.expression, cohort.gene_ids)
    config = TrainConfig(
        samples_path=root / "all" / "v8_samples.parquet",
        expressions_path=root / "all" / "v8_expressions.parquet",
        train_type="decentralized", label="sex", n_genes=20, no_of_clients=2,
        split_type="iid", covariates=("tissue",), seed=5,
    )  # fmt: skip

    # The rows of each client, dealt as prepare_federation deals them.
    labels, classes = encode_labels(cohort.samples, config.label)
    rows = cap_dataset(cohort.samples, labels, None, config.seed)
    train_rows, _ = train_test_split_by_donor(
        cohort.samples, labels, config.split_size, config.seed, indices=rows
    )
    parts = partition(
        config.split_type, cohort.samples, labels, train_rows,
        config.no_of_clients, config.seed, classes=classes,
    )  # fmt: skip
    for index, part in enumerate(parts, start=1):
        write_prepared(
            root / f"h{index}",
            cohort.samples.iloc[part].reset_index(drop=True),
            cohort.expression[part],
            cohort.gene_ids,
        )
    federation, info = prepare_federation(config)
    return root, cohort, federation, info


def _pair(folder: Path) -> list[str]:
    return [
        "--samples_path", str(folder / "v8_samples.parquet"),
        "--expressions_path", str(folder / "v8_expressions.parquet"),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def planned(hospitals):
    """Summaries, the plan and both shards, all made with the CLI."""
    root, *_ = hospitals
    for name in ("h1", "h2"):
        result = _invoke(
            "node", "summarize", *_pair(root / name), "--label", "sex",
            "--covariates", "tissue", "--out", root / f"{name}.json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    result = _invoke(
        "deploy", "plan", "--summary", root / "h1.json", "--summary",
        root / "h2.json", "--label", "sex", "--n_genes", "20", "--hidden", "8",
        "--n_epochs", "2", "--tags", "#X,#gtex_v8,#dataset", "--out", root / "plan",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout.strip().splitlines()[-1])
    for name in ("h1", "h2"):
        result = _invoke(
            "node", "shard", *_pair(root / name), "--plan", written["preprocessor"],
            "--out", root / name / "shard.npz",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    return written


def test_shards_equal_the_local_federation(hospitals, planned):
    root, _, federation, _ = hospitals
    for client in federation.clients:
        features, labels = read_shard(root / client.name / "shard.npz")
        assert features.shape == client.features.shape
        assert torch.allclose(features, client.features, atol=1e-5)
        assert torch.equal(labels, client.labels)


def test_plan_holds_the_local_preprocessor_and_classes(hospitals, planned):
    _, _, federation, info = hospitals
    plan = json.loads(Path(planned["preprocessor"]).read_text())
    local = info["preprocessor"]
    assert plan["classes"] == federation.classes == ["female", "male"]
    assert plan["nodes"] == ["h1", "h2"]
    state = plan["preprocessor"]
    assert state["selected_gene_ids"] == local["selected_gene_ids"]
    assert state["feature_names"] == local["feature_names"]
    assert state["categories"] == local["categories"]
    np.testing.assert_allclose(state["mean"], local["mean"], rtol=1e-12)
    np.testing.assert_allclose(state["scale"], local["scale"], rtol=1e-12)


def test_plan_job_has_the_model_of_the_shards(hospitals, planned):
    _, _, federation, _ = hospitals
    job = Path(planned["job"])
    assert job.name == "hrc_train"
    with np.load(next(job.rglob("*.npz"))) as arrays:
        shapes = {name: arrays[name].shape for name in arrays.files}
    # Input layer: features x 8 hidden; output layer: 8 hidden x 2 classes.
    assert (8, federation.n_features) in shapes.values()
    assert (2, 8) in shapes.values()


def test_summary_holds_aggregates_only(hospitals, planned):
    root, cohort, *_ = hospitals
    text = (root / "h1.json").read_text()
    summary = json.loads(text)
    assert set(summary) == SUMMARY_KEYS
    for key in ("gene_ids", "expressed", "total", "total_sq"):
        assert len(summary[key]) == N_GENES
    for identifier in [*cohort.samples["Name"], *cohort.samples["Donor"]]:
        assert identifier not in text


def test_summary_floats_round_trip_exactly(hospitals, planned):
    from hrc.deploy.plan import read_summary, summarize_node

    root, *_ = hospitals
    pair = root / "h1" / "v8_samples.parquet", root / "h1" / "v8_expressions.parquet"
    summary = summarize_node(*pair, "sex", ["tissue"])
    read = read_summary(root / "h1.json").genes
    assert np.array_equal(read.total, np.asarray(summary["total"]))
    assert np.array_equal(read.total_sq, np.asarray(summary["total_sq"]))


def test_shard_drops_samples_of_a_class_outside_the_plan(hospitals, planned, caplog):
    root, cohort, *_ = hospitals
    samples = cohort.samples.iloc[:30].reset_index(drop=True)
    samples.loc[:4, "Sex"] = "unknown"
    samples.loc[5:6, "Sex"] = None
    write_prepared(root / "h9", samples, cohort.expression[:30], cohort.gene_ids)
    result = _invoke(
        "node", "shard", *_pair(root / "h9"), "--plan", planned["preprocessor"],
        "--out", root / "h9" / "shard.npz", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shard = json.loads(result.stdout.strip().splitlines()[-1])
    assert (shard["n_samples"], shard["n_dropped"]) == (23, 7)
    assert "7 of 30 samples dropped" in caplog.text


def test_plan_error_for_a_missing_summary(hospitals, tmp_path):
    missing = tmp_path / "h3.json"
    result = _invoke(
        "deploy", "plan", "--summary", missing, "--label", "sex", "--out",
        tmp_path / "plan",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == f"Error: --summary: file not found: {missing}\n"
    assert not (tmp_path / "plan").exists()


def test_plan_error_for_a_summary_of_another_gene_set(hospitals, planned, tmp_path):
    root, *_ = hospitals
    other = json.loads((root / "h2.json").read_text())
    for key in ("gene_ids", "expressed", "total", "total_sq"):
        other[key] = other[key][:-1]
    (tmp_path / "h2.json").write_text(json.dumps(other))
    result = _invoke(
        "deploy", "plan", "--summary", root / "h1.json", "--summary",
        tmp_path / "h2.json", "--label", "sex", "--out", tmp_path / "plan",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        "Error: --summary: h2 summarises 59 genes that differ from the 60 of h1; "
        "every hospital must prepare the same gene set\n"
    )
    assert not (tmp_path / "plan").exists()


def test_plan_error_for_a_label_mismatch(hospitals, planned, tmp_path):
    root, *_ = hospitals
    result = _invoke(
        "deploy", "plan", "--summary", root / "h1.json", "--summary",
        root / "h2.json", "--label", "age", "--out", tmp_path / "plan",
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "Error: --label: the summary of h1 counts classes of 'sex', not 'age'; "
        "summarise again with --label age or plan with --label sex\n"
    )


def test_shard_error_for_a_file_that_is_not_a_plan(hospitals, planned, tmp_path):
    root, *_ = hospitals
    result = _invoke(
        "node", "shard", *_pair(root / "h1"), "--plan", root / "h1.json",
        "--out", tmp_path / "shard.npz",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --plan: {root / 'h1.json'} is not a plan of 'hrc deploy plan' "
        "(give its preprocessor.json)\n"
    )
    assert not (tmp_path / "shard.npz").exists()


def test_site_and_submit_are_deploy_commands():
    for name in ("site", "submit"):
        result = _invoke("deploy", name, "--help")
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"Usage: cli deploy {name} ")
