"""Preprocessing: sufficient statistics, gene filter and selection, scaling,
covariates, federated fit equal to the pooled fit, label encoding."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from hrc.errors import DataError, UsageError
from hrc.preprocess import (
    GeneSummary,
    Preprocessor,
    encode_labels,
    read_custom_genes,
    summarize,
)

GENE_IDS = ["ENSG01.3", "ENSG02.1", "ENSG03.7"]


def random_cohort(n_samples=60, n_genes=40, seed=0):
    """TPM with zeros, and a samples table with tissue and sex."""
    rng = np.random.default_rng(seed)
    tpm = rng.gamma(0.6, 20.0, size=(n_samples, n_genes))
    tpm *= rng.random((n_samples, n_genes)) > 0.4
    samples = pd.DataFrame(
        {
            "Tissue": rng.choice(["Brain", "Lung", "Liver"], n_samples),
            "Sex": rng.choice(["male", "female"], n_samples),
        }
    )
    gene_ids = [f"ENSG{i:05d}.{i % 3 + 1}" for i in range(n_genes)]
    return tpm, samples, gene_ids


def test_summarize_counts_and_sums_by_hand():
    # log2(TPM + 1): gene 1 -> 0, 1, 2; gene 2 -> 2, 3, 0.
    tpm = np.array([[0.0, 3.0], [1.0, 7.0], [3.0, 0.0]])
    summary = summarize(tpm)
    assert summary.n_samples == 3
    assert summary.expressed.tolist() == [2, 2]
    assert summary.total.tolist() == [3.0, 5.0]
    assert summary.total_sq.tolist() == [5.0, 13.0]
    assert summary.total.dtype == np.float64


def test_summary_is_the_same_in_small_blocks(monkeypatch):
    tpm, _, _ = random_cohort(n_samples=30, n_genes=7)
    whole = summarize(tpm)
    monkeypatch.setattr("hrc.preprocess._CHUNK_VALUES", 20)  # 2 rows a block
    blocks = summarize(tpm)
    np.testing.assert_array_equal(blocks.expressed, whole.expressed)
    np.testing.assert_allclose(blocks.total, whole.total, rtol=1e-13)
    np.testing.assert_allclose(blocks.total_sq, whole.total_sq, rtol=1e-13)


def test_summaries_add_like_pooled_samples():
    tpm, samples, _ = random_cohort()
    first = summarize(tpm[:25], samples.iloc[:25], ["tissue", "sex"])
    second = summarize(tpm[25:], samples.iloc[25:], ["tissue", "sex"])
    pooled = summarize(tpm, samples, ["tissue", "sex"])
    combined = first + second
    assert combined.n_samples == 60
    np.testing.assert_array_equal(combined.expressed, pooled.expressed)
    np.testing.assert_allclose(combined.total_sq, pooled.total_sq, rtol=1e-13)
    assert combined.categories == pooled.categories
    assert sum(combined.categories["sex"].values()) == 60


def test_expression_filter_keeps_genes_expressed_in_enough_samples():
    # Gene 1 expressed in 1 of 20 samples (5%), gene 2 in 4 of 20 (20%).
    tpm = np.zeros((20, 2))
    tpm[0, 0] = 50.0
    tpm[:4, 1] = 50.0
    assert Preprocessor(min_expressed_fraction=0.1).fit(
        tpm, ["g1", "g2"]
    ).selected_gene_ids == ["g2"]
    assert Preprocessor(min_expressed_fraction=0.05).fit(
        tpm, ["g1", "g2"]
    ).selected_gene_ids == ["g1", "g2"]


def test_no_expressed_gene_is_a_data_error():
    with pytest.raises(DataError, match="lower --min_expressed_fraction"):
        Preprocessor().fit(np.zeros((5, 2)), ["g1", "g2"])


def test_top_variance_genes_are_selected_and_scaled():
    # log2(TPM + 1) columns: [0, 2] var 1; [1, 1] var 0; [0, 4] var 4.
    tpm = np.array([[0.0, 1.0, 0.0], [3.0, 1.0, 15.0]])
    prep = Preprocessor(n_genes=2).fit(tpm, GENE_IDS)
    assert prep.selected_gene_ids == ["ENSG01.3", "ENSG03.7"]
    assert prep.mean_.tolist() == [1.0, 2.0]
    assert prep.scale_.tolist() == [1.0, 2.0]
    assert prep.transform(tpm).tolist() == [[-1.0, -1.0], [1.0, 1.0]]


def test_transformed_training_data_has_zero_mean_unit_sd():
    tpm, _, gene_ids = random_cohort()
    features = Preprocessor(n_genes=10).fit_transform(tpm, gene_ids)
    assert features.shape == (60, 10) and features.dtype == np.float32
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(features.std(axis=0), 1.0, atol=1e-5)


def test_constant_gene_keeps_scale_one():
    tpm = np.array([[1.0, 0.0], [1.0, 3.0]])
    prep = Preprocessor(custom_gene_ids=["g1", "g2"]).fit(tpm, ["g1", "g2"])
    assert prep.scale_.tolist() == [1.0, 1.0]
    assert prep.transform(tpm)[:, 0].tolist() == [0.0, 0.0]


def test_federated_fit_equals_pooled_fit():
    tpm, samples, gene_ids = random_cohort(n_samples=90, n_genes=60)
    clients = [np.arange(0, 20), np.arange(20, 65), np.arange(65, 90)]
    options = dict(n_genes=15, covariates=("tissue", "sex"))
    pooled = Preprocessor(**options).fit(tpm, gene_ids, samples)
    summaries = [summarize(tpm[c], samples.iloc[c], ["tissue", "sex"]) for c in clients]
    federated = Preprocessor(**options).fit_summaries(summaries, gene_ids)
    assert federated.selected_gene_ids == pooled.selected_gene_ids
    assert federated.feature_names == pooled.feature_names
    np.testing.assert_allclose(federated.mean_, pooled.mean_, rtol=1e-12)
    np.testing.assert_allclose(federated.scale_, pooled.scale_, rtol=1e-12)
    np.testing.assert_allclose(
        federated.transform(tpm, samples), pooled.transform(tpm, samples), atol=1e-6
    )


def test_test_samples_cannot_change_the_fit():
    tpm, samples, gene_ids = random_cohort()
    train, test = np.arange(45), np.arange(45, 60)
    fitted = Preprocessor(n_genes=8).fit(tpm[train], gene_ids).to_dict()

    # Perturb only the test rows: the training fit is the same.
    perturbed = tpm.copy()
    perturbed[test] = perturbed[test] * 7.0 + 100.0
    refit = Preprocessor(n_genes=8).fit(perturbed[train], gene_ids).to_dict()
    assert refit == fitted

    # Fitting on train + test gives a different state.
    leaky = Preprocessor(n_genes=8).fit(perturbed, gene_ids).to_dict()
    assert leaky["mean"] != fitted["mean"]


def test_custom_genes_match_without_version_and_warn_on_unknown(caplog):
    tpm = np.array([[0.0, 1.0, 0.0], [3.0, 1.0, 15.0]])
    wanted = ["ENSG03", "ENSG01.3", "ENSG99.1", "ENSG98"]
    with caplog.at_level(logging.WARNING, logger="hrc.preprocess"):
        prep = Preprocessor(custom_gene_ids=wanted).fit(tpm, GENE_IDS)
    assert prep.selected_gene_ids == ["ENSG01.3", "ENSG03.7"]
    assert "2 of 4 listed genes are not in the expression data" in caplog.text
    assert "ENSG99.1, ENSG98" in caplog.text


def test_custom_genes_none_known_is_a_data_error():
    with pytest.raises(DataError) as info:
        Preprocessor(custom_gene_ids=["ENSG77"]).fit(np.ones((2, 3)), GENE_IDS)
    assert str(info.value) == (
        "--custom_gene_path: none of the 1 listed genes is in the expression data "
        "(e.g. ENSG77); list Ensembl ids such as ENSG00000012048"
    )


def test_read_custom_genes(tmp_path):
    good = tmp_path / "genes.csv"
    good.write_text("ids,note\nENSG01.3,a\n ENSG02 ,b\n,c\nENSG01.3,d\n")
    assert read_custom_genes(good) == ["ENSG01.3", "ENSG02"]
    bad = tmp_path / "bad.csv"
    bad.write_text("gene\nENSG01\n")
    with pytest.raises(DataError, match="has no 'ids' column \\(columns: gene\\)"):
        read_custom_genes(bad)
    with pytest.raises(DataError, match="file not found"):
        read_custom_genes(tmp_path / "absent.csv")


def test_covariates_are_one_hot_with_fitted_categories():
    tpm = np.array([[0.0], [3.0], [1.0]])
    train = pd.DataFrame({"Tissue": ["Lung", "Brain", "Lung"], "Sex": ["male"] * 3})
    prep = Preprocessor(covariates=("tissue", "sex")).fit(tpm, ["g1"], train)
    assert prep.feature_names == ["g1", "Tissue=Brain", "Tissue=Lung", "Sex=male"]

    # A tissue unseen in training, or none, gives zeros in the tissue columns.
    test = pd.DataFrame(
        {"Tissue": ["Liver", "Brain", None], "Sex": ["female", "male", "male"]}
    )
    features = prep.transform(np.zeros((3, 1)), test)
    assert features[:, 1:].tolist() == [
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 1.0],
        [0.0, 0.0, 1.0],
    ]


def test_unknown_covariate_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        Preprocessor(covariates=("age",))
    assert str(info.value) == "--covariates: unknown value 'age'; accepted: tissue, sex"


def test_negative_tpm_is_a_data_error():
    with pytest.raises(DataError, match="1 negative or NaN TPM values"):
        summarize(np.array([[1.0, -2.0]]))


def test_state_round_trips_through_json():
    tpm, samples, gene_ids = random_cohort()
    prep = Preprocessor(n_genes=5, covariates=("sex",)).fit(tpm, gene_ids, samples)
    state = json.loads(json.dumps(prep.to_dict()))
    rebuilt = Preprocessor.from_dict(state)
    np.testing.assert_array_equal(
        rebuilt.transform(tpm, samples, gene_ids=gene_ids),
        prep.transform(tpm, samples),
    )


def test_gene_summary_sum_starts_from_zero():
    one = GeneSummary(2, np.array([1]), np.array([1.0]), np.array([1.0]))
    assert sum([one, one]).n_samples == 4


def test_encode_labels_age_in_bracket_order_and_missing_as_minus_one():
    samples = pd.DataFrame({"Age": ["60-69", "20-29", None, "60-69"]})
    y, classes = encode_labels(samples, "age")
    assert classes == ["20-29", "60-69"]
    assert y.tolist() == [1, 0, -1, 1] and y.dtype == np.int64


def test_encode_labels_death_as_hardy_strings():
    samples = pd.DataFrame({"Death": pd.array([4, 0, None, 2, 0], dtype="Int64")})
    y, classes = encode_labels(samples, "death")
    assert classes == ["0", "2", "4"]
    assert y.tolist() == [2, 0, -1, 1, 0]


def test_encode_labels_single_class_is_a_usage_error():
    with pytest.raises(UsageError) as info:
        encode_labels(pd.DataFrame({"Sex": ["male", "male"]}), "sex")
    assert str(info.value) == (
        "--label: 'sex' has a single class ('male') in the data; need at least 2"
    )


def test_encode_labels_unknown_label():
    with pytest.raises(UsageError) as info:
        encode_labels(pd.DataFrame({"Sex": ["male"]}), "height")
    assert str(info.value) == (
        "--label: unknown value 'height'; accepted: age, tissue, sex, death"
    )
