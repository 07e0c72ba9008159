"""``hrc compare``, the comparison report and the local-only baseline."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hrc import report
from hrc.cli import cli
from hrc.config import TrainConfig
from hrc.data.synth import write_cohort
from hrc.training.local import local_train
from hrc.training.local_only import train_local_only
from hrc.training.types import ClientData, Federation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A tiny synthetic cohort on disk: 400 samples x 60 genes."""
    folder = tmp_path_factory.mktemp("cohort")
    write_cohort(folder, n_samples=400, n_genes=60, seed=0, progress=False)
    return folder


def _data_args(cohort) -> list[str]:
    return [
        "--samples_path",
        str(cohort / "v8_samples.parquet"),
        "--expressions_path",
        str(cohort / "v8_expressions.parquet"),
        "--label",
        "tissue",
        "--n_genes",
        "40",
        "--hidden",
        "16",
        "--n_epochs",
        "2",
        "--batch_size",
        "32",
        "--lr",
        "0.01",
        "--no_of_clients",
        "3",
    ]


@pytest.fixture(scope="module")
def compared(cohort, tmp_path_factory):
    """One CLI comparison: 2 seeds, 2 strategies."""
    out = tmp_path_factory.mktemp("comparison")
    args = [
        "compare",
        *_data_args(cohort),
        "--seeds",
        "2",
        "--strategies",
        "fedavg,fedadam",
        "--out",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out, result.output


# --- the command end to end ---------------------------------------------


def test_compare_writes_every_file(compared):
    out, _ = compared
    for name in report.FILES:
        assert (out / name).is_file(), name
    for name in ("rounds.png", "clients.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_table_has_one_row_per_method_and_the_four_figures(compared):
    out, output = compared
    lines = [ln for ln in (out / "comparison.md").read_text().splitlines() if ln]
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0] == (
        "| method | accuracy | balanced accuracy | macro-F1 | majority baseline |"
    )
    methods = [row.split("|")[1].strip() for row in table[2:]]
    assert methods == [
        "pooled",
        "fedavg",
        "fedadam",
        "local-only mean",
        "local-only best",
    ]
    # The table printed on stdout is the one in the file
    assert "\n".join(table) in output


def test_table_numbers_agree_with_the_json_runs(compared):
    out, _ = compared
    payload = json.loads((out / "comparison.json").read_text())
    assert payload["seeds"] == [0, 1]
    assert payload["config"]["label"] == "tissue"
    runs = payload["runs"]
    assert sorted({(r["method"], r["seed"]) for r in runs}) == sorted(
        (m, s) for m in ("pooled", "fedavg", "fedadam", "local_only") for s in (0, 1)
    )

    # fedavg: mean and sample sd of the two seeds, by hand
    accuracies = [r["metrics"]["accuracy"] for r in runs if r["method"] == "fedavg"]
    mean = (accuracies[0] + accuracies[1]) / 2
    sd = abs(accuracies[0] - accuracies[1]) / math.sqrt(2)
    summary = {row["method"]: row for row in payload["summary"]}
    assert summary["fedavg"]["accuracy_mean"] == pytest.approx(mean)
    assert summary["fedavg"]["accuracy_sd"] == pytest.approx(sd)
    row = next(
        ln
        for ln in (out / "comparison.md").read_text().splitlines()
        if "| fedavg |" in ln
    )
    assert row.split("|")[2].strip() == f"{mean:.4f} ± {sd:.4f}"

    # local-only best is the best hospital of each seed
    for run in (r for r in runs if r["method"] == "local_only"):
        best = max(c["accuracy"] for c in run["per_client"])
        assert run["metrics"]["best"]["accuracy"] == best
        assert len(run["per_client"]) == 3


def test_rounds_in_history_match_n_epochs(compared):
    out, _ = compared
    payload = json.loads((out / "comparison.json").read_text())
    for run in payload["runs"]:
        if run["method"] != "local_only":
            assert [row["round"] for row in run["history"]] == [1, 2]


def test_from_dir_redraws_the_same_table(compared, tmp_path):
    out, _ = compared
    result = CliRunner().invoke(
        cli, ["compare", "--from_dir", str(out), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "comparison.md").read_text() == (
        out / "comparison.md"
    ).read_text()


# --- errors -----------------------------------------------------------------


def _error(args: list[str]):
    result = CliRunner().invoke(cli, ["compare", *args])
    return result.exit_code, result.output.strip().splitlines()[-1]


def test_unknown_strategy_is_a_usage_error():
    code, line = _error(["--strategies", "fedavg,fedbogus"])
    assert code == 2
    assert re.fullmatch(
        r"Error: --strategies: unknown value 'fedbogus'; accepted: .*fedavg.*", line
    )


def test_bad_seed_list_is_a_usage_error():
    assert _error(["--seed_list", "1,x"]) == (
        2,
        "Error: --seed_list: '1,x' is not a comma-separated list of integers "
        "such as 0,1,2",
    )


def test_zero_seeds_is_a_usage_error():
    assert _error(["--seeds", "0"]) == (2, "Error: --seeds: 0 must be at least 1")


def test_missing_from_dir_is_a_data_error(tmp_path):
    missing = tmp_path / "nowhere"
    assert _error(["--from_dir", str(missing)]) == (
        1,
        f"Error: --from_dir: {missing} does not exist; run hrc compare first",
    )


# --- summary by hand --------------------------------------------------------


def test_summarize_means_and_sds_by_hand():
    def figures(acc):
        return {
            "accuracy": acc,
            "balanced_accuracy": acc / 2,
            "macro_f1": 0.1,
            "majority_baseline": 0.25,
        }

    records = [
        report.RunRecord("pooled", 0, figures(0.5)),
        report.RunRecord("pooled", 1, figures(0.7)),
        report.RunRecord("local_only", 0, {**figures(0.2), "best": figures(0.4)}),
        report.RunRecord("local_only", 1, {**figures(0.4), "best": figures(0.8)}),
    ]
    summary = report.summarize(records)
    assert list(summary.index) == ["pooled", "local-only mean", "local-only best"]
    # mean(0.5, 0.7) = 0.6; sample sd = |0.7 - 0.5| / sqrt(2)
    assert summary.loc["pooled", "accuracy_mean"] == pytest.approx(0.6)
    assert summary.loc["pooled", "accuracy_sd"] == pytest.approx(0.2 / math.sqrt(2))
    assert summary.loc["pooled", "balanced_accuracy_mean"] == pytest.approx(0.3)
    assert summary.loc["local-only best", "accuracy_mean"] == pytest.approx(0.6)
    assert summary.loc["local-only mean", "accuracy_mean"] == pytest.approx(0.3)
    assert summary.loc["pooled", "macro_f1_sd"] == pytest.approx(0.0)


def test_single_seed_shows_no_sd():
    records = [
        report.RunRecord(
            "pooled",
            3,
            {
                "accuracy": 0.5,
                "balanced_accuracy": 0.5,
                "macro_f1": 0.5,
                "majority_baseline": 0.1,
            },
        )
    ]
    table = report.markdown_table(report.summarize(records))
    assert table.splitlines()[2] == "| pooled | 0.5000 | 0.5000 | 0.5000 | 0.1000 |"


def test_parse_seeds():
    assert report.parse_seeds(3, None) == [0, 1, 2]
    assert report.parse_seeds(5, "7, 3,7") == [7, 3]


# --- local-only -------------------------------------------------------------


def _tiny_federation() -> Federation:
    generator = torch.Generator().manual_seed(0)

    def make(n):
        labels = torch.randint(0, 3, (n,), generator=generator)
        features = torch.randn(n, 6, generator=generator)
        return features + 2 * torch.nn.functional.one_hot(labels, 6).float(), labels

    clients = [ClientData(f"h{i + 1}", *make(n)) for i, n in enumerate([20, 35])]
    return Federation(clients, *make(40), classes=["a", "b", "c"])


def test_local_only_equals_each_client_trained_alone():
    federation = _tiny_federation()
    config = TrainConfig(
        n_epochs=3, local_epochs=2, batch_size=8, lr=0.01, hidden=(8,), seed=5
    )
    result = train_local_only(federation, config)
    assert result.info["epochs"] == 6

    # The same client trained on its own for 6 epochs from the seed's weights
    from hrc.training.federated import initial_params

    alone = dataclasses.replace(config, local_epochs=6)
    for index, client in enumerate(federation.clients):
        params, steps, _, _ = local_train(
            initial_params(federation, config), client, alone, 1, index
        )
        assert steps == 6 * math.ceil(client.n_samples / 8)
        for batched, single in zip(result.params, params, strict=True):
            torch.testing.assert_close(batched[index], single)


def test_local_only_mean_and_best_over_clients():
    federation = _tiny_federation()
    config = TrainConfig(n_epochs=2, batch_size=8, lr=0.01, hidden=(8,), seed=1)
    result = train_local_only(federation, config)
    accuracies = result.per_client["accuracy"].to_numpy()
    assert list(result.per_client["client"]) == ["h1", "h2"]
    assert result.mean["accuracy"] == pytest.approx(np.mean(accuracies))
    assert result.best["accuracy"] == accuracies.max()
    assert result.best["client"] == ["h1", "h2"][int(np.argmax(accuracies))]
