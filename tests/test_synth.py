"""The synthetic GTEx v8 cohort against the targets of docs/synthetic.md."""

from __future__ import annotations

import gzip
import logging
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hrc.cli import cli
from hrc.data import schema, synth
from hrc.data.dataset import load_prepared
from hrc.data.gtex_writers import (
    ATTRIBUTE_COLUMNS,
    ATTRIBUTES_FILE,
    GCT_FILE,
    SUBJECTS_FILE,
)
from hrc.data.tissues import TISSUES
from hrc.errors import DataError, UsageError


@pytest.fixture(scope="module")
def cohort():
    """The full v8 sample count with few genes (fast)."""
    return synth.generate_cohort(n_samples=17_382, n_genes=300, seed=0)


@pytest.fixture(scope="module")
def log_expr(cohort):
    return np.log2(cohort.expression.astype(np.float64) + 1.0)


@pytest.fixture(scope="module")
def off_genes(log_expr):
    """Genes whose median log2(TPM + 1) is below 0.5 (TPM below 0.41)."""
    return np.median(log_expr, axis=0) < 0.5


def donors_of(samples: pd.DataFrame) -> pd.DataFrame:
    return samples.drop_duplicates(schema.DONOR)


# Donors and samples ----------------------------------------------------------


def test_donor_age_and_sex_split_is_the_real_one(cohort):
    donors = donors_of(cohort.samples)
    assert len(donors) == 948
    assert donors[schema.AGE].value_counts().to_dict() == {
        "20-29": 81,
        "30-39": 76,
        "40-49": 146,
        "50-59": 304,
        "60-69": 309,
        "70-79": 32,
    }
    assert donors[schema.SEX].value_counts().to_dict() == {"male": 636, "female": 312}


def test_each_donor_has_one_age_sex_hardy_and_site(cohort):
    per_donor = cohort.samples.groupby(schema.DONOR)[
        [schema.AGE, schema.SEX, schema.DEATH, schema.SITE]
    ].nunique(dropna=False)
    assert (per_donor == 1).all().all()


def test_tissue_counts_are_the_real_ones(cohort):
    counts = cohort.samples[schema.SUBTISSUE].value_counts()
    assert len(cohort.samples) == 17_382
    assert {t.detailed: int(counts[t.detailed]) for t in TISSUES} == {
        t.detailed: t.n_samples for t in TISSUES
    }
    broad = dict(
        zip(
            cohort.samples[schema.SUBTISSUE], cohort.samples[schema.TISSUE], strict=True
        )
    )
    assert all(broad[t.detailed] == t.broad for t in TISSUES)
    assert cohort.samples[schema.TISSUE].nunique() == 30


def test_sex_specific_tissues_only_in_that_sex(cohort):
    samples = cohort.samples
    for tissue in TISSUES:
        if tissue.sex is not None:
            sexes = set(
                samples.loc[samples[schema.SUBTISSUE] == tissue.detailed, "Sex"]
            )
            assert sexes == {tissue.sex}, tissue.detailed


def test_no_donor_has_a_detailed_tissue_twice(cohort):
    pairs = cohort.samples.groupby([schema.DONOR, schema.SUBTISSUE]).size()
    assert pairs.max() == 1


def test_samples_per_donor(cohort):
    per_donor = cohort.samples.groupby(schema.DONOR).size()
    assert per_donor.min() >= 1
    assert per_donor.max() <= 39
    assert per_donor.mean() == pytest.approx(17_382 / 948)
    assert 16 <= per_donor.median() <= 21  # real median: 19


def test_hardy_scale_scaled_from_980_to_948_donors(cohort):
    # 948/980 of (511, 35, 239, 57, 119, 19), largest remainders rounded up:
    # 494.3, 33.9, 231.2, 55.1, 115.1, 18.4 -> 494, 34, 231, 55, 115, 19.
    death = donors_of(cohort.samples)[schema.DEATH]
    assert death.value_counts().to_dict() == {0: 494, 1: 34, 2: 231, 3: 55, 4: 115}
    assert int(death.isna().sum()) == 19


def test_ids_look_like_gtex_ids(cohort):
    samples = cohort.samples
    assert samples[schema.NAME].is_unique
    assert samples[schema.DONOR].str.fullmatch(r"GTEX-[0-9A-Z]{4,5}").all()
    assert (
        samples[schema.NAME]
        .str.fullmatch(r"GTEX-[0-9A-Z]{4,5}-\d{4}-SM-[0-9A-Z]{5}")
        .all()
    )
    assert all(
        schema.donor_of(n) == d
        for n, d in zip(samples.Name, samples.Donor, strict=True)
    )
    assert len(set(cohort.gene_ids)) == 300
    assert all(re.fullmatch(r"ENSG\d{11}\.\d+", g) for g in cohort.gene_ids)
    assert samples[schema.AVG_AGE].iloc[0] == schema.age_midpoint(samples.Age.iloc[0])


def test_sites_are_collection_centres(cohort):
    assert set(cohort.samples[schema.SITE]) == {"B1", "C1", "D1"}


# Expression ----------------------------------------------------------------


def test_matrix_is_float32_tpm(cohort):
    assert cohort.expression.dtype == np.float32
    assert cohort.expression.shape == (17_382, 300)
    assert cohort.expression.flags["C_CONTIGUOUS"]
    assert cohort.expression.min() >= 0.0


def test_about_half_the_genes_are_off(off_genes, log_expr):
    assert 0.45 <= off_genes.mean() <= 0.55
    # Off genes are mostly exactly zero.
    assert np.mean(log_expr[:, off_genes] == 0.0) > 0.6


def test_expressed_gene_means(log_expr, off_genes):
    means = log_expr[:, ~off_genes].mean(axis=0)
    assert means.mean() == pytest.approx(4.6, abs=0.35)
    assert means.std() == pytest.approx(2.7, abs=0.5)


def test_within_tissue_spread(cohort, log_expr, off_genes):
    tissue = cohort.samples[schema.SUBTISSUE].to_numpy()
    spread = pd.DataFrame(log_expr[:, ~off_genes]).groupby(tissue).std()
    assert float(np.median(spread.median(axis=0))) == pytest.approx(0.5, abs=0.12)


def test_tissue_explains_most_variance_and_some_genes_are_tissue_specific(
    cohort, log_expr, off_genes
):
    tissue = cohort.samples[schema.SUBTISSUE].to_numpy()
    grouped = pd.DataFrame(log_expr).groupby(tissue)
    residual = log_expr - grouped.transform("mean").to_numpy()
    total = log_expr.var(axis=0)
    r2 = 1 - residual.var(axis=0) / np.where(total > 0, total, 1.0)
    assert np.median(r2[~off_genes]) > 0.5

    # ~15% of genes raised 2-4 units in one tissue: a clear gap to the next.
    ranked = np.sort(grouped.mean().to_numpy(), axis=0)
    gap = ranked[-1] - ranked[-2]
    assert 0.06 <= np.mean(gap > 1.5) <= 0.25


def test_age_effect_is_weak_but_present(cohort, log_expr):
    tissue = cohort.samples[schema.SUBTISSUE].to_numpy()
    residual = log_expr - pd.DataFrame(log_expr).groupby(tissue).transform("mean")
    residual = residual.to_numpy()
    age = cohort.samples[schema.AVG_AGE].to_numpy()
    age = (age - age.mean()) / age.std()
    sd = residual.std(axis=0)
    corr = (age @ residual) / len(age) / np.where(sd > 0, sd, 1.0)
    r2 = corr**2
    assert np.median(r2) < 0.002
    assert 0.01 <= r2.max() <= 0.06
    assert 2 <= np.sum(r2 > 0.008) <= 0.06 * len(r2)


def test_sex_linked_genes(cohort, log_expr):
    female = (cohort.samples[schema.SEX] == "female").to_numpy()
    symbols = cohort.gene_symbols
    xist = symbols.index("SYNXIST")
    assert log_expr[female, xist].mean() - log_expr[~female, xist].mean() > 5
    y_genes = [j for j, s in enumerate(symbols) if s.startswith("SYNY")]
    assert len(y_genes) == 4
    gap = log_expr[~female][:, y_genes].mean(0) - log_expr[female][:, y_genes].mean(0)
    assert (gap > 3).all()


# Seeds and sizes -----------------------------------------------------------


def test_same_seed_same_cohort_other_seed_other_cohort():
    first = synth.generate_cohort(n_samples=600, n_genes=40, seed=3)
    again = synth.generate_cohort(n_samples=600, n_genes=40, seed=3)
    other = synth.generate_cohort(n_samples=600, n_genes=40, seed=4)
    pd.testing.assert_frame_equal(first.samples, again.samples)
    np.testing.assert_array_equal(first.expression, again.expression)
    assert first.gene_ids == again.gene_ids
    assert not first.samples[schema.NAME].equals(other.samples[schema.NAME])
    assert not np.array_equal(first.expression, other.expression)


def test_smaller_cohort_scales_counts():
    # 1000/17382 of 948 donors = 54.5 -> 55 donors.
    small = synth.generate_cohort(n_samples=1_000, n_genes=10, seed=1)
    samples = small.samples
    assert len(samples) == 1_000
    assert samples[schema.DONOR].nunique() == 55
    assert samples.groupby([schema.DONOR, schema.SUBTISSUE]).size().max() == 1
    muscle = int((samples[schema.SUBTISSUE] == "Muscle - Skeletal").sum())
    assert muscle == pytest.approx(803 * 1_000 / 17_382, abs=1)  # 46.2
    for tissue in TISSUES:
        if tissue.sex is not None:
            rows = samples[schema.SUBTISSUE] == tissue.detailed
            assert set(samples.loc[rows, schema.SEX]) <= {tissue.sex}


def test_single_sample_cohort():
    tiny = synth.generate_cohort(n_samples=1, n_genes=1, seed=0)
    assert tiny.expression.shape == (1, 1)
    assert tiny.samples[schema.DONOR].nunique() == 1


@pytest.mark.parametrize("field", ["n_samples", "n_genes"])
def test_library_rejects_sizes_below_one(field):
    sizes = {"n_samples": 10, "n_genes": 10, field: 0}
    with pytest.raises(UsageError, match=f"^{field}: got 0; it must be at least 1$"):
        synth.generate_cohort(**sizes)


# Files and the command line --------------------------------------------------


@pytest.mark.parametrize("option", ["--samples", "--genes"])
def test_cli_rejects_zero(option, tmp_path):
    result = CliRunner().invoke(
        cli, ["data", "synth", "--out", str(tmp_path), option, "0", "--no-progress"]
    )
    assert result.exit_code == 2
    assert result.output == f"Error: {option}: got 0; expected a whole number >= 1\n"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    """``hrc data synth --gtex-files`` run once on a small cohort."""
    out = tmp_path_factory.mktemp("synth")
    result = CliRunner().invoke(
        cli,
        [
            "data",
            "synth",
            "--out",
            str(out),
            "--samples",
            "400",
            "--genes",
            "30",
            "--seed",
            "7",
            "--gtex-files",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_cli_writes_the_prepared_pair(synth_dir):
    data = load_prepared(
        synth_dir / schema.SAMPLES_FILE, synth_dir / schema.EXPRESSIONS_FILE
    )
    expected = synth.generate_cohort(n_samples=400, n_genes=30, seed=7)
    assert list(data.samples.columns) == list(schema.SAMPLE_COLUMNS)
    pd.testing.assert_frame_equal(data.samples, expected.samples)
    np.testing.assert_array_equal(data.expression, expected.expression)
    assert data.gene_symbols == expected.gene_symbols


def test_gct_file_layout(synth_dir):
    with gzip.open(synth_dir / GCT_FILE, "rt") as handle:
        assert handle.readline() == "#1.2\n"
        assert handle.readline() == "30\t400\n"
    table = pd.read_csv(synth_dir / GCT_FILE, sep="\t", skiprows=2)
    expected = synth.generate_cohort(n_samples=400, n_genes=30, seed=7)
    assert list(table.columns) == ["Name", "Description", *expected.samples.Name]
    assert table["Name"].tolist() == expected.gene_ids
    np.testing.assert_allclose(
        table.iloc[:, 2:].to_numpy().T, expected.expression, atol=5e-4
    )


def test_sample_attributes_file(synth_dir):
    table = pd.read_csv(synth_dir / ATTRIBUTES_FILE, sep="\t")
    assert tuple(table.columns) == ATTRIBUTE_COLUMNS
    rnaseq = table[table["SMAFRZE"] == "RNASEQ"]
    samples = pd.read_parquet(synth_dir / schema.SAMPLES_FILE)
    assert rnaseq["SAMPID"].tolist() == samples[schema.NAME].tolist()
    assert rnaseq["SMTSD"].tolist() == samples[schema.SUBTISSUE].tolist()
    assert rnaseq["SMTS"].tolist() == samples[schema.TISSUE].tolist()
    assert rnaseq["SMCENTER"].tolist() == samples[schema.SITE].tolist()
    # Rows outside the matrix, as in the real file: DNA aliquots and K-562.
    assert set(table["SMAFRZE"]) == {"RNASEQ", "WGS", "EXCLUDE"}
    assert (table["SAMPID"] == "K-562-SM-D99999").sum() == 1


def test_subject_phenotypes_file(synth_dir):
    table = pd.read_csv(synth_dir / SUBJECTS_FILE, sep="\t", dtype={"DTHHRDY": "Int64"})
    assert list(table.columns) == ["SUBJID", "SEX", "AGE", "DTHHRDY"]
    samples = pd.read_parquet(synth_dir / schema.SAMPLES_FILE)
    donors = samples.drop_duplicates(schema.DONOR).set_index(schema.DONOR)
    assert sorted(table["SUBJID"]) == sorted(donors.index)
    sex = donors.loc[table["SUBJID"], schema.SEX].map({"male": 1, "female": 2})
    assert table["SEX"].tolist() == sex.tolist()
    assert table["AGE"].tolist() == donors.loc[table["SUBJID"], schema.AGE].tolist()
    assert set(table["DTHHRDY"].dropna()) <= {0, 1, 2, 3, 4}


def test_gtex_importer_reads_the_files_back(synth_dir, tmp_path):
    gtex = pytest.importorskip("hrc.data.gtex", reason="GTEx importer not present")
    gtex.import_gtex(
        synth_dir / GCT_FILE,
        synth_dir / SUBJECTS_FILE,
        synth_dir / ATTRIBUTES_FILE,
        out_dir=tmp_path,
        progress=False,
    )
    imported = load_prepared(
        tmp_path / schema.SAMPLES_FILE, tmp_path / schema.EXPRESSIONS_FILE
    )
    original = load_prepared(
        synth_dir / schema.SAMPLES_FILE, synth_dir / schema.EXPRESSIONS_FILE
    )
    pd.testing.assert_frame_equal(
        imported.samples[list(schema.SAMPLE_COLUMNS)],
        original.samples,
        check_dtype=False,
    )
    assert imported.gene_ids == original.gene_ids
    np.testing.assert_allclose(imported.expression, original.expression, atol=5e-4)


# Default data --------------------------------------------------------------


def test_ensure_default_data_generates_when_both_missing(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(logging.getLogger("hrc"), "propagate", True)
    monkeypatch.setattr(synth, "DEFAULT_SAMPLES", 200)
    monkeypatch.setattr(synth, "DEFAULT_GENES", 12)
    samples_path = tmp_path / "gtex" / schema.SAMPLES_FILE
    expressions_path = tmp_path / "other" / "expr.parquet"
    with caplog.at_level("INFO", logger="hrc.data.synth"):
        assert synth.ensure_default_data(samples_path, expressions_path) is True
    assert "generating the synthetic GTEx v8 cohort" in caplog.text
    data = load_prepared(samples_path, expressions_path)
    assert data.expression.shape == (200, 12)
    assert sorted(p.name for p in samples_path.parent.iterdir()) == [
        schema.SAMPLES_FILE
    ]
    # Both present now: nothing to do.
    assert synth.ensure_default_data(samples_path, expressions_path) is False


def test_ensure_default_data_refuses_half_a_pair(tmp_path):
    samples_path = tmp_path / schema.SAMPLES_FILE
    expressions_path = tmp_path / schema.EXPRESSIONS_FILE
    samples_path.write_bytes(b"")
    with pytest.raises(DataError) as error:
        synth.ensure_default_data(samples_path, expressions_path)
    assert str(error.value) == (
        f"{samples_path} exists but {expressions_path} does not; restore the "
        "missing file, or delete both to use the synthetic cohort"
    )
