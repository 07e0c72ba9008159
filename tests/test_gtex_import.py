"""``hrc data import-gtex`` and hrc.data.gtex on hand-made and real GTEx files."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hrc.cli import cli
from hrc.data import schema
from hrc.data.dataset import load_prepared
from hrc.data.gtex import (
    build_samples_table,
    import_gtex,
    read_portal_samples,
    read_subjects,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "gtex-v8-subset"
REAL_GCT = (
    SHARED / "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_reads.acmg_59.gct.gz"
)
REAL_SUBJECTS = SHARED / "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
REAL_PORTAL = SHARED / "GTEx_Portal_samples.csv"

# Four samples of three donors; GTEX-ZZZZZ is not in the subject table.
SAMPLES = [
    "GTEX-1117F-0226-SM-5GZZ7",
    "GTEX-1117F-0426-SM-5EGHI",
    "GTEX-111CU-0326-SM-5GZXO",
    "GTEX-ZZZZZ-0011-R10a-SM-1",
]
GCT = (
    "#1.2\n56200\t17382\n"
    "Name\tDescription\t" + "\t".join(SAMPLES) + "\n"
    "ENSG00000117118.9\tSDHB\t1\t3\t7\t2\n"
    "ENSG00000000001.1\tFLAT\t5\t5\t5\t5\n"
    "ENSG00000169174.10\tPCSK9\t0\t15\t0\t9\n"
)
SUBJECTS = (
    "SUBJID\tSEX\tAGE\tDTHHRDY\n"
    "GTEX-1117F\t2\t60-69\t\n"
    "GTEX-111CU\t1\t50-59\t0\n"
    "GTEX-111FC\t1\t20-29\t1\n"
)
PORTAL = (
    '"Tissue Sample ID","Tissue","Subject ID","Sex","Age Bracket","Hardy Scale",'
    '"Pathology Notes"\n'
    '"GTEX-1117F-0226","Adipose - Subcutaneous","GTEX-1117F","female","60-69",'
    '"Slow death","2 pieces, ~15% stroma,\nrep delineated"\n'
    '"GTEX-111CU-0326","Nerve - Tibial","GTEX-111CU","male","50-59",'
    '"Ventilator case","clean"\n'
)
ATTRIBUTES = (
    "SAMPID\tSMATSSCR\tSMCENTER\tSMTS\tSMTSD\tSMAFRZE\n"
    "GTEX-1117F-0226-SM-5GZZ7\t0\tB1, A1\tAdipose Tissue\tAdipose - Subcutaneous\t"
    "RNASEQ\n"
    "GTEX-1117F-0426-SM-5EGHI\t1\tB1, A1\tMuscle\tMuscle - Skeletal\tEXCLUDE\n"
    "GTEX-111CU-0326-SM-5GZXO\t0\tC1, A1\tNerve\tNerve - Tibial\tRNASEQ\n"
    "K-562-SM-26GMQ\t\tB1\tBone Marrow\tCells - Leukemia cell line (CML)\tRNASEQ\n"
)


@pytest.fixture
def files(tmp_path):
    paths = {
        "gct": tmp_path / "m.gct.gz",
        "subjects": tmp_path / "subjects.txt",
        "portal": tmp_path / "portal.csv",
        "attributes": tmp_path / "attributes.txt",
        "genes": tmp_path / "genes.csv",
    }
    paths["gct"].write_bytes(gzip.compress(GCT.encode()))
    paths["subjects"].write_text(SUBJECTS)
    paths["portal"].write_text(PORTAL)
    paths["attributes"].write_text(ATTRIBUTES)
    paths["genes"].write_text("ids,note\nENSG00000169174,x\nENSG00000117118.8,y\n")
    return paths


def run(*args):
    return CliRunner().invoke(cli, ["data", "import-gtex", *map(str, args)])


def error_line(result) -> str:
    """The last line on stderr (log records come before it), checked traceback-free."""
    assert "Traceback" not in result.output
    return result.stderr.splitlines()[-1] + "\n"


def test_import_with_portal_table(files, tmp_path):
    out = tmp_path / "out"
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--samples", files["portal"], "--out", out, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = load_prepared(out / schema.SAMPLES_FILE, out / schema.EXPRESSIONS_FILE)
    samples = data.samples
    assert list(samples.columns) == list(schema.SAMPLE_COLUMNS)
    assert samples[schema.NAME].tolist() == SAMPLES[:3]
    assert samples[schema.DONOR].tolist() == ["GTEX-1117F"] * 2 + ["GTEX-111CU"]
    assert samples[schema.SEX].tolist() == ["female", "female", "male"]
    assert samples[schema.AVG_AGE].tolist() == [64.5, 64.5, 54.5]
    # Tissue by the first three dash fields; 0426 is not in the portal table.
    assert samples[schema.SUBTISSUE].tolist()[::2] == [
        "Adipose - Subcutaneous",
        "Nerve - Tibial",
    ]
    assert samples[schema.TISSUE].tolist()[::2] == ["Adipose Tissue", "Nerve"]
    assert samples[schema.TISSUE].isna().tolist() == [False, True, False]
    # Hardy scale: blank for 1117F in the subject table, "Slow death" (4) in
    # the portal fills 0226 only; 111CU keeps 0 from the subject table.
    assert samples[schema.DEATH].tolist()[::2] == [4, 0]
    assert pd.isna(samples[schema.DEATH].iloc[1])
    assert data.gene_ids == [
        "ENSG00000117118.9",
        "ENSG00000000001.1",
        "ENSG00000169174.10",
    ]
    assert data.gene_symbols == ["SDHB", "FLAT", "PCSK9"]
    np.testing.assert_array_equal(data.expression[:, 0], [1.0, 3.0, 7.0])
    assert "samples:     " in result.output


def test_samples_of_unknown_donors_are_dropped_with_a_warning(files, caplog):
    subjects = read_subjects(files["subjects"])
    with caplog.at_level(logging.WARNING, logger="hrc"):
        table = build_samples_table(SAMPLES, subjects, "m.gct", "subjects.txt")
    assert table[schema.NAME].tolist() == SAMPLES[:3]
    assert (
        "1 of 4 samples belong to no donor of subjects.txt and are dropped "
        "(e.g. GTEX-ZZZZZ-0011-R10a-SM-1)"
    ) in caplog.text


def test_import_with_sample_attributes(files, tmp_path):
    out = tmp_path / "out"
    import_gtex(
        files["gct"], files["subjects"], files["attributes"], out, progress=False
    )
    samples = pd.read_parquet(out / schema.SAMPLES_FILE)
    # 0426 is EXCLUDE (not RNASEQ): no tissue, no site; K-562 matches nothing.
    assert samples[schema.TISSUE].tolist()[::2] == ["Adipose Tissue", "Nerve"]
    assert samples[schema.SITE].tolist()[::2] == ["B1, A1", "C1, A1"]
    assert samples[schema.SITE].isna().tolist() == [False, True, False]
    assert pd.isna(samples[schema.DEATH].iloc[0])


def test_custom_gene_list_matches_with_or_without_version(files, tmp_path):
    out = tmp_path / "out"
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--out", out, "--custom_gene_path", files["genes"], "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    columns = pd.read_parquet(out / schema.EXPRESSIONS_FILE).columns.tolist()
    assert columns == ["Name", "ENSG00000117118.9", "ENSG00000169174.10"]


def test_genes_keeps_top_variance(files, tmp_path):
    # Over the three kept samples, log2(x+1) is [1, 2, 3] for SDHB (var 2/3),
    # constant for FLAT, [0, 4, 0] for PCSK9 (var 32/9).
    out = tmp_path / "out"
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--out", out, "--genes", 1, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    columns = pd.read_parquet(out / schema.EXPRESSIONS_FILE).columns.tolist()
    assert columns == ["Name", "ENSG00000169174.10"]


def test_hardy_text_matches_subject_table_on_real_portal():
    if not REAL_PORTAL.is_file():
        pytest.skip(f"real GTEx subset not found at {SHARED}")
    portal = read_portal_samples(REAL_PORTAL)
    donors = portal.index.str.split("-").str[:2].str.join("-")
    subjects = pd.read_csv(REAL_SUBJECTS, sep="\t").set_index("SUBJID")
    expected = subjects["DTHHRDY"].reindex(donors).to_numpy()
    both = ~np.isnan(expected)
    assert both.sum() > 20_000
    got = portal["portal_death"].to_numpy(dtype=float, na_value=np.nan)
    np.testing.assert_array_equal(got[both], expected[both])


def test_real_subset_maps_every_sample(tmp_path):
    if not REAL_GCT.is_file():
        pytest.skip(f"real GTEx subset not found at {SHARED}")
    import_gtex(REAL_GCT, REAL_SUBJECTS, REAL_PORTAL, tmp_path, progress=False)
    samples = pd.read_parquet(tmp_path / schema.SAMPLES_FILE)
    assert len(samples) == 17_382
    assert samples[schema.DONOR].nunique() == 948
    ages = samples[schema.AGE].value_counts().to_dict()
    assert ages == {
        "20-29": 1_320,
        "30-39": 1_323,
        "40-49": 2_702,
        "50-59": 5_615,
        "60-69": 5_821,
        "70-79": 601,
    }
    assert samples[schema.SEX].value_counts().to_dict() == {
        "male": 11_584,
        "female": 5_798,
    }
    assert samples[schema.SUBTISSUE].notna().sum() == 13_797
    assert samples[schema.TISSUE].notna().sum() == 13_797
    expression = pd.read_parquet(tmp_path / schema.EXPRESSIONS_FILE)
    assert expression.shape == (17_382, 60)


# Bad input: one line, exit code 2 (usage) or 1 (data), nothing in --out.
def test_missing_file(files, tmp_path):
    out = tmp_path / "out"
    missing = tmp_path / "absent.gct.gz"
    result = run(
        "--expression", missing, "--subjects", files["subjects"], "--out", out
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == f"Error: --expression: file not found: {missing}\n"
    assert not out.exists() or not any(out.iterdir())


def test_csv_given_as_gct(files, tmp_path):
    out = tmp_path / "out"
    result = run(
        "--expression", files["portal"], "--subjects", files["subjects"],
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --expression: {files['portal']} is not a GCT 1.2 file: line 1 is "
        '\'"Tissue Sample ID","Tissue","Subject ID"...\', expected \'#1.2\'\n'
    )
    assert not out.exists() or not any(out.iterdir())


def test_truncated_gzip(files, tmp_path):
    rows = "".join(f"ENSG{i:011d}.1\tS\t1\t2\t3\t4\n" for i in range(20_000))
    data = gzip.compress((GCT + rows).encode())
    cut = tmp_path / "cut.gct.gz"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    result = run(
        "--expression", cut, "--subjects", files["subjects"], "--out", out,
        "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --expression: {cut} is truncated or corrupt (Compressed file "
        "ended before the end-of-stream marker was reached); download the file "
        "again\n"
    )
    assert not out.exists() or not any(out.iterdir())


def test_header_without_sample_ids(files, tmp_path):
    gct = tmp_path / "empty.gct"
    gct.write_text("#1.2\n3\t0\nName\tDescription\nENSG1.1\tA\n")
    result = run(
        "--expression", gct, "--subjects", files["subjects"], "--out", tmp_path
    )
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --expression: {gct} line 3 names no sample id (or has empty "
        "ones) after 'Name' and 'Description'\n"
    )


def test_sample_ids_matching_no_donor(files, tmp_path):
    gct = tmp_path / "other.gct"
    gct.write_text("#1.2\n1\t1\nName\tDescription\tGTEX-QQQ-0001\nENSG1.1\tA\t1\n")
    result = run(
        "--expression", gct, "--subjects", files["subjects"], "--out", tmp_path
    )
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --expression: no sample id of {gct} (e.g. 'GTEX-QQQ-0001') "
        f"belongs to a donor of {files['subjects']}\n"
    )


def test_custom_gene_list_with_no_known_gene(files, tmp_path):
    genes = tmp_path / "unknown.csv"
    genes.write_text("ids\nENSG99999999999\n")
    out = tmp_path / "out"
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--out", out, "--custom_gene_path", genes, "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --expression: none of the 1 requested gene ids is in "
        f"{files['gct']} (e.g. 'ENSG99999999999'); give Ensembl ids such as "
        "'ENSG00000117118'\n"
    )
    assert not out.exists() or not any(out.iterdir())


def test_custom_gene_list_without_ids_column(files, tmp_path):
    genes = tmp_path / "genes.csv"
    genes.write_text("gene\nENSG00000117118\n")
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--out", tmp_path, "--custom_gene_path", genes,
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --custom_gene_path: {genes} has no 'ids' column (columns: gene); "
        "put one Ensembl id per row under 'ids'\n"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--genes", "0"], "--genes: 0 is not accepted; give an integer >= 1"),
        (
            ["--genes", "5", "--custom_gene_path", "genes.csv"],
            "--genes and --custom_gene_path exclude each other; give one",
        ),
    ],
)
def test_usage_errors_exit_2(files, tmp_path, extra, message):
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--out", tmp_path / "out", *extra,
    )  # fmt: skip
    assert result.exit_code == 2
    assert error_line(result) == f"Error: {message}\n"


def test_samples_file_of_unknown_kind(files, tmp_path):
    result = run(
        "--expression", files["gct"], "--subjects", files["subjects"],
        "--samples", files["genes"], "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --samples: {files['genes']} is neither GTEx sample attributes "
        "(first column 'SAMPID') nor a portal sample CSV (first column "
        "'Tissue Sample ID')\n"
    )


def test_subject_table_with_bad_sex(files, tmp_path):
    subjects = tmp_path / "bad_subjects.txt"
    subjects.write_text("SUBJID\tSEX\tAGE\tDTHHRDY\nGTEX-1117F\t3\t60-69\t\n")
    result = run(
        "--expression", files["gct"], "--subjects", subjects, "--out", tmp_path
    )  # fmt: skip
    assert result.exit_code == 1
    assert error_line(result) == (
        f"Error: --subjects: {subjects} column SEX holds '3'; accepted: "
        "1 (male), 2 (female)\n"
    )
